/* busy_stretches: an LD_PRELOAD library that measures how long a single-threaded event-loop
 * server runs between two poll() calls (a "busy stretch": everything one loop turn does), so
 * that two servers' loops can be compared under the same load. At exit it appends a histogram
 * of the stretches (doubling buckets from 25 us), their count, total and longest, and the time
 * spent waiting in poll(), to $BUSY_OUT (default /tmp/busy_stretches.txt).
 *
 *   LD_PRELOAD=tests/bench/out/busy_stretches.so BUSY_OUT=roomd.txt build/roomd ...
 *
 * A delivery can be no later than the stretch it waits behind: a server whose tail latency is
 * longer than another's, on the same load, shows it here as longer stretches, or as none. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BUCKETS 14

static struct {
    int (*real_poll)(struct pollfd *, nfds_t, int);
    long long returned_ns, longest_ns, busy_ns, waited_ns;
    unsigned long count, bucket[BUCKETS];
} busy;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void report(void) {
    const char *path = getenv("BUSY_OUT");
    FILE *f = fopen(path ? path : "/tmp/busy_stretches.txt", "a");
    if (!f || !busy.count) {
        if (f)
            fclose(f);
        return;
    }
    fprintf(f, "busy stretches: %lu, longest %lld us, busy %lld ms, waiting in poll %lld ms\n",
            busy.count, busy.longest_ns / 1000, busy.busy_ns / 1000000, busy.waited_ns / 1000000);
    for (int i = 0; i < BUCKETS; i++)
        fprintf(f, "  < %7d us: %lu\n", 25 << i, busy.bucket[i]);
    fclose(f);
}

__attribute__((constructor)) static void start(void) {
    busy.real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
    atexit(report);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
    long long entered = now_ns();
    if (busy.returned_ns) {
        long long stretch = entered - busy.returned_ns;
        int i = 0;
        while (i < BUCKETS - 1 && stretch >= (25LL << i) * 1000)
            i++;
        busy.bucket[i]++;
        busy.count++;
        busy.busy_ns += stretch;
        if (stretch > busy.longest_ns)
            busy.longest_ns = stretch;
    }
    int rc = busy.real_poll(fds, nfds, timeout);
    busy.returned_ns = now_ns();
    busy.waited_ns += busy.returned_ns - entered;
    return rc;
}
