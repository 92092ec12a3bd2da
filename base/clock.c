/* clock: see clock.h. */
#include "clock.h"

#include <stdbool.h>
#include <time.h>

/* The frozen clocks of `roomd test`; unused (fake false) everywhere else. */
static struct {
    bool fake;
    long long mono_ms, wall_ms;
} frozen;

static long long read_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_ms(void) {
    return frozen.fake ? frozen.mono_ms : read_ms(CLOCK_MONOTONIC);
}

long long clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long long clock_wall_ms(void) {
    return frozen.fake ? frozen.wall_ms : read_ms(CLOCK_REALTIME);
}

void clock_fake(long long wall_ms) {
    if (!frozen.fake)
        frozen.mono_ms = read_ms(CLOCK_MONOTONIC);
    frozen.fake = true;
    frozen.wall_ms = wall_ms;
}

void clock_advance(long long ms) {
    if (!frozen.fake || ms < 0)
        return;
    frozen.mono_ms += ms;
    frozen.wall_ms += ms;
}
