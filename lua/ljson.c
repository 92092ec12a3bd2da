/* ljson: JSON text <-> Lua values, and the `json` module of room scripts.
 *
 * A direct codec, with no tree in between. Decoding is a recursive-descent parser over the bytes
 * that pushes Lua values as it reads them; encoding walks the Lua value and appends its text to a
 * growing malloc()ed buffer. Both run in a protected worker, so a Lua error (out of memory, stack
 * growth) unwinds to ljson_decode / ljson_encode, which own everything malloc()ed and free it
 * after the protected call returns, raise or not: the decoder's scratch buffer (used only past
 * 256 bytes) and the encoder's output. Each call has its own, so a decode run by a finalizer in
 * the middle of another cannot overwrite the first one's buffer.
 *
 * The codec replaced one built on Jansson 2.14 (flags JSON_DECODE_ANY | JSON_ALLOW_NUL |
 * JSON_DECODE_INT_AS_REAL, compact dump with 17 digits) and keeps what it accepted and wrote:
 * strict RFC 8259 syntax with any value at the top level; strict UTF-8; \u escapes with surrogate
 * pairs, lone surrogates refused; "\u0000" in strings but not in object keys; the last of
 * duplicate keys wins; numbers past the double range refused; at most 2048 levels whatever
 * max_depth says, a scalar counting as one level. Output: whole numbers within 2^53 as integers,
 * others as "%.17g" with ".0" added when there is no '.' or exponent and the exponent without
 * '+' or leading zeros; strings escaped only where JSON requires ('"', '\\', control bytes as
 * \b \f \n \r \t or \u00XX), not '/' nor non-ASCII. tests/unit/test_ljson.c pins the edge cases
 * and tests/fuzz/fuzz_ljson.c compares the decoder with Jansson.
 *
 * The registry holds, under addresses of the static variables below: the two marker metatables,
 * the per-state `struct ljson_state` userdata, and the two protected workers. The workers get
 * their C arguments through `ljson_state.call`, never as a light userdata made from a stack
 * address. Tables are read raw (no metamethods). Note that in the LuaJIT 2.1 we build against,
 * lua_checkstack raises on out-of-memory instead of returning 0, so the stack grows only inside
 * the workers. What this file does not do: validate the shape of messages, or cache encodings. */
#include "ljson.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXACT_INTEGER 9007199254740992.0 /* 2^53 */
#define LUA_ERR_MAX 256                      /* reasons json.encode / json.decode report */
#define PARSER_MAX_DEPTH 2048 /* the Jansson parser's own limit, kept so the same texts pass */
#define PENDING_MAX 8         /* members a decoded container keeps on the stack, see below */
#define PENDING_LEVELS 64     /* ... at levels up to this one: the Lua stack has 8000 slots */

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

/* The decoder's position in the text. */
struct decoder {
    struct errbuf err;
    const char *text, *p, *end; /* the text, the next byte to read, the end of the text */
    int max_depth;
    char *scratch; /* room for unescaped strings and long numbers: `local`, or malloc()ed */
    size_t scratch_cap;
    char local[256];
};

/* The encoder's output so far. */
struct encoder {
    struct errbuf err;
    char *buf; /* malloc()ed, owned by ljson_encode; always with room for a final NUL */
    size_t len, cap;
    int max_depth;
    const void *array_mt, *object_mt;
};

/* Where an encoded value sits, for error messages: member `key` of an object when key is not
 * NULL, else element `index` (1-based, 0 for the whole value) of an array. */
struct slot {
    const char *key;
    size_t keylen;
    size_t index;
};

/* A buffer for json.encode's protected string push. */
struct text {
    const char *data;
    size_t len;
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

/* Whether the 8 bytes at s are all printable ASCII other than '"' and '\\': string content that
 * needs no escape either way. Word-at-a-time tests (exact, without false negatives): a byte below
 * 0x20, a byte equal to '"' or '\\', a byte with the high bit set. */
static int plain8(const unsigned char *s) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t w, quote, backslash;
    memcpy(&w, s, sizeof w);
    quote = w ^ (ones * '"');
    backslash = w ^ (ones * '\\');
    uint64_t bad = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
                   ((backslash - ones) & ~backslash) | w;
    return (bad & highs) == 0;
}

/* -- decoding ------------------------------------------------------------------------------- */

static int parse_value(lua_State *L, struct decoder *d, int depth);

/* Records a syntax error at the current byte. Returns -1. */
static int syntax_error(struct decoder *d, const char *what) {
    return fail(&d->err, "invalid JSON: %s (byte %ld)", what, (long)(d->p - d->text));
}

