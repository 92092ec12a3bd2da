/* script_log: see script_log.h. */
#include "script_log.h"

#include "clock.h"
#include "log.h"
#include "lvm.h"
#include "ns_internal.h"
#include "room_internal.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

/* The arguments as print would show them, space-separated, into out (cut to fit). Tables,
 * functions and the like by their type: nothing of the script runs here. */
static void message(lua_State *L, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int i = 1; i <= lua_gettop(L) && n + 1 < cap; i++) {
        size_t len;
        const char *s;
        int t = lua_type(L, i);
        if (t == LUA_TSTRING || t == LUA_TNUMBER)
            s = lua_tolstring(L, i, &len);
        else if (t == LUA_TBOOLEAN)
            s = lua_toboolean(L, i) ? "true" : "false", len = strlen(s);
        else if (t == LUA_TNIL)
            s = "nil", len = 3;
        else
            s = lua_typename(L, t), len = strlen(s);
        if (i > 1)
            out[n++] = ' ';
        if (len > cap - n - 1)
            len = cap - n - 1;
        memcpy(out + n, s, len);
        n += len;
        out[n] = '\0';
    }
}

/* Whether r may log one more line now (SCRIPT_LOG_LINES a second); *held gets how many were
 * dropped since its last line. */
static bool pass(struct room *r, unsigned long *held) {
    long long now = clock_ms();
    if (now - r->log_window_ms >= 1000) {
        r->log_window_ms = now;
        r->log_lines = 0;
    }
    if (r->log_lines >= SCRIPT_LOG_LINES) {
        r->log_held++;
        return false;
    }
    r->log_lines++;
    *held = r->log_held;
    r->log_held = 0;
    return true;
}

static int write_line(lua_State *L, enum log_level level) {
    if (!log_enabled(level))
        return 0;
    struct room *r = room_turn_on_any(L);
    unsigned long held = 0;
    if (r && !pass(r, &held))
        return 0;
    char msg[2048];
    message(L, msg, sizeof msg);
    struct log_fields f = {0};
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
        f.file = ar.short_src;
        f.line = ar.currentline;
    }
    if (r) {
        f.ns = r->ns->name;
        f.room = r->id;
        f.room_len = r->id_len;
    }
    if (held)
        log_with(level, &f, "(%lu more lines of this room's held back) %s", held, msg);
    else
        log_with(level, &f, "%s", msg);
    return 0;
}

static int log_info_l(lua_State *L) {
    return write_line(L, LOG_INFO);
}

static int log_warn_l(lua_State *L) {
    return write_line(L, LOG_WARN);
}

static int log_error_l(lua_State *L) {
    return write_line(L, LOG_ERROR);
}

static int open_log(lua_State *L) {
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, log_info_l);
    lua_setfield(L, -2, "info");
    lua_pushcfunction(L, log_warn_l);
    lua_setfield(L, -2, "warn");
    lua_pushcfunction(L, log_error_l);
    lua_setfield(L, -2, "error");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "roomd.log");
    return 0;
}

int script_log_open(struct lvm *vm, char *err, size_t errlen) {
    lua_State *L = lvm_state(vm);
    if (lua_cpcall(L, open_log, NULL) != 0) {
        snprintf(err, errlen, "log: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "roomd.log");
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "roomd.log");
    if (lvm_set_global(vm, "log") != 0) {
        snprintf(err, errlen, "log: out of memory");
        return -1;
    }
    return 0;
}
