/* clock: the process's two clocks, in milliseconds. The monotonic one measures
 * intervals (idle times, deadlines, log rate limits); the wall one is the time
 * alarms are set in and stored as (and what now_ms() gives scripts). Nothing
 * else in roomd reads a clock for these.
 *
 * `roomd test` stops both: clock_fake freezes them at a time of its choosing
 * and only clock_advance moves them, so alarms and rate limits run on the
 * spec's time, not the machine's. The CPU bound of a turn is not affected: lua/lvm.c
 * reads its own clock for it. */
#ifndef ROOMD_CLOCK_H
#define ROOMD_CLOCK_H

/* The monotonic clock in milliseconds. */
long long clock_ms(void);

/* The monotonic clock in nanoseconds (CPU deadlines, durations measured for metrics). */
long long clock_ns(void);

/* The wall clock in milliseconds since the Unix epoch. */
long long clock_wall_ms(void);

/* Freezes both clocks: the wall clock reads wall_ms from now on (the monotonic one keeps the
 * value it had), until clock_advance moves them. */
void clock_fake(long long wall_ms);

/* Moves both frozen clocks ms forward (ms >= 0). Does nothing unless clock_fake was called. */
void clock_advance(long long ms);

#endif
