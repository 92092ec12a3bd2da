/* ljson: JSON text <-> Lua values, and the `json` module of room scripts.
 *
 * Both directions go through a Jansson tree. Decoding: json_loadb checks the text (syntax,
 * UTF-8), then a protected worker walks the tree and builds Lua values, so a Lua error (out of
 * memory) unwinds to ljson_decode, which still owns the tree and frees it. Encoding: a protected
 * worker walks the Lua value and builds the tree top-down, attaching each container to its parent
 * before filling it, so a raise leaves nothing that the root (owned by ljson_encode) cannot
 * reach; the tree is dumped outside Lua into a malloc()ed buffer.
 *
 * The registry holds, under addresses of the static variables below: the two marker metatables,
 * the per-state `struct ljson_state` userdata, and the two protected workers. The workers get
 * their C arguments through `ljson_state.call`, never as a light userdata made from a stack
 * address. Tables are read raw (no metamethods). Note that in the LuaJIT 2.1 we build against,
 * lua_checkstack raises on out-of-memory instead of returning 0, so the stack grows only inside
 * the workers. What this file does not do: validate the shape of messages, or cache encodings. */
#include "ljson.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECODE_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL)
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))
#define MAX_EXACT_INTEGER 9007199254740992.0 /* 2^53 */
#define LUA_ERR_MAX 256                      /* reasons json.encode / json.decode report */

/* Registry keys: only their addresses matter. */
static char array_mt_key, object_mt_key, state_key, decode_key, encode_key;

/* Per-lua_State data: a userdata anchored in the registry and shared by all threads of L. */
struct ljson_state {
    int max_depth;         /* the limit of json.encode and json.decode */
    const void *array_mt;  /* identities of the marker metatables, for cheap comparison */
    const void *object_mt; /* (tables do not move in LuaJIT, and the registry anchors them) */
    void *call;            /* the arguments of the worker or string push in progress */
};

/* Where a failing call writes its reason; only the first reason is kept. */
struct errbuf {
    char *buf;
    size_t len;
    int set;
};

struct decode_call {
    struct errbuf err;
    json_t *root; /* borrowed from ljson_decode */
    int max_depth;
};

struct encode_call {
    struct errbuf err;
    json_t *holder; /* a one-element array the result goes in; owned by ljson_encode */
    int max_depth;
    const void *array_mt, *object_mt;
};

/* Where an encoded value goes: element `index` (1-based, 0 for the result) of an array when key
 * is NULL, else member `key` of an object. */
struct slot {
    json_t *parent;
    const char *key;
    size_t keylen;
    size_t index;
};

/* A buffer for json.encode's protected string push. */
struct text {
    const char *data;
    size_t len;
};

/* A growing malloc()ed output buffer, always with room for a final NUL. */
struct outbuf {
    char *data;
    size_t len, cap;
};

/* -- errors and registry ------------------------------------------------------------------- */

/* Records the reason (printf-style) unless one is already set. Returns -1. */
static int fail(struct errbuf *e, const char *fmt, ...) {
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

/* Calls the worker registered under key with L's state as argument 1 (its `call` set to call)
 * and, when arg_idx is not 0, the value at arg_idx (absolute) as argument 2. Returns 0 with nres
 * results pushed, or -1 with nothing pushed and the reason in e (the worker's own reason, or the
 * Lua error). [-0, +nres|0] */
static int run_protected(lua_State *L, char *key, void *call, struct errbuf *e, int arg_idx,
                         int nres) {
    push_registry(L, key);        /* worker */
    push_registry(L, &state_key); /* worker, st */
    struct ljson_state *st = lua_touserdata(L, -1);
    if (!st || !lua_isfunction(L, -2)) {
        lua_pop(L, 2);
        return fail(e, "ljson_open was not called on this lua_State");
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
    fail(e, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "Lua error");
    lua_pop(L, 1);
    return -1;
}

/* -- decoding ------------------------------------------------------------------------------- */

static int push_value(lua_State *L, struct decode_call *c, json_t *v, int depth);

/* Sets the marker at upvalue `mark` of the decode worker as the metatable of the table on top.
 * [-0, +0] */
static void set_mark(lua_State *L, int mark) {
    lua_pushvalue(L, lua_upvalueindex(mark));
    lua_setmetatable(L, -2);
}

/* Pushes a marked table holding the elements of JSON array a, found at nesting depth `depth`.
 * Returns 0, or -1 with nothing pushed and the reason in c->err. May raise. [-0, +1|0] */
static int push_array(lua_State *L, struct decode_call *c, json_t *a, int depth) {
    if (depth > c->max_depth)
        return fail(&c->err, "nesting deeper than %d levels", c->max_depth);
    luaL_checkstack(L, 3, "JSON nesting");
    size_t n = json_array_size(a);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        if (push_value(L, c, json_array_get(a, i), depth) != 0) {
            lua_pop(L, 1);
            return -1;
        }
        lua_rawseti(L, -2, (int)(i + 1));
    }
    set_mark(L, 1);
    return 0;
}

/* Pushes a marked table holding the members of JSON object o, found at nesting depth `depth`.
 * Same contract as push_array. */
static int push_object(lua_State *L, struct decode_call *c, json_t *o, int depth) {
    if (depth > c->max_depth)
        return fail(&c->err, "nesting deeper than %d levels", c->max_depth);
    luaL_checkstack(L, 3, "JSON nesting");
    lua_createtable(L, 0, (int)json_object_size(o));
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        lua_pushlstring(L, json_object_iter_key(it), json_object_iter_key_len(it)); /* t, k */
        if (push_value(L, c, json_object_iter_value(it), depth) != 0) {
            lua_pop(L, 2);
            return -1;
        }
        lua_rawset(L, -3); /* t */
    }
    set_mark(L, 2);
    return 0;
}

