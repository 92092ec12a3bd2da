/* keepalive: see keepalive.h. */
#include "keepalive.h"

#include "wire.h"

#include <libwebsockets.h>
#include <stdlib.h>

#define SWEEP_US (250 * LWS_US_PER_MS)

struct keepalive {
    struct keepalive *prev, *next;
    struct keepalive **owner; /* the connection's slot */
    struct lws *wsi;
    lws_usec_t since;
};

static struct {
    struct lws_context *context;
    struct keepalive *head, *tail; /* oldest first */
    lws_sorted_usec_list_t timer;  /* pending while the list is not empty */
} idle;

static void unlink_node(struct keepalive *k) {
    if (k->prev)
        k->prev->next = k->next;
    else
        idle.head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        idle.tail = k->prev;
    *k->owner = NULL;
    free(k);
}

static void sweep(lws_sorted_usec_list_t *sul) {
    (void)sul;
    lws_usec_t now = lws_now_usecs();
    while (idle.head && now - idle.head->since >= (lws_usec_t)KEEPALIVE_IDLE_MS * LWS_US_PER_MS) {
        struct lws *wsi = idle.head->wsi;
        unlink_node(idle.head);
        if (!wire_request_begun(lws_get_socket_fd(wsi)))
            lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
    }
    if (idle.head)
        lws_sul_schedule(idle.context, 0, &idle.timer, sweep, SWEEP_US);
}

void keepalive_start(struct lws_context *ctx) {
    idle.context = ctx;
}

int keepalive_idle(struct keepalive **slot, struct lws *wsi) {
    keepalive_busy(slot);
    struct keepalive *k = malloc(sizeof *k);
    if (!k)
        return -1;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* lws' own: out of its list, in ours */
    *k = (struct keepalive){.prev = idle.tail, .owner = slot, .wsi = wsi, .since = lws_now_usecs()};
    if (idle.tail)
        idle.tail->next = k;
    else
        idle.head = k;
    idle.tail = k;
    *slot = k;
    if (idle.head == k && idle.context) /* the first: the sweeps start (again) */
        lws_sul_schedule(idle.context, 0, &idle.timer, sweep, SWEEP_US);
    return 0;
}

void keepalive_busy(struct keepalive **slot) {
    if (*slot)
        unlink_node(*slot);
}

void keepalive_stop(void) {
    while (idle.head)
        unlink_node(idle.head);
    if (idle.context)
        lws_sul_cancel(&idle.timer);
}
