/* raw_lws: what an HTTP server on libwebsockets' event loop costs without
 * libwebsockets' HTTP parser. The listening vhost is raw (lws accepts, polls,
 * reads and writes the sockets); this file parses each request itself:
 * GET /counter/<id> answers {"value":N} from memory, POST adds one (not
 * durably; a body announced by Content-Length is skipped). Keep-alive and
 * pipelined requests are served in order; anything else gets 400, 404 or
 * 405. It exists to measure the route the GET target points to (an HTTP/1.1
 * parser of roomd's own in front of lws), not as a server: no chunked
 * bodies, no header limits beyond the buffer, no timeouts.
 *
 * usage: raw_lws [--port N] */
#define _GNU_SOURCE /* memmem */
#include "lws_peer.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IN_MAX 8192 /* a request head and what follows it in one read */
#define ID_MAX 256
#define BUCKETS 4096

struct counter {
    struct counter *next;
    long value;
    char id[ID_MAX + 1];
};

struct pss {
    char in[IN_MAX]; /* bytes read and not yet parsed */
    size_t len;
    size_t skip; /* body bytes of the last request still to come */
};

static struct counter *buckets[BUCKETS];

static struct counter *counter_get(const char *id, size_t len) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 16777619u;
    h %= BUCKETS;
    for (struct counter *c = buckets[h]; c; c = c->next)
        if (strlen(c->id) == len && !memcmp(c->id, id, len))
            return c;
    struct counter *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    memcpy(c->id, id, len);
    c->next = buckets[h];
    buckets[h] = c;
    return c;
}

static int answer(struct lws *wsi, int status, const char *reason, const char *body) {
    char buf[LWS_PRE + 256];
    int n = snprintf(buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                     "content-length: %zu\r\n\r\n%s",
                     status, reason, strlen(body), body);
    if (n < 0 || (size_t)n >= sizeof buf - LWS_PRE)
        return -1;
    return lws_write(wsi, (unsigned char *)buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW) < n ? -1 : 0;
}

/* The value of header name (lower case, with its colon) in head, or 0. */
static long header_number(const char *head, size_t len, const char *name) {
    size_t nlen = strlen(name);
    for (const char *p = head + 1; p + nlen < head + len; p++)
        if (p[-1] == '\n' && !strncasecmp(p, name, nlen))
            return atol(p + nlen);
    return 0;
}

/* Serves the request whose head is in[0, head_len). Returns -1 to close. */
static int serve(struct lws *wsi, struct pss *p, const char *in, size_t head_len) {
    const char *sp = memchr(in, ' ', head_len);
    const char *path = sp ? sp + 1 : NULL;
    const char *end = path ? memchr(path, ' ', head_len - (size_t)(path - in)) : NULL;
    if (!end) {
        answer(wsi, 400, "Bad Request", "{\"error\":\"bad request\"}");
        return -1;
    }
    bool get = sp - in == 3 && !memcmp(in, "GET", 3);
    bool post = sp - in == 4 && !memcmp(in, "POST", 4);
    p->skip = (size_t)header_number(in, head_len, "content-length:");
    size_t plen = (size_t)(end - path);
    const char *id = path + 9;
    size_t id_len = plen > 9 ? plen - 9 : 0;
    if (plen <= 9 || memcmp(path, "/counter/", 9) || memchr(id, '/', id_len) || id_len > ID_MAX)
        return answer(wsi, 404, "Not Found", "{\"error\":\"no such room or namespace\"}");
    if (!get && !post)
        return answer(wsi, 405, "Method Not Allowed", "{\"error\":\"use GET or POST\"}");
    struct counter *c = counter_get(id, id_len);
    if (!c)
        return -1;
    c->value += post;
    char body[64];
    snprintf(body, sizeof body, "{\"value\":%ld}", c->value);
    return answer(wsi, 200, "OK", body);
}

static int on_rx(struct lws *wsi, struct pss *p, const char *data, size_t len) {
    if (p->skip) { /* the rest of a body */
        size_t n = len < p->skip ? len : p->skip;
        p->skip -= n;
        data += n;
        len -= n;
    }
    if (p->len + len > IN_MAX)
        return -1;
    memcpy(p->in + p->len, data, len);
    p->len += len;
    size_t at = 0;
    for (;;) {
        char *head_end = memmem(p->in + at, p->len - at, "\r\n\r\n", 4);
        if (!head_end)
            break;
        size_t head_len = (size_t)(head_end + 4 - (p->in + at));
        if (serve(wsi, p, p->in + at, head_len) != 0)
            return -1;
        at += head_len;
        size_t body = p->skip < p->len - at ? p->skip : p->len - at;
        at += body;
        p->skip -= body;
    }
    memmove(p->in, p->in + at, p->len - at);
    p->len -= at;
    return 0;
}

static int callback_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len) {
    struct pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        p->len = p->skip = 0;
        return 0;
    case LWS_CALLBACK_RAW_RX:
        return on_rx(wsi, p, in, len);
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"raw-http", callback_raw, sizeof(struct pss), IN_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int main(int argc, char **argv) {
    /* lws accepts and polls; no HTTP role */
    return lws_peer_run(argc, argv, "raw_lws", "/counter/<id>", protocols,
                        LWS_SERVER_OPTION_ONLY_RAW);
}
