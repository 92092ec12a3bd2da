/* lstr: the sandbox's pattern functions on the bounded matcher; see lstr.h.
 *
 * Each function's upvalue 1 is the struct lbound (a light userdata). A compiled pattern lives in
 * a buffer on the C stack when it is small, else in a userdata on the Lua stack (so the VM's
 * memory limit counts it); gmatch keeps its compiled pattern in a userdata upvalue. */
#include "lstr.h"

#include "lpat.h"

#include <lauxlib.h>
#include <string.h>

#define SMALL_ITEMS 32
#define SMALL_SETS 4

struct pattern_buf {
    struct lpat p;
    struct lpat_item items[SMALL_ITEMS];
    uint8_t sets[SMALL_SETS][32];
};

/* What the budget callback needs. */
struct budget {
    lua_State *L;
    const struct lbound *b;
};

static const struct lbound *bound_of(lua_State *L) {
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* lpat's budget callback: check_time raises when the turn is over its time. */
static bool over_time(void *ud) {
    struct budget *x = ud;
    x->b->check_time(x->L);
    return false;
}

/* A pattern with room for n_items and n_sets, in a new userdata (pushed). May raise. */
static struct lpat *new_pattern(lua_State *L, int n_items, int n_sets) {
    size_t items = (size_t)n_items * sizeof(struct lpat_item);
    char *mem = lua_newuserdata(L, sizeof(struct lpat) + items + (size_t)n_sets * 32);
    struct lpat *p = (struct lpat *)mem;
    p->items = (struct lpat_item *)(mem + sizeof *p);
    p->sets = (uint8_t(*)[32])(mem + sizeof *p + items);
    return p;
}

/* Compiles pat into buf, or (too big for it, or buf NULL) into a new userdata pushed on the
 * stack. Raises when the pattern is malformed. */
static const struct lpat *compile(lua_State *L, struct pattern_buf *buf, const char *pat,
                                  size_t len, bool anchor) {
    struct lpat probe = {0};
    const char *err = lpat_compile(&probe, pat, len, anchor);
    if (err)
        luaL_error(L, "%s", err);
    struct lpat *p;
    if (buf && probe.n_items <= SMALL_ITEMS && probe.n_sets <= SMALL_SETS) {
        p = &buf->p;
        p->items = buf->items;
        p->sets = buf->sets;
    } else {
        p = new_pattern(L, probe.n_items, probe.n_sets);
    }
    lpat_compile(p, pat, len, anchor);
    return p;
}

/* Raises if matching ended for another reason than a match or its absence. */
static void check_status(lua_State *L, const struct lpat_match *m) {
    if (m->status == LPAT_TOO_COMPLEX)
        luaL_error(L, "pattern too complex");
    if (m->status != LPAT_OK)
        luaL_error(L, "pattern matching stopped");
}

/* Pushes capture k, or the whole match s..e when k is 0 and there are no captures. */
static void push_capture(lua_State *L, const struct lpat_match *m, int k, const char *s,
                         const char *e) {
    if (k >= m->level) {
        if (k != 0)
            luaL_error(L, "invalid capture index");
        lua_pushlstring(L, s, (size_t)(e - s));
    } else if (m->cap[k].len == LPAT_POSITION) {
        lua_pushinteger(L, m->cap[k].init - m->src + 1);
    } else {
        lua_pushlstring(L, m->cap[k].init, (size_t)m->cap[k].len);
    }
}

/* Pushes the captures, or the whole match when there are none (s NULL: nothing then). */
static int push_captures(lua_State *L, const struct lpat_match *m, const char *s, const char *e) {
    int n = m->level == 0 && s ? 1 : m->level;
    luaL_checkstack(L, n, "too many captures");
    for (int k = 0; k < n; k++)
        push_capture(L, m, k, s, e);
    return n;
}

/* Optional integer argument arg (default def), truncated and kept in int range as LuaJIT does. */
static long long opt_int(lua_State *L, int arg, lua_Number def) {
    lua_Number n = luaL_optnumber(L, arg, def);
    return n >= 2147483647.0 ? 2147483647 : n <= -2147483648.0 ? -2147483648LL : (long long)n;
}

/* The 0-based start of a search from argument arg (LuaJIT's rule: negative counts from the end,
 * past the end is the end). */
static size_t start_at(lua_State *L, int arg, size_t len) {
    long long start = opt_int(L, arg, 1);
    start = start < 0 ? start + (long long)len : start - 1;
    if (start < 0)
        return 0;
    return (size_t)start > len ? len : (size_t)start;
}

/* string.find with no pattern bytes (or plain): a linear search. */
static int find_plain(lua_State *L, const char *s, size_t len, size_t init, const char *pat,
                      size_t plen) {
    const char *q = memmem(s + init, len - init, pat, plen);
    if (!q) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, q - s + 1);
    lua_pushinteger(L, q - s + (ptrdiff_t)plen);
    return 2;
}

