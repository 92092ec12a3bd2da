/* lease: rooms' leases when several nodes share one Redis; see lease.h. */
#include "lease.h"

#include "clock.h"
#include "log.h"
#include "ns.h"
#include "ns_internal.h"
#include "registry.h"
#include "room_internal.h"
#include "room_limits.h"
#include "room_store.h"

#include "lease_lua_text.h"

#include <ctype.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX (32 + 3 * ROOM_ID_MAX + 16)
#define VALUE_MAX (ROOM_NODE_MAX + 24)
#define RENEW_BATCH 500
#define HANDOVER_POLL_MS 100
#define HANDOVER_BATCH "100"
#define RETRY_MS 50
#define HANDOVER_LIST_TTL_MS "10000"

/* A room named by value, never by pointer: a reply finds it again only if it is still that
 * activation. */
struct ticket {
    struct ns *ns;
    uint64_t generation;
    long long epoch;
    size_t id_len;
    char id[];
};

/* The node's lease state: its name, the lease length, its timers, the rooms waiting for a
 * lease and those asked to hand theirs over. */
static struct {
    bool enabled;
    char node[ROOM_NODE_MAX + 1];
    long lease_ms;
    struct lws_context *context;
    lws_sorted_usec_list_t renew_timer, poll_timer, retry_timer;
    bool polling;
    struct ticket **waiting, **handing;
    size_t n_waiting, cap_waiting, n_handing, cap_handing;
    struct lease_counters counters;
} lease;

bool lease_enabled(void) {
    return lease.enabled;
}

long lease_duration_ms(void) {
    return lease.lease_ms;
}

const char *lease_node(void) {
    return lease.node;
}

const struct lease_counters *lease_counters(void) {
    return &lease.counters;
}

static bool node_name_ok(const char *node) {
    size_t n = strlen(node);
    if (n == 0 || n > ROOM_NODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)node[i]) && !strchr("._-", node[i]))
            return false;
    return true;
}

int lease_setup(const char *node, long lease_ms, const struct store_target *t, char *err,
                size_t errlen) {
    if (!node_name_ok(node)) {
        snprintf(err, errlen,
                 "--cluster: the node name '%s' must be 1 to %d letters, digits, '.', '_' or '-'",
                 node, ROOM_NODE_MAX);
        return -1;
    }
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", lease_lua_text};
    char why[512];
    if (store_run(t, 2000, 4, argv, why, sizeof why) != 0) {
        snprintf(err, errlen, "--cluster needs Redis 7 or later (functions): %s", why);
        return -1;
    }
    snprintf(lease.node, sizeof lease.node, "%s", node);
    lease.lease_ms = lease_ms;
    lease.enabled = true;
    return 0;
}

void lease_value(const struct room *r, char *out, size_t len) {
    snprintf(out, len, "%s %lld", lease.node, r->epoch);
}

bool lease_valid(const struct room *r) {
    return r->lease_until_ms > clock_ms();
}

/* How long a lease counts here after the request that set it was sent: its length, less a
 * margin for the two clocks' rates. */
static long long valid_for_ms(void) {
    long margin = lease.lease_ms / 10 > 50 ? lease.lease_ms / 10 : 50;
    return lease.lease_ms - margin;
}

void lease_acquired(struct room *r, long long epoch, long long sent_ms) {
    lease.counters.acquired++;
    lease.counters.held += r->lease_until_ms == 0;
    r->epoch = epoch;
    r->lease_until_ms = sent_ms + valid_for_ms();
    r->lease_wait_until_ms = 0;
    r->lease_asked = false;
}

void lease_forget(struct room *r) {
    if (r->lease_until_ms)
        lease.counters.held--;
    r->lease_until_ms = 0;
}

/* ---- tickets ---- */

static struct ticket *ticket_new(const struct room *r) {
    struct ticket *t = malloc(sizeof *t + r->id_len);
    if (!t)
        return NULL;
    t->ns = r->ns;
    t->generation = r->generation;
    t->epoch = r->epoch;
    t->id_len = r->id_len;
    memcpy(t->id, r->id, r->id_len);
    return t;
}

