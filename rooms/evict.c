/* evict: the once-a-second sweep of idle rooms; see evict.h. */
#include "evict.h"

#include "clock.h"
#include "log.h"
#include "ns.h"
#include "ns_internal.h"
#include "registry.h"
#include "room_internal.h"
#include "usage_store.h"

#include <libwebsockets.h>
#include <stdlib.h>

#define SWEEP_US LWS_US_PER_SEC
/* Rooms freed per sweep and garbage collection per sweep: bounds on the loop's pause (freeing
 * 100,000 rooms and collecting their garbage at once blocked it for 0.25-0.75 s). A sweep that
 * found more idle rooms than it may free is followed by the next one after BACKLOG_SWEEP_US, so
 * eviction keeps up with activations (~25,000 a second here) in slices of ~30 ms. */
#define EVICT_PER_SWEEP 2000
#define BACKLOG_SWEEP_US (50 * LWS_US_PER_MS)
#define COLLECT_BUDGET_MS 10

/* The sweeper: its timer on the loop, and the idle times it applies. */
static struct {
    struct lws_context *context;
    lws_sorted_usec_list_t timer;
    long idle_ms, hibernate_ms;
} sweeper;

struct sweep {
    long long before_ms, hibernate_before_ms;
    size_t hibernated;
    struct room **found;
    size_t n, cap;
};

static void collect(struct room *r, void *arg) {
    struct sweep *s = arg;
    if (room_can_hibernate(r, s->hibernate_before_ms)) {
        room_hibernate(r); /* the registry is unchanged: safe while walking it */
        usage_store_flush(r);
        s->hibernated++;
        return;
    }
    if (s->n == EVICT_PER_SWEEP || !room_is_idle(r, s->before_ms))
        return; /* the next sweep takes the rest */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct room **more = realloc(s->found, cap * sizeof *more);
        if (!more)
            return; /* the next sweep takes the rest */
        s->found = more;
        s->cap = cap;
    }
    s->found[s->n++] = r;
}

static void sweep(lws_sorted_usec_list_t *sul) {
    (void)sul;
    long long now = clock_ms();
    struct sweep s = {.before_ms = now - sweeper.idle_ms,
                      .hibernate_before_ms = now - sweeper.hibernate_ms};
    registry_each(collect, &s);
    for (size_t i = 0; i < s.n; i++) {
        log_debug("[room %s] evicted after %ld ms idle", s.found[i]->tag, sweeper.idle_ms);
        s.found[i]->ns->counters.evicted++;
        usage_store_flush(s.found[i]);
        registry_remove(s.found[i]);
        room_free(s.found[i]);
    }
    if (s.n)
        log_info("evicted %zu idle rooms; %zu in memory", s.n, registry_count());
    if (s.hibernated)
        log_info("hibernated %zu rooms", s.hibernated);
    if (s.n || s.hibernated)
        ns_collect_soon();
    ns_collect_step(COLLECT_BUDGET_MS);
    free(s.found);
    lws_sul_schedule(sweeper.context, 0, &sweeper.timer, sweep,
                     s.n == EVICT_PER_SWEEP ? BACKLOG_SWEEP_US : SWEEP_US);
}

void evict_start(struct lws_context *ctx, long idle, long hibernate) {
    sweeper.context = ctx;
    sweeper.idle_ms = idle;
    sweeper.hibernate_ms = hibernate;
    lws_sul_schedule(sweeper.context, 0, &sweeper.timer, sweep, SWEEP_US);
}

void evict_stop(void) {
    if (sweeper.context)
        lws_sul_cancel(&sweeper.timer);
    sweeper.context = NULL;
}
