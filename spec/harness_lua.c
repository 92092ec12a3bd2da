/* harness_lua: see harness_lua.h. The functions, as the prelude calls them:
 *
 *   request(ns, id, method, rest, query, headers, body, auth) -> status, headers, body
 *   connect(ns, id, rest, query, headers, auth) -> handle
 *   send(handle, text, binary) -> true        take(handle) -> {text, ...}
 *   close(handle, code, reason) -> true       closed(handle) -> code, reason, by_room | nil
 *   conn_id(handle) -> number                 restart(ns, id) -> true
 *   keys(ns, id) -> storage hash key, alarm index key, alarm member
 *   command(arg, ...) -> the reply (string, number, array, or nil; an error: nil, reason)
 *   advance(ms) -> true    now() -> ms    reset() -> true    settle() -> true
 *
 * query and headers are tables of strings; auth is the claims as JSON text, or nil. */
#include "harness_lua.h"

#include "clock.h"
#include "harness.h"
#include "ns.h"
#include "request.h"
#include "room_limits.h"
#include "room_store.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MAX 1024
#define MAX_ARGS 64

static int fail(lua_State *L, const char *err) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

/* The namespace and id at args 1 and 2, checked as the server's routing would. */
static struct ns *room_args(lua_State *L, const char **id, size_t *len, char *err) {
    const char *name = luaL_checkstring(L, 1);
    *id = luaL_checklstring(L, 2, len);
    struct ns *ns = ns_find(name, strlen(name));
    if (!ns)
        snprintf(err, ERR_MAX, "no namespace '%s' in the config", name);
    else if (*len == 0 || *len > ROOM_ID_MAX)
        snprintf(err, ERR_MAX, "a room id is 1 to %d bytes", ROOM_ID_MAX);
    else
        for (size_t i = 0; i < *len; i++)
            if ((unsigned char)(*id)[i] < 0x20 || (*id)[i] == '/' || (*id)[i] == 0x7f)
                snprintf(err, ERR_MAX, "a room id has no '/' and no control characters");
    return *err ? NULL : ns;
}

/* The name/value pairs of the table at idx (string names and values); NULL and *n 0 when it is
 * not a table. Never raises. */
static struct request_field *fields(lua_State *L, int idx, int *n) {
    *n = 0;
    if (!lua_istable(L, idx))
        return NULL;
    int count = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        count++;
    struct request_field *f = calloc((size_t)count + 1, sizeof *f);
    for (lua_pushnil(L); f && lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            continue; /* the prelude gives strings: anything else is left out */
        const char *name = lua_tostring(L, -2), *value = lua_tostring(L, -1);
        f[*n].name = strdup(name);
        f[*n].value = strdup(value);
        (*n)++;
    }
    return f;
}

/* A request for room <ns, id> as the server builds one: path "/<ns>/<id>[/<rest>]" with rest
 * pointing into it. Args: rest, query, headers at rest_at.., auth at auth_at. */
static struct request *new_request(lua_State *L, const char *method, int rest_at, int auth_at) {
    for (int i = rest_at + 1; i <= rest_at + 2; i++) /* checked first: nothing is held yet */
        if (!lua_isnoneornil(L, i))
            luaL_checktype(L, i, LUA_TTABLE);
    size_t id_len, rest_len;
    const char *ns = lua_tostring(L, 1), *id = lua_tolstring(L, 2, &id_len);
    const char *rest = luaL_optlstring(L, rest_at, "", &rest_len);
    const char *auth = luaL_optstring(L, auth_at, NULL);
    struct request *req = calloc(1, sizeof *req);
    size_t cap = strlen(ns) + id_len + rest_len + 4;
    if (!req || !(req->path = malloc(cap))) {
        free(req);
        return NULL;
    }
    snprintf(req->method, sizeof req->method, "%s", method);
    req->path_len = (size_t)snprintf(req->path, cap, "/%s/", ns);
    memcpy(req->path + req->path_len, id, id_len);
    req->path_len += id_len;
    if (rest_len)
        req->path[req->path_len++] = '/';
    memcpy(req->path + req->path_len, rest, rest_len);
    req->path_len += rest_len;
    req->path[req->path_len] = '\0';
    req->rest = req->path + req->path_len - rest_len;
    req->rest_len = rest_len;
    req->query = fields(L, rest_at + 1, &req->n_query);
    req->headers = fields(L, rest_at + 2, &req->n_headers);
    req->auth = auth ? strdup(auth) : NULL;
    return req;
}

