/* conn: WebSocket connections owned by the runtime; see conn.h.
 *
 * Output path: conn_send puts a shared frame on the conn's ring and, once
 * per loop iteration, conn_request_writes asks lws for WRITEABLE. There,
 * conn_on_writable copies as many queued frames as fit into one batch and
 * hands it to lws_write once (LWS_WRITE_RAW: the frames are already framed).
 * Two lws_write calls in one callback would corrupt the stream after a
 * partial send, so there is exactly one. */
#include "conn_internal.h"

#include "log.h"
#include "ns_internal.h"
#include "outbuf.h"
#include "room_internal.h"
#include "room_limits.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 65536
#define RING_MIN 8 /* slots of a new send ring */

/* What the process's conns share: the next id, the sockets to ask WRITEABLE for before the
 * next poll, the buffer a batch of small frames is copied into for its one lws_write, and where
 * fake conns' output goes. */
static struct {
    uint64_t next_id;
    struct conn *write_list;
    unsigned char batch[LWS_PRE + BATCH_MAX];
    const struct conn_sink *sink;
} conns = {.next_id = 1};

struct conn *conn_new(struct lws *wsi, struct room *room, const struct limits *limits) {
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = conns.next_id++;
    c->wsi = wsi;
    c->room = room;
    c->limits = limits;
    c->lua_ref = -2; /* LUA_NOREF */
    return c;
}

struct conn *conn_new_fake(struct room *room, const struct limits *limits) {
    struct conn *c = conn_new(NULL, room, limits);
    if (c)
        c->fake = true;
    return c;
}

void conn_set_sink(const struct conn_sink *sink) {
    conns.sink = sink;
}

bool conn_attached(const struct conn *c) {
    return c->wsi || c->fake;
}

uint64_t conn_id(const struct conn *c) {
    return c->id;
}

static void want_write(struct conn *c) {
    if (c->write_wanted || !conn_attached(c))
        return;
    c->write_wanted = true;
    c->write_next = conns.write_list;
    conns.write_list = c;
}

static struct outbuf *pop(struct conn *c);

/* Where the payload of a frame outbuf_new_text built starts: after 2, 4 or 10 header bytes. */
static size_t payload_offset(const unsigned char *frame) {
    unsigned n = frame[1] & 0x7f;
    return n < 126 ? 2 : n == 126 ? 4 : 10;
}

/* A fake conn's whole queue goes to the sink at once, then its close if one was asked. */
static void deliver_fake(struct conn *c) {
    while (c->q_len) {
        struct outbuf *ob = pop(c);
        size_t at = payload_offset(ob->frame);
        conns.sink->frame(c, (const char *)ob->frame + at, ob->len - at);
        outbuf_unref(ob);
    }
    if (c->closing)
        conns.sink->close(c, c->close_code, c->close_reason ? c->close_reason : "");
}

void conn_request_writes(void) {
    while (conns.write_list) {
        struct conn *c = conns.write_list;
        conns.write_list = c->write_next;
        c->write_wanted = false;
        c->write_next = NULL;
        if (c->wsi)
            lws_callback_on_writable(c->wsi);
        else if (c->fake)
            deliver_fake(c);
    }
}

static void free_ring(struct conn *c) {
    free(c->queue);
    c->queue = NULL;
    c->q_cap = c->q_head = 0;
}

static void drop_queue(struct conn *c) {
    for (; c->q_len; c->q_len--) {
        outbuf_unref(c->queue[c->q_head]);
        c->q_head = (c->q_head + 1) % c->q_cap;
    }
    c->q_bytes = 0;
    free_ring(c);
}

static int grow_queue(struct conn *c) {
    uint32_t cap = c->q_cap ? c->q_cap * 2 : RING_MIN;
    struct outbuf **q = malloc(cap * sizeof *q);
    if (!q)
        return -1;
    for (uint32_t i = 0; i < c->q_len; i++)
        q[i] = c->queue[(c->q_head + i) % c->q_cap];
    free(c->queue);
    c->queue = q;
    c->q_cap = cap;
    c->q_head = 0;
    return 0;
}

