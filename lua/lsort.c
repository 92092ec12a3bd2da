/* lsort: a bounded heap sort as table.sort; see lsort.h.
 *
 * Stack while sorting: 1 the table, 2 the comparator or nil, 3 the value being sifted, then the
 * children it is compared with. Upvalue 1 is the struct lbound. */
#include "lsort.h"

#include <lauxlib.h>
#include <stdbool.h>

#define CHECK_EVERY 1024 /* comparisons between two looks at the clock */

struct sorter {
    lua_State *L;
    const struct lbound *b;
    unsigned long comparisons;
};

/* Whether the value at stack index a is less than the one at b, by the comparator or by `<`.
 * May raise (the comparator's error, or the bound's). [-0, +0] */
static bool less(struct sorter *s, int a, int b) {
    lua_State *L = s->L;
    if (++s->comparisons % CHECK_EVERY == 0)
        s->b->check_time(L);
    if (lua_isnil(L, 2))
        return lua_lessthan(L, a, b);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, a < 0 ? a - 1 : a);
    lua_pushvalue(L, b < 0 ? b - 2 : b);
    lua_call(L, 2, 1);
    bool lt = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return lt;
}

/* Places the value v at stack index vi in the max-heap t[1..n] from slot i down, bottom-up:
 * the hole at i goes down to a leaf along the larger children (moving each up a level: one
 * comparison per level), then v rises from there past the parents smaller than it (few
 * comparisons, as v mostly comes from a leaf). The value sifted stays on the stack. [-0, +0] */
static void sift_down(struct sorter *s, int vi, int i, int n) {
    lua_State *L = s->L;
    int hole = i;
    while (hole <= n / 2) {
        int child = 2 * hole;
        lua_rawgeti(L, 1, child);
        if (child < n) {
            lua_rawgeti(L, 1, child + 1);
            if (less(s, -2, -1)) {
                lua_remove(L, -2);
                child++;
            } else {
                lua_pop(L, 1);
            }
        }
        lua_rawseti(L, 1, hole);
        hole = child;
    }
    while (hole > i) {
        int parent = hole / 2;
        lua_rawgeti(L, 1, parent);
        if (!less(s, -1, vi)) {
            lua_pop(L, 1);
            break;
        }
        lua_rawseti(L, 1, hole);
        hole = parent;
    }
    lua_pushvalue(L, vi);
    lua_rawseti(L, 1, hole);
}

static int sort(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    luaL_checkstack(L, 8, "sort");
    struct sorter s = {L, lua_touserdata(L, lua_upvalueindex(1)), 0};
    int n = (int)lua_objlen(L, 1);
    if (n < 2)
        return 0;
    s.b->check_stack(L); /* comparisons may call Lua: a comparator, or __lt */
    for (int i = n / 2; i >= 1; i--) {
        lua_rawgeti(L, 1, i); /* t, comp, v */
        sift_down(&s, 3, i, n);
        lua_pop(L, 1);
    }
    for (int end = n; end > 1; end--) {
        lua_rawgeti(L, 1, end); /* t, comp, v: the last leaf, to sift from the root */
        lua_rawgeti(L, 1, 1);
        lua_rawseti(L, 1, end); /* the largest goes to the end */
        sift_down(&s, 3, 1, end - 1);
        lua_pop(L, 1);
    }
    return 0;
}

void lsort_open(lua_State *L, const struct lbound *b) {
    lua_pushlightuserdata(L, (void *)b);
    lua_pushcclosure(L, sort, 1);
    lua_setfield(L, -2, "sort");
}
