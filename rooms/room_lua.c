/* room_lua: the room and conn objects of room scripts; see room_lua.h and
 * docs/lua-api.md, which is this file's contract.
 *
 * Registry keys are addresses of the static variables below. A room's table
 * holds, under room_box_key, a userdata box pointing at the C room; a conn
 * object is a userdata box pointing at the C conn.
 *
 * Methods act only inside a turn of their own room: the thread running the
 * call must be the room's (r->co). A script that keeps another room's conn or
 * room in a module-level table gets an error, never output held in the wrong
 * room's gate (which outlived the conn it pointed at). Fields (id, tags, ...)
 * may be read from anywhere. */
#include "room_lua.h"

#include "conn_internal.h"
#include "gate.h"
#include "ljson.h"
#include "lvm.h"
#include "ns_internal.h"
#include "outbuf.h"
#include "request.h"
#include "room_internal.h"
#include "room_limits.h"
#include "utf8.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char room_mt_key, conn_mt_key, room_box_key;

#define MAX_RESPONSE_HEADERS 32

struct room_box {
    struct room *room;
};

struct conn_box {
    struct conn *conn;
    double id; /* kept after the conn is gone, for logs and table keys */
};

/* ---- helpers ---- */

static void push_registry(lua_State *L, void *key) {
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* The live room of the table at idx, or raises. */
static struct room *check_room(lua_State *L, int idx) {
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushlightuserdata(L, &room_box_key);
    lua_rawget(L, idx);
    struct room_box *box = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!box || !box->room)
        lvm_error(L, "not a live room (call methods with ':', e.g. room:broadcast(msg))");
    return box->room;
}

/* The live room of the table at idx, running the current turn (on thread L), or raises. */
static struct room *check_own_room(lua_State *L, int idx) {
    struct room *r = check_room(L, idx);
    if (r->co != L)
        lvm_error(L, "room object used outside its own turn (a room's methods work only in its "
                     "own handlers)");
    return r;
}

/* The conn box at idx, or NULL if idx holds no conn object. */
static struct conn_box *to_conn_box(lua_State *L, int idx) {
    if (!lua_getmetatable(L, idx))
        return NULL;
    push_registry(L, &conn_mt_key);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? lua_touserdata(L, idx) : NULL;
}

static struct conn_box *check_conn_box(lua_State *L, int idx) {
    struct conn_box *box = to_conn_box(L, idx);
    if (!box)
        luaL_error(L, "not a connection (call methods with ':', e.g. conn:send(msg))");
    return box;
}

/* The conn box at idx for a method: its conn (if still there) belongs to the room running the
 * current turn, or raises. */
static struct conn_box *check_own_conn(lua_State *L, int idx) {
    struct conn_box *box = check_conn_box(L, idx);
    if (box->conn && box->conn->room->co != L)
        lvm_error(L, "conn belongs to another room (a conn's methods work only in its own "
                     "room's handlers)");
    return box;
}

/* Encodes the value at idx as a shared frame, or raises saying what is wrong. */
static struct outbuf *encode_frame(lua_State *L, int idx, const struct limits *limits) {
    char err[160];
    size_t len;
    char *text = ljson_encode(L, idx, limits->json_depth, &len, err, sizeof err);
    if (!text)
        luaL_error(L, "cannot encode message as JSON: %s", err);
    struct outbuf *ob = outbuf_new_text(text, len);
    free(text);
    if (!ob)
        luaL_error(L, "out of memory");
    return ob;
}

/* ---- room ---- */

static int room_broadcast(lua_State *L) {
    struct room *r = check_own_room(L, 1);
    luaL_checkany(L, 2);
    struct conn_box *skip = lua_isnoneornil(L, 3) ? NULL : to_conn_box(L, 3);
    const char *tag = skip || lua_isnoneornil(L, 3) ? NULL : luaL_checkstring(L, 3);
    struct outbuf *ob = encode_frame(L, 2, r->ns->limits);
    int n = 0;
    for (struct conn *c = r->conns; c; c = c->next) {
        if (!c->accepted || (skip && skip->conn == c) || (tag && !conn_has_tag(c, tag)))
            continue;
        if (gate_send(r, c, ob))
            n++;
    }
    outbuf_unref(ob);
    lua_pushinteger(L, n);
    return 1;
}