/* The room t names if it is still that activation, or NULL. Does not free t. */
static struct room *ticket_room(const struct ticket *t) {
    struct room *r = registry_find(t->ns, t->id, t->id_len);
    return r && r->generation == t->generation && r->epoch == t->epoch ? r : NULL;
}

static int ticket_push(struct ticket ***list, size_t *n, size_t *cap, struct ticket *t) {
    if (*n == *cap) {
        size_t more = *cap ? *cap * 2 : 16;
        struct ticket **grown = realloc(*list, more * sizeof *grown);
        if (!grown)
            return -1;
        *list = grown;
        *cap = more;
    }
    (*list)[(*n)++] = t;
    return 0;
}

static void tickets_free(struct ticket **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* ---- keys ---- */

static void room_key(const struct room *r, const char *suffix, char *out, size_t len) {
    room_store_sibling(r->ns->name, r->id, r->id_len, suffix, out, len);
}

/* rd:node:{<node>}:handover, the list of rooms other nodes ask node to hand over. */
static void handover_key(const char *node, size_t len, char *out, size_t cap) {
    snprintf(out, cap, "rd:node:{%.*s}:handover", (int)len, node);
}

/* ---- waiting for a lease held elsewhere ---- */

/* Asks the holder to hand r over, and marks this node as the one waiting for it. */
static void ask_handover(struct room *r, const char *holder, size_t holder_len) {
    const char *space = memchr(holder, ' ', holder_len);
    size_t node_len = space ? (size_t)(space - holder) : holder_len;
    char want[KEY_MAX], list[ROOM_NODE_MAX + 32], member[KEY_MAX], ttl[24];
    room_key(r, "want", want, sizeof want);
    handover_key(holder, node_len > ROOM_NODE_MAX ? ROOM_NODE_MAX : node_len, list, sizeof list);
    room_store_member(r->ns->name, r->id, r->id_len, member, sizeof member);
    snprintf(ttl, sizeof ttl, "%ld", lease.lease_ms + 1000);
    const char *set[] = {"SET", want, lease.node, "PX", ttl}, *push[] = {"RPUSH", list, member},
               *expire[] = {"PEXPIRE", list, HANDOVER_LIST_TTL_MS};
    if (store_command(NULL, NULL, 5, set, NULL) == 0 &&
        store_command(NULL, NULL, 3, push, NULL) == 0 &&
        store_command(NULL, NULL, 3, expire, NULL) == 0)
        lease.counters.asked++;
    log_debug("[room %s] held by '%.*s': asked for it", r->tag, (int)holder_len, holder);
}

/* Whether r waits for a client: a request or a join among its queued events. */
static bool client_waits(const struct room *r) {
    for (const struct event *ev = r->q_head; ev; ev = ev->next)
        if (ev->kind == EVENT_REQUEST || ev->kind == EVENT_JOIN)
            return true;
    return false;
}

bool lease_wait(struct room *r, const char *holder, size_t holder_len, bool wanted) {
    long long now = clock_ms();
    if (!client_waits(r))
        return false; /* an alarm's wake-up: the holder fires it */
    if (!r->lease_wait_until_ms)
        r->lease_wait_until_ms = now + lease.lease_ms + 1000;
    if (now >= r->lease_wait_until_ms) {
        lease.counters.wait_timeouts++;
        log_warn("[room %s] held by '%.*s' past the wait (%ld ms): answering 503", r->tag,
                 (int)holder_len, holder, lease.lease_ms + 1000);
        r->lease_wait_until_ms = 0;
        r->lease_asked = false;
        return false;
    }
    if (!wanted && !r->lease_asked) {
        ask_handover(r, holder, holder_len);
        r->lease_asked = true;
    }
    struct ticket *t = ticket_new(r);
    if (!t || ticket_push(&lease.waiting, &lease.n_waiting, &lease.cap_waiting, t) != 0) {
        free(t);
        return false;
    }
    return true;
}

/* Every RETRY_MS: the waiting rooms try their lease again. */
static void retry(lws_sorted_usec_list_t *sul) {
    (void)sul;
    struct ticket **list = lease.waiting;
    size_t n = lease.n_waiting;
    lease.waiting = NULL;
    lease.n_waiting = lease.cap_waiting = 0;
    for (size_t i = 0; i < n; i++) {
        struct room *r = registry_find(list[i]->ns, list[i]->id, list[i]->id_len);
        if (r && r->generation == list[i]->generation && r->state == ROOM_LOADING)
            room_store_load(r);
    }
    tickets_free(list, n);
    lws_sul_schedule(lease.context, 0, &lease.retry_timer, retry, RETRY_MS * LWS_US_PER_MS);
}

/* ---- renewal ---- */

struct renewal {
    long long sent_ms;
    size_t n;
    struct ticket *rooms[RENEW_BATCH];
};

static void on_renewed(void *arg, redisReply *reply) {
    struct renewal *b = arg;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        bool *lost = calloc(b->n, sizeof *lost);
        for (size_t i = 0; lost && i < reply->elements; i++)
            if (reply->element[i]->type == REDIS_REPLY_INTEGER && reply->element[i]->integer >= 1 &&
                (size_t)reply->element[i]->integer <= b->n)
                lost[reply->element[i]->integer - 1] = true;
        for (size_t i = 0; lost && i < b->n; i++) {
            struct room *r = ticket_room(b->rooms[i]);
            if (!r || !r->lease_until_ms)
                continue;
            if (!lost[i]) {
                r->lease_until_ms = b->sent_ms + valid_for_ms();
                continue;
            }
            log_warn("[room %s] lease lost (taken or expired): dropping the room", r->tag);
            lease.counters.lost++;
            lease_forget(r);
            room_lease_lost(r);
        }
        free(lost);
    } else {
        log_error("[lease] renewal failed: %s",
                  reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no connection");
        lease_check_error(reply);
    }
    for (size_t i = 0; i < b->n; i++)
        free(b->rooms[i]);
    free(b);
}

/* Sends one renewal of b's rooms: FCALL roomd_renew n lease... lease_ms value... */
static void send_renewal(struct renewal *b) {
    size_t argc = 4 + 2 * b->n;
    const char **argv = malloc(argc * sizeof *argv);
    char(*keys)[KEY_MAX] = malloc(b->n * sizeof *keys);
    char(*values)[VALUE_MAX] = malloc(b->n * sizeof *values);
    char numkeys[24], ms[24];
    int rc = -1;
    if (argv && keys && values) {
        snprintf(numkeys, sizeof numkeys, "%zu", b->n);
        snprintf(ms, sizeof ms, "%ld", lease.lease_ms);
        argv[0] = "FCALL", argv[1] = "roomd_renew", argv[2] = numkeys;
        argv[3 + b->n] = ms;
        for (size_t i = 0; i < b->n; i++) {
            struct room *r = ticket_room(b->rooms[i]);
            room_key(r, "lease", keys[i], sizeof keys[i]);
            lease_value(r, values[i], sizeof values[i]);
            argv[3 + i] = keys[i];
            argv[4 + b->n + i] = values[i];
        }
        b->sent_ms = clock_ms();
        rc = store_command(on_renewed, b, (int)argc, argv, NULL);
        lease.counters.renewals += rc == 0;
    }
    free(argv);
    free(keys);
    free(values);
    if (rc != 0)
        on_renewed(b, NULL);
}

struct collect {
    struct renewal *batch;
};

static void collect(struct room *r, void *arg) {
    struct collect *c = arg;
    if (!r->lease_until_ms)
        return;
    if (!c->batch && !(c->batch = calloc(1, sizeof *c->batch)))
        return;
    if (!(c->batch->rooms[c->batch->n] = ticket_new(r)))
        return;
    if (++c->batch->n == RENEW_BATCH) {
        send_renewal(c->batch);
        c->batch = NULL;
    }
}

static void renew(lws_sorted_usec_list_t *sul) {
    (void)sul;
    struct collect c = {NULL};
    if (store_connected())
        registry_each(collect, &c);
    if (c.batch)
        send_renewal(c.batch);
    lws_sul_schedule(lease.context, 0, &lease.renew_timer, renew,
                     (lease.lease_ms / 3) * LWS_US_PER_MS);
}

/* ---- handing rooms over ---- */

/* Hands over the asked rooms that can go now; keeps the others (a turn or a checkpoint in
 * flight) for the next poll. */
static void hand_over_ready(void) {
    size_t kept = 0;
    for (size_t i = 0; i < lease.n_handing; i++) {
        struct ticket *t = lease.handing[i];
        struct room *r = ticket_room(t);
        if (r && r->lease_until_ms && !room_hand_over(r)) {
            lease.handing[kept++] = t;
            continue;
        }
        lease.counters.handovers += r != NULL;
        free(t);
    }
    lease.n_handing = kept;
}

static void on_asked(void *arg, redisReply *reply) {
    (void)arg;
    lease.polling = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements; i++) {
        char ns_name[ROOM_NS_MAX + 1], id[ROOM_ID_MAX];
        size_t id_len;
        const redisReply *m = reply->element[i];
        if (m->type != REDIS_REPLY_STRING ||
            room_store_parse_member(m->str, m->len, ns_name, sizeof ns_name, id, &id_len,
                                    sizeof id) != 0)
            continue;
        struct ns *ns = ns_find(ns_name, strlen(ns_name));
        struct room *r = ns ? registry_find(ns, id, id_len) : NULL;
        struct ticket *t = r && r->lease_until_ms ? ticket_new(r) : NULL;
        if (t && ticket_push(&lease.handing, &lease.n_handing, &lease.cap_handing, t) != 0)
            free(t);
    }
    hand_over_ready();
}

