/* ljson_decode: JSON text to Lua values, for ljson_decode (ljson.h).
 *
 * A recursive-descent parser over the bytes that pushes Lua values as it reads them, with no tree
 * in between, inside the protected decode worker. It accepts what the Jansson-based codec it
 * replaced accepted (see ljson.c): strict RFC 8259 syntax with any value at the top level, strict
 * UTF-8, \u escapes with surrogate pairs (lone ones refused), "\u0000" in strings but not in
 * object keys, the last of duplicate keys wins, numbers past the double range refused, at most
 * 2048 levels whatever max_depth says (a scalar counts as one). Small containers are built at
 * their exact size from values held on the Lua stack; plain integers are converted by hand. */
#include "ljson.h"
#include "ljson_codec.h"
#include "utf8.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PARSER_MAX_DEPTH 2048 /* the Jansson parser's own limit, kept so the same texts pass */
#define PENDING_MAX 8         /* members a decoded container keeps on the stack, see below */
#define PENDING_LEVELS 64     /* ... at levels up to this one: the Lua stack has 8000 slots */

/* The decoder's position in the text. */
struct decoder {
    struct errbuf err;
    const char *text, *p, *end; /* the text, the next byte to read, the end of the text */
    int max_depth;
    char *scratch; /* room for unescaped strings and long numbers: `local`, or malloc()ed */
    size_t scratch_cap;
    char local[256];
};

static int parse_value(lua_State *L, struct decoder *d, int depth);

/* Records a syntax error at the current byte. Returns -1. */
static int syntax_error(struct decoder *d, const char *what) {
    return ljson__fail(&d->err, "invalid JSON: %s (byte %ld)", what, (long)(d->p - d->text));
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
        return ljson__fail(&d->err, "out of memory");
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
        if (end - p >= 8 && ljson__plain8(p)) {
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
                return ljson__fail(&d->err, "invalid UTF-8 (byte %ld)", (long)(d->p - d->text));
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
    if (!whole || ndigits > 18 || u > (uint64_t)LJSON__MAX_EXACT_INTEGER)
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
        return ljson__fail(&d->err, "nesting deeper than %d levels", d->max_depth);
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
        return ljson__fail(&d->err, "invalid UTF-8 (byte %ld)", (long)(d->p - d->text));
    return syntax_error(d, "unexpected character");
}

/* Pushes the value at d->p, inside `depth` levels of nesting. Returns 0, or -1 with nothing
 * pushed and the reason in d->err. May raise (out of memory). [-0, +1|0] */
static int parse_value(lua_State *L, struct decoder *d, int depth) {
    if (depth >= PARSER_MAX_DEPTH) /* a scalar counts as a level here, as in Jansson */
        return ljson__fail(&d->err, "nesting deeper than %d levels",
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
int ljson__decode_worker(lua_State *L) {
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
    int rc = ljson__run_protected(L, LJSON__DECODE, &d, &d.err, 0, 1);
    if (d.scratch != d.local)
        free(d.scratch);
    return rc;
}
