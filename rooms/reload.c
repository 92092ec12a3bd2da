/* reload: swaps a namespace's VM; see reload.h. */
#include "reload.h"

#include "log.h"
#include "lvm.h"
#include "ns_internal.h"
#include "registry.h"
#include "room_internal.h"

#include <stddef.h>

struct detach {
    struct ns *ns;
    size_t rooms;
};

static void detach(struct room *r, void *arg) {
    struct detach *d = arg;
    if (r->ns != d->ns)
        return;
    room_detach_lua(r);
    d->rooms++;
}

int reload_namespace(struct ns *ns, char *err, size_t errlen) {
    struct lvm *old = ns_reload(ns, err, errlen);
    if (!old) {
        ns->counters.reloads_failed++;
        log_error("[ns %s] reload failed, the old code keeps running: %s", ns->name, err);
        return -1;
    }
    ns->counters.reloads_ok++;
    struct detach d = {ns, 0};
    registry_each(detach, &d);
    lvm_free(old);
    log_info("[ns %s] reloaded %s: %zu live rooms start again under the new code", ns->name,
             ns->script, d.rooms);
    return 0;
}