static void poll_asked(lws_sorted_usec_list_t *sul) {
    (void)sul;
    char list[ROOM_NODE_MAX + 32];
    handover_key(lease.node, strlen(lease.node), list, sizeof list);
    const char *argv[] = {"LPOP", list, HANDOVER_BATCH};
    hand_over_ready();
    if (!lease.polling && store_connected())
        lease.polling = store_command(on_asked, NULL, 3, argv, NULL) == 0;
    lws_sul_schedule(lease.context, 0, &lease.poll_timer, poll_asked,
                     HANDOVER_POLL_MS * LWS_US_PER_MS);
}

/* ---- release ---- */

void lease_release(struct room *r) {
    if (!r->lease_until_ms)
        return;
    char key[KEY_MAX], value[VALUE_MAX];
    room_key(r, "lease", key, sizeof key);
    lease_value(r, value, sizeof value);
    const char *argv[] = {"FCALL", "roomd_release", "1", key, value};
    store_command(NULL, NULL, 5, argv, NULL);
    lease_forget(r);
}

static void release_one(struct room *r, void *arg) {
    (void)arg;
    lease_release(r);
}

void lease_release_all(void) {
    if (lease.enabled)
        registry_each(release_one, NULL);
}

void lease_check_error(const redisReply *reply) {
    static long long next_ms;
    long long now = clock_ms();
    if (!reply || reply->type != REDIS_REPLY_ERROR || !strstr(reply->str, "Function not found") ||
        now < next_ms)
        return;
    next_ms = now + 1000;
    log_error("[lease] Redis lost roomd's functions: loading them again");
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", lease_lua_text};
    store_command(NULL, NULL, 4, argv, NULL);
}

