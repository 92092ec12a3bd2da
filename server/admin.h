/* admin: the operator's HTTP API on a listener of its own (docs/operations.md):
 * rooms listed from storage and memory, one room shown with its connections,
 * deleted, namespaces reloaded, health and readiness. Off unless the config
 * gives admin.port (or --admin-port); every request needs the admin token
 * (compared in constant time; a wrong one is answered 401 after a fixed
 * delay), except on a loopback listener that was given none. */
#ifndef ROOMD_ADMIN_H
#define ROOMD_ADMIN_H

struct lws_context;
struct admin_config;

/* Opens the admin listener on context's loop. Returns 0 (or 0 when it is off), -1 after
 * printing why it cannot listen. */
int admin_start(struct lws_context *context, const struct admin_config *cfg);

#endif
