/* libFuzzer harness for lua/ljson.c: any bytes as JSON text. What decodes must encode again,
 * and the encoding must decode again; the Lua stack must come back as it was. */
#include "ljson.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>

static lua_State *state(void) {
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        ljson_open(L);
        lua_pop(L, 1);
    }
    return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = state();
    char err[256];
    int top = lua_gettop(L);
    if (ljson_decode(L, (const char *)data, size, 32, err, sizeof err) != 0) {
        if (lua_gettop(L) != top)
            abort();
        return 0;
    }
    size_t len;
    char *text = ljson_encode(L, -1, 32, &len, err, sizeof err);
    if (!text)
        abort(); /* whatever decodes within the depth limit must encode */
    lua_pop(L, 1);
    if (ljson_decode(L, text, len, 32, err, sizeof err) != 0)
        abort();
    lua_pop(L, 1);
    free(text);
    if (lua_gettop(L) != top)
        abort();
    return 0;
}
