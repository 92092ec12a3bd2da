/* harness_lua: the harness (harness.h) as a Lua table, for spec/prelude.lua.
 * Plain functions of plain values (strings, numbers, tables of strings, JSON
 * text): the prelude builds the room and conn objects a spec sees on top.
 * Each returns nil and a reason for what a spec can get wrong (an unknown
 * namespace, a closed conn), so the prelude raises it at the spec's line. */
#ifndef ROOMD_HARNESS_LUA_H
#define ROOMD_HARNESS_LUA_H

#include <lua.h>

/* Pushes the table of native functions. May raise (out of memory). */
void harness_lua_push(lua_State *L);

#endif
