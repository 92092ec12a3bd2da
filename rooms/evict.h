/* evict: drops rooms that have been idle for limits.room_idle_ms (no
 * connection, no event, nothing in flight) from memory, once a second.
 * Their storage and alarm stay in Redis; the next event (or the alarm)
 * activates them again from there. In-memory fields are lost, as in a
 * restart. */
#ifndef ROOMD_EVICT_H
#define ROOMD_EVICT_H

struct lws_context;

/* Starts the sweeps on the loop of context; rooms idle for idle_ms go. */
void evict_start(struct lws_context *context, long idle_ms);

void evict_stop(void);

#endif
