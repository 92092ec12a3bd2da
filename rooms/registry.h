/* registry: the live rooms of this process, by <namespace, id>.
 * The first event for a room creates it here (registry_get). */
#ifndef ROOMD_REGISTRY_H
#define ROOMD_REGISTRY_H

#include <stddef.h>

struct ns;
struct room;

/* The room <ns, id>, created (not started) if it is not live. NULL on out-of-memory or when
 * limits.max_rooms rooms are in memory already. */
struct room *registry_get(struct ns *ns, const char *id, size_t len);

/* The live room <ns, id>, or NULL. */
struct room *registry_find(const struct ns *ns, const char *id, size_t len);

/* Takes r out of the registry (the caller frees it). */
void registry_remove(struct room *r);

/* Calls fn on every live room. fn must not add or remove rooms. */
void registry_each(void (*fn)(struct room *r, void *arg), void *arg);

size_t registry_count(void);

/* Frees every room. */
void registry_free_all(void);

#endif
