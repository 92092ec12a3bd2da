/* storage_lua: room.storage objects, their hidden state, and the hand-over of a room's stored
 * entries to it and of a turn's writes from it; see storage_lua.h.
 *
 * A storage object is a userdata box pointing at its room, with the methods of rooms/storage.lua
 * in its metatable (and, under "alarms", storage.lua's internal alarm functions, which scripts
 * cannot reach: the metatable is hidden) and its state in its environment table (kv, dirty,
 * cleared, alarms, alarm_dirty; see storage.lua), which scripts cannot reach: only storage.lua's
 * `own` and this file read it. The box is cleared when its room forgets it, so a kept storage
 * object is an error, never a dangling pointer. The turn's writes are checked against the limits
 * once more here, in C: whatever a script does, nothing past them is stored. Steps that may
 * allocate run in lua_cpcall, so running out of memory is an error code, not a panic. */
#include "storage_lua.h"

#include "alarm.h"
#include "clock.h"
#include "ljson.h"
#include "log.h"
#include "lvm.h"
#include "room_internal.h"
#include "storage_lua_text.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct storage_box {
    struct room *room; /* NULL once the room forgot this storage */
};

/* own(self): the state of storage object self, used in its own room's turn. Upvalue 1: the
 * storage metatable. */
static int own(lua_State *L) {
    struct storage_box *box = lua_touserdata(L, 1);
    if (!box || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(1)))
        return lvm_error(L, "not a room's storage (call methods with ':', e.g. "
                            "room.storage:get(key))");
    if (!box->room)
        return lvm_error(L, "storage of a room that has left memory since (use "
                            "room.storage in its own turn, do not keep it)");
    if (box->room->co != L)
        return lvm_error(L, "storage used outside its own room's turn (a room's storage "
                            "works only in its own handlers)");
    lua_getfenv(L, 1);
    return 1;
}

struct open_args {
    int factory_ref, mt_ref;
};

/* retry_at(failed_runs, now_ms) -> when the failed alarm runs again, 0: dropped (alarm.h). */
static int retry_at(lua_State *L) {
    lua_pushnumber(L,
                   (double)alarm_retry_at((int)lua_tonumber(L, 1), (long long)lua_tonumber(L, 2)));
    return 1;
}

/* Builds the storage metatable: __index the methods storage.lua's factory makes, "alarms" its
 * internal alarm functions. */
static int open_storage(lua_State *L) {
    struct open_args *a = lua_touserdata(L, 1);
    lua_newtable(L); /* mt */
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->factory_ref);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, own, 1);
    lua_pushinteger(L, STORAGE_KEY_MAX);
    lua_pushinteger(L, STORAGE_VALUE_MAX);
    lua_pushinteger(L, STORAGE_KEYS_PER_CALL);
    lua_pushinteger(L, STORAGE_ALARMS_MAX);
    lua_pushinteger(L, STORAGE_ALARM_NAME_MAX);
    lua_pushinteger(L, STORAGE_ALARM_PAYLOAD_MAX);
    lua_pushcfunction(L, retry_at);
    lua_call(L, 8, 2); /* mt, methods, internal */
    lua_setfield(L, -3, "alarms");
    lua_setfield(L, -2, "__index");
    a->mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int storage_lua_open(struct lvm *vm, int *ctor_ref, char *err, size_t errlen) {
    struct open_args a = {LUA_NOREF, LUA_NOREF};
    if (lvm_run_prelude(vm, "=storage.lua", storage_lua_text, sizeof storage_lua_text - 1,
                        &a.factory_ref, err, errlen) != 0)
        return -1;
    lua_State *L = lvm_state(vm);
    int rc = lua_cpcall(L, open_storage, &a);
    if (rc != 0) {
        snprintf(err, errlen, "storage.lua: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, a.factory_ref);
    *ctor_ref = a.mt_ref;
    return rc == 0 ? 0 : -1;
}

struct new_args {
    int mt_ref;
    struct room *r;
    const struct storage_entry *e;
    int n;
    const struct storage_alarms *alarms;
};

/* Pushes a new state table over the entries and the alarm. */
static void push_state(lua_State *L, const struct new_args *a) {
    lua_createtable(L, 0, 11);
    lua_createtable(L, 0, a->n);
    double bytes = 0;
    for (int i = 0; i < a->n; i++) {
        lua_pushlstring(L, a->e[i].key, a->e[i].key_len);
        lua_pushlstring(L, a->e[i].value, a->e[i].value_len);
        lua_rawset(L, -3);
        bytes += (double)(a->e[i].key_len + a->e[i].value_len);
    }
    lua_setfield(L, -2, "kv");
    lua_pushnumber(L, bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushnumber(L, 0);
    lua_setfield(L, -2, "reads");
    lua_newtable(L);
    lua_setfield(L, -2, "dirty");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "cleared");
    lua_newtable(L);
    lua_setfield(L, -2, "alarms");
    lua_pushnumber(L, 0);
    lua_setfield(L, -2, "n_alarms");
    lua_newtable(L);
    lua_setfield(L, -2, "alarm_changes");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "alarm_dirty");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "legacy");
}