static void push_response(lua_State *L, const struct request *req) {
    lua_pushinteger(L, req->status);
    lua_newtable(L);
    lua_pushstring(L, req->resp_type ? req->resp_type : "application/json");
    lua_setfield(L, -2, "content-type");
    for (int i = 0; i < req->n_resp_headers; i++) {
        lua_pushstring(L, req->resp_headers[i].value);
        lua_setfield(L, -2, req->resp_headers[i].name);
    }
    lua_pushlstring(L, req->resp_body ? req->resp_body : "", req->resp_len);
}

static int l_request(lua_State *L) {
    char err[ERR_MAX] = "";
    const char *id;
    size_t len, body_len;
    struct ns *ns = room_args(L, &id, &len, err);
    const char *method = luaL_checkstring(L, 3);
    const char *body = luaL_optlstring(L, 7, NULL, &body_len);
    if (!ns)
        return fail(L, err);
    if (strlen(method) >= sizeof((struct request *)0)->method)
        return fail(L, "no such HTTP method");
    struct request *req = new_request(L, method, 4, 8);
    if (!req)
        return fail(L, "out of memory");
    if (body && body_len && (req->body = malloc(body_len + 1))) {
        memcpy(req->body, body, body_len);
        req->body[body_len] = '\0';
        req->body_len = body_len;
    }
    if (!(req = harness_request(ns, id, len, req, err, sizeof err)))
        return fail(L, err);
    push_response(L, req);
    request_free(req);
    return 3;
}

static int l_connect(lua_State *L) {
    char err[ERR_MAX] = "";
    const char *id;
    size_t len;
    struct ns *ns = room_args(L, &id, &len, err);
    if (!ns)
        return fail(L, err);
    struct request *req = new_request(L, "GET", 3, 6);
    if (!req)
        return fail(L, "out of memory");
    int h = harness_connect(ns, id, len, req, err, sizeof err);
    if (h < 0)
        return fail(L, err);
    lua_pushinteger(L, h);
    return 1;
}