static int room_connections(lua_State *L) {
    struct room *r = check_own_room(L, 1);
    const char *tag = luaL_optstring(L, 2, NULL);
    lua_createtable(L, r->n_conns, 0);
    int n = 0;
    for (struct conn *c = r->conns; c; c = c->next) {
        if (!c->accepted || !conn_attached(c) || c->closing || (tag && !conn_has_tag(c, tag)))
            continue;
        room_lua_push_conn(L, c);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

/* Pushes the room's id as text: its bytes, where they are not valid UTF-8 shown as %XX, so a
 * script can always put it in JSON (the room itself is the id's exact bytes). */
static void push_room_id(lua_State *L, const struct room *r) {
    if (utf8_valid(r->id, r->id_len)) {
        lua_pushlstring(L, r->id, r->id_len);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)r->id;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0, n; i < r->id_len; i += n) {
        n = p[i] < 0x80 ? 1 : utf8_sequence(p + i, r->id_len - i);
        if (n) {
            luaL_addlstring(&b, (const char *)p + i, n);
            continue;
        }
        char esc[3] = {'%', hex[p[i] >> 4], hex[p[i] & 15]};
        luaL_addlstring(&b, esc, 3);
        n = 1;
    }
    luaL_pushresult(&b);
}

/* __index of room tables: methods, then the read-only fields. */
static int room_index(lua_State *L) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1) || lua_type(L, 2) != LUA_TSTRING)
        return 1;
    const char *k = lua_tostring(L, 2);
    struct room *r = check_room(L, 1);
    if (strcmp(k, "id") == 0)
        push_room_id(L, r);
    else if (strcmp(k, "namespace") == 0)
        lua_pushstring(L, r->ns->name);
    else if (strcmp(k, "node") == 0)
        lua_pushstring(L, r->ns->node);
    else if (strcmp(k, "epoch") == 0)
        lua_pushnumber(L, (lua_Number)r->epoch);
    else if (strcmp(k, "settings") == 0)
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->ns->settings_ref);
    else if (strcmp(k, "storage") == 0)
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->storage_ref);
    else
        lua_pushnil(L);
    return 1;
}

/* ---- conn ---- */

static int conn_send_l(lua_State *L) {
    struct conn_box *box = check_own_conn(L, 1);
    luaL_checkany(L, 2);
    struct conn *c = box->conn;
    if (!c || !conn_attached(c) || c->closing) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    }
    struct outbuf *ob = encode_frame(L, 2, c->limits);
    bool sent = gate_send(c->room, c, ob);
    outbuf_unref(ob);
    if (sent) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
}

