/* lsort: table.sort for the sandbox, bounded.
 *
 * LuaJIT's table.sort compares in C: sorting a few million numbers or strings takes seconds
 * without one Lua instruction for the count hook to see, and a comparator that sorts again
 * recurses through C. This one is a heap sort (O(n log n) comparisons whatever the comparator
 * does, no recursion, never out of bounds; bottom-up: about n log2 n comparisons) that calls the
 * bound's check_time every few thousand comparisons and its check_stack before it calls back into
 * Lua (a comparator, or __lt). Same arguments and contract as Lua 5.1's: sorts t[1..#t] in place
 * with raw reads and writes, comp(a, b) or `<`; not stable. */
#ifndef ROOMD_LSORT_H
#define ROOMD_LSORT_H

#include "lbound.h"

#include <lua.h>

/* Sets sort in the table at the top of L's stack (the table library), bound by b (which must
 * outlive L). May raise (out of memory). [-0, +0] */
void lsort_open(lua_State *L, const struct lbound *b);

#endif
