/* Unit tests for lua/lpat.c, lua/lstr.c and lua/lsort.c: the sandbox's bounded find, match,
 * gmatch, gsub and sort give what LuaJIT's own give (tests/unit/lstr_cases.lua runs a few
 * thousand cases through both in one plain LuaJIT state), and they stay within their bounds:
 * matching and sorting ask check_time as they go, calls back into Lua ask check_stack first. */
#include "check.h"
#include "lpat.h"
#include "lsort.h"
#include "lstr.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

static int time_calls, time_left = -1; /* time_left: calls before check_time raises, -1 never */
static int stack_calls;

static void test_check_time(lua_State *L) {
    time_calls++;
    if (time_left >= 0 && time_left-- == 0)
        luaL_error(L, "out of time");
}

static void test_check_stack(lua_State *L) {
    (void)L;
    stack_calls++;
}

static const struct lbound test_bound = {test_check_time, test_check_stack};

/* A plain LuaJIT state with the global `bounded` = {find, match, gmatch, gsub, sort} of ours. */
static lua_State *new_state(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    lstr_open(L, &test_bound);
    lsort_open(L, &test_bound);
    lua_setglobal(L, "bounded");
    return L;
}

/* Runs Lua text; returns its first result as a string ("error: ..." when it raised). */
static const char *run(lua_State *L, const char *text) {
    lua_settop(L, 0);
    if (luaL_loadstring(L, text) != 0 || lua_pcall(L, 0, 1, 0) != 0)
        lua_pushfstring(L, "error: %s", lua_tostring(L, -1));
    return lua_tostring(L, -1) ? lua_tostring(L, -1) : "(not a string)";
}

static void test_same_as_luajit(lua_State *L) {
    lua_settop(L, 0);
    if (luaL_loadfile(L, "tests/unit/lstr_cases.lua") != 0) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        CHECK(0);
        return;
    }
    lua_getglobal(L, "bounded");
    if (lua_pcall(L, 1, 2, 0) != 0) {
        fprintf(stderr, "lstr_cases.lua: %s\n", lua_tostring(L, -1));
        CHECK(0);
        return;
    }
    int n = (int)lua_objlen(L, 1);
    for (int i = 1; i <= n && i <= 40; i++) {
        lua_rawgeti(L, 1, i);
        fprintf(stderr, "differs: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    CHECK_INT(n, 0);
    CHECK(lua_tonumber(L, 2) > 30000); /* the cases did run */
}

static void test_budget(lua_State *L) {
    /* Lua's own matcher takes minutes on this; ours asks the clock and stops when told. */
    time_calls = 0;
    time_left = 3;
    CHECK_STR(run(L, "return bounded.match(('a'):rep(5000), ('.-'):rep(8) .. 'b')"),
              "error: out of time");
    CHECK_INT(time_calls, 4);
    time_calls = 0;
    time_left = 2;
    CHECK_HAS(run(L, "return bounded.gsub(('a'):rep(300), ('.-'):rep(4) .. 'b', '')"),
              "out of time");
    time_left = 2;
    CHECK_HAS(run(L, "for _ in bounded.gmatch(('a'):rep(300), ('.-'):rep(4) .. 'b') do end"),
              "out of time");
    time_left = 2;
    CHECK_HAS(run(L, "return bounded.find(('a'):rep(300), ('.-'):rep(4) .. 'b', 1)"),
              "out of time");
    time_left = 2;
    CHECK_HAS(run(L, "local t = {} for i = 1, 100000 do t[i] = -i end bounded.sort(t)"),
              "out of time");
    time_left = -1;
    time_calls = 0;
    CHECK_STR(run(L, "local t = {} for i = 1, 100000 do t[i] = -i end bounded.sort(t)\n"
                     "for i = 2, #t do assert(t[i - 1] <= t[i]) end return 'sorted'"),
              "sorted");
    CHECK(time_calls > 1000); /* about 2 n log n comparisons, one look per 1024 */
    CHECK_STR(run(L, "return bounded.find(('a'):rep(1e6) .. 'b', ('a'):rep(5e5) .. 'b', 1, "
                     "true) == 500001 and 'linear'"),
              "linear");
    CHECK_HAS(run(L, "return bounded.match('a', ('a*'):rep(300))"), "pattern too complex");
    CHECK_HAS(run(L, "return string.match('a', ('a*'):rep(300))"), "pattern too complex");
}

static void test_stack_checks(lua_State *L) {
    stack_calls = 0;
    CHECK_STR(run(L, "return (bounded.gsub('abc', '%w', 'x'))"), "xxx");
    CHECK_INT(stack_calls, 0); /* no call back into Lua */
    CHECK_STR(run(L, "return (bounded.gsub('abc', '%w', string.upper))"), "ABC");
    CHECK_INT(stack_calls, 1);
    CHECK_STR(run(L, "return (bounded.gsub('abc', '%w', {a = 1}))"), "1bc");
    CHECK_INT(stack_calls, 2);
    CHECK_STR(run(L, "local t = {3, 1, 2} bounded.sort(t, function(a, b) return a > b end)\n"
                     "return table.concat(t)"),
              "321");
    CHECK_INT(stack_calls, 3);
}

static bool stop_now(void *ud) {
    (*(int *)ud)++;
    return true;
}

static void test_engine(void) {
    struct lpat p = {0};
    CHECK(lpat_compile(&p, "^(%a+)=[^;]*;?$", 16, true) == NULL);
    CHECK(p.anchored);
    CHECK_INT(p.n_items, 7); /* ( %a+ ) = [^;]* ;? $ */
    CHECK_INT(p.n_sets, 1);
    CHECK_INT(p.n_captures, 1);
    CHECK_STR(lpat_compile(&p, "(()", 3, true), "unfinished capture");
    CHECK_STR(lpat_compile(&p, "%f", 2, true), "missing '[' after '%f' in pattern");
    CHECK(lpat_compile(&p, "^a", 2, false) == NULL && !p.anchored && p.n_items == 2);
    CHECK(lpat_is_pattern("a.b", 3) && !lpat_is_pattern("a]b)", 4) && !lpat_is_pattern("", 0));

    struct lpat_item items[8];
    uint8_t sets[2][32];
    struct lpat q = {.items = items, .sets = sets};
    CHECK(lpat_compile(&q, ".-.-.-b", 7, true) == NULL);
    char subject[20000];
    memset(subject, 'a', sizeof subject);
    int stops = 0;
    struct lpat_match m;
    lpat_begin(&m, subject, sizeof subject, stop_now, &stops);
    CHECK(lpat_match_at(&m, &q, subject) == NULL);
    CHECK_INT(m.status, LPAT_STOPPED);
    CHECK_INT(stops, 1);
    CHECK(m.steps <= LPAT_CHECK_EVERY + sizeof subject); /* stopped at the first look */
    lpat_begin(&m, "ab", 2, NULL, NULL);
    CHECK(lpat_match_at(&m, &q, "ab") == m.src + 2);
    CHECK_INT(m.status, LPAT_OK);
}

int main(void) {
    lua_State *L = new_state();
    test_same_as_luajit(L);
    test_budget(L);
    test_stack_checks(L);
    lua_close(L);
    test_engine();
    return check_summary("lstr");
}
