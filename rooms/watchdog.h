/* watchdog: the bound of turns that run at JIT speed. A namespace with `jit = true` runs its
 * scripts compiled, and compiled code runs no hooks, so no per-turn CPU bound can stop it from
 * inside. A thread of its own looks at the running turn every WATCHDOG_TICK_MS; a turn past
 * limits.jit_watchdog_ms cannot be stopped from outside either, so the watchdog writes why to
 * stderr and ends the process with WATCHDOG_EXIT: a supervisor starts it again, and whatever
 * was acknowledged is in Redis. Namespaces without jit keep the per-turn bound
 * (limits.turn_cpu_ms) and never reach the watchdog. */
#ifndef ROOMD_WATCHDOG_H
#define ROOMD_WATCHDOG_H

#define WATCHDOG_TICK_MS 50
#define WATCHDOG_EXIT 70

/* Starts the thread, watching turns for limit_ms each. 0, or -1 if the thread cannot start. */
int watchdog_start(long limit_ms);
void watchdog_stop(void);

/* A JIT turn of room tag starts, and ends. Cheap: two clock reads and two atomic stores. */
void watchdog_turn_begin(const char *tag);
void watchdog_turn_end(void);

#endif