/* Pushes storage.lua's internal alarm function name, from the storage metatable at mt. */
static void push_internal_at(lua_State *L, int mt, const char *name) {
    lua_getfield(L, mt, "alarms");
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

/* Pushes a table of entries[0..n): key -> value, or key -> the value as a number. */
static void push_entries(lua_State *L, const struct storage_entry *e, int n, bool numbers) {
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        char text[32];
        lua_pushlstring(L, e[i].key, e[i].key_len);
        if (numbers)
            snprintf(text, sizeof text, "%.*s", (int)e[i].value_len, e[i].value);
        if (numbers)
            lua_pushnumber(L, strtod(text, NULL));
        else
            lua_pushlstring(L, e[i].value, e[i].value_len);
        lua_rawset(L, -3);
    }
}

/* Stack: state. Gives it the stored alarms (storage.lua's load). */
static void load_alarms(lua_State *L, const struct new_args *a) {
    const struct storage_alarms *al = a->alarms;
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->mt_ref);
    push_internal_at(L, lua_gettop(L), "load");
    lua_remove(L, -2);
    lua_pushvalue(L, -2);
    push_entries(L, al->times, al->n_times, true);
    push_entries(L, al->data, al->n_data, false);
    lua_pushnumber(L, al->legacy);
    lua_pushnumber(L, al->legacy_retries);
    lua_call(L, 5, 0);
}

static int new_storage(lua_State *L) {
    struct new_args *a = lua_touserdata(L, 1);
    struct storage_box *box = lua_newuserdata(L, sizeof *box);
    box->room = NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->mt_ref);
    lua_setmetatable(L, -2);
    push_state(L, a);
    if (a->alarms && (a->alarms->n_times || a->alarms->legacy > 0))
        load_alarms(L, a);
    lua_setfenv(L, -2);
    a->r->storage_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    box->room = a->r;
    return 0;
}

int storage_lua_new(struct lvm *vm, int ctor_ref, struct room *r, const struct storage_entry *e,
                    int n, const struct storage_alarms *alarms) {
    struct new_args a = {ctor_ref, r, e, n, alarms};
    lua_State *L = lvm_state(vm);
    if (lua_cpcall(L, new_storage, &a) == 0)
        return 0;
    lua_pop(L, 1);
    return -1;
}

/* Pushes r's storage state table. Allocates nothing. [-0, +1] */
static void push_state_of(lua_State *L, const struct room *r) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->storage_ref);
    lua_getfenv(L, -1);
    lua_remove(L, -2);
}

/* Pushes field name of the table at the top. The names are keys the state always holds, so
 * their strings exist: nothing is allocated. [-0, +1] */
static void get_field(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
}