/* Pushes the Lua value of v, found inside `depth` levels of nesting. Same contract as
 * push_array. */
static int push_value(lua_State *L, struct decode_call *c, json_t *v, int depth) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return push_object(L, c, v, depth + 1);
    case JSON_ARRAY:
        return push_array(L, c, v, depth + 1);
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: /* not produced with JSON_DECODE_INT_AS_REAL; kept for completeness */
        lua_pushnumber(L, (lua_Number)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        lua_pushboolean(L, json_is_true(v));
        break;
    case JSON_NULL:
        lua_pushlightuserdata(L, NULL);
        break;
    }
    return 0;
}

/* Protected worker of ljson_decode. Argument: the state, whose `call` is a decode_call.
 * Upvalues: the array and object marker metatables. Returns the value, or nothing when the
 * reason is in the call. May raise (out of memory). */
static int decode_worker(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, 1);
    struct decode_call *c = st->call;
    return push_value(L, c, c->root, 0) == 0 ? 1 : 0;
}

/* Records why Jansson refused the text. Returns -1. Jansson 2.14's parser reports most failed
 * allocations with no text at all (so that is taken as out of memory), and some as a syntax
 * error near the token it was reading (which cannot be told apart). */
static int fail_parse(struct errbuf *e, const json_error_t *j, int max_depth) {
    if (j->text[0] == '\0')
        return fail(e, "out of memory");
    switch (json_error_code(j)) {
    case json_error_out_of_memory:
        return fail(e, "out of memory");
    case json_error_stack_overflow: /* Jansson's own limit, whatever max_depth says */
        return fail(e, "nesting deeper than %d levels",
                    max_depth < JSON_PARSER_MAX_DEPTH ? max_depth : JSON_PARSER_MAX_DEPTH);
    case json_error_invalid_utf8:
        return fail(e, "invalid UTF-8: %s (byte %d)", j->text, j->position);
    default:
        return fail(e, "invalid JSON: %s (byte %d)", j->text, j->position);
    }
}

int ljson_decode(lua_State *L, const char *text, size_t len, int max_depth, char *err,
                 size_t errlen) {
    struct decode_call c = {{err, errlen, 0}, NULL, max_depth};
    json_error_t jerr;
    c.root = json_loadb(text, len, DECODE_FLAGS, &jerr);
    if (!c.root)
        return fail_parse(&c.err, &jerr, max_depth);
    int rc = run_protected(L, &decode_key, &c, &c.err, 0, 1);
    json_decref(c.root);
    return rc;
}

/* -- UTF-8 ---------------------------------------------------------------------------------- */

/* Length of the valid multi-byte UTF-8 sequence at s (n > 0 bytes available), or 0. Rejects
 * overlong forms, surrogates and code points past U+10FFFF, as Jansson does. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    size_t len;
    uint32_t cp, min;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2, cp = s[0] & 0x1F, min = 0x80;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3, cp = s[0] & 0x0F, min = 0x800;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4, cp = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Whether the 8 bytes at s are all ASCII. */
static int ascii8(const unsigned char *s) {
    uint64_t w;
    memcpy(&w, s, sizeof w);
    return (w & 0x8080808080808080ull) == 0;
}

static int utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && ascii8(s + i)) {
            i += 8;
        } else if (s[i] < 0x80) {
            i++;
        } else {
            size_t n = utf8_sequence(s + i, len - i);
            if (n == 0)
                return 0;
            i += n;
        }
    }
    return 1;
}

/* -- encoding ------------------------------------------------------------------------------- */

static int encode_value(lua_State *L, struct encode_call *c, const struct slot *s, int idx,
                        int depth);

