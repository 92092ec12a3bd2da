/* pipeline: see pipeline.h. The watched connections are an array, each knowing its index
 * (plus one) through the word it gave pipeline_busy, so that adding and removing are O(1). */
#include "pipeline.h"

#include "log.h"

#include <libwebsockets.h>
#include <stdlib.h>

struct watched {
    struct lws *wsi;
    unsigned *slot;
    bool seen;    /* input was found behind the request */
    bool paused;  /* lws was told not to read it */
    bool writing; /* its answer is going out: must stay readable (see pipeline.h) */
};

static struct {
    struct watched *items;
    unsigned n, cap;
    struct log_limit log;
} watch;

int pipeline_busy(unsigned *slot, struct lws *wsi) {
    if (*slot)
        return 0;
    if (watch.n == watch.cap) {
        unsigned cap = watch.cap ? 2 * watch.cap : 64;
        struct watched *items = realloc(watch.items, cap * sizeof *items);
        if (!items)
            return -1;
        watch.items = items;
        watch.cap = cap;
    }
    watch.items[watch.n] = (struct watched){.wsi = wsi, .slot = slot};
    *slot = ++watch.n;
    return 0;
}

void pipeline_writing(unsigned slot) {
    if (!slot)
        return;
    struct watched *w = &watch.items[slot - 1];
    w->writing = true;
    if (w->paused)
        lws_rx_flow_control(w->wsi, 1);
    w->paused = false;
}

bool pipeline_seen(unsigned slot) {
    return slot && watch.items[slot - 1].seen;
}

bool pipeline_idle(unsigned *slot) {
    if (!*slot)
        return false;
    unsigned i = *slot - 1;
    bool seen = watch.items[i].seen;
    watch.items[i] = watch.items[--watch.n];
    if (i < watch.n)
        *watch.items[i].slot = i + 1;
    *slot = 0;
    if (watch.n == 0 && watch.cap > 64) { /* a burst is over: give its memory back */
        free(watch.items);
        watch.items = NULL;
        watch.cap = 0;
    }
    return seen;
}

/* Whether some connection holds input that lws would process on its next call. */
static bool input_held(struct lws_context *ctx) {
    return lws_service_adjust_timeout(ctx, 1, 0) == 0;
}

void pipeline_check(struct lws_context *ctx) {
    if (watch.n == 0 || !input_held(ctx))
        return;
    for (unsigned i = watch.n; i-- > 0;) {
        struct watched *w = &watch.items[i];
        if (w->seen)
            continue;
        w->seen = true;
        if (!w->writing) {
            w->paused = true;
            lws_rx_flow_control(w->wsi, 0);
        }
        unsigned long held;
        if (log_limit_pass(&watch.log, clock_ms(), 10000, &held))
            log_info("a client sent a request before its previous one was answered: that "
                     "connection is closed after the answer (%lu more like this held back)",
                     held);
        if (!input_held(ctx))
            return;
    }
}
