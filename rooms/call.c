/* call: see call.h. A call lives until both its answer came back (its request was answered
 * or dropped) and its caller was woken or went away. */
#include "call.h"

#include "gate.h"
#include "ljson.h"
#include "log.h"
#include "lvm.h"
#include "ns_internal.h"
#include "registry.h"
#include "request.h"
#include "room_internal.h"
#include "room_limits.h"

#include <jansson.h>
#include <lauxlib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct call {
    struct ns *from_ns, *to_ns;
    char *from_id, *to_id;
    size_t from_len, to_len;
    char *value; /* JSON text */
    size_t value_len;
    int depth;
    long timeout_ms;
    bool awaited;     /* rooms.call: a turn waits for it (rooms.send: nobody does) */
    bool begun;       /* sent on its way (call_begin) */
    bool answered;    /* its request came back (or was never sent) */
    bool woken;       /* the caller was resumed, or need not be */
    bool caller_gone; /* the waiting turn is no more */
    bool ok;          /* the answer: JSON text if ok, else the error */
    char *answer;
    size_t answer_len;
    lws_sorted_usec_list_t timer; /* the timeout, then the wake-up */
};

static struct {
    struct lws_context *context;
    int waiting; /* callers not yet woken */
} calls;

static void begin_awaited(void *c) {
    call_begin(c);
}

static void forget_awaited(void *c) {
    call_forget_caller(c);
}

/* What a waiting turn knows of a call (room_internal.h). */
static const struct await_ops call_ops = {begin_awaited, forget_awaited};

/* The Lua side: rooms.call waits in call_c (which yields) and raises the error it brings back
 * in the script's name; the answer is decoded in the turn, where the JSON limits apply. */
static const char rooms_lua[] = "return function(call_c, send_c, decode, error)\n"
                                "  return {\n"
                                "    call = function(ns, id, value, opts)\n"
                                "      local ok, text = call_c(ns, id, value, opts)\n"
                                "      if not ok then error(text, 2) end\n"
                                "      return decode(text)\n"
                                "    end,\n"
                                "    send = send_c,\n"
                                "  }\n"
                                "end\n";

void call_start(struct lws_context *context) {
    calls.context = context;
}

void call_stop(void) {
    calls.context = NULL;
}

int call_waiting(void) {
    return calls.waiting;
}

int call_depth(const struct call *c) {
    return c->depth;
}

struct ns *call_target_ns(const struct call *c) {
    return c->to_ns;
}

const char *call_target_id(const struct call *c, size_t *len) {
    *len = c->to_len;
    return c->to_id;
}

static void call_free(struct call *c) {
    free(c->from_id);
    free(c->to_id);
    free(c->value);
    free(c->answer);
    free(c);
}

static void free_if_done(struct call *c) {
    if (c->answered && (c->woken || c->caller_gone))
        call_free(c);
}

static void set_answer(struct call *c, bool ok, const char *text, size_t len) {
    free(c->answer);
    c->answer = malloc(len + 1);
    c->answer_len = c->answer ? len : 0;
    if (c->answer) {
        memcpy(c->answer, text, len);
        c->answer[len] = '\0';
    }
    c->ok = ok && c->answer;
}

static void fail(struct call *c, const char *fmt, const char *what) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, what);
    set_answer(c, false, msg, strlen(msg));
}

/* rooms.call's results as its C half returns them: ok, and the answer's JSON or the error. */
static int push_answer(lua_State *L, void *arg) {
    struct call *c = arg;
    lua_pushboolean(L, c->ok);
    if (c->answer)
        lua_pushlstring(L, c->answer, c->answer_len);
    else
        lua_pushliteral(L, "out of memory");
    return 0;
}

/* The timeout ran out, or the answer is in: wakes the caller with it. */
static void wake(lws_sorted_usec_list_t *sul) {
    struct call *c = lws_container_of(sul, struct call, timer);
    if (!c->answered) {
        char target[ROOM_NS_MAX + 64];
        snprintf(target, sizeof target, "%s/%.*s", c->to_ns->name,
                 (int)(c->to_len > 48 ? 48 : c->to_len), c->to_id);
        char msg[160];
        snprintf(msg, sizeof msg, "rooms.call to %s timed out after %ld ms", target, c->timeout_ms);
        set_answer(c, false, msg, strlen(msg));
    }
    c->woken = true;
    calls.waiting--;
    struct room *r = c->caller_gone ? NULL : registry_find(c->from_ns, c->from_id, c->from_len);
    if (r && room_awaited(r, &call_ops) == c)
        room_resume(r, push_answer, c);
    free_if_done(c);
}

