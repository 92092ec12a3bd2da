/* clock: the process's two clocks, in milliseconds. The monotonic one measures
 * intervals (idle times, deadlines, log rate limits); the wall one is the time
 * alarms are set in and stored as. Nothing else in roomd reads a clock for these. */
#ifndef ROOMD_CLOCK_H
#define ROOMD_CLOCK_H

/* The monotonic clock in milliseconds. */
long long clock_ms(void);

/* The monotonic clock in nanoseconds (CPU deadlines, durations measured for metrics). */
long long clock_ns(void);

/* The wall clock in milliseconds since the Unix epoch. */
long long clock_wall_ms(void);

#endif
