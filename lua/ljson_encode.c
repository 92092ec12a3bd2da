/* ljson_encode: Lua values to JSON text, for ljson_encode (ljson.h).
 *
 * Walks the Lua value inside the protected encode worker and appends its text to one growing
 * malloc()ed buffer, owned by ljson_encode. It writes what the Jansson-based codec it replaced
 * wrote (see ljson.c): whole numbers within 2^53 as integers (formatted by hand), others as
 * "%.17g" with ".0" added when there is no '.' or exponent and the exponent without '+' or
 * leading zeros; strings escaped only where JSON requires ('"', '\\', control bytes as \b \f \n
 * \r \t or \u00XX), not '/' nor non-ASCII. Tables are read raw (no metamethods). */
#include "ljson.h"
#include "ljson_codec.h"
#include "utf8.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The encoder's output so far. */
struct encoder {
    struct errbuf err;
    char *buf; /* malloc()ed, owned by ljson_encode; always with room for a final NUL */
    size_t len, cap;
    int max_depth;
    const void *array_mt, *object_mt;
    int (*over)(lua_State *L); /* the budget: asked every 256 tables, NULL for none */
    size_t max_bytes;          /* the longest text, 0: no limit */
    unsigned long tables;      /* tables written so far */
};

/* Where an encoded value sits, for error messages: member `key` of an object when key is not
 * NULL, else element `index` (1-based, 0 for the whole value) of an array. */
struct slot {
    const char *key;
    size_t keylen;
    size_t index;
};

static int encode_value(lua_State *L, struct encoder *e, const struct slot *s, int idx, int depth);

/* Records `what` and where it happened. Returns -1. */
static int fail_at(struct encoder *e, const struct slot *s, const char *what) {
    if (s->key) {
        int shown = s->keylen > 40 ? 40 : (int)s->keylen;
        return ljson__fail(&e->err, "%s (at key \"%.*s\")", what, shown, s->key);
    }
    if (s->index)
        return ljson__fail(&e->err, "%s (at index %zu)", what, s->index);
    return ljson__fail(&e->err, "%s", what);
}

/* Grows the output to hold n more bytes and a NUL. Returns 0, or -1 with the reason. */
static int grow(struct encoder *e, size_t n) {
    size_t cap = e->cap ? e->cap : 256;
    if (e->max_bytes && e->len + n >= e->max_bytes)
        return ljson__fail(&e->err, "the text would be over %zu bytes", e->max_bytes);
    while (cap - e->len <= n)
        cap *= 2;
    char *p = realloc(e->buf, cap);
    if (!p)
        return ljson__fail(&e->err, "out of memory");
    e->buf = p;
    e->cap = cap;
    return 0;
}

/* Makes room for n more bytes and a NUL. Returns 0, or -1 with the reason. */
static int reserve(struct encoder *e, size_t n) {
    return e->cap - e->len > n ? 0 : grow(e, n);
}

static int put(struct encoder *e, const char *s, size_t n) {
    if (reserve(e, n) != 0)
        return -1;
    memcpy(e->buf + e->len, s, n);
    e->len += n;
    return 0;
}

static int put_char(struct encoder *e, char c) {
    if (reserve(e, 1) != 0)
        return -1;
    e->buf[e->len++] = c;
    return 0;
}

/* Whether x is written as a JSON integer: whole and within 2^53. */
static int is_json_integer(lua_Number x) {
    return fabs(x) <= LJSON__MAX_EXACT_INTEGER && (lua_Number)(int64_t)x == x;
}

/* Writes x (whole, |x| <= 2^53) in decimal at out (24 bytes). Returns the length. */
static size_t format_integer(lua_Number x, char *out) {
    char digits[20];
    size_t n = 0, len = 0;
    uint64_t u = (uint64_t)fabs(x);
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (x < 0)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    return len;
}

/* Writes x (finite, not a JSON integer) at out (32 bytes) as Jansson did: "%.17g", then ".0"
 * when the text has neither '.' nor exponent (so it reads back as a real), and the exponent
 * without '+' or leading zeros. Returns the length. */
static size_t format_real(lua_Number x, char *out) {
    size_t len = (size_t)snprintf(out, 32, "%.17g", x);
    char *exp = memchr(out, 'e', len);
    if (!exp) {
        if (!memchr(out, '.', len)) {
            memcpy(out + len, ".0", 3);
            len += 2;
        }
        return len;
    }
    char *to = exp + 1 + (exp[1] == '-'), *from = exp + 1 + (exp[1] == '-' || exp[1] == '+');
    while (*from == '0')
        from++;
    memmove(to, from, len + 1 - (size_t)(from - out));
    return len - (size_t)(from - to);
}