static void wake_soon(struct call *c) {
    if (c->awaited && !c->woken && !c->caller_gone)
        lws_sul_schedule(calls.context, 0, &c->timer, wake, 1);
}

/* The target's answer (through its output gate, after its writes are stored). */
static void on_answer(struct request *req) {
    struct call *c = req->call;
    if (req->status == 200) {
        set_answer(c, true, req->resp_body ? req->resp_body : "null",
                   req->resp_body ? req->resp_len : 4);
    } else { /* the message only: request_fail wrote {"error": message} */
        json_t *doc = req->resp_body ? json_loadb(req->resp_body, req->resp_len, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(doc, "error"));
        msg = msg ? msg : "the call failed";
        set_answer(c, false, msg, strlen(msg));
        json_decref(doc);
    }
    request_free(req);
    c->answered = true;
    if (!c->awaited)
        c->woken = true;
    wake_soon(c);
    free_if_done(c);
}

/* Sends c to its target as a request. */
static void post(struct call *c) {
    struct request *req = calloc(1, sizeof *req);
    char *path = malloc(c->to_len + ROOM_NS_MAX + 3);
    struct room *r = req && path ? registry_get(c->to_ns, c->to_id, c->to_len) : NULL;
    if (!r) {
        free(path);
        free(req);
        fail(c, "rooms.call: %s", req ? "too many rooms in memory" : "out of memory");
        c->answered = true;
        wake_soon(c);
        return;
    }
    snprintf(req->method, sizeof req->method, "CALL");
    int n = sprintf(path, "/%s/", c->to_ns->name);
    memcpy(path + n, c->to_id, c->to_len);
    path[n + c->to_len] = '\0';
    req->path = path;
    req->path_len = (size_t)n + c->to_len;
    req->rest = path + req->path_len;
    req->body = c->value;
    req->body_len = c->value_len;
    c->value = NULL;
    req->call = c;
    req->on_done = on_answer;
    room_post_call(r, req);
}

void call_begin(struct call *c) {
    c->begun = true;
    calls.waiting += c->awaited;
    if (c->awaited)
        lws_sul_schedule(calls.context, 0, &c->timer, wake, c->timeout_ms * LWS_US_PER_MS);
    post(c);
}

void call_forget_caller(struct call *c) {
    if (!c->begun) { /* never sent: nobody else has it */
        call_free(c);
        return;
    }
    c->caller_gone = true;
    if (!c->woken && c->awaited) {
        lws_sul_cancel(&c->timer);
        calls.waiting--;
    }
    free_if_done(c);
}

void call_release_send(struct call *c, bool stored) {
    if (stored) {
        post(c);
        return;
    }
    c->answered = c->woken = true;
    call_free(c);
}

const char *call_from_ns(const struct request *req) {
    return req->call->from_ns->name;
}

const char *call_from_id(const struct request *req, size_t *len) {
    *len = req->call->from_len;
    return req->call->from_id;
}

/* ---- the Lua side ---- */

/* Whether the chain of rooms waiting on rooms that starts at <ns, id> reaches r: then a call
 * from r to <ns, id> would wait for itself. */
static bool closes_cycle(struct room *r, struct ns *ns, const char *id, size_t len) {
    for (int hop = 0; hop < 4 * CALL_DEPTH_MAX; hop++) {
        if (ns == r->ns && len == r->id_len && memcmp(id, r->id, len) == 0)
            return true;
        struct room *t = registry_find(ns, id, len);
        struct call *next = t ? room_awaited(t, &call_ops) : NULL;
        if (!next)
            return false;
        ns = next->to_ns, id = next->to_id, len = next->to_len;
    }
    return true; /* that long a chain of waits: refuse rather than add to it */
}

/* A new call from r (running a turn on L) with the target and value at 1..3; raises on bad
 * arguments. */