static void skip_space(struct decoder *d) {
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
        d->p++;
}

/* Whether the next byte is c. */
static int next_is(const struct decoder *d, char c) {
    return d->p < d->end && *d->p == c;
}

static int is_digit(const char *p, const char *end) {
    return p < end && *p >= '0' && *p <= '9';
}

/* Makes the scratch buffer hold n bytes; its contents are not kept. Returns 0, or -1 with the
 * reason in d->err. A malloc()ed buffer is freed by ljson_decode, after any raise. */
static int scratch_reserve(struct decoder *d, size_t n) {
    if (d->scratch_cap >= n)
        return 0;
    char *p = malloc(n);
    if (!p)
        return fail(&d->err, "out of memory");
    if (d->scratch != d->local)
        free(d->scratch);
    d->scratch = p;
    d->scratch_cap = n;
    return 0;
}

/* Sets the marker at upvalue `mark` of the decode worker as the metatable of the table on top.
 * [-0, +0] */
static void set_mark(lua_State *L, int mark) {
    lua_pushvalue(L, lua_upvalueindex(mark));
    lua_setmetatable(L, -2);
}

/* -- strings -- */

/* Advances d->p over string content that needs no unescaping (no quote, backslash or control
 * byte), checking its UTF-8. Returns 0, or -1 with the reason at invalid UTF-8. */
static int skip_plain(struct decoder *d) {
    const unsigned char *p = (const unsigned char *)d->p, *end = (const unsigned char *)d->end;
    while (p < end) {
        unsigned char c = *p;
        if (end - p >= 8 && plain8(p)) {
            p += 8;
        } else if ((unsigned char)(c - 0x20) < 0x60) { /* printable ASCII */
            if (c == '"' || c == '\\')
                break;
            p++;
        } else if (c < 0x20) {
            break;
        } else {
            size_t n = utf8_sequence(p, (size_t)(end - p));
            d->p = (const char *)p;
            if (n == 0)
                return fail(&d->err, "invalid UTF-8 (byte %ld)", (long)(d->p - d->text));
            p += n;
        }
    }
    d->p = (const char *)p;
    return 0;
}

