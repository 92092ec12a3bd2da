/* ns: one room script in one VM; see ns.h. */
#include "ns.h"

#include "ljson.h"
#include "lvm.h"
#include "room_limits.h"
#include "room_lua.h"
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

struct settings_args {
    struct ns *ns;
    const char *json;
    char *err;
    size_t errlen;
};

/* Runs protected: the bindings and the settings table. */
static int open_bindings(lua_State *L) {
    struct settings_args *a = lua_touserdata(L, 1);
    room_lua_open(L);
    const char *json = a->json ? a->json : "{}";
    if (ljson_decode(L, json, strlen(json), a->ns->limits->json_depth, a->err, a->errlen) != 0)
        return luaL_error(L, "settings of namespace '%s': %s", a->ns->name, a->err);
    a->ns->settings_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

struct ns *ns_new(const char *name, const char *script, const char *settings_json, const char *node,
                  const struct limits *limits, char *err, size_t errlen) {
    struct ns *ns = calloc(1, sizeof *ns);
    if (!ns || !(ns->name = strdup(name)) || !(ns->script = strdup(script))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ns->node = node;
    ns->limits = limits;
    ns->vm = lvm_new(name, limits->vm_memory_bytes, limits->json_depth, err, errlen);
    if (!ns->vm)
        goto fail;
    struct settings_args a = {ns, settings_json, err, errlen};
    lua_State *L = lvm_state(ns->vm);
    if (lua_cpcall(L, open_bindings, &a) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        goto fail;
    }
    if (storage_lua_open(ns->vm, &ns->storage_ctor_ref, err, errlen) != 0)
        goto fail;
    if (lvm_load(ns->vm, script, err, errlen) != 0)
        goto fail;
    ns->next = all;
    all = ns;
    return ns;
fail:
    ns_free(ns);
    return NULL;
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
    free(ns->name);
    free(ns->script);
    free(ns);
}
