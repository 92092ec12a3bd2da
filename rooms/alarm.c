/* alarm: the poller of the alarm index; see alarm.h. */
#include "alarm.h"

#include "clock.h"
#include "log.h"
#include "ns.h"
#include "registry.h"
#include "room.h"
#include "room_limits.h"
#include "room_store.h"
#include "store.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#define BATCH "256"

/* The poller: its timer on the loop, and whether a poll's reply is still to come. */
static struct {
    struct lws_context *context;
    lws_sorted_usec_list_t timer;
    bool asking;
} poller;

static void wake(const redisReply *member) {
    char ns_name[ROOM_NS_MAX + 1], id[ROOM_ID_MAX];
    size_t id_len;
    if (member->type != REDIS_REPLY_STRING ||
        room_store_parse_member(member->str, member->len, ns_name, sizeof ns_name, id, &id_len,
                                sizeof id) != 0) {
        log_warn("[alarm] ignoring a malformed entry in " ROOM_STORE_ALARMS);
        return;
    }
    struct ns *ns = ns_find(ns_name, strlen(ns_name));
    struct room *r = ns ? registry_get(ns, id, id_len) : NULL;
    if (r)
        room_post_alarm(r);
}

static void on_due(void *arg, redisReply *reply) {
    (void)arg;
    poller.asking = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements; i++)
        wake(reply->element[i]);
}

bool alarm_poll(void) {
    if (poller.asking || !store_connected())
        return false;
    char now[32];
    snprintf(now, sizeof now, "%lld", clock_wall_ms());
    const char *argv[] = {"ZRANGEBYSCORE", ROOM_STORE_ALARMS, "-inf", now, "LIMIT", "0", BATCH};
    poller.asking = store_command(on_due, NULL, 7, argv, NULL) == 0;
    return poller.asking;
}

static void poll_due(lws_sorted_usec_list_t *sul) {
    (void)sul;
    alarm_poll();
    lws_sul_schedule(poller.context, 0, &poller.timer, poll_due, ALARM_POLL_MS * LWS_US_PER_MS);
}

void alarm_start(struct lws_context *ctx) {
    poller.context = ctx;
    lws_sul_schedule(poller.context, 0, &poller.timer, poll_due, 1);
}

void alarm_stop(void) {
    if (poller.context)
        lws_sul_cancel(&poller.timer);
    poller.context = NULL;
}

long long alarm_retry_at(int failed_runs, long long now_ms) {
    if (failed_runs < 1 || failed_runs > ALARM_RETRIES)
        return 0;
    return now_ms + ALARM_FIRST_RETRY_MS * (1LL << (failed_runs - 1));
}
