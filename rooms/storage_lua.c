/* storage_lua: hands entries to and writes from rooms/storage.lua; see
 * storage_lua.h. Every step that touches the Lua heap runs in lua_cpcall,
 * so running out of memory is an error code, not a panic. */
#include "storage_lua.h"

#include "lvm.h"
#include "room_internal.h"
#include "storage_lua_text.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int storage_lua_open(struct lvm *vm, int *ctor_ref, char *err, size_t errlen) {
    return lvm_run_prelude(vm, "=storage.lua", storage_lua_text, sizeof storage_lua_text - 1,
                           ctor_ref, err, errlen);
}

struct new_args {
    int ctor_ref;
    struct room *r;
    const struct storage_entry *e;
    int n;
    double alarm;
};

static int new_storage(lua_State *L) {
    struct new_args *a = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->ctor_ref);
    lua_createtable(L, 0, a->n);
    for (int i = 0; i < a->n; i++) {
        lua_pushlstring(L, a->e[i].key, a->e[i].key_len);
        lua_pushlstring(L, a->e[i].value, a->e[i].value_len);
        lua_rawset(L, -3);
    }
    if (a->alarm > 0)
        lua_pushnumber(L, a->alarm);
    else
        lua_pushnil(L);
    lua_call(L, 2, 1);
    a->r->storage_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int storage_lua_new(struct lvm *vm, int ctor_ref, struct room *r, const struct storage_entry *e,
                    int n, double alarm) {
    struct new_args a = {ctor_ref, r, e, n, alarm};
    lua_State *L = lvm_state(vm);
    if (lua_cpcall(L, new_storage, &a) == 0)
        return 0;
    lua_pop(L, 1);
    return -1;
}

static char *copy(lua_State *L, int idx, size_t *len) {
    const char *s = lua_tolstring(L, idx, len);
    char *c = malloc(*len + 1);
    if (!c)
        luaL_error(L, "out of memory");
    memcpy(c, s, *len);
    c[*len] = '\0';
    return c;
}

struct take_args {
    struct room *r;
    struct storage_writes *w;
};

/* Stack: storage, dirty. Copies dirty out, then gives storage a fresh one. */
static int take_writes(lua_State *L) {
    struct take_args *a = lua_touserdata(L, 1);
    struct storage_writes *w = a->w;
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->r->storage_ref);
    lua_getfield(L, -1, "_dirty");
    int n = 0;
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
        n++;
    lua_getfield(L, -2, "_cleared");
    w->cleared = lua_toboolean(L, -1);
    lua_getfield(L, -3, "_alarm_dirty");
    w->alarm_changed = lua_toboolean(L, -1);
    lua_getfield(L, -4, "_alarm");
    w->alarm = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
    lua_pop(L, 3);
    lua_pushboolean(L, 0);
    lua_setfield(L, -3, "_alarm_dirty");
    if (n == 0 && !w->cleared)
        return 0;
    if (n && !(w->entries = calloc((size_t)n, sizeof *w->entries)))
        return luaL_error(L, "out of memory");
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
        struct storage_entry *e = &w->entries[w->n++];
        lua_pushvalue(L, -2); /* lua_tolstring must not convert the key lua_next walks */
        e->key = copy(L, -1, &e->key_len);
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            e->value = copy(L, -1, &e->value_len);
    }
    lua_newtable(L);
    lua_setfield(L, -3, "_dirty");
    lua_pushboolean(L, 0);
    lua_setfield(L, -3, "_cleared");
    return 0;
}

/* Whether the turn wrote anything: the common case of a turn that wrote nothing is answered
 * without a protected call. Only raw reads of keys the table already holds: nothing here can
 * allocate or raise. */
static bool has_writes(lua_State *L, const struct room *r) {
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->storage_ref);
    lua_pushliteral(L, "_cleared");
    lua_rawget(L, -2);
    lua_pushliteral(L, "_alarm_dirty");
    lua_rawget(L, -3);
    lua_pushliteral(L, "_dirty");
    lua_rawget(L, -4);
    bool any = lua_toboolean(L, -3) || lua_toboolean(L, -2);
    lua_pushnil(L);
    if (!any && lua_istable(L, -2) && lua_next(L, -2))
        any = true;
    lua_settop(L, top);
    return any;
}

int storage_lua_take_writes(struct lvm *vm, struct room *r, struct storage_writes *w) {
    memset(w, 0, sizeof *w);
    if (r->storage_ref == LUA_NOREF || !has_writes(lvm_state(vm), r))
        return 0;
    struct take_args a = {r, w};
    lua_State *L = lvm_state(vm);
    if (lua_cpcall(L, take_writes, &a) == 0)
        return 0;
    lua_pop(L, 1);
    storage_writes_free(w);
    return -1;
}

void storage_writes_free(struct storage_writes *w) {
    for (int i = 0; i < w->n; i++) {
        free((char *)w->entries[i].key);
        free((char *)w->entries[i].value);
    }
    free(w->entries);
    memset(w, 0, sizeof *w);
}

struct alarm_args {
    struct room *r;
    double when;
};

static int set_alarm(lua_State *L) {
    struct alarm_args *a = lua_touserdata(L, 1);
    storage_lua_push(L, a->r);
    lua_getfield(L, -1, "set_alarm");
    lua_insert(L, -2);
    lua_pushnumber(L, a->when);
    lua_call(L, 2, 0);
    return 0;
}

int storage_lua_set_alarm(struct lvm *vm, struct room *r, double when) {
    struct alarm_args a = {r, when};
    lua_State *L = lvm_state(vm);
    if (lua_cpcall(L, set_alarm, &a) == 0)
        return 0;
    lua_pop(L, 1);
    return -1;
}

void storage_lua_push(lua_State *L, const struct room *r) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->storage_ref);
}

void storage_lua_forget(struct lvm *vm, struct room *r) {
    luaL_unref(lvm_state(vm), LUA_REGISTRYINDEX, r->storage_ref);
    r->storage_ref = LUA_NOREF;
}