static int encode_number(struct encoder *e, const struct slot *s, lua_Number x) {
    if (!isfinite(x))
        return fail_at(e, s, "cannot encode NaN or infinity");
    if (reserve(e, 32) != 0)
        return -1;
    char *out = e->buf + e->len;
    e->len += is_json_integer(x) ? format_integer(x, out) : format_real(x, out);
    return 0;
}

/* Writes the escape of ASCII byte c at out (6 bytes). Returns its length. */
static size_t escape_byte(unsigned char c, char *out) {
    static const char hex[] = "0123456789ABCDEF";
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    const char *f = c ? memchr(from, c, sizeof from - 1) : NULL;
    out[0] = '\\';
    if (f) {
        out[1] = to[f - from];
        return 2;
    }
    memcpy(out + 1, "u00", 3);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
}

/* Appends str as a JSON string, checking its UTF-8 on the way. Returns 0, -1 with the reason
 * (out of memory), or -2 if str is not valid UTF-8 (no reason recorded). */
static int put_string(struct encoder *e, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    if (reserve(e, len + 2) != 0)
        return -1;
    e->buf[e->len++] = '"';
    while (i < len) {
        unsigned char c = s[i];
        if (len - i >= 8 && ljson__plain8(s + i)) {
            i += 8;
        } else if ((unsigned char)(c - 0x20) < 0x60 && c != '"' && c != '\\') {
            i++;
        } else if (c >= 0x80) {
            size_t n = utf8_sequence(s + i, len - i);
            if (n == 0)
                return -2;
            i += n;
        } else {
            memcpy(e->buf + e->len, s + run, i - run);
            e->len += i - run;
            if (reserve(e, 6 + (len - i) + 1) != 0) /* the escape, the rest, the quote */
                return -1;
            e->len += escape_byte(c, e->buf + e->len);
            run = ++i;
        }
    }
    memcpy(e->buf + e->len, s + run, len - run);
    e->len += len - run;
    e->buf[e->len++] = '"';
    return 0;
}

static int encode_string(lua_State *L, struct encoder *e, const struct slot *s, int idx) {
    size_t len;
    const char *str = lua_tolstring(L, idx, &len);
    int rc = put_string(e, str, len);
    return rc == -2 ? fail_at(e, s, "string is not valid UTF-8") : rc;
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
static long classify(lua_State *L, struct encoder *e, int idx) {
    const void *mark = NULL;
    if (lua_getmetatable(L, idx)) {
        mark = lua_topointer(L, -1);
        lua_pop(L, 1);
    }
    if (mark && mark == e->object_mt)
        return AS_OBJECT;
    size_t n = lua_objlen(L, idx);
    if (mark && mark == e->array_mt)
        return is_sequence(L, idx, n) ? (long)n : AS_MIXED;
    return n > 0 && is_sequence(L, idx, n) ? (long)n : AS_OBJECT;
}

static int encode_array(lua_State *L, struct encoder *e, int idx, size_t n, int depth) {
    if (put_char(e, '[') != 0)
        return -1;
    for (size_t i = 1; i <= n; i++) {
        struct slot elem = {NULL, 0, i};
        if (i > 1 && put_char(e, ',') != 0)
            return -1;
        lua_rawgeti(L, idx, (int)i);
        int rc = encode_value(L, e, &elem, lua_gettop(L), depth);
        lua_pop(L, 1);
        if (rc != 0)
            return -1;
    }
    return put_char(e, ']');
}

/* Writes number key x into buf (32 bytes) as the Jansson-backed encoder did: like a number
 * value, but a non-integer without Jansson's touches ("%.17g" as is). Returns the length. */
static size_t number_key(lua_Number x, char *buf) {
    if (is_json_integer(x))
        return format_integer(x, buf);
    return (size_t)snprintf(buf, 32, "%.17g", x);
}

/* Whether the table at t also has the string key s (n bytes). Needs 1 free stack slot; may
 * raise (out of memory). [-0, +0] */
static int has_string_key(lua_State *L, int t, const char *s, size_t n) {
    lua_pushlstring(L, s, n);
    lua_rawget(L, t);
    int found = !lua_isnil(L, -1);
    lua_pop(L, 1);
    return found;
}

/* Writes the key at idx of the table at t, and sets s to it. Two keys must not write the same
 * text, which only a number key and a string key can do. Returns 0, or -1 with the reason. May
 * raise (out of memory). Needs 1 free stack slot. */
static int put_key(lua_State *L, struct encoder *e, int t, int idx, char *buf, struct slot *s) {
    int rc;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s->key = lua_tolstring(L, idx, &s->keylen);
        rc = put_string(e, s->key, s->keylen);
        if (rc == -2)
            return ljson__fail(&e->err, "table key is not valid UTF-8");
        if (rc == 0 && memchr(s->key, '\0', s->keylen))
            return ljson__fail(&e->err,
                               "table key contains a NUL byte (JSON decoding refuses those)");
        return rc;
    case LUA_TNUMBER:
        s->keylen = number_key(lua_tonumber(L, idx), buf);
        s->key = buf;
        if (has_string_key(L, t, buf, s->keylen))
            return fail_at(e, s,
                           "duplicate key (a number key and a string key with the same text)");
        if (put_char(e, '"') != 0 || put(e, buf, s->keylen) != 0)
            return -1;
        return put_char(e, '"');
    default:
        return ljson__fail(&e->err, "table key must be a string or a number, not a %s",
                           lua_typename(L, lua_type(L, idx)));
    }
}