void lease_fenced(struct room *r) {
    lease.counters.fenced++;
    r->fenced = true; /* the turn's clients hear that nothing was stored (gate.c) */
    log_warn("[room %s] checkpoint refused: another node holds the room's lease; dropping it",
             r->tag);
    lease_forget(r);
}

/* ---- start and stop ---- */

void lease_start(struct lws_context *ctx) {
    if (!lease.enabled)
        return;
    lease.context = ctx;
    lws_sul_schedule(ctx, 0, &lease.renew_timer, renew, (lease.lease_ms / 3) * LWS_US_PER_MS);
    lws_sul_schedule(ctx, 0, &lease.poll_timer, poll_asked, HANDOVER_POLL_MS * LWS_US_PER_MS);
    lws_sul_schedule(ctx, 0, &lease.retry_timer, retry, RETRY_MS * LWS_US_PER_MS);
}

void lease_stop(void) {
    if (!lease.context)
        return;
    lws_sul_cancel(&lease.renew_timer);
    lws_sul_cancel(&lease.poll_timer);
    lws_sul_cancel(&lease.retry_timer);
    tickets_free(lease.waiting, lease.n_waiting);
    tickets_free(lease.handing, lease.n_handing);
    lease.waiting = lease.handing = NULL;
    lease.n_waiting = lease.n_handing = lease.cap_waiting = lease.cap_handing = 0;
    lease.context = NULL;
}