/* Records `what` and where it happened. Returns -1. */
static int fail_at(struct encode_call *c, const struct slot *s, const char *what) {
    if (s->key) {
        int shown = s->keylen > 40 ? 40 : (int)s->keylen;
        return fail(&c->err, "%s (at key \"%.*s\")", what, shown, s->key);
    }
    if (s->index)
        return fail(&c->err, "%s (at index %zu)", what, s->index);
    return fail(&c->err, "%s", what);
}

/* Stores v (a new reference, or NULL when Jansson ran out of memory) in slot s. Returns 0, or
 * -1 with the reason in c->err. v is released or attached either way. */
static int attach(struct encode_call *c, const struct slot *s, json_t *v) {
    if (!s->key) {
        if (json_array_append_new(s->parent, v) != 0)
            return fail(&c->err, "out of memory");
        return 0;
    }
    size_t before = json_object_size(s->parent);
    if (json_object_setn_new_nocheck(s->parent, s->key, s->keylen, v) != 0)
        return fail(&c->err, "out of memory");
    if (json_object_size(s->parent) == before)
        return fail_at(c, s, "duplicate key (a number key and a string key with the same text)");
    return 0;
}

/* Whether x is written as a JSON integer: whole and within 2^53. */
static int is_json_integer(lua_Number x) {
    return fabs(x) <= MAX_EXACT_INTEGER && (lua_Number)(json_int_t)x == x;
}

static int encode_number(struct encode_call *c, const struct slot *s, lua_Number x) {
    if (!isfinite(x))
        return fail_at(c, s, "cannot encode NaN or infinity");
    if (is_json_integer(x))
        return attach(c, s, json_integer((json_int_t)x));
    return attach(c, s, json_real(x));
}

static int encode_string(lua_State *L, struct encode_call *c, const struct slot *s, int idx) {
    size_t len;
    const char *str = lua_tolstring(L, idx, &len);
    if (!utf8_valid(str, len))
        return fail_at(c, s, "string is not valid UTF-8");
    return attach(c, s, json_stringn_nocheck(str, len));
}

/* Whether the table at idx has exactly the keys 1..n. Needs 2 free stack slots. [-0, +0] */
static int is_sequence(lua_State *L, int idx, size_t n) {
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* key, value */
        lua_pop(L, 1);
        lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k < 1 || k > (lua_Number)n || k != floor(k)) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n; /* n distinct whole keys within 1..n: all of them */
}

enum { AS_OBJECT = -1, AS_MIXED = -2 };

/* How the table at idx encodes: its length n >= 0 as an array, AS_OBJECT, or AS_MIXED (marked
 * as an array but not keyed 1..n). Needs 2 free stack slots. [-0, +0] */
static long classify(lua_State *L, struct encode_call *c, int idx) {
    const void *mark = NULL;
    if (lua_getmetatable(L, idx)) {
        mark = lua_topointer(L, -1);
        lua_pop(L, 1);
    }
    if (mark && mark == c->object_mt)
        return AS_OBJECT;
    size_t n = lua_objlen(L, idx);
    if (mark && mark == c->array_mt)
        return is_sequence(L, idx, n) ? (long)n : AS_MIXED;
    return n > 0 && is_sequence(L, idx, n) ? (long)n : AS_OBJECT;
}

static int encode_array(lua_State *L, struct encode_call *c, const struct slot *s, int idx,
                        size_t n, int depth) {
    json_t *a = json_array();
    if (attach(c, s, a) != 0)
        return -1;
    for (size_t i = 1; i <= n; i++) {
        struct slot elem = {a, NULL, 0, i};
        lua_rawgeti(L, idx, (int)i);
        int rc = encode_value(L, c, &elem, lua_gettop(L), depth);
        lua_pop(L, 1);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Writes number key x into buf (32 bytes) as encode_number would write it. Returns the length. */
static size_t number_key(lua_Number x, char *buf) {
    int n = is_json_integer(x) ? snprintf(buf, 32, "%lld", (long long)x)
                               : snprintf(buf, 32, "%.17g", x);
    return (size_t)n;
}

/* Sets s->key to the text of the table key at idx (a number is written into buf, 32 bytes).
 * Returns 0, or -1 with the reason in c->err. */
static int member_key(lua_State *L, struct encode_call *c, int idx, char *buf, struct slot *s) {
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s->key = lua_tolstring(L, idx, &s->keylen);
        if (!utf8_valid(s->key, s->keylen))
            return fail(&c->err, "table key is not valid UTF-8");
        if (memchr(s->key, '\0', s->keylen))
            return fail(&c->err, "table key contains a NUL byte (JSON decoding refuses those)");
        return 0;
    case LUA_TNUMBER:
        s->keylen = number_key(lua_tonumber(L, idx), buf);
        s->key = buf;
        return 0;
    default:
        return fail(&c->err, "table key must be a string or a number, not a %s",
                    lua_typename(L, lua_type(L, idx)));
    }
}

static int encode_object(lua_State *L, struct encode_call *c, const struct slot *s, int idx,
                         int depth) {
    json_t *o = json_object();
    if (attach(c, s, o) != 0)
        return -1;
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* key, value */
        char buf[32];
        struct slot member = {o, NULL, 0, 0};
        int top = lua_gettop(L);
        int rc = member_key(L, c, top - 1, buf, &member);
        if (rc == 0)
            rc = encode_value(L, c, &member, top, depth);
        lua_pop(L, 1); /* key */
        if (rc != 0) {
            lua_pop(L, 1);
            return -1;
        }
    }
    return 0;
}

