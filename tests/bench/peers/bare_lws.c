/* bare_lws: the "floor for this stack" peer of roomd's relay room. A plain
 * libwebsockets (own poll loop) broadcast server written the way lws's
 * minimal-ws-server-ring example is: WebSocket on /relay/<id> joins room <id>;
 * every text message is parsed with Jansson and, if it is an object,
 * re-encoded once into one shared, refcounted buffer that goes to every
 * member (sender included); anything else gets {"error": ...} to the sender.
 * Each connection has a bounded ring of shared messages; WRITEABLE writes one
 * message with one lws_write and asks again while the ring is not empty. A
 * member whose ring is full is culled (closed).
 *
 * GET /counter/<id> answers {"value":N} from memory (N counts POSTs, which
 * are not durable), written in the HTTP callback itself as one lws_write of
 * head and body: the least an lws HTTP server can do per request, the floor
 * the GET comparison with nginx + Lua is measured against. No Lua, no Redis.
 *
 * usage: bare_lws [--port N] */
#include "lws_peer.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_CAP 4096
#define MSG_MAX (1 << 20)
#define ID_MAX 256
#define ROOM_BUCKETS 4096

struct msg {
    int refs;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + payload */
};

struct room {
    struct room *next_in_bucket;
    struct pss *members;
    long value; /* the counter of /counter/<id> */
    char id[ID_MAX + 1];
};

/* Per-session data: lives from ESTABLISHED to CLOSED. */
struct pss {
    struct lws *wsi;
    struct room *room;
    struct pss *prev, *next; /* room membership */
    struct msg **ring;       /* grows by doubling up to RING_CAP */
    unsigned head, count, cap;
    char *rx;
    size_t rx_len;
    int culled;
    struct room *posted; /* HTTP: the counter a POST increments once its body is in */
};

static struct room *buckets[ROOM_BUCKETS];

static unsigned hash_id(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % ROOM_BUCKETS;
}

static struct room *room_get(const char *id) {
    unsigned h = hash_id(id);
    for (struct room *r = buckets[h]; r; r = r->next_in_bucket)
        if (!strcmp(r->id, id))
            return r;
    struct room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    memcpy(r->id, id, strlen(id) + 1); /* callers check strlen(id) <= ID_MAX */
    r->next_in_bucket = buckets[h];
    buckets[h] = r;
    return r;
}

static struct msg *msg_new(const char *text, size_t len) {
    struct msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return NULL;
    m->refs = 0;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    return m;
}

static void msg_unref(struct msg *m) {
    if (--m->refs == 0)
        free(m);
}

static int pss_grow(struct pss *p) {
    unsigned cap = p->cap ? p->cap * 2 : 8;
    struct msg **ring = malloc(cap * sizeof *ring);
    if (!ring)
        return -1;
    for (unsigned i = 0; i < p->count; i++)
        ring[i] = p->ring[(p->head + i) % p->cap];
    free(p->ring);
    p->ring = ring;
    p->cap = cap;
    p->head = 0;
    return 0;
}

static void pss_push(struct pss *p, struct msg *m) {
    if (p->culled)
        return;
    if (p->count == RING_CAP) { /* slow reader: cull it */
        p->culled = 1;
        lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return;
    }
    if (p->count == p->cap && pss_grow(p) != 0) {
        p->culled = 1;
        lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return;
    }
    m->refs++;
    p->ring[(p->head + p->count++) % p->cap] = m;
    lws_callback_on_writable(p->wsi);
}

static void pss_drop_ring(struct pss *p) {
    for (; p->count; p->count--, p->head = (p->head + 1) % p->cap)
        msg_unref(p->ring[p->head]);
    free(p->ring);
    p->ring = NULL;
}

static void broadcast(struct room *r, struct msg *m) {
    m->refs++; /* hold it while pushing */
    for (struct pss *p = r->members; p; p = p->next)
        pss_push(p, m);
    msg_unref(m);
}