static struct call *new_call(lua_State *L, struct room *r, const char *what, bool awaited) {
    size_t ns_len, id_len, len;
    const char *ns_name = luaL_checklstring(L, 1, &ns_len);
    const char *id = luaL_checklstring(L, 2, &id_len);
    struct ns *ns = ns_find(ns_name, ns_len);
    if (!ns)
        lvm_error(L, "%s: no namespace '%s'", what, ns_name);
    if (id_len == 0 || id_len > ROOM_ID_MAX || memchr(id, '/', id_len))
        lvm_error(L, "%s: a room id is 1 to %d bytes, without '/'", what, ROOM_ID_MAX);
    for (size_t i = 0; i < id_len; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            lvm_error(L, "%s: a room id holds no control character", what);
    struct call *parent = room_current_call(r);
    int depth = parent ? parent->depth + 1 : 1;
    if (depth > CALL_DEPTH_MAX)
        lvm_error(L, "%s: calls nested deeper than %d", what, CALL_DEPTH_MAX);
    if (awaited && closes_cycle(r, ns, id, id_len))
        lvm_error(L, "%s: call cycle: %s/%s waits, directly or not, on this room", what, ns->name,
                  id);
    char err[256];
    char *value = ljson_encode(L, 3, r->ns->limits->json_depth, &len, err, sizeof err);
    if (!value)
        lvm_error(L, "%s: the value cannot be sent as JSON: %s", what, err);
    if (len > r->ns->limits->message_bytes) {
        free(value);
        lvm_error(L, "%s: the value is %d bytes as JSON, over limits.message_bytes", what,
                  (int)len);
    }
    struct call *c = calloc(1, sizeof *c);
    if (c) {
        c->from_id = malloc(r->id_len + 1);
        c->to_id = malloc(id_len + 1);
    }
    if (!c || !c->from_id || !c->to_id) {
        free(value);
        if (c)
            call_free(c);
        lvm_error(L, "%s: out of memory", what);
    }
    memcpy(c->from_id, r->id, r->id_len);
    memcpy(c->to_id, id, id_len);
    c->from_id[r->id_len] = c->to_id[id_len] = '\0';
    *c = (struct call){.from_ns = r->ns,
                       .to_ns = ns,
                       .from_id = c->from_id,
                       .to_id = c->to_id,
                       .from_len = r->id_len,
                       .to_len = id_len,
                       .value = value,
                       .value_len = len,
                       .depth = depth,
                       .timeout_ms = CALL_TIMEOUT_MS,
                       .awaited = awaited};
    return c;
}

/* rooms.call's C half: yields; the turn is resumed with (ok, text). */
static int call_c(lua_State *L) {
    struct room *r = room_turn_on(L);
    if (!r || !calls.context)
        return lvm_error(L, "rooms.call works only in a room's handlers (not in init, nor in a "
                            "coroutine of the script's own)");
    long timeout = CALL_TIMEOUT_MS;
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "timeout_ms");
        if (!lua_isnil(L, -1)) {
            lua_Number ms = lua_tonumber(L, -1);
            if (!lua_isnumber(L, -1) || ms < 1 || ms > CALL_TIMEOUT_MAX_MS)
                return lvm_error(L, "rooms.call: timeout_ms is 1 to %d", CALL_TIMEOUT_MAX_MS);
            timeout = (long)ms;
        }
        lua_pop(L, 1);
    }
    lua_settop(L, 3);
    struct call *c = new_call(L, r, "rooms.call", true);
    c->timeout_ms = timeout;
    room_await(r, &call_ops, c);
    return lua_yield(L, 0);
}

static int send_c(lua_State *L) {
    struct room *r = room_turn_on_any(L);
    if (!r || !calls.context)
        return lvm_error(L, "rooms.send works only in a room's handlers");
    lua_settop(L, 3);
    struct call *c = new_call(L, r, "rooms.send", false);
    if (!gate_post_send(r, c)) {
        call_free(c);
        return lvm_error(L, "rooms.send: out of memory");
    }
    return 0;
}

static void push_rooms_args(lua_State *L) {
    lua_pushcfunction(L, call_c);
    lua_pushcfunction(L, send_c);
    ljson_open(L);
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    lua_getglobal(L, "error");
}

int call_open(struct lvm *vm, char *err, size_t errlen) {
    return lvm_open_module(vm, "rooms", rooms_lua, sizeof rooms_lua - 1, push_rooms_args, err,
                           errlen);
}