/* string.find (find true) and string.match. */
static int find_or_match(lua_State *L, bool find) {
    size_t len, plen;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *pat = luaL_checklstring(L, 2, &plen);
    size_t init = start_at(L, 3, len);
    if (find && (lua_toboolean(L, 4) || !lpat_is_pattern(pat, plen)))
        return find_plain(L, s, len, init, pat, plen);
    struct pattern_buf buf;
    const struct lpat *p = compile(L, &buf, pat, plen, true);
    struct budget x = {L, bound_of(L)};
    struct lpat_match m;
    lpat_begin(&m, s, len, over_time, &x);
    const char *at = s + init;
    do {
        const char *e = lpat_match_at(&m, p, at);
        check_status(L, &m);
        if (e && !find)
            return push_captures(L, &m, at, e);
        if (e) {
            lua_pushinteger(L, at - s + 1);
            lua_pushinteger(L, e - s);
            return push_captures(L, &m, NULL, NULL) + 2;
        }
    } while (at++ < m.end && !p->anchored);
    lua_pushnil(L);
    return 1;
}

static int str_find(lua_State *L) {
    return find_or_match(L, true);
}

static int str_match(lua_State *L) {
    return find_or_match(L, false);
}

/* The iterator gmatch returns. Upvalues: the bound, the subject, the compiled pattern, where
 * the next search starts (0-based). */
static int gmatch_next(lua_State *L) {
    size_t len;
    const char *s = lua_tolstring(L, lua_upvalueindex(2), &len);
    const struct lpat *p = lua_touserdata(L, lua_upvalueindex(3));
    size_t pos = (size_t)lua_tonumber(L, lua_upvalueindex(4));
    struct budget x = {L, bound_of(L)};
    struct lpat_match m;
    lpat_begin(&m, s, len, over_time, &x);
    for (const char *at = s + pos; at <= m.end; at++) {
        const char *e = lpat_match_at(&m, p, at);
        check_status(L, &m);
        if (e) {
            lua_pushnumber(L, (lua_Number)(e - s + (e == at))); /* an empty match moves on */
            lua_replace(L, lua_upvalueindex(4));
            return push_captures(L, &m, at, e);
        }
    }
    return 0;
}

static int str_gmatch(lua_State *L) {
    size_t plen;
    luaL_checkstring(L, 1);
    const char *pat = luaL_checklstring(L, 2, &plen);
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1)); /* s, pat, bound */
    lua_pushvalue(L, 1);                   /* s, pat, bound, s */
    compile(L, NULL, pat, plen, false);    /* s, pat, bound, s, compiled */
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/* gsub's replacement string (argument 3) for the match s..e: %0-%9 and %x (the byte x). */
static void add_string(lua_State *L, luaL_Buffer *b, const struct lpat_match *m, const char *s,
                       const char *e) {
    size_t n;
    const char *r = lua_tolstring(L, 3, &n);
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (c != '%') {
            luaL_addchar(b, c);
            continue;
        }
        c = r[++i]; /* r[n] is the string's NUL, as in Lua */
        if (c < '0' || c > '9') {
            luaL_addchar(b, c);
        } else if (c == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else {
            push_capture(L, m, c - '1', s, e);
            luaL_addvalue(b);
        }
    }
}

/* Adds the replacement of the match s..e: the replacement string, or what the function or
 * table (argument 3) gives for the first capture; false or nil keeps the match. */
static void add_value(lua_State *L, luaL_Buffer *b, const struct lpat_match *m, const char *s,
                      const char *e) {
    int type = lua_type(L, 3);
    if (type == LUA_TNUMBER || type == LUA_TSTRING) {
        add_string(L, b, m, s, e);
        return;
    }
    if (type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(L, m, s, e);
        lua_call(L, n, 1);
    } else {
        push_capture(L, m, 0, s, e);
        lua_gettable(L, 3);
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
}

static int str_gsub(lua_State *L) {
    size_t len, plen;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *pat = luaL_checklstring(L, 2, &plen);
    int type = lua_type(L, 3);
    long long max_n = opt_int(L, 4, (lua_Number)len + 1);
    luaL_argcheck(L,
                  type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION ||
                      type == LUA_TTABLE,
                  3, "string/function/table expected");
    lua_settop(L, 4);
    struct budget x = {L, bound_of(L)};
    if (type == LUA_TFUNCTION || type == LUA_TTABLE)
        x.b->check_stack(L);
    struct pattern_buf buf;
    const struct lpat *p = compile(L, &buf, pat, plen, true);
    struct lpat_match m;
    lpat_begin(&m, s, len, over_time, &x);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *at = s;
    int n = 0;
    while (n < max_n) {
        const char *e = lpat_match_at(&m, p, at);
        check_status(L, &m);
        if (e) {
            n++;
            add_value(L, &b, &m, at, e);
        }
        if (e && e > at)
            at = e;
        else if (at < m.end)
            luaL_addchar(&b, *at++);
        else
            break;
        if (p->anchored)
            break;
    }
    luaL_addlstring(&b, at, (size_t)(m.end - at));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

void lstr_open(lua_State *L, const struct lbound *b) {
    static const luaL_Reg fns[] = {{"find", str_find},
                                   {"match", str_match},
                                   {"gmatch", str_gmatch},
                                   {"gsub", str_gsub},
                                   {NULL, NULL}};
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, (void *)b);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
}