static int done(lua_State *L, int rc, const char *err) {
    if (rc != 0)
        return fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_send(lua_State *L) {
    char err[ERR_MAX] = "";
    size_t len;
    int h = (int)luaL_checkinteger(L, 1);
    const char *text = luaL_checklstring(L, 2, &len);
    return done(L, harness_send(h, text, len, lua_toboolean(L, 3), err, sizeof err), err);
}

static void push_frame(void *arg, const char *text, size_t len) {
    lua_State *L = arg; /* the table of frames is on top */
    lua_pushlstring(L, text, len);
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
}

static int l_take(lua_State *L) {
    int h = (int)luaL_checkinteger(L, 1);
    lua_newtable(L);
    if (harness_take_frames(h, push_frame, L) != 0)
        return fail(L, "no such connection");
    return 1;
}

static int l_close(lua_State *L) {
    char err[ERR_MAX] = "";
    int h = (int)luaL_checkinteger(L, 1), code = (int)luaL_optinteger(L, 2, 1000);
    const char *reason = luaL_optstring(L, 3, "");
    return done(L, harness_close(h, code, reason, err, sizeof err), err);
}

static int l_closed(lua_State *L) {
    int code;
    const char *reason;
    bool by_room;
    if (!harness_closed((int)luaL_checkinteger(L, 1), &code, &reason, &by_room))
        return 0;
    lua_pushinteger(L, code);
    lua_pushstring(L, reason);
    lua_pushboolean(L, by_room);
    return 3;
}

static int l_conn_id(lua_State *L) {
    lua_pushnumber(L, (lua_Number)harness_conn_id((int)luaL_checkinteger(L, 1)));
    return 1;
}

static int l_restart(lua_State *L) {
    char err[ERR_MAX] = "";
    const char *id;
    size_t len;
    struct ns *ns = room_args(L, &id, &len, err);
    if (!ns)
        return fail(L, err);
    harness_restart(ns, id, len);
    return done(L, harness_settle(err, sizeof err), err);
}

static int l_keys(lua_State *L) {
    char err[ERR_MAX] = "", key[1024], member[1024];
    const char *id;
    size_t len;
    struct ns *ns = room_args(L, &id, &len, err);
    if (!ns)
        return fail(L, err);
    room_store_key(ns_name(ns), id, len, key, sizeof key);
    room_store_member(ns_name(ns), id, len, member, sizeof member);
    lua_pushstring(L, key);
    lua_pushstring(L, ROOM_STORE_ALARMS);
    lua_pushstring(L, member);
    return 3;
}

/* Pushes a reply as Lua: strings and statuses as strings, integers as numbers, arrays as
 * tables, nil as nil; an error as a string in *failed. [-0, +1] */
static void push_reply(lua_State *L, const redisReply *r, const char **failed) {
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        lua_pushlstring(L, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        lua_pushnumber(L, (lua_Number)r->integer);
        break;
    case REDIS_REPLY_ARRAY:
        lua_createtable(L, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            push_reply(L, r->element[i], failed);
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    case REDIS_REPLY_ERROR:
        *failed = r->str;
        lua_pushnil(L);
        break;
    default:
        lua_pushnil(L);
    }
}

struct reply_to {
    lua_State *L;
    bool got;
    char err[256];
};

static void on_reply(void *arg, redisReply *reply) {
    struct reply_to *to = arg;
    const char *failed = NULL;
    if (!reply) {
        snprintf(to->err, sizeof to->err, "storage failed");
        return;
    }
    push_reply(to->L, reply, &failed);
    if (failed) {
        lua_pop(to->L, 1);
        snprintf(to->err, sizeof to->err, "%s", failed);
        return;
    }
    to->got = true;
}

static int l_command(lua_State *L) {
    char err[ERR_MAX] = "";
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    int argc = lua_gettop(L);
    if (argc < 1 || argc > MAX_ARGS)
        return fail(L, "a command has 1 to 64 arguments");
    for (int i = 0; i < argc; i++)
        argv[i] = luaL_checklstring(L, i + 1, &lens[i]);
    lua_checkstack(L, 64);
    struct reply_to to = {L, false, ""};
    if (harness_command(argc, argv, lens, on_reply, &to, err, sizeof err) != 0)
        return fail(L, err);
    return to.got ? 1 : fail(L, to.err);
}

static int l_advance(lua_State *L) {
    char err[ERR_MAX] = "";
    lua_Number ms = luaL_checknumber(L, 1);
    if (!(ms >= 0))
        return fail(L, "time only moves forward: advance by 0 or more milliseconds");
    return done(L, harness_advance((long long)ms, err, sizeof err), err);
}

static int l_now(lua_State *L) {
    lua_pushnumber(L, (lua_Number)clock_wall_ms());
    return 1;
}

static int l_reset(lua_State *L) {
    char err[ERR_MAX] = "";
    return done(L, harness_reset(err, sizeof err), err);
}

static int l_settle(lua_State *L) {
    char err[ERR_MAX] = "";
    return done(L, harness_settle(err, sizeof err), err);
}

void harness_lua_push(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"request", l_request}, {"connect", l_connect}, {"send", l_send},
        {"take", l_take},       {"close", l_close},     {"closed", l_closed},
        {"conn_id", l_conn_id}, {"restart", l_restart}, {"keys", l_keys},
        {"command", l_command}, {"advance", l_advance}, {"now", l_now},
        {"reset", l_reset},     {"settle", l_settle},   {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
}