/* Converts the table at idx, found at nesting depth `depth` (>= 1), into slot s. Same contract
 * as encode_value. */
static int encode_table(lua_State *L, struct encode_call *c, const struct slot *s, int idx,
                        int depth) {
    if (depth > c->max_depth) {
        char what[64];
        snprintf(what, sizeof what, "nesting deeper than %d levels (or a cycle)", c->max_depth);
        return fail_at(c, s, what);
    }
    luaL_checkstack(L, 3, "JSON nesting");
    long n = classify(L, c, idx);
    if (n == AS_MIXED)
        return fail_at(c, s, "mixed table: marked as an array but not keyed 1..n");
    if (n == AS_OBJECT)
        return encode_object(L, c, s, idx, depth);
    return encode_array(L, c, s, idx, (size_t)n, depth);
}

/* Converts the Lua value at idx (absolute), found inside `depth` levels of nesting, into slot
 * s. Returns 0, or -1 with the reason in c->err. May raise (stack growth). [-0, +0] */
static int encode_value(lua_State *L, struct encode_call *c, const struct slot *s, int idx,
                        int depth) {
    int type = lua_type(L, idx);
    char what[64];
    switch (type) {
    case LUA_TNIL:
        return attach(c, s, json_null());
    case LUA_TBOOLEAN:
        return attach(c, s, json_boolean(lua_toboolean(L, idx)));
    case LUA_TNUMBER:
        return encode_number(c, s, lua_tonumber(L, idx));
    case LUA_TSTRING:
        return encode_string(L, c, s, idx);
    case LUA_TTABLE:
        return encode_table(L, c, s, idx, depth + 1);
    }
    if (type == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL)
        return attach(c, s, json_null());
    snprintf(what, sizeof what, "cannot encode a %s", lua_typename(L, type));
    return fail_at(c, s, what);
}

/* Protected worker of ljson_encode. Arguments: the state, whose `call` is an encode_call, and
 * the value. Returns nothing; the result is in the call's holder, or the reason in its err.
 * May raise (stack growth). */
static int encode_worker(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, 1);
    struct encode_call *c = st->call;
    struct slot result = {c->holder, NULL, 0, 0};
    c->array_mt = st->array_mt;
    c->object_mt = st->object_mt;
    encode_value(L, c, &result, 2, 0);
    return 0;
}

/* json_dump_callback sink: appends to an outbuf. */
static int out_append(const char *chunk, size_t n, void *data) {
    struct outbuf *o = data;
    if (o->cap - o->len <= n) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap - o->len <= n)
            cap *= 2;
        char *p = realloc(o->data, cap);
        if (!p)
            return -1;
        o->data = p;
        o->cap = cap;
    }
    memcpy(o->data + o->len, chunk, n);
    o->len += n;
    return 0;
}

/* v as compact JSON in a NUL-terminated malloc()ed buffer, or NULL with the reason in e. */
static char *dump(const json_t *v, size_t *len, struct errbuf *e) {
    struct outbuf o = {NULL, 0, 0};
    if (json_dump_callback(v, out_append, &o, DUMP_FLAGS) != 0 || !o.data) {
        free(o.data);
        fail(e, "out of memory");
        return NULL;
    }
    o.data[o.len] = '\0';
    *len = o.len;
    return o.data;
}

char *ljson_encode(lua_State *L, int idx, int max_depth, size_t *len, char *err, size_t errlen) {
    struct encode_call c = {{err, errlen, 0}, json_array(), max_depth, NULL, NULL};
    char *out = NULL;
    if (!c.holder) {
        fail(&c.err, "out of memory");
        return NULL;
    }
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    if (run_protected(L, &encode_key, &c, &c.err, idx, 0) == 0)
        out = dump(json_array_get(c.holder, 0), len, &c.err);
    json_decref(c.holder);
    return out;
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
    lua_pushcclosure(L, decode_worker, 2);
    set_registry(L, &decode_key);
    lua_pushcfunction(L, encode_worker);
    set_registry(L, &encode_key);
    struct ljson_state *st = lua_newuserdata(L, sizeof *st);
    *st = (struct ljson_state){LJSON_DEFAULT_MAX_DEPTH, array_mt, object_mt, NULL};
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
