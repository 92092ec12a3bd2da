/* lbound: how the C functions of the sandbox stay inside a turn's bounds.
 *
 * A C function that can run long without returning to Lua (pattern matching, sorting) calls
 * check_time now and then; one that calls back into Lua (gsub with a function, sort with a
 * comparator, string.format's __tostring) calls check_stack before it does, so that Lua -> C ->
 * Lua recursion ends in a Lua error instead of overflowing the C stack. lvm provides the real
 * checks (the turn's CPU deadline, the C stack depth since the turn began); tests provide their
 * own. */
#ifndef ROOMD_LBOUND_H
#define ROOMD_LBOUND_H

#include <lua.h>

struct lbound {
    void (*check_time)(lua_State *L);  /* raises when the running turn is past its deadline */
    void (*check_stack)(lua_State *L); /* raises when the C stack is deeper than allowed */
};

#endif
