/* ljson: the JSON bridge's shared half and the `json` module of room scripts.
 *
 * The codec is direct, with no tree in between: ljson_decode.c parses text into Lua values,
 * ljson_encode.c writes Lua values as text. Both run in a protected worker called from here
 * (ljson__run_protected), so a Lua error (out of memory, stack growth) unwinds to ljson_decode /
 * ljson_encode, which own everything malloc()ed and free it after the protected call returns,
 * raise or not. It replaced one built on Jansson 2.14 (flags JSON_DECODE_ANY | JSON_ALLOW_NUL |
 * JSON_DECODE_INT_AS_REAL, compact dump with 17 digits) and keeps what that accepted and wrote;
 * tests/unit/test_ljson.c pins the edge cases and tests/fuzz/fuzz_ljson.c compares the decoder
 * with Jansson on every input.
 *
 * The registry holds, under addresses of the static variables below: the two marker metatables,
 * the per-state `struct ljson_state` userdata, and the two protected workers. The workers get
 * their C arguments through `ljson_state.call`, never as a light userdata made from a stack
 * address. Note that in the LuaJIT 2.1 we build against, lua_checkstack raises on out-of-memory
 * instead of returning 0, so the stack grows only inside the workers. What this file does not
 * do: validate the shape of messages, or cache encodings. */
#include "ljson.h"
#include "ljson_codec.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LUA_ERR_MAX 256 /* reasons json.encode / json.decode report */

/* Registry keys: only their addresses matter. */
static char array_mt_key, object_mt_key, state_key, decode_key, encode_key;

/* A buffer for json.encode's protected string push. */
struct text {
    const char *data;
    size_t len;
};

/* -- errors and registry ------------------------------------------------------------------- */

int ljson__fail(struct errbuf *e, const char *fmt, ...) {
    if (!e->set && e->len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    e->set = 1;
    return -1;
}

/* Pushes registry[key]. [-0, +1] */
static void push_registry(lua_State *L, char *key) {
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* L's state, or NULL if ljson_open was not called on L. [-0, +0] */
static struct ljson_state *get_state(lua_State *L) {
    push_registry(L, &state_key);
    struct ljson_state *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return st;
}

int ljson__run_protected(lua_State *L, enum ljson__worker which, void *call, struct errbuf *e,
                         int arg_idx, int nres) {
    push_registry(L, which == LJSON__DECODE ? &decode_key : &encode_key); /* worker */
    push_registry(L, &state_key);                                         /* worker, st */
    struct ljson_state *st = lua_touserdata(L, -1);
    if (!st || !lua_isfunction(L, -2)) {
        lua_pop(L, 2);
        return ljson__fail(e, "ljson_open was not called on this lua_State");
    }
    st->call = call;
    if (arg_idx)
        lua_pushvalue(L, arg_idx); /* worker, st, value */
    int rc = lua_pcall(L, arg_idx ? 2 : 1, nres, 0);
    st->call = NULL;
    if (rc == 0 && !e->set)
        return 0;
    if (rc == 0) {
        lua_pop(L, nres);
        return -1;
    }
    /* Only a string is read: lua_tostring would convert a number, which allocates. */
    ljson__fail(e, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "Lua error");
    lua_pop(L, 1);
    return -1;
}

/* Word-at-a-time tests (exact, without false negatives): a byte below 0x20, a byte equal to
 * '"' or '\', a byte with the high bit set. */
int ljson__plain8(const unsigned char *s) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t w, quote, backslash;
    memcpy(&w, s, sizeof w);
    quote = w ^ (ones * '"');
    backslash = w ^ (ones * '\\');
    uint64_t bad = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
                   ((backslash - ones) & ~backslash) | w;
    return (bad & highs) == 0;
}

/* -- the Lua module ------------------------------------------------------------------------- */

/* Protected helper of json.encode: pushes the text in the state's `call`. May raise. */
static int push_text(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, 1);
    const struct text *t = st->call;
    lua_pushlstring(L, t->data, t->len);
    return 1;
}

/* json.encode(v): the JSON text. Upvalues: the state, push_text. Raises with the reason;
 * the encoded buffer is freed before any raise. */
