/* room: one live room, <namespace, id>: its Lua instance (a private table
 * in the namespace's VM; a turn borrows a thread from the VM's pool), its
 * storage, its connections, and the FIFO of events waiting for their turn
 * (the input gate).
 *
 * A room runs one event at a time, in arrival order. The first event loads
 * the room's storage, then starts it (init runs first). A handler error
 * fails that turn only: the client gets a 500 or an error message, the room
 * goes on. What a turn sends (responses, messages, closes) is held until
 * the turn's writes are acknowledged by storage (the output gate), then
 * released in order; while they are in flight the room takes no new turn.
 * A failed checkpoint answers 503, drops the held output, and resets the
 * room to its stored state. */
#ifndef ROOMD_ROOM_H
#define ROOMD_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ns;
struct conn;
struct outbuf;
struct request;
struct storage_alarms;
struct storage_entry;

/* A room that has not started yet. NULL on out-of-memory. */
struct room *room_new(struct ns *ns, const char *id, size_t len);

/* Queues an HTTP request; the room answers through req->on_done. Returns -1 (and queues
 * nothing) when the room's queue is full. */
int room_post_request(struct room *r, struct request *req);

/* Adds a new connection to the room and queues its join turn. */
void room_post_join(struct room *r, struct conn *c);

/* Queues a message from c (taking data). Returns -1 when the queue is full (data is freed). */
int room_post_message(struct room *r, struct conn *c, char *data, size_t len, bool binary);

/* c's socket has closed: queues its leave turn, after which c is freed. Never refused. */
void room_post_leave(struct room *r, struct conn *c, int code, const char *reason);

/* room_store's answers: the stored entries (n < 0: storage unavailable), and whether a
 * checkpoint was stored. */
void room_loaded(struct room *r, const struct storage_entry *entries, int n,
                 const struct storage_alarms *alarms);
void room_committed(struct room *r, bool ok);

/* Whether the room has nothing going on (no connection, event, storage operation or held
 * output) since before idle_since_ms (monotonic): it may leave memory. */
bool room_is_idle(const struct room *r, long long idle_since_ms);

/* Whether the room, which has connections, has had no event since before idle_since_ms and has
 * nothing in flight: its Lua instance may be dropped while its sockets stay open. */
bool room_can_hibernate(const struct room *r, long long idle_since_ms);

/* Drops the room's Lua instance (and its conns' Lua objects and empty send rings); connections,
 * their tags and attachments stay. The next event starts the room again from storage (init, then
 * the event). */
void room_hibernate(struct room *r);

/* The namespace's VM was replaced (reload): forgets every reference into the old one without
 * touching it; the next event loads and starts the room under the new code. */
void room_detach_lua(struct room *r);

/* The room's alarm may be due: queues an alarm turn (unless one is queued already). */
void room_post_alarm(struct room *r);

/* Drops the room's Lua instance (at once, or once its writes in flight are stored and answered):
 * its next event loads it from storage. Connections stay. */
void room_unload(struct room *r);

/* Closes every connection of the room with code and reason. */
void room_close_all(struct room *r, int code, const char *reason);

/* Frees the room, its Lua instance, queued events and connections. Accepts NULL. */
void room_free(struct room *r);

#endif