/* Writes the member whose key and value are on top of the stack. Returns 0, or -1 with the
 * reason. May raise. Needs 1 free stack slot. [-0, +0] */
static int encode_member(lua_State *L, struct encoder *e, int t, int depth) {
    char buf[32];
    struct slot member = {NULL, 0, 0};
    int top = lua_gettop(L);
    if (put_key(L, e, t, top - 1, buf, &member) != 0 || put_char(e, ':') != 0)
        return -1;
    return encode_value(L, e, &member, top, depth);
}

static int encode_object(lua_State *L, struct encoder *e, int idx, int depth) {
    int first = 1;
    if (put_char(e, '{') != 0)
        return -1;
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* key, value */
        int rc = first ? 0 : put_char(e, ',');
        first = 0;
        if (rc == 0)
            rc = encode_member(L, e, idx, depth);
        lua_pop(L, 1); /* key */
        if (rc != 0) {
            lua_pop(L, 1);
            return -1;
        }
    }
    return put_char(e, '}');
}

/* Writes the table at idx, found at nesting depth `depth` (>= 1). Same contract as
 * encode_value. */
static int encode_table(lua_State *L, struct encoder *e, const struct slot *s, int idx, int depth) {
    if (depth > e->max_depth) {
        char what[64];
        snprintf(what, sizeof what, "nesting deeper than %d levels (or a cycle)", e->max_depth);
        return fail_at(e, s, what);
    }
    if (e->over && ++e->tables % 256 == 0 && e->over(L))
        return fail_at(e, s, "CPU limit: the turn ran out of time encoding it");
    luaL_checkstack(L, 3, "JSON nesting");
    long n = classify(L, e, idx);
    if (n == AS_MIXED)
        return fail_at(e, s, "mixed table: marked as an array but not keyed 1..n");
    if (n == AS_OBJECT)
        return encode_object(L, e, idx, depth);
    return encode_array(L, e, idx, (size_t)n, depth);
}

/* Writes the Lua value at idx (absolute), found inside `depth` levels of nesting and at slot s.
 * Returns 0, or -1 with the reason in e->err. May raise (stack growth). [-0, +0] */
static int encode_value(lua_State *L, struct encoder *e, const struct slot *s, int idx, int depth) {
    int type = lua_type(L, idx);
    char what[64];
    switch (type) {
    case LUA_TNIL:
        return put(e, "null", 4);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? put(e, "true", 4) : put(e, "false", 5);
    case LUA_TNUMBER:
        return encode_number(e, s, lua_tonumber(L, idx));
    case LUA_TSTRING:
        return encode_string(L, e, s, idx);
    case LUA_TTABLE:
        return encode_table(L, e, s, idx, depth + 1);
    }
    if (type == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL)
        return put(e, "null", 4);
    snprintf(what, sizeof what, "cannot encode a %s", lua_typename(L, type));
    return fail_at(e, s, what);
}

/* Protected worker of ljson_encode. Arguments: the state, whose `call` is an encoder, and the
 * value. Returns nothing; the text is in the encoder, or the reason in its err. May raise
 * (stack growth). */
int ljson__encode_worker(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, 1);
    struct encoder *e = st->call;
    struct slot whole = {NULL, 0, 0};
    e->array_mt = st->array_mt;
    e->object_mt = st->object_mt;
    e->over = st->over;
    e->max_bytes = st->max_bytes;
    encode_value(L, e, &whole, 2, 0);
    return 0;
}

char *ljson_encode(lua_State *L, int idx, int max_depth, size_t *len, char *err, size_t errlen) {
    struct encoder e = {{err, errlen, 0}, NULL, 0, 0, max_depth, NULL, NULL, NULL, 0, 0};
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    if (ljson__run_protected(L, LJSON__ENCODE, &e, &e.err, idx, 0) != 0 || reserve(&e, 0) != 0) {
        free(e.buf); /* what was written before the failure (or a raise) */
        return NULL;
    }
    e.buf[e.len] = '\0';
    *len = e.len;
    return e.buf;
}