static void set_field(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_insert(L, -2);
    lua_rawset(L, -3);
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

/* Raises unless the write whose key and value are on top of the stack keeps the limits: a key of
 * 1 to STORAGE_KEY_MAX bytes, and encoded bytes of at most STORAGE_VALUE_MAX or false. */
static void check_write(lua_State *L) {
    size_t len = 0;
    if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L, "a storage key is a %s, not a string", luaL_typename(L, -2));
    lua_tolstring(L, -2, &len);
    if (len == 0 || len > STORAGE_KEY_MAX)
        luaL_error(L, "a storage key is %d bytes, not 1 to %d", (int)len, STORAGE_KEY_MAX);
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        return;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "a storage value is a %s, not encoded bytes", luaL_typename(L, -1));
    lua_tolstring(L, -1, &len);
    if (len > STORAGE_VALUE_MAX)
        luaL_error(L, "a storage value is %d bytes, over the limit of %d", (int)len,
                   STORAGE_VALUE_MAX);
}

/* Pushes storage.lua's internal alarm function name for r's storage. [-0, +1] */
static void push_internal(lua_State *L, const struct room *r, const char *name) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->storage_ref);
    lua_getmetatable(L, -1);
    push_internal_at(L, lua_gettop(L), name);
    lua_replace(L, -3);
    lua_pop(L, 1);
}

/* Stack: {name, time, extras}. Copies one alarm change into a, raising unless it keeps the
 * limits (the extras hold the payload and a few numbers). */
static void copy_alarm(lua_State *L, struct storage_alarm *a) {
    size_t len = 0;
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    lua_rawgeti(L, -3, 3); /* change, name, time, extras */
    if (lua_type(L, -3) != LUA_TSTRING ||
        (lua_tolstring(L, -3, &len), len > STORAGE_ALARM_NAME_MAX))
        luaL_error(L, "an alarm name is not a string of at most %d bytes", STORAGE_ALARM_NAME_MAX);
    a->time = lua_tonumber(L, -2);
    if (!(a->time == 0 || (a->time > 0 && a->time < 9007199254740992.0)))
        luaL_error(L, "an alarm time is not a time in milliseconds");
    if (lua_type(L, -1) == LUA_TSTRING &&
        (lua_tolstring(L, -1, &len), len > STORAGE_ALARM_PAYLOAD_MAX + 256))
        luaL_error(L, "an alarm's payload is %d bytes, over the limit", (int)len);
    a->name = copy(L, -3, &a->name_len);
    if (lua_type(L, -1) == LUA_TSTRING)
        a->data = copy(L, -1, &a->data_len);
    lua_pop(L, 3);
}

/* Stack: state. Reads the flags into w and copies the alarm changes out (storage.lua's
 * take_writes). */
static void take_alarms(lua_State *L, const struct room *r, struct storage_writes *w) {
    get_field(L, "cleared");
    w->cleared = lua_toboolean(L, -1);
    lua_pop(L, 1);
    get_field(L, "alarm_dirty");
    w->alarms_changed = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!w->alarms_changed)
        return;
    push_internal(L, r, "take_writes");
    lua_pushvalue(L, -2);
    lua_call(L, 1, 3); /* state, changes, earliest, legacy */
    w->legacy_alarm = lua_toboolean(L, -1);
    w->next_alarm = lua_tonumber(L, -2);
    lua_pop(L, 2);
    int n = (int)lua_objlen(L, -1);
    if (n && !(w->alarms = calloc((size_t)n, sizeof *w->alarms)))
        luaL_error(L, "out of memory");
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        copy_alarm(L, &w->alarms[w->n_alarms++]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
    set_field(L, "alarm_dirty");
}

struct take_args {
    struct room *r;
    struct storage_writes *w;
};