static bool close_code_valid(int code) {
    return code == 1000 || (code >= 1001 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static int conn_close_l(lua_State *L) {
    struct conn_box *box = check_own_conn(L, 1);
    int code = (int)luaL_optinteger(L, 2, 1000);
    size_t len = 0;
    const char *reason = luaL_optlstring(L, 3, "", &len);
    if (!close_code_valid(code))
        return luaL_error(L, "close code %d is not one a server may send", code);
    if (len > CONN_CLOSE_REASON_MAX)
        return luaL_error(L, "close reason is %d bytes, over the limit of %d", (int)len,
                          CONN_CLOSE_REASON_MAX);
    if (box->conn)
        gate_close(box->conn->room, box->conn, code, reason);
    return 0;
}

static int conn_tag_l(lua_State *L) {
    struct conn_box *box = check_own_conn(L, 1);
    size_t len;
    const char *tag = luaL_checklstring(L, 2, &len);
    if (len == 0 || len > CONN_TAG_MAX || memchr(tag, '\0', len))
        return luaL_error(L, "a tag is 1 to %d bytes without NUL", CONN_TAG_MAX);
    if (box->conn && conn_add_tag(box->conn, tag) < 0)
        return luaL_error(L, "a connection has at most %d tags", CONN_MAX_TAGS);
    return 0;
}

static int conn_set_attachment_l(lua_State *L) {
    struct conn_box *box = check_own_conn(L, 1);
    struct conn *c = box->conn;
    if (!c)
        return 0;
    if (lua_isnoneornil(L, 2)) {
        conn_set_attachment(c, NULL, 0);
        return 0;
    }
    char err[160];
    size_t len;
    char *json = ljson_encode(L, 2, c->limits->json_depth, &len, err, sizeof err);
    if (!json)
        return luaL_error(L, "cannot encode attachment as JSON: %s", err);
    int rc = len > c->limits->attachment_bytes ? -2 : conn_set_attachment(c, json, len);
    free(json);
    if (rc == -2)
        return luaL_error(L, "attachment is %d bytes as JSON, over the limit of %d", (int)len,
                          (int)c->limits->attachment_bytes);
    if (rc != 0)
        return luaL_error(L, "out of memory");
    return 0;
}

static void push_tags(lua_State *L, const struct conn *c) {
    lua_createtable(L, c ? c->n_tags : 0, 0);
    for (int i = 0; c && i < c->n_tags; i++) {
        lua_pushstring(L, c->tags[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Pushes the value of JSON text kept in C (an attachment, auth claims), or nil. */
static void push_json_text(lua_State *L, const char *text, int json_depth) {
    char err[128];
    if (!text || ljson_decode(L, text, strlen(text), json_depth, err, sizeof err) != 0)
        lua_pushnil(L);
}

/* __index of conn objects: methods, then id, tags, attachment, auth. */
static int conn_index(lua_State *L) {
    struct conn_box *box = check_conn_box(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1) || lua_type(L, 2) != LUA_TSTRING)
        return 1;
    const char *k = lua_tostring(L, 2);
    const struct conn *c = box->conn; /* NULL once the connection is gone */
    if (strcmp(k, "id") == 0)
        lua_pushnumber(L, box->id);
    else if (strcmp(k, "tags") == 0)
        push_tags(L, box->conn);
    else if (c && strcmp(k, "attachment") == 0)
        push_json_text(L, c->attachment, c->limits->json_depth);
    else if (c && strcmp(k, "auth") == 0)
        push_json_text(L, c->auth, c->limits->json_depth);
    else
        lua_pushnil(L);
    return 1;
}

static int conn_tostring(lua_State *L) {
    struct conn_box *box = check_conn_box(L, 1);
    lua_pushfstring(L, "conn %d%s", (int)box->id, box->conn ? "" : " (closed)");
    return 1;
}

/* ---- set-up ---- */

/* Pushes a metatable whose __index is index_fn with the methods as its upvalue. */
static void push_metatable(lua_State *L, const luaL_Reg *methods, lua_CFunction index_fn) {
    lua_newtable(L);
    lua_newtable(L);
    for (; methods->name; methods++) {
        lua_pushcfunction(L, methods->func);
        lua_setfield(L, -2, methods->name);
    }
    lua_pushcclosure(L, index_fn, 1);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
}

void room_lua_open(lua_State *L) {
    static const luaL_Reg room_methods[] = {
        {"broadcast", room_broadcast}, {"connections", room_connections}, {NULL, NULL}};
    static const luaL_Reg conn_methods[] = {{"send", conn_send_l},
                                            {"close", conn_close_l},
                                            {"tag", conn_tag_l},
                                            {"set_attachment", conn_set_attachment_l},
                                            {NULL, NULL}};
    lua_pushlightuserdata(L, &room_mt_key);
    push_metatable(L, room_methods, room_index);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &conn_mt_key);
    push_metatable(L, conn_methods, conn_index);
    lua_pushcfunction(L, conn_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_rawset(L, LUA_REGISTRYINDEX);
}

static int new_self(lua_State *L) {
    struct room *r = lua_touserdata(L, 1);
    lua_newtable(L);
    lua_pushlightuserdata(L, &room_box_key);
    struct room_box *box = lua_newuserdata(L, sizeof *box);
    box->room = r;
    lua_rawset(L, -3);
    push_registry(L, &room_mt_key);
    lua_setmetatable(L, -2);
    r->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int room_lua_new_self(lua_State *L, struct room *r) {
    if (lua_cpcall(L, new_self, r) == 0)
        return 0;
    lua_pop(L, 1);
    return -1;
}

void room_lua_forget_room(lua_State *L, struct room *r) {
    if (r->self_ref == LUA_NOREF || r->self_ref == LUA_REFNIL)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref);
    lua_pushlightuserdata(L, &room_box_key);
    lua_rawget(L, -2);
    struct room_box *box = lua_touserdata(L, -1);
    if (box)
        box->room = NULL;
    lua_pop(L, 2);
    luaL_unref(L, LUA_REGISTRYINDEX, r->self_ref);
    r->self_ref = LUA_NOREF;
}

void room_lua_push_conn(lua_State *L, struct conn *c) {
    if (c->lua_handle) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->lua_ref);
        return;
    }
    struct conn_box *box = lua_newuserdata(L, sizeof *box);
    box->conn = c;
    box->id = (double)c->id;
    push_registry(L, &conn_mt_key);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    c->lua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->lua_handle = box;
}

void room_lua_forget_conn(lua_State *L, struct conn *c) {
    if (!c->lua_handle)
        return;
    if (L) {
        ((struct conn_box *)c->lua_handle)->conn = NULL;
        luaL_unref(L, LUA_REGISTRYINDEX, c->lua_ref);
    }
    c->lua_handle = NULL;
    c->lua_ref = LUA_NOREF;
}

/* ---- requests and responses ---- */

static void push_fields(lua_State *L, const struct request_field *f, int n) {
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, f[i].value);
        lua_setfield(L, -2, f[i].name);
    }
}

static void push_body(lua_State *L, struct request *req, int json_depth) {
    char err[128];
    lua_pushlstring(L, req->body ? req->body : "", req->body_len);
    lua_setfield(L, -2, "body");
    if (!req->body_len)
        return;
    if (ljson_decode(L, req->body, req->body_len, json_depth, err, sizeof err) == 0) {
        lua_setfield(L, -2, "json");
    } else {
        lua_pushstring(L, err);
        lua_setfield(L, -2, "json_error");
    }
}

void room_lua_push_request(lua_State *L, struct request *req, int json_depth) {
    lua_createtable(L, 0, 8);
    lua_pushstring(L, req->method);
    lua_setfield(L, -2, "method");
    lua_pushlstring(L, req->path, req->path_len);
    lua_setfield(L, -2, "path");
    lua_pushlstring(L, req->rest, req->rest_len);
    lua_setfield(L, -2, "rest");
    push_fields(L, req->query, req->n_query);
    lua_setfield(L, -2, "query");
    push_fields(L, req->headers, req->n_headers);
    lua_setfield(L, -2, "headers");
    push_json_text(L, req->auth, json_depth);
    lua_setfield(L, -2, "auth");
    push_body(L, req, json_depth);
}

/* The headers that frame the answer on the connection: roomd writes them, a room may not. */
static bool framing_header(const char *name) {
    static const char *const names[] = {"content-length", "transfer-encoding", "connection",
                                        "upgrade",        "keep-alive",        NULL};
    for (const char *const *n = names; *n; n++)
        if (strcasecmp(name, *n) == 0)
            return true;
    return false;
}

static bool header_text_ok(const char *s) {
    return !strpbrk(s, "\r\n");
}

/* Copies the string pairs of the table at idx into req's response headers. May raise. */
static void take_headers(lua_State *L, int idx, struct request *req) {
    req->resp_headers = calloc(MAX_RESPONSE_HEADERS, sizeof *req->resp_headers);
    if (!req->resp_headers)
        luaL_error(L, "out of memory");
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "response headers must be strings");
        const char *name = lua_tostring(L, -2), *value = lua_tostring(L, -1);
        if (!header_text_ok(name) || !header_text_ok(value) || !*name || strchr(name, ':'))
            luaL_error(L, "response header '%s' is not a valid header", name);
        if (framing_header(name))
            luaL_error(L, "response header '%s' is roomd's to set", name);
        if (req->n_resp_headers == MAX_RESPONSE_HEADERS)
            luaL_error(L, "more than %d response headers", MAX_RESPONSE_HEADERS);
        struct request_field *f = &req->resp_headers[req->n_resp_headers++];
        f->name = strdup(name);
        f->value = strdup(value);
        if (!f->name || !f->value)
            luaL_error(L, "out of memory");
    }
}