bool conn_has_room(struct conn *c, size_t n_bytes) {
    size_t frames = (size_t)c->q_len + c->held_frames;
    if (frames < c->limits->send_queue_messages &&
        c->q_bytes + c->held_bytes + n_bytes <= c->limits->send_queue_bytes)
        return true;
    if (c->room)
        c->room->ns->counters.slow_consumers++;
    log_limited(LOG_WARN, "[conn %llu] send queue full (%zu frames, %zu bytes): closing 1013",
                (unsigned long long)c->id, frames, c->q_bytes + c->held_bytes);
    conn_abort(c, 1013, "send queue full: the client does not read");
    return false;
}

int conn_send(struct conn *c, struct outbuf *ob) {
    if (!conn_attached(c) || c->closing || !conn_has_room(c, ob->len))
        return -1;
    if (c->q_len == c->q_cap && grow_queue(c) != 0) {
        conn_abort(c, 1011, "out of memory");
        return -1;
    }
    outbuf_ref(ob);
    c->queue[(c->q_head + c->q_len) % c->q_cap] = ob;
    c->q_len++;
    c->q_bytes += ob->len;
    want_write(c);
    return 0;
}

/* The reason lives on the heap, and only once closing: few conns ever carry one. Out of memory
 * it is left out (a close frame's reason is optional). */
static void set_close(struct conn *c, int code, const char *reason) {
    c->closing = true;
    c->close_code = (uint16_t)code;
    free(c->close_reason);
    c->close_reason = reason && *reason ? strndup(reason, CONN_CLOSE_REASON_MAX) : NULL;
}

void conn_close(struct conn *c, int code, const char *reason) {
    if (!conn_attached(c) || c->closing)
        return;
    set_close(c, code, reason);
    want_write(c);
}