static int l_encode(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, lua_upvalueindex(1));
    char err[LUA_ERR_MAX];
    size_t len;
    lua_settop(L, 1);
    char *buf = ljson_encode(L, 1, st->max_depth, &len, err, sizeof err);
    if (!buf)
        return luaL_error(L, "json.encode: %s", err);
    struct text t = {buf, len};
    st->call = &t;
    lua_pushvalue(L, lua_upvalueindex(2)); /* v, push_text */
    lua_pushvalue(L, lua_upvalueindex(1)); /* v, push_text, st */
    int rc = lua_pcall(L, 1, 1, 0);        /* v, text or error */
    st->call = NULL;
    free(buf);
    return rc == 0 ? 1 : lua_error(L);
}

/* json.decode(s): the value, or nil and the reason. Upvalue: the state. Raises only when s is
 * not a string (or number) and on out-of-memory. */
static int l_decode(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, lua_upvalueindex(1));
    char err[LUA_ERR_MAX];
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (ljson_decode(L, s, len, st->max_depth, err, sizeof err) == 0)
        return 1;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

/* json.array(t) / json.object(t): sets the marker (upvalue 1) as t's metatable and returns t;
 * with no argument, a new marked table. Raises if t is not a table. */
static int l_mark(lua_State *L) {
    if (lua_isnone(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, 1);
    return 1;
}

/* json.is_array(v) / json.is_object(v): whether v is a table marked with upvalue 1. */
static int l_is_marked(lua_State *L) {
    int marked = lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1) &&
                 lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pushboolean(L, marked);
    return 1;
}

/* Creates an empty marker metatable under key and returns its identity. Raises. [-0, +0] */
static const void *new_marker(lua_State *L, char *key) {
    lua_pushlightuserdata(L, key);
    lua_newtable(L);
    const void *p = lua_topointer(L, -1);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return p;
}

/* Sets registry[key] to the value on top and pops it. Raises. [-1, +0] */
static void set_registry(lua_State *L, char *key) {
    lua_pushlightuserdata(L, key);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* Registers the markers, the workers and the state (last, so that a registration cut short by
 * an error is redone by the next call). Returns the state. Raises. [-0, +0] */
static struct ljson_state *register_all(lua_State *L) {
    const void *array_mt = new_marker(L, &array_mt_key);
    const void *object_mt = new_marker(L, &object_mt_key);
    push_registry(L, &array_mt_key);
    push_registry(L, &object_mt_key);
    lua_pushcclosure(L, ljson__decode_worker, 2);
    set_registry(L, &decode_key);
    lua_pushcfunction(L, ljson__encode_worker);
    set_registry(L, &encode_key);
    struct ljson_state *st = lua_newuserdata(L, sizeof *st);
    *st = (struct ljson_state){LJSON_DEFAULT_MAX_DEPTH, array_mt, object_mt, NULL, NULL, 0};
    set_registry(L, &state_key);
    return st;
}

/* Pushes a closure of f over registry[key] as json[name]. Raises. [-0, +0] */
static void set_marker_fn(lua_State *L, const char *name, lua_CFunction f, char *key) {
    push_registry(L, key);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

void ljson_open(lua_State *L) {
    if (!get_state(L))
        register_all(L);
    lua_createtable(L, 0, 7); /* json */
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    push_registry(L, &state_key);
    lua_pushcfunction(L, push_text);
    lua_pushcclosure(L, l_encode, 2);
    lua_setfield(L, -2, "encode");
    push_registry(L, &state_key);
    lua_pushcclosure(L, l_decode, 1);
    lua_setfield(L, -2, "decode");
    set_marker_fn(L, "array", l_mark, &array_mt_key);
    set_marker_fn(L, "object", l_mark, &object_mt_key);
    set_marker_fn(L, "is_array", l_is_marked, &array_mt_key);
    set_marker_fn(L, "is_object", l_is_marked, &object_mt_key);
}

void ljson_set_max_depth(lua_State *L, int depth) {
    struct ljson_state *st = get_state(L);
    if (st)
        st->max_depth = depth;
}

void ljson_set_budget(lua_State *L, int (*over)(lua_State *L), size_t max_bytes) {
    struct ljson_state *st = get_state(L);
    if (st) {
        st->over = over;
        st->max_bytes = max_bytes;
    }
}

int ljson_mark(lua_State *L, int idx, enum ljson_mark mark) {
    if (lua_type(L, idx) != LUA_TTABLE)
        return -1;
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    push_registry(L, mark == LJSON_ARRAY ? &array_mt_key : &object_mt_key);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    lua_setmetatable(L, idx);
    return 0;
}
