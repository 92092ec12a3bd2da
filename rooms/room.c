/* room: the per-room FIFO of events, the turns that run them, and the room's
 * lifecycle; see room.h.
 *
 * The lifecycle is enum room_state, changed only by set_state against the
 * table below. An event that needs the room loads it (COLD -> LOADING ->
 * LOADED); the first turn runs init first (LOADED -> READY); a turn that
 * wrote waits for its checkpoint (-> COMMITTING -> back); hibernation, a
 * reload, a runaway turn or a failed checkpoint drop the Lua instance
 * (-> COLD), and the next event starts again from storage.
 *
 * A turn runs on a thread borrowed from the VM through lvm_run: build pushes
 * the handler and its arguments, finish reads what it returned. Both run
 * inside that thread, so anything that raises (a bad return value, out of
 * memory) fails the turn, never the process. */
#include "room_internal.h"

#include "alarm.h"
#include "call.h"
#include "clock.h"
#include "conn_internal.h"
#include "counters.h"
#include "gate.h"
#include "lease.h"
#include "ljson.h"
#include "log.h"
#include "lvm.h"
#include "ns_internal.h"
#include "outbuf.h"
#include "request.h"
#include "room_limits.h"
#include "room_lua.h"
#include "room_store.h"
#include "storage_lua.h"
#include "watchdog.h"

#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct turn {
    struct lvm_turn base; /* first: lvm hands it back to build and finish */
    struct room *room;
    struct event *ev; /* NULL for init */
    bool refused;     /* join said no */
    bool answering;   /* finish is turning the handler's result into the HTTP answer */
    /* Nothing of the turn stays (its writes are dropped, the room resets): it ran past the CPU
     * limit, or its answer could not be made (roomd's side: the client gets a 500, and a 500
     * must mean nothing was stored). */
    bool discard;
    char reason[124];
    char bad_message[160]; /* a message that could not be decoded */
    char error[200];       /* the first line of the handler's error, for a call's caller */
    struct await awaits;   /* what the handler yielded waiting on (a call, a fetch) */
};

/* A turn that waits on a call: its struct (the one build and finish now act for), kept until
 * the answer resumes it. Its event is kept with it. */
struct waiting {
    struct turn turn;
};

/* The turn running now (turns of different rooms do not nest, but a rooms.send's target or a
 * resumed turn may run while another room's code is on the C stack). */
static struct {
    struct room *room;
    struct turn *turn;
    struct await awaits; /* set by room_await during the run */
} running;

