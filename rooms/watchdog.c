/* watchdog: see watchdog.h. */
#include "watchdog.h"

#include "clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    pthread_t thread;
    bool running;
    atomic_bool stop;
    long limit_ms;
    atomic_llong deadline_ns; /* the running JIT turn's, 0 between them */
    char tag[96];             /* its room, for the message (written before the deadline) */
} dog;

static void *watch(void *arg) {
    (void)arg;
    const struct timespec tick = {0, WATCHDOG_TICK_MS * 1000000L};
    while (!atomic_load(&dog.stop)) {
        nanosleep(&tick, NULL);
        long long deadline = atomic_load(&dog.deadline_ns);
        if (!deadline || clock_ns() < deadline)
            continue;
        char msg[256];
        int n = snprintf(msg, sizeof msg,
                         "roomd: watchdog: a turn of room %s (a jit namespace) ran past %ld ms; "
                         "compiled code cannot be stopped: exiting %d for a restart\n",
                         dog.tag, dog.limit_ms, WATCHDOG_EXIT);
        if (write(STDERR_FILENO, msg, (size_t)n) < 0) {
            /* nothing more to tell: exit anyway */
        }
        _exit(WATCHDOG_EXIT);
    }
    return NULL;
}

int watchdog_start(long limit_ms) {
    dog.limit_ms = limit_ms;
    atomic_store(&dog.stop, false);
    if (pthread_create(&dog.thread, NULL, watch, NULL) != 0)
        return -1;
    dog.running = true;
    return 0;
}

void watchdog_stop(void) {
    if (!dog.running)
        return;
    atomic_store(&dog.stop, true);
    pthread_join(dog.thread, NULL);
    dog.running = false;
}

void watchdog_turn_begin(const char *tag) {
    if (!dog.running || atomic_load(&dog.deadline_ns))
        return; /* not watching, or a turn that is already watched resumed another */
    snprintf(dog.tag, sizeof dog.tag, "%s", tag);
    atomic_store(&dog.deadline_ns, clock_ns() + (long long)dog.limit_ms * 1000000);
}

void watchdog_turn_end(void) {
    atomic_store(&dog.deadline_ns, 0);
}
