/* evict: once a second, drops rooms that have been idle for
 * limits.room_idle_ms (no connection, no event, nothing in flight) from
 * memory, and hibernates rooms that have connections but no event for
 * limits.hibernate_ms (their Lua instance goes, their sockets stay open).
 * Storage and alarms stay in Redis; the next event (or the alarm) activates
 * the room again from there. In-memory fields are lost, as in a restart. */
#ifndef ROOMD_EVICT_H
#define ROOMD_EVICT_H

struct lws_context;

/* Starts the sweeps on the loop of context. */
void evict_start(struct lws_context *context, long idle_ms, long hibernate_ms);

void evict_stop(void);

#endif
