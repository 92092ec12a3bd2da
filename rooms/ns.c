/* ns: one room script in one VM; see ns.h. */
#include "ns_internal.h"

#include "call.h"
#include "clock.h"
#include "fetch.h"
#include "ljson.h"
#include "lvm.h"
#include "outbuf.h"
#include "room.h"
#include "room_limits.h"
#include "room_lua.h"
#include "script_log.h"
#include "storage_lua.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ns *all; /* every namespace created and not freed */

struct ns *ns_find(const char *name, size_t len) {
    for (struct ns *ns = all; ns; ns = ns->next)
        if (strlen(ns->name) == len && memcmp(ns->name, name, len) == 0)
            return ns;
    return NULL;
}

size_t ns_count(void) {
    size_t n = 0;
    for (struct ns *ns = all; ns; ns = ns->next)
        n++;
    return n;
}

struct ns *ns_at(size_t i) {
    struct ns *ns = all;
    while (ns && i--)
        ns = ns->next;
    return ns;
}

const char *ns_name(const struct ns *ns) {
    return ns->name;
}

const char *ns_script(const struct ns *ns) {
    return ns->script;
}

size_t ns_lua_bytes(void) {
    size_t n = 0;
    for (struct ns *ns = all; ns; ns = ns->next)
        n += lvm_memory(ns->vm);
    return n;
}

size_t ns_heap_bytes(const struct ns *ns) {
    return lvm_memory(ns->vm);
}

/* A VM of the namespace's with everything a room needs (the parts ns_new and ns_reload
 * share). */
struct vm_parts {
    struct lvm *vm;
    int settings_ref, storage_ctor_ref;
};

struct settings_args {
    const struct ns *ns;
    struct vm_parts *parts;
    char *err;
    size_t errlen;
};

/* Runs protected: the bindings and the settings table. */
static int open_bindings(lua_State *L) {
    struct settings_args *a = lua_touserdata(L, 1);
    room_lua_open(L);
    const char *json = a->ns->settings ? a->ns->settings : "{}";
    if (ljson_decode(L, json, strlen(json), a->ns->limits->json_depth, a->err, a->errlen) != 0)
        return luaL_error(L, "settings of namespace '%s': %s", a->ns->name, a->err);
    a->parts->settings_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* A new VM with the bindings, room.settings, the storage constructor and the script loaded.
 * Returns 0, or -1 with the reason in err (and nothing left behind). */
static int build_vm(const struct ns *ns, struct vm_parts *parts, char *err, size_t errlen) {
    const struct limits *limits = ns->limits;
    parts->vm = lvm_new(ns->name, limits->vm_memory_bytes, limits->json_depth, err, errlen);
    if (!parts->vm)
        return -1;
    struct settings_args a = {ns, parts, err, errlen};
    lua_State *L = lvm_state(parts->vm);
    if (lua_cpcall(L, open_bindings, &a) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        goto fail;
    }
    lvm_set_cpu_limit(parts->vm, ns->jit ? 0 : limits->turn_cpu_ms);
    if (storage_lua_open(parts->vm, &parts->storage_ctor_ref, err, errlen) == 0 &&
        call_open(parts->vm, err, errlen) == 0 && fetch_open(parts->vm, err, errlen) == 0 &&
        script_log_open(parts->vm, err, errlen) == 0 &&
        lvm_load(parts->vm, ns->script, err, errlen) == 0)
        return 0;
fail:
    lvm_free(parts->vm);
    parts->vm = NULL;
    return -1;
}

static void take_parts(struct ns *ns, const struct vm_parts *parts) {
    ns->vm = parts->vm;
    ns->settings_ref = parts->settings_ref;
    ns->storage_ctor_ref = parts->storage_ctor_ref;
}

struct ns *ns_new(const char *name, const char *script, const char *settings_json, const char *node,
                  const struct limits *limits, char *err, size_t errlen) {
    struct ns *ns = calloc(1, sizeof *ns);
    struct vm_parts parts;
    if (!ns || !(ns->name = strdup(name)) || !(ns->script = strdup(script)) ||
        !(ns->settings = strdup(settings_json ? settings_json : "{}"))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ns->node = node;
    ns->limits = limits;
    ns->cpu_budget_ms = -1;
    if (build_vm(ns, &parts, err, errlen) != 0)
        goto fail;
    take_parts(ns, &parts);
    ns->next = all;
    all = ns;
    return ns;
fail:
    ns_free(ns);
    return NULL;
}

struct lvm *ns_reload(struct ns *ns, char *err, size_t errlen) {
    struct vm_parts parts;
    if (build_vm(ns, &parts, err, errlen) != 0)
        return NULL;
    struct lvm *old = ns->vm;
    take_parts(ns, &parts);
    return old;
}

void ns_collect_soon(void) {
    for (struct ns *ns = all; ns; ns = ns->next)
        ns->collect_pending = true;
}

void ns_collect_step(long budget_ms) {
    long long deadline = clock_ms() + budget_ms;
    for (struct ns *ns = all; ns && clock_ms() < deadline; ns = ns->next) {
        lua_State *L = lvm_state(ns->vm);
        while (ns->collect_pending && clock_ms() < deadline)
            ns->collect_pending = lua_gc(L, LUA_GCSTEP, 256) == 0; /* 1: the cycle ended */
    }
}

int ns_set_auto_reply(struct ns *ns, const char *ping, const char *pong) {
    ns->ping = ping;
    ns->pong = outbuf_new_text(pong, strlen(pong));
    return ns->pong ? 0 : -1;
}

void ns_set_jit(struct ns *ns, bool jit) {
    ns->jit = jit;
    lvm_set_cpu_limit(ns->vm, jit ? 0 : ns->limits->turn_cpu_ms);
}

void ns_set_cpu_budget(struct ns *ns, long ms) {
    ns->cpu_budget_ms = ms;
}

void ns_free(struct ns *ns) {
    if (!ns)
        return;
    for (struct ns **p = &all; *p; p = &(*p)->next) {
        if (*p == ns) {
            *p = ns->next;
            break;
        }
    }
    lvm_free(ns->vm);
    outbuf_unref(ns->pong);
    free(ns->name);
    free(ns->script);
    free(ns->settings);
    for (int i = 0; i < ns->n_outbound; i++)
        free(ns->outbound[i]);
    free(ns->outbound);
    free(ns);
}