/* Writes code point cp (valid, not a surrogate) as UTF-8 at out. Returns the length. */
static size_t put_utf8(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The value of the 4 hex digits at p, or -1 if there are not 4 before end. */
static long hex4(const char *p, const char *end) {
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], lower = c | 0x20;
        if (c >= '0' && c <= '9')
            v = v << 4 | (c - '0');
        else if (lower >= 'a' && lower <= 'f')
            v = v << 4 | (lower - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* Decodes the \u escape at d->p (and the low half that must follow a high surrogate) into out
 * (4 bytes). Returns the bytes written, or -1 with the reason. */
static int unescape_unicode(struct decoder *d, char *out) {
    long cp = hex4(d->p + 2, d->end), low = -1;
    if (cp < 0)
        return syntax_error(d, "invalid \\u escape");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return syntax_error(d, "invalid Unicode escape (a lone low surrogate)");
    d->p += 6;
    if (cp < 0xD800 || cp > 0xDBFF)
        return (int)put_utf8((uint32_t)cp, out);
    if (d->end - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u')
        low = hex4(d->p + 2, d->end);
    if (low < 0xDC00 || low > 0xDFFF)
        return syntax_error(d, "invalid Unicode escape (a high surrogate alone)");
    d->p += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    return (int)put_utf8((uint32_t)cp, out);
}

/* Decodes the escape at d->p (a backslash) into out (4 bytes). Returns the bytes written, or -1
 * with the reason. */
static int unescape(struct decoder *d, char *out) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *f = d->end - d->p >= 2 && d->p[1] ? strchr(from, d->p[1]) : NULL;
    if (f) {
        *out = to[f - from];
        d->p += 2;
        return 1;
    }
    if (d->end - d->p >= 2 && d->p[1] == 'u')
        return unescape_unicode(d, out);
    return syntax_error(d, "invalid escape");
}

/* Pushes the string that starts at `start` (after its quote) and holds escapes; d->p is at the
 * first escape. Decoded text is never longer than its escaped form, so it fits a scratch buffer
 * as long as the rest of the text. Returns 0, or -1 with nothing pushed. May raise. [-0, +1|0] */
static int parse_escaped(lua_State *L, struct decoder *d, const char *start, int is_key) {
    if (scratch_reserve(d, (size_t)(d->end - start)) != 0)
        return -1;
    char *out = d->scratch;
    size_t n = (size_t)(d->p - start);
    memcpy(out, start, n);
    while (!next_is(d, '"')) {
        if (d->p == d->end)
            return syntax_error(d, "unterminated string");
        if (*d->p != '\\')
            return syntax_error(d, "control character in string");
        int w = unescape(d, out + n);
        if (w < 0)
            return -1;
        n += (size_t)w;
        const char *run = d->p;
        if (skip_plain(d) != 0)
            return -1;
        memcpy(out + n, run, (size_t)(d->p - run));
        n += (size_t)(d->p - run);
    }
    /* Lua strings could hold it, but the Jansson parser refused it and the encoder does too */
    if (is_key && memchr(out, '\0', n))
        return syntax_error(d, "NUL byte in object key not supported");
    d->p++;
    lua_pushlstring(L, out, n);
    return 0;
}

/* Pushes the string whose opening quote is at d->p. The common case, no escapes, is pushed
 * straight from the text. Same contract as parse_escaped. */
static int parse_string(lua_State *L, struct decoder *d, int is_key) {
    const char *start = ++d->p;
    if (skip_plain(d) != 0)
        return -1;
    if (!next_is(d, '"'))
        return parse_escaped(L, d, start, is_key);
    lua_pushlstring(L, start, (size_t)(d->p - start));
    d->p++;
    return 0;
}

/* -- numbers -- */

/* Pushes the number text at s (n bytes, checked syntax) converted by strtod, which needs a
 * NUL-terminated copy. Refuses values past the double range, as the Jansson parser did (an
 * underflow to 0 or a subnormal passes). Returns 0, or -1 with nothing pushed. [-0, +1|0] */
static int push_strtod(lua_State *L, struct decoder *d, const char *s, size_t n) {
    char local[64], *copy = local;
    if (n >= sizeof local) {
        if (scratch_reserve(d, n + 1) != 0)
            return -1;
        copy = d->scratch;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    errno = 0;
    double x = strtod(copy, NULL);
    if (errno == ERANGE && isinf(x)) {
        d->p = s;
        return syntax_error(d, "real number overflow");
    }
    lua_pushnumber(L, x);
    return 0;
}

/* Advances p over digits. */
static const char *skip_digits(const char *p, const char *end) {
    while (is_digit(p, end))
        p++;
    return p;
}

/* Pushes the number at d->p. A plain integer of up to 18 digits within 2^53 is converted here,
 * exactly; anything else goes through strtod. Returns 0, or -1 with nothing pushed. [-0, +1|0] */
static int parse_number(lua_State *L, struct decoder *d) {
    const char *s = d->p, *p = s, *end = d->end;
    uint64_t u = 0;
    p += *p == '-';
    const char *digits = p;
    if (!is_digit(p, end))
        return syntax_error(d, "invalid number");
    if (*p == '0' && is_digit(p + 1, end))
        return syntax_error(d, "invalid number (leading zero)");
    for (; is_digit(p, end); p++)
        u = u * 10 + (uint64_t)(*p - '0'); /* wraps past 19 digits; then unused */
    int whole = 1, ndigits = (int)(p - digits);
    if (p < end && *p == '.') {
        if (!is_digit(++p, end))
            return syntax_error(d, "invalid number");
        p = skip_digits(p, end), whole = 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p += p + 1 < end && (p[1] == '+' || p[1] == '-') ? 2 : 1;
        if (!is_digit(p, end))
            return syntax_error(d, "invalid number");
        p = skip_digits(p, end), whole = 0;
    }
    d->p = p;
    if (!whole || ndigits > 18 || u > (uint64_t)MAX_EXACT_INTEGER)
        return push_strtod(L, d, s, (size_t)(p - s));
    lua_pushnumber(L, *s == '-' ? -(lua_Number)u : (lua_Number)u);
    return 0;
}

/* -- containers -- */

/* Small containers are built with their exact size: the first PENDING_MAX elements (or members)
 * wait on the stack above `base`; the table is created when the container ends, or when one
 * more arrives (then with room for twice as many, and the rest go straight in). This spares the
 * rehash that growing an empty table costs at each power of two. */

/* Creates a table of `size` array slots holding the n elements above base, in their place.
 * [-n, +1] */
static int flush_array(lua_State *L, int base, int n, int size) {
    lua_createtable(L, size, 0);
    lua_insert(L, base + 1);
    for (int i = n; i >= 1; i--)
        lua_rawseti(L, base + 1, i);
    return base + 1;
}

/* Creates a table of `size` hash slots holding the n key/value pairs above base, in their
 * place, set in order so that the last of duplicate keys wins. [-2n, +1] */
static int flush_object(lua_State *L, int base, int n, int size) {
    lua_createtable(L, 0, size);
    int t = lua_gettop(L);
    for (int i = 1; i <= 2 * n; i += 2) {
        lua_pushvalue(L, base + i);
        lua_pushvalue(L, base + i + 1);
        lua_rawset(L, t);
    }
    if (n > 0) { /* else the table is at base + 1 already */
        lua_replace(L, base + 1);
        lua_settop(L, base + 1);
    }
    return base + 1;
}

/* Checks the nesting limit and the stack for a container at `level`, and sets *pending to how
 * many elements may wait on the stack. Returns 0, or -1 with the reason. May raise. */
static int enter_container(lua_State *L, struct decoder *d, int level, int slots, int *pending) {
    if (level > d->max_depth)
        return fail(&d->err, "nesting deeper than %d levels", d->max_depth);
    *pending = level <= PENDING_LEVELS ? PENDING_MAX : 0;
    luaL_checkstack(L, *pending * slots + 3, "JSON nesting");
    d->p++;
    skip_space(d);
    return 0;
}

/* After an element: skips the ',' (returns 1, more follow) or the closing byte (returns 0), or
 * returns -1 with the reason. */
static int next_element(struct decoder *d, char close) {
    skip_space(d);
    if (next_is(d, ',')) {
        d->p++;
        skip_space(d);
        return 1;
    }
    if (next_is(d, close)) {
        d->p++;
        return 0;
    }
    return syntax_error(d, close == ']' ? "',' or ']' expected" : "',' or '}' expected");
}

/* Pushes the marked table of the array whose '[' is at d->p, at nesting level `level`. Returns
 * 0, or -1 with nothing pushed. May raise. [-0, +1|0] */
static int parse_array(lua_State *L, struct decoder *d, int level) {
    int base = lua_gettop(L), t = 0, n = 0, pending = 0, more = 1;
    if (enter_container(L, d, level, 1, &pending) != 0)
        return -1;
    if (next_is(d, ']')) {
        d->p++;
        more = 0;
    }
    while (more > 0) {
        if (parse_value(L, d, level) != 0)
            break;
        if (++n > pending)
            t ? lua_rawseti(L, t, n) : (void)(t = flush_array(L, base, n, 2 * n));
        more = next_element(d, ']');
    }
    if (more != 0) {
        lua_settop(L, base);
        return -1;
    }
    if (!t)
        flush_array(L, base, n, n);
    set_mark(L, 1);
    return 0;
}

/* Pushes one "key": value pair of an object, d->p at the key. Returns 0, or -1 with nothing
 * pushed. May raise. [-0, +2|0] */
static int parse_member(lua_State *L, struct decoder *d, int level) {
    if (!next_is(d, '"'))
        return syntax_error(d, "string expected as object key");
    if (parse_string(L, d, 1) != 0)
        return -1;
    skip_space(d);
    if (!next_is(d, ':')) {
        lua_pop(L, 1);
        return syntax_error(d, "':' expected");
    }
    d->p++;
    skip_space(d);
    if (parse_value(L, d, level) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* Pushes the marked table of the object whose '{' is at d->p. Same contract as parse_array. */
static int parse_object(lua_State *L, struct decoder *d, int level) {
    int base = lua_gettop(L), t = 0, n = 0, pending = 0, more = 1;
    if (enter_container(L, d, level, 2, &pending) != 0)
        return -1;
    if (next_is(d, '}')) {
        d->p++;
        more = 0;
    }
    while (more > 0) {
        if (parse_member(L, d, level) != 0)
            break;
        if (++n > pending)
            t ? lua_rawset(L, t) : (void)(t = flush_object(L, base, n, 2 * n));
        more = next_element(d, '}');
    }
    if (more != 0) {
        lua_settop(L, base);
        return -1;
    }
    if (!t)
        flush_object(L, base, n, n);
    set_mark(L, 2);
    return 0;
}

/* -- values -- */

/* Skips the literal word (n bytes) at d->p. Returns 0, or -1 with the reason. */
static int skip_literal(struct decoder *d, const char *word, size_t n) {
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return syntax_error(d, "invalid literal");
    d->p += n;
    return 0;
}

/* Records why the byte at d->p cannot start a value. Returns -1. */
static int bad_start(struct decoder *d) {
    const unsigned char *p = (const unsigned char *)d->p;
    if (d->p == d->end)
        return syntax_error(d, "unexpected end of text");
    if (*p >= 0x80 && utf8_sequence(p, (size_t)(d->end - d->p)) == 0)
        return fail(&d->err, "invalid UTF-8 (byte %ld)", (long)(d->p - d->text));
    return syntax_error(d, "unexpected character");
}

/* Pushes the value at d->p, inside `depth` levels of nesting. Returns 0, or -1 with nothing
 * pushed and the reason in d->err. May raise (out of memory). [-0, +1|0] */
static int parse_value(lua_State *L, struct decoder *d, int depth) {
    if (depth >= PARSER_MAX_DEPTH) /* a scalar counts as a level here, as in Jansson */
        return fail(&d->err, "nesting deeper than %d levels",
                    d->max_depth < PARSER_MAX_DEPTH ? d->max_depth : PARSER_MAX_DEPTH);
    switch (d->p < d->end ? *d->p : '\0') {
    case '{':
        return parse_object(L, d, depth + 1);
    case '[':
        return parse_array(L, d, depth + 1);
    case '"':
        return parse_string(L, d, 0);
    case 't':
        return skip_literal(d, "true", 4) ? -1 : (lua_pushboolean(L, 1), 0);
    case 'f':
        return skip_literal(d, "false", 5) ? -1 : (lua_pushboolean(L, 0), 0);
    case 'n':
        return skip_literal(d, "null", 4) ? -1 : (lua_pushlightuserdata(L, NULL), 0);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return parse_number(L, d);
    default:
        return bad_start(d);
    }
}

/* Protected worker of ljson_decode. Argument: the state, whose `call` is a decoder. Upvalues:
 * the array and object marker metatables. Returns the value, or nothing when the reason is in
 * the decoder. May raise (out of memory). */
static int decode_worker(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, 1);
    struct decoder *d = st->call;
    skip_space(d);
    if (parse_value(L, d, 0) != 0)
        return 0;
    skip_space(d);
    if (d->p == d->end)
        return 1;
    syntax_error(d, "end of text expected");
    return 0;
}

int ljson_decode(lua_State *L, const char *text, size_t len, int max_depth, char *err,
                 size_t errlen) {
    struct decoder d = {{err, errlen, 0}, text, text, text + len, max_depth, NULL, 0, {0}};
    d.scratch = d.local;
    d.scratch_cap = sizeof d.local;
    int rc = run_protected(L, &decode_key, &d, &d.err, 0, 1);
    if (d.scratch != d.local)
        free(d.scratch);
    return rc;
}

/* -- encoding ------------------------------------------------------------------------------- */

static int encode_value(lua_State *L, struct encoder *e, const struct slot *s, int idx, int depth);

/* Records `what` and where it happened. Returns -1. */
static int fail_at(struct encoder *e, const struct slot *s, const char *what) {
    if (s->key) {
        int shown = s->keylen > 40 ? 40 : (int)s->keylen;
        return fail(&e->err, "%s (at key \"%.*s\")", what, shown, s->key);
    }
    if (s->index)
        return fail(&e->err, "%s (at index %zu)", what, s->index);
    return fail(&e->err, "%s", what);
}

/* Grows the output to hold n more bytes and a NUL. Returns 0, or -1 with the reason. */
static int grow(struct encoder *e, size_t n) {
    size_t cap = e->cap ? e->cap : 256;
    while (cap - e->len <= n)
        cap *= 2;
    char *p = realloc(e->buf, cap);
    if (!p)
        return fail(&e->err, "out of memory");
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
    return fabs(x) <= MAX_EXACT_INTEGER && (lua_Number)(int64_t)x == x;
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
        if (len - i >= 8 && plain8(s + i)) {
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
            return fail(&e->err, "table key is not valid UTF-8");
        if (rc == 0 && memchr(s->key, '\0', s->keylen))
            return fail(&e->err, "table key contains a NUL byte (JSON decoding refuses those)");
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
        return fail(&e->err, "table key must be a string or a number, not a %s",
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
static int encode_worker(lua_State *L) {
    struct ljson_state *st = lua_touserdata(L, 1);
    struct encoder *e = st->call;
    struct slot whole = {NULL, 0, 0};
    e->array_mt = st->array_mt;
    e->object_mt = st->object_mt;
    encode_value(L, e, &whole, 2, 0);
    return 0;
}

char *ljson_encode(lua_State *L, int idx, int max_depth, size_t *len, char *err, size_t errlen) {
    struct encoder e = {{err, errlen, 0}, NULL, 0, 0, max_depth, NULL, NULL};
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    if (run_protected(L, &encode_key, &e, &e.err, idx, 0) != 0 || reserve(&e, 0) != 0) {
        free(e.buf); /* what was written before the failure (or a raise) */
        return NULL;
    }
    e.buf[e.len] = '\0';
    *len = e.len;
    return e.buf;
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