/* Stack: state, dirty. Checks and copies dirty out, then gives the state a fresh one. */
static int take_writes(lua_State *L) {
    struct take_args *a = lua_touserdata(L, 1);
    struct storage_writes *w = a->w;
    push_state_of(L, a->r);
    take_alarms(L, a->r, w);
    get_field(L, "dirty");
    int n = 0;
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1), n++)
        check_write(L);
    if (n && !(w->entries = calloc((size_t)n, sizeof *w->entries)))
        return luaL_error(L, "out of memory");
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
        struct storage_entry *e = &w->entries[w->n++];
        e->key = copy(L, -2, &e->key_len); /* a string: lua_tolstring does not convert it */
        if (lua_type(L, -1) == LUA_TSTRING)
            e->value = copy(L, -1, &e->value_len);
    }
    lua_pop(L, 1);
    if (n) {
        lua_newtable(L);
        set_field(L, "dirty");
    }
    lua_pushboolean(L, 0);
    set_field(L, "cleared");
    return 0;
}

/* Whether the turn wrote anything: the common case of a turn that wrote nothing is answered
 * without a protected call. Only raw reads of keys the state always holds: nothing here can
 * allocate or raise. */
static bool has_writes(lua_State *L, const struct room *r) {
    int top = lua_gettop(L);
    push_state_of(L, r);
    get_field(L, "cleared");
    bool any = lua_toboolean(L, -1);
    lua_pop(L, 1);
    get_field(L, "alarm_dirty");
    any = any || lua_toboolean(L, -1);
    lua_pop(L, 1);
    get_field(L, "dirty");
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
    log_error("[room %s] the turn's writes cannot be stored: %s", r->tag,
              lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
    storage_writes_free(w);
    return -1;
}

void storage_lua_take_usage(struct lvm *vm, const struct room *r, uint64_t *reads, int64_t *bytes) {
    lua_State *L = lvm_state(vm);
    if (r->storage_ref == LUA_NOREF || r->storage_ref == LUA_REFNIL)
        return;
    push_state_of(L, r);
    get_field(L, "reads");
    *reads += (uint64_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_pushnumber(L, 0);
    set_field(L, "reads");
    get_field(L, "bytes");
    *bytes = (int64_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
}

void storage_writes_free(struct storage_writes *w) {
    for (int i = 0; i < w->n; i++) {
        free((char *)w->entries[i].key);
        free((char *)w->entries[i].value);
    }
    free(w->entries);
    for (int i = 0; i < w->n_alarms; i++) {
        free((char *)w->alarms[i].name);
        free((char *)w->alarms[i].data);
    }
    free(w->alarms);
    memset(w, 0, sizeof *w);
}

bool storage_lua_take_due_alarm(lua_State *co, struct room *r, double now_ms) {
    if (r->storage_ref == LUA_NOREF)
        return false;
    push_internal(co, r, "take_due");
    push_state_of(co, r);
    lua_pushnumber(co, now_ms);
    lua_call(co, 2, 1);
    if (!lua_isnil(co, -1))
        return true;
    lua_pop(co, 1);
    return false;
}

struct done_args {
    struct room *r;
    bool ok, more_due;
    enum storage_alarm_end end;
    int failed;
    char name[48]; /* printable, cut */
};

/* storage.lua's done, its answers into a. */
static int alarm_done(lua_State *L) {
    struct done_args *a = lua_touserdata(L, 1);
    push_internal(L, a->r, "done");
    push_state_of(L, a->r);
    lua_pushboolean(L, a->ok);
    lua_pushnumber(L, (double)clock_wall_ms());
    lua_call(L, 3, 4); /* outcome, name, failed runs, more due */
    const char *end = lua_tostring(L, -4), *name = lua_tostring(L, -3);
    a->end = !end            ? STORAGE_ALARM_NONE
             : end[0] == 'r' ? STORAGE_ALARM_RETRIED
             : end[1] == 'r' ? STORAGE_ALARM_DROPPED
                             : STORAGE_ALARM_DONE;
    for (size_t i = 0; name && name[i] && i + 1 < sizeof a->name; i++)
        a->name[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    a->failed = (int)lua_tonumber(L, -2);
    a->more_due = lua_toboolean(L, -1);
    return 0;
}

enum storage_alarm_end storage_lua_alarm_done(struct lvm *vm, struct room *r, bool ok,
                                              bool *more_due) {
    struct done_args a = {.r = r, .ok = ok};
    lua_State *L = lvm_state(vm);
    *more_due = false;
    if (r->storage_ref == LUA_NOREF)
        return STORAGE_ALARM_NONE;
    if (lua_cpcall(L, alarm_done, &a) != 0) {
        log_error("[room %s] out of memory ending the alarm's turn", r->tag);
        lua_pop(L, 1);
        return STORAGE_ALARM_NONE;
    }
    if (a.end == STORAGE_ALARM_DROPPED)
        log_error("[room %s] alarm \"%s\" failed %d times: dropped", r->tag, a.name, a.failed);
    *more_due = a.more_due;
    return a.end;
}

void storage_lua_push(lua_State *L, const struct room *r) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->storage_ref);
}

void storage_lua_forget(struct lvm *vm, struct room *r) {
    int ref = r->storage_ref;
    r->storage_ref = LUA_NOREF;
    if (ref == LUA_NOREF || ref == LUA_REFNIL)
        return;
    lua_State *L = lvm_state(vm);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    struct storage_box *box = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (box) /* a script that kept the object gets an error using it */
        box->room = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
}

/* One conversion between stored bytes and JSON text, run in a protected call. */
struct codec_call {
    const char *in;
    size_t in_len;
    bool to_json;
    bool decoded; /* to_json: the bytes were a value of the codec's */
    int depth;
    char *out;
    size_t out_len;
    char err[160];
};

/* [-0, +0] (the protected call drops what it pushed) */
static int run_codec(lua_State *L) {
    struct codec_call *c = lua_touserdata(L, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "string.buffer");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, c->to_json ? "decode" : "encode");
    if (c->to_json) {
        lua_pushlstring(L, c->in, c->in_len);
        lua_call(L, 1, 1);
        c->decoded = true;
        c->out = ljson_encode(L, -1, c->depth, &c->out_len, c->err, sizeof c->err);
        return 0;
    }
    if (ljson_decode(L, c->in, c->in_len, c->depth, c->err, sizeof c->err) != 0)
        return 0;
    lua_call(L, 1, 1);
    const char *bytes = lua_tolstring(L, -1, &c->out_len);
    if (c->out_len > STORAGE_VALUE_MAX)
        snprintf(c->err, sizeof c->err, "value is %zu bytes encoded, over the limit of %d",
                 c->out_len, STORAGE_VALUE_MAX);
    else if ((c->out = malloc(c->out_len ? c->out_len : 1)))
        memcpy(c->out, bytes, c->out_len);
    return 0;
}

static char *convert(struct lvm *vm, struct codec_call *c, size_t *out_len) {
    lua_State *L = lvm_state(vm);
    c->depth = lvm_json_depth(vm);
    if (lua_cpcall(L, run_codec, c) != 0) {
        snprintf(c->err, sizeof c->err, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        free(c->out);
        c->out = NULL;
    }
    *out_len = c->out_len;
    return c->out;
}

char *storage_lua_value_json(struct lvm *vm, const char *bytes, size_t len, size_t *out_len,
                             bool *decodable) {
    struct codec_call c = {.in = bytes, .in_len = len, .to_json = true};
    char *out = convert(vm, &c, out_len);
    *decodable = c.decoded;
    return out;
}

char *storage_lua_value_bytes(struct lvm *vm, const char *json, size_t len, size_t *out_len,
                              char *err, size_t errlen) {
    struct codec_call c = {.in = json, .in_len = len, .to_json = false};
    char *out = convert(vm, &c, out_len);
    if (!out)
        snprintf(err, errlen, "%s", c.err[0] ? c.err : "out of memory");
    return out;
}
