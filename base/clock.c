/* clock: see clock.h. */
#include "clock.h"

#include <time.h>

static long long read_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_ms(void) {
    return read_ms(CLOCK_MONOTONIC);
}

long long clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long long clock_wall_ms(void) {
    return read_ms(CLOCK_REALTIME);
}