static void take_body(lua_State *L, int res, struct request *req, int json_depth) {
    char err[160];
    lua_getfield(L, res, "json");
    if (!lua_isnil(L, -1)) {
        req->resp_body = ljson_encode(L, -1, json_depth, &req->resp_len, err, sizeof err);
        if (!req->resp_body)
            luaL_error(L, "cannot encode the response's json as JSON: %s", err);
        req->resp_type = NULL;
        lua_pop(L, 1);
        return;
    }
    lua_getfield(L, res, "body");
    size_t len = 0;
    const char *body = "";
    if (lua_type(L, -1) == LUA_TSTRING)
        body = lua_tolstring(L, -1, &len);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "the response's body must be a string");
    req->resp_body = malloc(len + 1);
    if (!req->resp_body)
        luaL_error(L, "out of memory");
    memcpy(req->resp_body, body, len);
    req->resp_len = len;
    req->resp_type = "text/plain; charset=utf-8";
    lua_pop(L, 2);
}

void room_lua_take_response(lua_State *L, struct request *req, int nres, int json_depth) {
    int res = lua_gettop(L) - nres + 1;
    if (nres == 0 || lua_isnil(L, res)) {
        request_fail(req, 404, "not found");
        return;
    }
    if (!lua_istable(L, res))
        luaL_error(L, "a request handler returns a table like {status = 200, json = {...}}");
    lua_getfield(L, res, "status");
    lua_Number status = lua_isnil(L, -1) ? 200 : lua_tonumber(L, -1);
    if (!(status >= 100 && status <= 599) || status != (int)status)
        luaL_error(L, "the response's status must be an integer from 100 to 599");
    req->status = (int)status;
    lua_getfield(L, res, "headers");
    if (lua_istable(L, -1))
        take_headers(L, lua_gettop(L), req);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "the response's headers must be a table");
    lua_pop(L, 2);
    take_body(L, res, req, json_depth);
}
