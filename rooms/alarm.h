/* alarm: wakes rooms whose alarm is due. Every ALARM_POLL_MS it asks Redis
 * for the members of the alarm index (room_store.h) due by now and queues
 * an alarm turn on each of those rooms, activating rooms that are not in
 * memory. So alarms fire for evicted rooms and, overdue, after a restart.
 * Delivery is at least once: the alarm turn removes the alarm in its own
 * checkpoint. */
#ifndef ROOMD_ALARM_H
#define ROOMD_ALARM_H

#include <stdbool.h>

struct lws_context;

#define ALARM_POLL_MS 200
#define ALARM_RETRIES 6
#define ALARM_FIRST_RETRY_MS 1000

/* Starts polling on the loop of context. */
void alarm_start(struct lws_context *context);

void alarm_stop(void);

/* Asks Redis once for the alarms due by now (clock_wall_ms) and queues their turns when the
 * reply comes: the poller's work, for `roomd test`, whose clock moves only when told to. Returns
 * false when no question could be sent (no connection, or one is waiting for its reply). */
bool alarm_poll(void);

/* When a failed alarm runs again, after its failed_runs-th failure (1, 2, ...) at now_ms (wall
 * clock): 1, 2, 4 ... 32 seconds later; 0 once it has failed ALARM_RETRIES + 1 times, and is
 * dropped. */
long long alarm_retry_at(int failed_runs, long long now_ms);

#endif
