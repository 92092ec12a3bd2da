/* registry: a chained hash table of live rooms keyed by namespace and id
 * (FNV-1a), doubled when it is more than full on average. */
#include "registry.h"

#include "log.h"
#include "ns_internal.h"
#include "room_internal.h"
#include "room_limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The live rooms: a table of n_buckets chains (a power of two), n_rooms in all. */
static struct {
    struct room **buckets;
    size_t n_buckets, n_rooms;
} reg;

static uint64_t hash(const struct ns *ns, const char *id, size_t len) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)ns;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return h;
}

static int grow(void) {
    size_t n = reg.n_buckets ? reg.n_buckets * 2 : 1024;
    struct room **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < reg.n_buckets; i++) {
        for (struct room *r = reg.buckets[i], *next; r; r = next) {
            next = r->hash_next;
            size_t k = hash(r->ns, r->id, r->id_len) & (n - 1);
            r->hash_next = b[k];
            b[k] = r;
        }
    }
    free(reg.buckets);
    reg.buckets = b;
    reg.n_buckets = n;
    return 0;
}

struct room *registry_find(const struct ns *ns, const char *id, size_t len) {
    if (!reg.n_buckets)
        return NULL;
    struct room *r = reg.buckets[hash(ns, id, len) & (reg.n_buckets - 1)];
    for (; r; r = r->hash_next)
        if (r->ns == ns && r->id_len == len && memcmp(r->id, id, len) == 0)
            return r;
    return NULL;
}

struct room *registry_get(struct ns *ns, const char *id, size_t len) {
    struct room *r = registry_find(ns, id, len);
    if (r)
        return r;
    if (reg.n_rooms >= ns->limits->max_rooms) {
        log_limited(LOG_WARN, "[room %s:...] not started: %zu rooms in memory (limits.max_rooms)",
                    ns->name, reg.n_rooms);
        return NULL;
    }
    if (reg.n_rooms >= reg.n_buckets && grow() != 0)
        return NULL;
    if (!(r = room_new(ns, id, len)))
        return NULL;
    size_t k = hash(ns, id, len) & (reg.n_buckets - 1);
    r->hash_next = reg.buckets[k];
    reg.buckets[k] = r;
    reg.n_rooms++;
    return r;
}

void registry_remove(struct room *r) {
    struct room **p = &reg.buckets[hash(r->ns, r->id, r->id_len) & (reg.n_buckets - 1)];
    for (; *p; p = &(*p)->hash_next) {
        if (*p == r) {
            *p = r->hash_next;
            reg.n_rooms--;
            return;
        }
    }
}

void registry_each(void (*fn)(struct room *r, void *arg), void *arg) {
    for (size_t i = 0; i < reg.n_buckets; i++)
        for (struct room *r = reg.buckets[i]; r; r = r->hash_next)
            fn(r, arg);
}

size_t registry_count(void) {
    return reg.n_rooms;
}

void registry_free_all(void) {
    for (size_t i = 0; i < reg.n_buckets; i++) {
        for (struct room *r = reg.buckets[i], *next; r; r = next) {
            next = r->hash_next;
            room_free(r);
        }
    }
    free(reg.buckets);
    reg.buckets = NULL;
    reg.n_buckets = reg.n_rooms = 0;
}
