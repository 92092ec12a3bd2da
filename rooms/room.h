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

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ns;
struct conn;
struct outbuf;
struct request;
struct storage_entry;

enum event_kind { EVENT_REQUEST, EVENT_JOIN, EVENT_MESSAGE, EVENT_LEAVE, EVENT_ALARM };

struct event {
    enum event_kind kind;
    struct event *next;
    struct request *req; /* EVENT_REQUEST */
    struct conn *conn;   /* the others */
    char *data;          /* EVENT_MESSAGE: the message; EVENT_LEAVE: the close reason */
    size_t len;
    bool binary;
    int code; /* EVENT_LEAVE: the close code, 0 if none */
};

/* Output of a turn, held until its writes are stored. */
struct held {
    struct conn *conn;   /* a frame or a close for this conn; NULL for a response */
    struct outbuf *ob;   /* the frame (a reference), or NULL for a close */
    struct request *req; /* a response to send */
    int code;            /* a close's code and reason */
    char *reason;
};

/* The life of a room: exactly one state at a time. Every change goes through room.c's
 * set_state, which checks it against the table of allowed moves there. */
enum room_state {
    ROOM_COLD,    /* no Lua instance and no storage loaded: an event that needs it loads it */
    ROOM_LOADING, /* its storage is being read; events wait */
    ROOM_LOADED,  /* storage is in the VM, init has not run (or failed): the next event runs it */
    ROOM_READY,   /* started: its next event runs as a turn */
    ROOM_COMMITTING, /* a turn's writes are in flight: its output is held, no turn runs */
};

/* The room's one alarm, as the alarm index (alarm.c) and its retries see it. */
struct room_alarm {
    bool queued;   /* an alarm event waits or runs: the poller adds no other */
    bool retrying; /* this turn's alarm change is a retry's, not the script's */
    int retries;   /* failed runs of the current alarm (stored with it) */
};

struct room {
    struct ns *ns;
    char *id;
    size_t id_len;
    char tag[96]; /* "ns:id" for logs, escaped and cut */
    struct room *hash_next;
    enum room_state state;
    enum room_state after_commit; /* ROOM_COMMITTING only: the state once the writes are stored */
    bool draining;                /* drain() is on the stack: what a turn causes never nests one */
    uint64_t generation;          /* changes on every reset: replies for an older one are ignored */
    long long epoch;              /* this activation's number: the stored one + 1 */
    bool epoch_stored;            /* written by a checkpoint of this activation (its first one) */
    struct room_alarm alarm;
    long long last_active_ms;              /* monotonic time of the last event or turn */
    int self_ref, thread_ref, storage_ref; /* in the VM's registry; thread_ref only during a turn */
    lua_State *co;                         /* the thread running the room's turn, or NULL */

    struct held *held;
    size_t n_held, cap_held;

    struct event *q_head, *q_tail;
    int q_len;

    struct conn *conns;
    int n_conns;
};

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
void room_loaded(struct room *r, const struct storage_entry *entries, int n, double alarm,
                 int alarm_retries);
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

/* Closes every connection of the room with code and reason. */
void room_close_all(struct room *r, int code, const char *reason);

/* Frees the room, its Lua instance, queued events and connections. Accepts NULL. */
void room_free(struct room *r);

#endif
