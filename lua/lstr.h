/* lstr: string.find, string.match, string.gmatch and string.gsub on lpat, the bounded matcher.
 *
 * Same arguments and results as LuaJIT 2.1's (Lua 5.1 patterns; find's plain search when the
 * pattern has no special byte or `plain` is true), except that a malformed pattern is always an
 * error, and that matching calls the bound's check_time every few thousand steps and gsub its
 * check_stack before calling back into Lua. The plain search is linear (memmem). */
#ifndef ROOMD_LSTR_H
#define ROOMD_LSTR_H

#include "lbound.h"

#include <lua.h>

/* Sets find, match, gmatch and gsub in the table at the top of L's stack (the string library),
 * each bound by b (which must outlive L). May raise (out of memory). [-0, +0] */
void lstr_open(lua_State *L, const struct lbound *b);

#endif
