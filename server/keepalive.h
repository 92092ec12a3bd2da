/* keepalive: the idle time of kept-alive HTTP connections, kept by roomd.
 *
 * libwebsockets 4.1 keeps every connection's timeout in one sorted list and inserts into it
 * three times per request (header wait, content, keep-alive idle), each insert walking from
 * the head past every earlier timeout: with 1,000 idle kept-alive connections open, a GET
 * cost five times the CPU, 64% of it in that walk (docs/BENCHMARKS.md). So once an answer is
 * out, roomd takes the connection's lws timeout off and keeps the connection here instead, in
 * the order connections went idle. With one idle time for all, the oldest is always first:
 * going idle, leaving and expiring cost the same whatever the number of connections. A
 * connection whose next request has begun by the time it expires is left to lws, which has
 * timed that request's headers since their first byte. */
#ifndef ROOMD_KEEPALIVE_H
#define ROOMD_KEEPALIVE_H

/* How long a kept-alive connection may wait for its next request (lws' own default). */
#define KEEPALIVE_IDLE_MS 5000

struct lws;
struct lws_context;
struct keepalive;

/* Sweeps ctx's idle connections from now on. */
void keepalive_start(struct lws_context *ctx);

/* wsi's answer is out and the connection stays open: idle from now, closed after
 * KEEPALIVE_IDLE_MS without a request. *slot is the connection's own word, NULL when it is not
 * idle. Returns -1 if out of memory (close the connection). */
int keepalive_idle(struct keepalive **slot, struct lws *wsi);

/* A request began on the connection, or it closes: no longer idle. */
void keepalive_busy(struct keepalive **slot);

/* Forgets every idle connection (the server stops; lws closes them). */
void keepalive_stop(void);

#endif
