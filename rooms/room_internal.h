/* room_internal: the room's struct, its events and its held output, for the
 * files of rooms/ only. Everything above rooms/ holds a room as an opaque
 * pointer and goes through room.h and door.h. */
#ifndef ROOMD_ROOM_INTERNAL_H
#define ROOMD_ROOM_INTERNAL_H

#include "room.h"
#include "usage.h"

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ns;
struct conn;
struct outbuf;
struct request;

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
    struct call *send;   /* a rooms.send to post (the rest NULL) */
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
    ROOM_WAITING,    /* a turn waits on a call to another room (call.h); events wait */
};

/* The room's alarms as the alarm index (alarm.c) sees them; the alarms themselves, their
 * retries included, are in its storage (storage_lua.h). */
struct room_alarm {
    bool queued; /* an alarm event waits or runs: the poller adds no other */
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
    /* This activation's number: the stored one + 1 (in cluster mode, the one its lease took),
     * written with its first checkpoint. In cluster mode its lease holds it, and the fence
     * refuses a checkpoint from any other (lease.h). */
    long long epoch;
    bool epoch_stored; /* written by a checkpoint of this activation (its first one) */
    bool lease_asked;  /* cluster mode: this wait for the lease asked its holder to hand it over */
    bool fenced;       /* cluster mode: the checkpoint in flight was refused by the fence */
    long long lease_until_ms;      /* cluster mode: the lease counts until then (0: none held) */
    long long lease_wait_until_ms; /* cluster mode: a client waits for the lease until then */
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
    struct room_usage usage;
    struct waiting *waiting; /* ROOM_WAITING: the turn that waits, and on what */
    long long log_window_ms; /* the script's log budget (script_log.c): this second's start, */
    int log_lines;           /* lines logged in it, */
    unsigned long log_held;  /* and lines dropped since the last one logged */
};

/* ---- leases (cluster mode; lease.c asks, room.c acts) ---- */

/* r's lease was found taken or expired: its sockets close with 1012 and its Lua state goes now,
 * or after the load or checkpoint in flight. */
void room_lease_lost(struct room *r);

/* Another node asked for r: once no turn or checkpoint is in flight, its sockets close with
 * 1012, what waits fails with 503 and Retry-After, its Lua state goes and its lease is
 * released. Returns false when it cannot go yet (ask again later). */
bool room_hand_over(struct room *r);

/* r's lease is held elsewhere and r does not wait for it (any more): r goes cold, and what waits
 * fails with 503 and Retry-After. */
void room_lease_refused(struct room *r);

/* ---- calls between rooms (call.c asks, room.c runs the turns) ---- */

struct call;

/* The room whose handler runs on thread L, if that turn may wait on a call (not init, and L is
 * the turn's own thread, not a coroutine of the script's); NULL otherwise. */
struct room *room_turn_on(lua_State *L);

/* The room whose turn (init included) runs on thread L, or NULL. */
struct room *room_turn_on_any(lua_State *L);

/* The call the event r runs came with (r answers a call), or NULL. */
struct call *room_current_call(struct room *r);

/* What a turn may wait on (a call to another room, an outbound HTTP request): begin sends it on
 * its way once the turn has yielded; forget says the turn is gone, so its end wakes no one. */
struct await_ops {
    void (*begin)(void *what);
    void (*forget)(void *what);
};
struct await {
    const struct await_ops *ops; /* NULL: nothing */
    void *what;
};

/* The turn running on r waits for what (of kind ops): its C function yields right after. */
void room_await(struct room *r, const struct await_ops *ops, void *what);

/* What of kind ops r's turn waits for, or NULL. */
void *room_awaited(const struct room *r, const struct await_ops *ops);

/* Resumes r's waiting turn with the values push (run protected on the VM's main thread) leaves
 * on the stack: the results of the C function that yielded. */
void room_resume(struct room *r, int (*push)(lua_State *L, void *arg), void *arg);

/* Queues a call to r (never refused: the caller waits on it). */
void room_post_call(struct room *r, struct request *req);

#endif
