/* libFuzzer harness for lua/ljson.c: any bytes as JSON text. What decodes must encode again,
 * and the encoding must decode again; the Lua stack must come back as it was. Differential
 * check against Jansson, which the codec replaced, with the flags it used: both must accept the
 * same texts (when ljson does not stop at its depth limit, and but for a Jansson quirk with NUL
 * bytes), Jansson must read ljson's encoding
 * back as a value equal to its own reading of the input, and a top-level string or non-integer
 * number must be written as Jansson writes it. */
#include "ljson.h"

#include <jansson.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH 32
#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL)
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))

static lua_State *L;

/* Closes the state at exit, so that LeakSanitizer sees only what ljson itself leaked. */
static void close_state(void) {
    lua_close(L);
}

static lua_State *state(void) {
    if (!L) {
        L = luaL_newstate();
        ljson_open(L);
        lua_pop(L, 1);
        atexit(close_state);
    }
    return L;
}

static json_t *jansson_load(const char *text, size_t len) {
    json_error_t err;
    return json_loadb(text, len, LOAD_FLAGS, &err);
}

/* Whether Jansson's dump of v must equal ljson's text: a string, or a number that ljson does
 * not write as an integer. */
static int same_dump_expected(const json_t *v) {
    if (json_is_string(v))
        return 1;
    double x = json_is_real(v) ? json_real_value(v) : 0;
    return json_is_real(v) && !(fabs(x) <= 9007199254740992.0 && x == floor(x));
}

/* Compares ljson's encoding (text, len) of the input with Jansson's reading of it (v). */
static void compare(const json_t *v, const char *text, size_t len) {
    json_t *back = jansson_load(text, len);
    if (!back || !json_equal(v, back))
        abort();
    json_decref(back);
    if (same_dump_expected(v)) {
        size_t n = json_dumpb(v, NULL, 0, DUMP_FLAGS);
        char *dumped = malloc(n + 1);
        if (!dumped || json_dumpb(v, dumped, n, DUMP_FLAGS) != n || n != len ||
            memcmp(dumped, text, n) != 0)
            abort();
        free(dumped);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    state();
    char err[256];
    int top = lua_gettop(L);
    json_t *v = jansson_load((const char *)data, size);
    if (ljson_decode(L, (const char *)data, size, DEPTH, err, sizeof err) != 0) {
        /* Jansson drops one NUL byte that follows a number or a literal ("1\0" passed): the
         * one difference ljson keeps on purpose. Otherwise only depth may refuse more. */
        int nul = memchr(data, '\0', size) != NULL;
        if (lua_gettop(L) != top || (v && !nul && !strstr(err, "nesting deeper")))
            abort();
        json_decref(v);
        return 0;
    }
    if (!v)
        abort(); /* ljson accepted what Jansson refused */
    size_t len;
    char *text = ljson_encode(L, -1, DEPTH, &len, err, sizeof err);
    if (!text)
        abort(); /* whatever decodes within the depth limit must encode */
    lua_pop(L, 1);
    compare(v, text, len);
    json_decref(v);
    if (ljson_decode(L, text, len, DEPTH, err, sizeof err) != 0)
        abort();
    lua_pop(L, 1);
    free(text);
    if (lua_gettop(L) != top)
        abort();
    return 0;
}