static void send_error(struct pss *p, const char *why) {
    json_t *e = json_pack("{s:s}", "error", why);
    char *s = json_dumps(e, JSON_COMPACT);
    struct msg *m = s ? msg_new(s, strlen(s)) : NULL;
    if (m) {
        m->refs++;
        pss_push(p, m);
        msg_unref(m);
    }
    free(s);
    json_decref(e);
}

static void on_message(struct pss *p) {
    json_t *v = json_loadb(p->rx, p->rx_len, 0, NULL);
    if (!json_is_object(v)) {
        send_error(p, "send a JSON object");
        json_decref(v);
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    struct msg *m = s ? msg_new(s, strlen(s)) : NULL;
    free(s);
    if (m)
        broadcast(p->room, m);
}

static int on_receive(struct lws *wsi, struct pss *p, const void *in, size_t len) {
    if (p->rx_len + len > MSG_MAX)
        return -1;
    char *rx = realloc(p->rx, p->rx_len + len + 1);
    if (!rx)
        return -1;
    p->rx = rx;
    memcpy(p->rx + p->rx_len, in, len);
    p->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    on_message(p);
    p->rx_len = 0;
    return 0;
}

static int on_established(struct lws *wsi, struct pss *p) {
    char uri[512];
    memset(p, 0, sizeof *p);
    p->wsi = wsi;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        strncmp(uri, "/relay/", 7) != 0 || !uri[7] || strlen(uri + 7) > ID_MAX)
        return -1;
    p->room = room_get(uri + 7);
    if (!p->room)
        return -1;
    p->next = p->room->members;
    if (p->next)
        p->next->prev = p;
    p->room->members = p;
    return 0;
}

static void on_closed(struct pss *p) {
    if (!p->room)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        p->room->members = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->room = NULL;
    pss_drop_ring(p);
    free(p->rx);
}

static int on_writable(struct lws *wsi, struct pss *p) {
    if (!p->count || p->culled)
        return 0;
    struct msg *m = p->ring[p->head];
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    p->head = (p->head + 1) % p->cap;
    p->count--;
    msg_unref(m);
    if (n < 0)
        return -1;
    if (p->count)
        lws_callback_on_writable(wsi);
    return 0;
}

/* One answer, head and body in one buffer, written at once. */
static int http_answer(struct lws *wsi, unsigned status, const char *body) {
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    size_t len = strlen(body);
    if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < len)
        return -1;
    memcpy(p, body, len);
    p += len;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int counter_answer(struct lws *wsi, const struct room *r) {
    char body[64];
    snprintf(body, sizeof body, "{\"value\":%ld}", r->value);
    return http_answer(wsi, 200, body);
}

static int on_http(struct lws *wsi, struct pss *p, const char *uri) {
    bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    if (strncmp(uri, "/counter/", 9) != 0 || !uri[9] || strchr(uri + 9, '/') ||
        strlen(uri + 9) > ID_MAX)
        return http_answer(wsi, 404, "{\"error\":\"no such room or namespace\"}");
    if (!get && !post)
        return http_answer(wsi, 405, "{\"error\":\"use GET or POST\"}");
    struct room *r = room_get(uri + 9);
    if (!r)
        return -1;
    char cl[24];
    bool body = lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && atol(cl) > 0;
    if (post && body) {
        p->posted = r; /* answered at HTTP_BODY_COMPLETION, after the body */
        return 0;
    }
    r->value += post;
    return counter_answer(wsi, r);
}

static int on_posted(struct lws *wsi, struct pss *p) {
    struct room *r = p->posted;
    p->posted = NULL;
    if (!r)
        return 0;
    r->value++;
    return counter_answer(wsi, r);
}

static int callback_relay(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len) {
    struct pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(wsi, p);
    case LWS_CALLBACK_CLOSED:
        on_closed(p);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, p, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writable(wsi, p);
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, p, in);
    case LWS_CALLBACK_HTTP_BODY: /* a POST's body is ignored */
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return on_posted(wsi, p);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"relay", callback_relay, sizeof(struct pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int main(int argc, char **argv) {
    /* no security headers: the least an answer can carry */
    return lws_peer_run(argc, argv, "bare_lws", "/relay/<id> and /counter/<id>", protocols, 0);
}
