/* lsort: a bounded heap sort as table.sort; see lsort.h.
 *
 * Stack while sorting: 1 the table, 2 the comparator or nil; each comparison pushes two
 * elements (and the comparator) above them and pops them. Upvalue 1 is the struct lbound. */
#include "lsort.h"

#include <lauxlib.h>
#include <stdbool.h>

#define CHECK_EVERY 1024 /* comparisons between two looks at the clock */

struct sorter {
    lua_State *L;
    const struct lbound *b;
    unsigned long comparisons;
};

/* Whether t[i] < t[j] by the comparator or by `<`. May raise (the comparator's error, or the
 * bound's). */
static bool less(struct sorter *s, int i, int j) {
    lua_State *L = s->L;
    if (++s->comparisons % CHECK_EVERY == 0)
        s->b->check_time(L);
    bool custom = !lua_isnil(L, 2);
    if (custom)
        lua_pushvalue(L, 2);
    lua_rawgeti(L, 1, i);
    lua_rawgeti(L, 1, j);
    if (!custom) {
        bool lt = lua_lessthan(L, -2, -1);
        lua_pop(L, 2);
        return lt;
    }
    lua_call(L, 2, 1);
    bool lt = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return lt;
}

static void swap(lua_State *L, int i, int j) {
    lua_rawgeti(L, 1, i);
    lua_rawgeti(L, 1, j);
    lua_rawseti(L, 1, i);
    lua_rawseti(L, 1, j);
}

/* Moves t[i] down the max-heap t[1..n] until both its children are not greater. */
static void sift_down(struct sorter *s, int i, int n) {
    while (i <= n / 2) {
        int child = 2 * i;
        if (child < n && less(s, child, child + 1))
            child++;
        if (!less(s, i, child))
            return;
        swap(s->L, i, child);
        i = child;
    }
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
    for (int i = n / 2; i >= 1; i--)
        sift_down(&s, i, n);
    for (int end = n; end > 1; end--) {
        swap(L, 1, end);
        sift_down(&s, 1, end - 1);
    }
    return 0;
}

void lsort_open(lua_State *L, const struct lbound *b) {
    lua_pushlightuserdata(L, (void *)b);
    lua_pushcclosure(L, sort, 1);
    lua_setfield(L, -2, "sort");
}