void conn_abort(struct conn *c, int code, const char *reason) {
    if (!conn_attached(c))
        return;
    drop_queue(c);
    set_close(c, code, reason);
    want_write(c);
    /* A peer that does not read never makes the socket writable: kill it after a grace time. */
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

static struct outbuf *pop(struct conn *c) {
    struct outbuf *ob = c->queue[c->q_head];
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
    c->q_bytes -= ob->len;
    /* A ring grown for a burst goes once drained, or it would stay at its largest for the
     * socket's life. The smallest stays for the next frame: allocating it per frame cost a few
     * per cent at 1,000 members, one frame each (relay W=1). conn_trim drops it when idle. */
    if (!c->q_len && c->q_cap > RING_MIN)
        free_ring(c);
    return ob;
}

static void count_sent(const struct conn *c, uint32_t frames, size_t bytes) {
    struct ns_counters *m = &c->room->ns->counters;
    m->messages_out += frames;
    m->bytes_out += bytes;
    c->room->usage.n[USAGE_MESSAGES_OUT] += frames;
    c->room->usage.n[USAGE_BYTES_OUT] += bytes;
}

/* Writes the head frame in place, or a batch of small frames copied together. */
static int write_batch(struct conn *c) {
    struct outbuf *head = c->queue[c->q_head];
    if (c->q_len == 1 || head->len >= BATCH_MAX / 2) {
        int n = lws_write(c->wsi, head->frame, head->len, LWS_WRITE_RAW);
        count_sent(c, 1, head->len);
        outbuf_unref(pop(c));
        return n < 0 ? -1 : 0;
    }
    size_t total = 0;
    uint32_t was = c->q_len;
    while (c->q_len && total + c->queue[c->q_head]->len <= BATCH_MAX) {
        struct outbuf *ob = pop(c);
        memcpy(conns.batch + LWS_PRE + total, ob->frame, ob->len);
        total += ob->len;
        outbuf_unref(ob);
    }
    count_sent(c, was - c->q_len, total);
    return lws_write(c->wsi, conns.batch + LWS_PRE, total, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

int conn_on_writable(struct conn *c) {
    if (!c->wsi)
        return -1;
    if (c->q_len == 0) {
        if (!c->closing)
            return 0;
        const char *why = c->close_reason ? c->close_reason : "";
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, (unsigned char *)why,
                         strlen(why));
        return -1;
    }
    if (write_batch(c) != 0)
        return -1;
    if (c->q_len || c->closing)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int conn_receive(struct conn *c, const void *in, size_t len, bool final, bool binary) {
    if (c->closing)
        return 0;
    if (!c->rx_active) {
        c->rx_active = true;
        c->rx_len = 0;
        c->rx_binary = binary;
    }
    if (c->rx_len + len > c->limits->message_bytes) {
        conn_abort(c, 1009, "message too big");
        return -1;
    }
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 256;
        while (cap < c->rx_len + len + 1)
            cap *= 2;
        char *rx = realloc(c->rx, cap);
        if (!rx) {
            conn_abort(c, 1011, "out of memory");
            return -1;
        }
        c->rx = rx;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (final)
        c->rx_active = false;
    return final ? 1 : 0;
}

bool conn_take_token(struct conn *c, long long now_ms) {
    double rate = c->limits->messages_per_second;
    if (!c->tokens_at)
        c->tokens = rate;
    else
        c->tokens += (double)(now_ms - c->tokens_at) * rate / 1000.0;
    if (c->tokens > rate)
        c->tokens = rate;
    c->tokens_at = now_ms;
    if (c->tokens >= 1) {
        c->tokens -= 1;
        return true;
    }
    log_limited(LOG_WARN, "[conn %llu] over %d messages per second: closing 1008",
                (unsigned long long)c->id, c->limits->messages_per_second);
    conn_abort(c, 1008, "too many messages per second");
    return false;
}

char *conn_take_message(struct conn *c, size_t *len, bool *binary) {
    char *msg = c->rx;
    msg[c->rx_len] = '\0';
    *len = c->rx_len;
    *binary = c->rx_binary;
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    return msg;
}

bool conn_has_tag(const struct conn *c, const char *tag) {
    for (int i = 0; i < c->n_tags; i++)
        if (strcmp(c->tags[i], tag) == 0)
            return true;
    return false;
}

/* The array grows one slot per tag: tags are few, and most conns have none. */
int conn_add_tag(struct conn *c, const char *tag) {
    if (conn_has_tag(c, tag))
        return 1;
    if (c->n_tags == CONN_MAX_TAGS)
        return -1;
    char **tags = realloc(c->tags, (c->n_tags + 1u) * sizeof *tags);
    if (!tags)
        return -1;
    c->tags = tags;
    if (!(tags[c->n_tags] = strdup(tag)))
        return -1;
    c->n_tags++;
    return 0;
}

int conn_set_attachment(struct conn *c, const char *json, size_t len) {
    char *copy = NULL;
    if (json && !(copy = strndup(json, len)))
        return -1;
    free(c->attachment);
    c->attachment = copy;
    return 0;
}

void conn_trim(struct conn *c) {
    if (!c->q_len)
        free_ring(c);
}

void conn_detach(struct conn *c) {
    drop_queue(c);
    c->wsi = NULL;
    c->fake = false;
    if (!c->write_wanted)
        return;
    for (struct conn **p = &conns.write_list; *p; p = &(*p)->write_next) {
        if (*p == c) {
            *p = c->write_next;
            break;
        }
    }
    c->write_wanted = false;
}

void conn_free(struct conn *c) {
    if (!c)
        return;
    drop_queue(c);
    free(c->rx);
    for (int i = 0; i < c->n_tags; i++)
        free(c->tags[i]);
    free(c->tags);
    free(c->attachment);
    free(c->auth);
    free(c->close_reason);
    free(c);
}