static void set_tag(struct room *r) {
    size_t n = (size_t)snprintf(r->tag, sizeof r->tag, "%s:", r->ns->name);
    for (size_t i = 0; i < r->id_len && n + 5 < sizeof r->tag; i++) {
        unsigned char c = (unsigned char)r->id[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            r->tag[n++] = (char)c;
        else
            n += (size_t)snprintf(r->tag + n, sizeof r->tag - n, "\\x%02x", c);
    }
    r->tag[n] = '\0';
}

static uint64_t next_generation = 1;

/* allowed[from] has bit (1 << to) set for each move the lifecycle makes. */
#define TO(s) (1u << (s))
static const unsigned allowed[] = {
    [ROOM_COLD] = TO(ROOM_LOADING),
    [ROOM_LOADING] = TO(ROOM_LOADED) | TO(ROOM_COLD),
    [ROOM_LOADED] = TO(ROOM_READY) | TO(ROOM_COMMITTING) | TO(ROOM_COLD),
    [ROOM_READY] = TO(ROOM_COMMITTING) | TO(ROOM_COLD) | TO(ROOM_WAITING),
    [ROOM_COMMITTING] = TO(ROOM_READY) | TO(ROOM_LOADED) | TO(ROOM_COLD),
    [ROOM_WAITING] = TO(ROOM_READY) | TO(ROOM_COLD),
};
#undef TO

static void set_state(struct room *r, enum room_state to) {
    rd_assert(allowed[r->state] & (1u << to));
    r->state = to;
}

struct room *room_new(struct ns *ns, const char *id, size_t len) {
    struct room *r = calloc(1, sizeof *r);
    if (!r || !(r->id = malloc(len + 1))) {
        free(r);
        return NULL;
    }
    memcpy(r->id, id, len);
    r->id[len] = '\0';
    r->id_len = len;
    r->ns = ns;
    r->state = ROOM_COLD;
    r->self_ref = r->thread_ref = r->storage_ref = LUA_NOREF;
    r->last_active_ms = clock_ms();
    usage_init(&r->usage, r->last_active_ms);
    r->generation = next_generation++;
    set_tag(r);
    return r;
}

/* ---- turn callbacks (run inside the coroutine; may raise) ---- */

/* The script handler an event runs: init when ev is NULL. */
static const char *handler_name(const struct event *ev) {
    static const char *const names[] = {"request", "join", "message", "leave", "alarm"};
    return ev ? names[ev->kind] : "init";
}

/* Pushes the decoded message, or nothing with t->bad_message set. */
static bool push_message(lua_State *co, struct turn *t) {
    struct event *ev = t->ev;
    char err[128];
    if (ev->binary) {
        snprintf(t->bad_message, sizeof t->bad_message,
                 "binary frames are not accepted: send JSON text");
        return false;
    }
    if (ljson_decode(co, ev->data, ev->len, t->room->ns->limits->json_depth, err, sizeof err) == 0)
        return true;
    snprintf(t->bad_message, sizeof t->bad_message, "invalid JSON: %s", err);
    return false;
}

static void push_leave_args(lua_State *co, struct event *ev) {
    if (ev->code)
        lua_pushinteger(co, ev->code);
    else
        lua_pushnil(co);
    lua_pushlstring(co, ev->data ? ev->data : "", ev->len);
}

/* An alarm turn: the room's first due alarm is taken (the turn's checkpoint deletes it unless
 * it repeats or the handler sets it again) and the handler gets (room, {name =, payload =,
 * retry_count =}). With none due, the turn stores the room's earliest alarm in the alarm index
 * again. Stack after: handler, self, info; or nothing. */
static void build_alarm(lua_State *co, struct turn *t) {
    struct room *r = t->room;
    int top = lua_gettop(co);
    bool handler = lvm_push_handler(r->ns->vm, co, "alarm");
    if (handler)
        lua_rawgeti(co, LUA_REGISTRYINDEX, r->self_ref);
    if (!storage_lua_take_due_alarm(co, r, (double)clock_wall_ms()) || !handler)
        lua_settop(co, top); /* no handler: the alarm goes without a run */
}

/* Another room's call: the handler gets (room, value, {ns =, id =} of the caller). Stack after:
 * handler, self, value, from; or nothing. */
static void build_call(lua_State *co, struct turn *t) {
    struct room *r = t->room;
    struct request *req = t->ev->req;
    char err[160];
    if (!lvm_push_handler(r->ns->vm, co, "call"))
        return;
    lua_rawgeti(co, LUA_REGISTRYINDEX, r->self_ref);
    if (ljson_decode(co, req->body, req->body_len, r->ns->limits->json_depth, err, sizeof err))
        lvm_error(co, "a call's value: %s", err);
    size_t len;
    const char *id = call_from_id(req, &len);
    lua_createtable(co, 0, 2);
    lua_pushstring(co, call_from_ns(req));
    lua_setfield(co, -2, "ns");
    lua_pushlstring(co, id, len);
    lua_setfield(co, -2, "id");
}

/* A call handler's first result, as JSON, is the call's answer. */
static void finish_call(lua_State *co, struct turn *t, int nres) {
    struct request *req = t->ev->req;
    if (!t->base.handled) {
        request_fail(req, 404, "the room has no call handler");
        return;
    }
    char err[160];
    size_t len;
    if (nres == 0)
        lua_pushnil(co);
    char *json = ljson_encode(co, lua_gettop(co) - (nres ? nres - 1 : 0),
                              t->room->ns->limits->json_depth, &len, err, sizeof err);
    if (!json)
        lvm_error(co, "the call handler's result cannot be sent as JSON: %s", err);
    free(req->resp_body);
    req->resp_body = json;
    req->resp_len = len;
    req->status = 200;
}

/* Stack after: handler, self, then the event's arguments; or nothing. */
static void build(lua_State *co, struct lvm_turn *base) {
    struct turn *t = (struct turn *)base;
    struct room *r = t->room;
    struct event *ev = t->ev;
    int top = lua_gettop(co);
    if (ev && ev->kind == EVENT_ALARM) {
        build_alarm(co, t);
        return;
    }
    if (ev && ev->kind == EVENT_REQUEST && ev->req->call) {
        build_call(co, t);
        return;
    }
    if (!lvm_push_handler(r->ns->vm, co, handler_name(ev)))
        return;
    lua_rawgeti(co, LUA_REGISTRYINDEX, r->self_ref);
    if (!ev)
        return;
    if (ev->kind == EVENT_REQUEST) {
        room_lua_push_request(co, ev->req, r->ns->limits->json_depth);
        return;
    }
    room_lua_push_conn(co, ev->conn);
    if (ev->kind == EVENT_JOIN)
        room_lua_push_request(co, ev->conn->join_req, r->ns->limits->json_depth);
    else if (ev->kind == EVENT_LEAVE)
        push_leave_args(co, ev);
    else if (!push_message(co, t))
        lua_settop(co, top); /* no call: the sender gets the reason */
}

static void finish_join(lua_State *co, struct turn *t, int nres) {
    int first = lua_gettop(co) - nres + 1;
    if (nres < 1 || !lua_isboolean(co, first) || lua_toboolean(co, first))
        return;
    t->refused = true;
    const char *why = nres >= 2 ? lua_tostring(co, first + 1) : NULL;
    snprintf(t->reason, sizeof t->reason, "%s", why ? why : "refused by the room");
}

static void finish(lua_State *co, struct lvm_turn *base, int nres) {
    struct turn *t = (struct turn *)base;
    if (!t->ev)
        return;
    if (t->ev->kind == EVENT_REQUEST && t->ev->req->call) {
        finish_call(co, t, nres);
    } else if (t->ev->kind == EVENT_REQUEST) {
        if (!base->handled) {
            request_fail(t->ev->req, 404, "this room does not serve HTTP requests");
            return;
        }
        t->answering = true; /* an error past here is in the answer, not the handler */
        room_lua_take_response(co, t->ev->req, nres, t->room->ns->limits->json_depth);
        t->answering = false;
    } else if (t->ev->kind == EVENT_JOIN && base->handled) {
        finish_join(co, t, nres);
    }
}

/* An {"error": msg} frame, or NULL on out-of-memory. */
static struct outbuf *error_frame(const char *msg) {
    json_t *obj = json_pack("{s:s}", "error", msg);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    struct outbuf *ob = text ? outbuf_new_text(text, strlen(text)) : NULL;
    free(text);
    json_decref(obj);
    return ob;
}

static void send_error(struct room *r, struct conn *c, const char *msg) {
    struct outbuf *ob = error_frame(msg);
    if (ob)
        gate_send(r, c, ob);
    outbuf_unref(ob);
}

/* A runaway turn's output is dropped, but whoever sent its event still hears that it failed:
 * a message's sender gets the error, a joining socket is closed. Nothing was stored, so this
 * goes out at once. */
static void tell_runaway_sender(const struct turn *t) {
    struct event *ev = t->ev;
    if (ev && ev->kind == EVENT_MESSAGE) {
        struct outbuf *ob = error_frame(t->bad_message[0] ? t->bad_message : "room handler failed");
        if (ob)
            conn_send(ev->conn, ob);
        outbuf_unref(ob);
    } else if (ev && ev->kind == EVENT_JOIN) {
        conn_close(ev->conn, 1011, "room handler failed");
    }
}

/* ---- running turns ---- */

static void remove_conn(struct room *r, struct conn *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        r->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    usage_conns(&r->usage, r->n_conns, clock_ms());
    r->n_conns--;
    conn_detach(c);
    room_lua_forget_conn(lvm_state(r->ns->vm), c);
    request_free(c->join_req);
    conn_free(c);
}

/* Drops the coroutine after a failed turn: a dead coroutine cannot run again. */
static void drop_thread(struct room *r) {
    lvm_release_thread(r->ns->vm, r->thread_ref);
    r->thread_ref = LUA_NOREF;
    r->co = NULL;
}

/* Counts a failed turn by what stopped it; true when it was the CPU limit. */
static bool count_failure(struct ns *ns) {
    bool cpu = lvm_take_cpu_limit_hit(ns->vm), memory = lvm_take_memory_limit_hit(ns->vm);
    ns->counters.turn_errors[cpu ? TURN_CPU_LIMIT : memory ? TURN_MEMORY_LIMIT : TURN_ERROR]++;
    return cpu;
}

/* After a run or a resumption of t: counts it, and reports and drops a failed thread, or gives
 * a finished one back to the VM's pool for the next turn of any room. A turn that yielded on a
 * call (t->awaits) keeps its thread. */
static enum lvm_result settle(struct room *r, struct turn *t, enum lvm_result res, char *err,
                              size_t errlen, long long started) {
    long long ended = clock_ns();
    counters_observe(&r->ns->counters.turn_time, (uint64_t)(ended - started));
    usage_turn(&r->usage, ended - started, ended / 1000000);
    if (res == LVM_YIELDED && t->awaits.ops)
        return res;
    if (res == LVM_YIELDED) {
        snprintf(err, errlen, "handler yielded outside a roomd call (coroutine.yield?)");
        res = LVM_FAILED;
    }
    if (res == LVM_FAILED) {
        log_error("[room %s] %s handler failed: %s", r->tag, handler_name(t->ev), err);
        snprintf(t->error, sizeof t->error, "%.*s", (int)strcspn(err, "\n"), err);
        drop_thread(r);
        t->discard = count_failure(r->ns) || t->answering;
    } else {
        lvm_return_thread(r->ns->vm, r->co, r->thread_ref);
        r->thread_ref = LUA_NOREF;
        r->co = NULL;
    }
    return res;
}

/* Runs t (nargs < 0), or resumes it with nargs values on its thread. */
static enum lvm_result step(struct room *r, struct turn *t, int nargs) {
    char err[4096];
    __typeof__(running) outer = running;
    running.room = r, running.turn = t, running.awaits = (struct await){0};
    long long started = clock_ns();
    if (r->ns->jit)
        watchdog_turn_begin(r->tag);
    enum lvm_result res = nargs < 0
                              ? lvm_run(r->ns->vm, r->co, &t->base, err, sizeof err)
                              : lvm_resume(r->ns->vm, r->co, &t->base, nargs, err, sizeof err);
    if (r->ns->jit)
        watchdog_turn_end();
    t->awaits = res == LVM_YIELDED ? running.awaits : (struct await){0};
    if (res != LVM_YIELDED && running.awaits.ops) /* it never yielded to us */
        running.awaits.ops->forget(running.awaits.what);
    running = outer;
    return settle(r, t, res, err, sizeof err, started);
}

/* Runs t on a thread borrowed from the VM. */
static enum lvm_result run_turn(struct room *r, struct turn *t) {
    if (!r->co && !(r->co = lvm_new_thread(r->ns->vm, &r->thread_ref))) {
        log_error("[room %s] out of memory for a thread to run the turn on", r->tag);
        r->ns->counters.turn_errors[TURN_MEMORY_LIMIT]++;
        return LVM_FAILED;
    }
    r->ns->counters.turns++;
    return step(r, t, -1);
}

/* The alarm turn is over: its alarm runs again after a failure (alarm_retry_at), is re-armed
 * when it repeats, or goes; the room's next alarm runs at once if it is due too. */
static void end_alarm(struct room *r, bool ok) {
    bool more_due = false;
    if (storage_lua_alarm_done(r->ns->vm, r, ok, &more_due) == STORAGE_ALARM_RETRIED)
        r->ns->counters.alarms_retried++;
    if (more_due)
        room_post_alarm(r);
}

static void complete_event(struct room *r, struct turn *t, enum lvm_result res) {
    struct event *ev = t->ev;
    struct conn *c = ev->conn;
    switch (ev->kind) {
    case EVENT_REQUEST:
        if (res == LVM_FAILED) /* a call's caller hears why; an HTTP client does not */
            request_fail(ev->req, 500,
                         ev->req->call && t->error[0] ? t->error : "room handler failed");
        gate_respond(r, ev->req);
        break;
    case EVENT_JOIN:
        if (res == LVM_FAILED)
            gate_close(r, c, 1011, "room handler failed");
        else if (t->refused)
            gate_close(r, c, 1008, t->reason);
        else
            c->accepted = true;
        request_free(c->join_req);
        c->join_req = NULL;
        break;
    case EVENT_MESSAGE:
        if (t->bad_message[0])
            send_error(r, c, t->bad_message);
        else if (res == LVM_FAILED)
            send_error(r, c, "room handler failed");
        break;
    case EVENT_LEAVE:
        remove_conn(r, c);
        break;
    case EVENT_ALARM:
        r->alarm.queued = false;
        r->ns->counters.alarms_fired += t->base.handled; /* it was due, and the handler ran */
        r->usage.n[USAGE_ALARMS] += t->base.handled;
        end_alarm(r, res != LVM_FAILED);
        break;
    }
}

/* Whether the turn runs at all: a join whose socket already closed, or a message or leave of a
 * connection the room never accepted, has nobody to run for. */
static bool wanted(struct event *ev) {
    if (ev->kind == EVENT_JOIN)
        return conn_attached(ev->conn) && !ev->conn->closing;
    if (ev->kind == EVENT_MESSAGE || ev->kind == EVENT_LEAVE)
        return ev->conn->accepted;
    return true;
}

/* Runs init. On failure, *runaway says whether it ran past the CPU limit. */
static int start(struct room *r, bool *runaway) {
    if (room_lua_new_self(lvm_state(r->ns->vm), r) != 0) {
        log_error("[room %s] out of memory starting the room", r->tag);
        return -1;
    }
    struct turn t = {.base = {build, finish, false}, .room = r};
    if (run_turn(r, &t) != LVM_DONE) {
        room_lua_forget_room(lvm_state(r->ns->vm), r);
        *runaway = t.discard;
        return -1;
    }
    set_state(r, ROOM_READY);
    log_debug("[room %s] started", r->tag);
    return 0;
}

/* An event nobody is left to run for (see wanted): only the bookkeeping. */
static void skip_event(struct room *r, struct event *ev) {
    if (ev->kind == EVENT_LEAVE) {
        remove_conn(r, ev->conn);
    } else if (ev->kind == EVENT_JOIN) {
        request_free(ev->conn->join_req);
        ev->conn->join_req = NULL;
    }
}

static void free_event(struct event *ev) {
    free(ev->data);
    free(ev);
}

static struct event *pop_event(struct room *r) {
    struct event *ev = r->q_head;
    r->q_head = ev->next;
    if (!r->q_head)
        r->q_tail = NULL;
    r->q_len--;
    return ev;
}

static void reset(struct room *r);

/* Holds the room while its writes are stored; room_committed ends it. */
static void begin_commit(struct room *r) {
    r->after_commit = r->state;
    set_state(r, ROOM_COMMITTING);
}

/* The turn is over: store its writes, or let its output go at once if it wrote nothing. */
static void end_turn(struct room *r, const struct turn *t) {
    struct storage_writes w;
    if (t->discard) { /* nothing of it stays, the room restarts */
        gate_release(r, false);
        tell_runaway_sender(t);
        reset(r);
        return;
    }
    if (storage_lua_take_writes(r->ns->vm, r, &w) != 0) {
        log_error("[room %s] the turn's writes were not collected: the room resets", r->tag);
        begin_commit(r);
        room_committed(r, false);
        return;
    }
    for (int i = 0; i < w.n; i++)
        r->usage.n[w.entries[i].value ? USAGE_WRITES : USAGE_DELETES]++;
    if ((w.n || w.cleared || w.alarms_changed) && room_store_enabled()) {
        begin_commit(r);
        room_store_commit(r, &w);
    } else {
        gate_release(r, true);
    }
    storage_writes_free(&w);
}

/* The room could not start (init failed): the event fails without a turn; the room stays
 * LOADED, and its next event runs init again (a runaway init resets it: nothing it wrote
 * stays). */
static void fail_unstarted(struct room *r, struct event *ev, bool runaway) {
    struct turn t = {.room = r, .ev = ev, .discard = runaway};
    if (ev->kind == EVENT_REQUEST)
        request_fail(ev->req, 500, "room failed to start");
    else if (ev->kind == EVENT_MESSAGE)
        snprintf(t.bad_message, sizeof t.bad_message, "room failed to start");
    complete_event(r, &t, ev->kind == EVENT_REQUEST ? LVM_DONE : LVM_FAILED);
    end_turn(r, &t);
}

/* The turn yielded on a call: it waits (and its event with it) until room_resume. Returns
 * false when it cannot (out of memory): then it has failed. */
static bool suspend(struct room *r, struct turn *t) {
    struct waiting *w = malloc(sizeof *w);
    if (!w) {
        log_error("[room %s] out of memory to wait on a call: the turn fails", r->tag);
        t->awaits.ops->forget(t->awaits.what);
        t->awaits = (struct await){0};
        drop_thread(r);
        return false;
    }
    w->turn = *t;
    r->waiting = w;
    set_state(r, ROOM_WAITING);
    t->awaits.ops->begin(t->awaits.what);
    return true;
}

/* What follows a turn's run or resumption: it waits on a call (true), or it is over. */
static bool conclude(struct room *r, struct turn *t, enum lvm_result res) {
    if (res == LVM_YIELDED && suspend(r, t))
        return true;
    complete_event(r, t, res == LVM_YIELDED ? LVM_FAILED : res);
    end_turn(r, t);
    return false;
}

/* Runs ev as the room's turn (the room is READY). Returns true when the turn waits on a call
 * (the event is then kept with it). */
static bool run_event_turn(struct room *r, struct event *ev) {
    struct turn t = {.base = {build, finish, false}, .room = r, .ev = ev};
    return conclude(r, &t, run_turn(r, &t));
}

/* Reads the room's storage: room_loaded follows, maybe before this returns. */
static void load(struct room *r) {
    set_state(r, ROOM_LOADING);
    r->ns->counters.activated++;
    if (room_store_enabled())
        room_store_load(r);
    else
        room_loaded(r, NULL, 0, NULL);
}

/* Cluster mode: r's lease is gone or was not renewed in time, so another node may hold the
 * room now and what this one holds of it may be stale. Its sockets close with 1012 (their
 * clients reconnect, and reach the holder), its Lua state goes; an event loads it again, lease
 * first. */
static void drop(struct room *r) {
    lease_forget(r);
    room_close_all(r, 1012, "room moved to another node");
    if (r->state != ROOM_COLD)
        reset(r);
}

#define OVER_BUDGET "room over its CPU budget (turn time per minute): try again later"

/* Over its CPU budget, the room refuses what clients ask: requests get 429, messages an error,
 * joins close 1013 (try again later). Leaves and alarms still run: they are the room's own
 * bookkeeping. */
static bool refuse_over_budget(struct room *r, struct event *ev) {
    long budget =
        r->ns->cpu_budget_ms >= 0 ? r->ns->cpu_budget_ms : r->ns->limits->room_cpu_ms_per_minute;
    if (!budget || ev->kind == EVENT_LEAVE || ev->kind == EVENT_ALARM ||
        !usage_over_budget(&r->usage, budget, clock_ms()))
        return false;
    if (ev->kind == EVENT_REQUEST) {
        request_fail(ev->req, 429, OVER_BUDGET);
        gate_respond(r, ev->req);
    } else if (ev->kind == EVENT_MESSAGE) {
        send_error(r, ev->conn, OVER_BUDGET);
    } else {
        gate_close(r, ev->conn, 1013, "room over its CPU budget");
        skip_event(r, ev);
    }
    gate_release(r, true); /* no turn ran, nothing to store: out at once */
    return true;
}

/* Runs the first queued event, or loads the room's storage first. Returns false when the event
 * has to wait (storage is being read). */
static bool run_event(struct room *r) {
    struct event *ev = r->q_head;
    if (wanted(ev) && (r->state == ROOM_LOADED || r->state == ROOM_READY) && lease_enabled() &&
        !lease_valid(r))
        drop(r);
    if (wanted(ev) && r->state == ROOM_COLD) {
        load(r);
        return r->state != ROOM_LOADING; /* go on at once if the load is already over */
    }
    pop_event(r);
    bool runaway = false, waits = false;
    if (!wanted(ev))
        skip_event(r, ev);
    else if (refuse_over_budget(r, ev))
        ;
    else if (r->state == ROOM_LOADED && start(r, &runaway) != 0)
        fail_unstarted(r, ev, runaway);
    else
        waits = run_event_turn(r, ev);
    if (!waits)
        free_event(ev);
    return true;
}

/* Whether the room may take its next event now: no storage operation holds it. */
static bool takes_events(const struct room *r) {
    return r->state != ROOM_LOADING && r->state != ROOM_COMMITTING && r->state != ROOM_WAITING;
}

/* Runs queued events, one turn each, in order, while the room takes events. */
static void drain(struct room *r) {
    if (r->draining)
        return; /* a turn's own side effects (a store reply in its call chain) never nest one */
    r->draining = true;
    while (r->q_head && takes_events(r) && run_event(r))
        ;
    r->draining = false;
}

/* ev fails without a turn: a request gets 503 with why, a join closes 1013 (try again); a
 * leave still frees its conn, an alarm is queued again later. With moved (the room went to
 * another node), the request's 503 has a Retry-After and the join closes 1012. Frees ev. */
static void fail_event(struct room *r, struct event *ev, const char *why, bool moved) {
    struct turn t = {.room = r, .ev = ev};
    if (!wanted(ev)) {
        skip_event(r, ev);
    } else if (ev->kind == EVENT_REQUEST) {
        if (moved)
            request_fail_retry(ev->req, why, 1);
        else
            request_fail(ev->req, 503, why);
        ev->req->on_done(ev->req);
    } else if (ev->kind == EVENT_JOIN) {
        conn_close(ev->conn, moved ? 1012 : 1013, why);
        skip_event(r, ev);
    } else {
        complete_event(r, &t, LVM_DONE); /* a leave frees its conn */
    }
    free_event(ev);
}

/* Storage could not be read: every waiting event fails; the next one tries again. */
static void fail_queued(struct room *r) {
    while (r->q_head)
        fail_event(r, pop_event(r), "storage unavailable, try again", false);
}

#define MOVED "the room is moving between nodes, try again"

/* Cluster mode: everything waiting fails as moved (503 with Retry-After, joins 1012). */
static void fail_queued_moved(struct room *r) {
    while (r->q_head)
        fail_event(r, pop_event(r), MOVED, true);
}

/* The room's waiting turn is no more (the room unloads or goes): its event fails, what it sent
 * before the call is dropped, and the call's answer will wake no one. */
static void abort_waiting(struct room *r) {
    struct waiting *w = r->waiting;
    if (!w)
        return;
    r->waiting = NULL;
    w->turn.awaits.ops->forget(w->turn.awaits.what);
    gate_release(r, false);
    fail_event(r, w->turn.ev, "the room restarted while its turn waited on a call", false);
    free(w);
}

void room_loaded(struct room *r, const struct storage_entry *entries, int n,
                 const struct storage_alarms *alarms) {
    if (n < 0 || storage_lua_new(r->ns->vm, r->ns->storage_ctor_ref, r, entries, n, alarms) != 0) {
        set_state(r, ROOM_COLD);
        fail_queued(r);
        return;
    }
    set_state(r, ROOM_LOADED);
    usage_loaded(&r->usage, clock_ms());
    drain(r);
}

/* The room has no Lua instance any more: COLD, or COLD once its writes in flight are stored.
 * Its next event loads and starts it anew. */
static void go_cold(struct room *r) {
    if (r->state == ROOM_COMMITTING)
        r->after_commit = ROOM_COLD;
    else if (r->state != ROOM_LOADING && r->state != ROOM_COLD) /* a load fills the new VM */
        set_state(r, ROOM_COLD);
}

/* Forgets the room's Lua instance, its storage and its conns' Lua objects (their tags and
 * attachments stay in C), releasing them in the VM; or, with the VM gone (vm_replaced), only
 * dropping the references into it. */
static void unload(struct room *r, bool vm_replaced) {
    abort_waiting(r);
    lua_State *L = vm_replaced ? NULL : lvm_state(r->ns->vm);
    for (struct conn *c = r->conns; c; c = c->next)
        room_lua_forget_conn(L, c);
    if (L) {
        room_lua_forget_room(L, r);
        storage_lua_take_usage(r->ns->vm, r, &r->usage.n[USAGE_READS], &r->usage.stored_bytes);
        storage_lua_forget(r->ns->vm, r);
        if (r->thread_ref != LUA_NOREF)
            drop_thread(r);
    }
    r->self_ref = r->storage_ref = r->thread_ref = LUA_NOREF;
    r->co = NULL;
    usage_unloaded(&r->usage, clock_ms());
    go_cold(r);
}

static void reset(struct room *r) {
    unload(r, false);
    r->generation = next_generation++;
    log_warn("[room %s] reset to its stored state", r->tag);
}

/* No generation change: a load or checkpoint in flight must still find the room (go_cold lets
 * them finish first). */
void room_unload(struct room *r) {
    unload(r, false);
}

void room_detach_lua(struct room *r) {
    unload(r, true);
}

bool room_can_hibernate(const struct room *r, long long idle_since_ms) {
    return r->state == ROOM_READY && r->conns && !r->q_head && !r->draining && !r->n_held &&
           r->last_active_ms < idle_since_ms;
}

void room_hibernate(struct room *r) {
    unload(r, false);
    r->ns->counters.hibernated++;
    r->generation = next_generation++;
    for (struct conn *c = r->conns; c; c = c->next)
        conn_trim(c);
    log_debug("[room %s] hibernated with %d connections", r->tag, r->n_conns);
}

void room_committed(struct room *r, bool ok) {
    set_state(r, r->after_commit);
    gate_release(r, ok);
    r->fenced = false;
    if (!ok)
        reset(r);
    if (lease_enabled() && !r->lease_until_ms && (r->state != ROOM_COLD || r->conns))
        drop(r); /* the lease was lost (or the commit fenced) while it was in flight */
    drain(r);
}

void room_lease_lost(struct room *r) {
    if (r->state != ROOM_LOADING && r->state != ROOM_COMMITTING)
        drop(r);
}

bool room_hand_over(struct room *r) {
    if (r->state == ROOM_LOADING || r->state == ROOM_COMMITTING || r->state == ROOM_WAITING ||
        r->draining)
        return false;
    log_info("[room %s] handed over to another node", r->tag);
    room_close_all(r, 1012, "room moved to another node");
    fail_queued_moved(r);
    if (r->state != ROOM_COLD)
        reset(r);
    lease_release(r);
    return true;
}

void room_lease_refused(struct room *r) {
    set_state(r, ROOM_COLD);
    fail_queued_moved(r);
}

bool room_is_idle(const struct room *r, long long idle_since_ms) {
    return !r->conns && !r->q_head && takes_events(r) && !r->draining && !r->n_held &&
           r->last_active_ms < idle_since_ms;
}

static int post(struct room *r, struct event *ev, bool always) {
    if (!always && r->q_len >= r->ns->limits->room_queue) {
        free_event(ev);
        return -1;
    }
    if (r->q_tail)
        r->q_tail->next = ev;
    else
        r->q_head = ev;
    r->q_tail = ev;
    r->q_len++;
    r->last_active_ms = clock_ms();
    drain(r);
    return 0;
}

static struct event *new_event(enum event_kind kind, struct conn *c) {
    struct event *ev = calloc(1, sizeof *ev);
    if (!ev) {
        log_error("out of memory queueing an event");
        abort();
    }
    ev->kind = kind;
    ev->conn = c;
    return ev;
}

void room_post_call(struct room *r, struct request *req) {
    struct event *ev = new_event(EVENT_REQUEST, NULL);
    ev->req = req;
    post(r, ev, true);
}

int room_post_request(struct room *r, struct request *req) {
    r->usage.n[USAGE_REQUESTS]++;
    struct event *ev = new_event(EVENT_REQUEST, NULL);
    ev->req = req;
    return post(r, ev, false);
}

void room_post_join(struct room *r, struct conn *c) {
    c->next = r->conns;
    if (r->conns)
        r->conns->prev = c;
    r->conns = c;
    usage_conns(&r->usage, r->n_conns, clock_ms());
    r->n_conns++;
    post(r, new_event(EVENT_JOIN, c), true);
}

int room_post_message(struct room *r, struct conn *c, char *data, size_t len, bool binary) {
    struct event *ev = new_event(EVENT_MESSAGE, c);
    ev->data = data;
    ev->len = len;
    ev->binary = binary;
    return post(r, ev, false);
}

void room_post_leave(struct room *r, struct conn *c, int code, const char *reason) {
    struct event *ev = new_event(EVENT_LEAVE, c);
    ev->code = code;
    if (reason && *reason) {
        ev->data = strdup(reason);
        ev->len = ev->data ? strlen(ev->data) : 0;
    }
    post(r, ev, true);
}

void room_post_alarm(struct room *r) {
    if (r->alarm.queued)
        return;
    r->alarm.queued = true;
    post(r, new_event(EVENT_ALARM, NULL), true);
}

void room_close_all(struct room *r, int code, const char *reason) {
    for (struct conn *c = r->conns; c; c = c->next)
        conn_close(c, code, reason);
}

void room_free(struct room *r) {
    if (!r)
        return;
    lease_release(r);
    abort_waiting(r);
    while (r->q_head) {
        struct event *ev = pop_event(r);
        if (ev->kind == EVENT_REQUEST) {
            request_fail(ev->req, 503, "server shutting down");
            ev->req->on_done(ev->req);
        }
        free_event(ev);
    }
    gate_release(r, false);
    free(r->held);
    lua_State *L = lvm_state(r->ns->vm);
    while (r->conns)
        remove_conn(r, r->conns);
    room_lua_forget_room(L, r);
    storage_lua_forget(r->ns->vm, r);
    drop_thread(r);
    free(r->id);
    free(r);
}

/* ---- calls between rooms ---- */

struct room *room_turn_on_any(lua_State *L) {
    return running.room && running.room->co == L ? running.room : NULL;
}

struct room *room_turn_on(lua_State *L) {
    struct room *r = room_turn_on_any(L);
    return r && running.turn->ev ? r : NULL; /* init may not wait */
}

struct call *room_current_call(struct room *r) {
    struct event *ev = running.room == r ? running.turn->ev : NULL;
    return ev && ev->kind == EVENT_REQUEST ? ev->req->call : NULL;
}

void room_await(struct room *r, const struct await_ops *ops, void *what) {
    rd_assert(running.room == r && !running.awaits.ops);
    running.awaits = (struct await){ops, what};
}

void *room_awaited(const struct room *r, const struct await_ops *ops) {
    return r->waiting && r->waiting->turn.awaits.ops == ops ? r->waiting->turn.awaits.what : NULL;
}

struct resume_args {
    lua_State *co;
    int (*push)(lua_State *L, void *arg);
    void *arg;
    int n;
};

/* Runs protected: what push leaves on the main stack goes to the waiting thread. */
static int push_resume(lua_State *L) {
    struct resume_args *a = lua_touserdata(L, 1);
    int base = lua_gettop(L);
    a->push(L, a->arg);
    a->n = lua_gettop(L) - base;
    lua_xmove(L, a->co, a->n);
    return 0;
}

void room_resume(struct room *r, int (*push)(lua_State *L, void *arg), void *arg) {
    struct waiting *w = r->waiting;
    r->waiting = NULL;
    set_state(r, ROOM_READY);
    struct turn *t = &w->turn;
    t->awaits = (struct await){0};
    struct resume_args a = {r->co, push, arg, 0};
    enum lvm_result res;
    if (lua_cpcall(lvm_state(r->ns->vm), push_resume, &a) == 0) {
        res = step(r, t, a.n);
    } else {
        lua_pop(lvm_state(r->ns->vm), 1);
        char err[] = "out of memory resuming the turn";
        res = settle(r, t, LVM_FAILED, err, sizeof err, clock_ns());
    }
    struct event *ev = t->ev;
    if (!conclude(r, t, res))
        free_event(ev);
    free(w);
    drain(r);
}
