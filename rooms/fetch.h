/* fetch: outbound HTTP from room turns (docs/lua-api.md, "Outbound HTTP").
 *
 * `http.fetch(url, {method =, headers =, body =, json =, timeout_ms =})` returns
 * `{status =, headers =, body =, json =}`, or `nil, "error"`; the turn waits (its coroutine
 * yields) while the loop goes on. Requests run on libcurl's multi interface driven by the
 * libwebsockets loop: each of curl's sockets is adopted (a dup of it) as a raw file of the
 * "roomd-fetch" protocol, and curl's timer is a timer of the loop. No thread, no hand-written
 * HTTP client.
 *
 * A namespace may reach only the URLs its config allows (`outbound = {"https://api.example.com/",
 * ...}`, default none): the URL, normalised by curl's own parser, must start with one of the
 * normalised prefixes; http and https only. Redirects are not followed by curl: each Location
 * is checked against the same list and followed by fetch, at most FETCH_REDIRECTS times.
 * Limits: one request at a time per room (its turn waits), FETCH_MAX_ACTIVE per process, a
 * response body of at most FETCH_BODY_MAX bytes, a timeout of FETCH_TIMEOUT_MS by default and
 * FETCH_TIMEOUT_MAX_MS at most. */
#ifndef ROOMD_FETCH_H
#define ROOMD_FETCH_H

#include <stddef.h>

struct lws;
struct lws_context;
struct lws_vhost;
struct lvm;
struct ns;

#define FETCH_MAX_ACTIVE 1024
#define FETCH_BODY_MAX (1 << 20)
#define FETCH_TIMEOUT_MS 10000
#define FETCH_TIMEOUT_MAX_MS 60000
#define FETCH_REDIRECTS 5

/* Starts the multi handle on the loop; vh must have the "roomd-fetch" protocol. Until then
 * http.fetch fails ("not available"). fresh_socket (may be NULL) hears of each socket curl
 * opens. 0, or -1 if libcurl cannot start. */
int fetch_start(struct lws_context *context, struct lws_vhost *vh, void (*fresh_socket)(int fd));
void fetch_stop(void);

/* Asks for write chances curl is waiting on (once per loop iteration, before polling: lws
 * 4.1 drops a raw file's write request made inside its own callback). */
void fetch_request_writes(void);

/* The lws protocol callback of "roomd-fetch". */
int fetch_callback(struct lws *wsi, int reason, void *user, void *in, size_t len);

/* Sets the `http` global of vm's sandbox. 0, or -1 with err. */
int fetch_open(struct lvm *vm, char *err, size_t errlen);

/* Sets the URL prefixes ns may reach (copied, normalised). 0, or -1 with err naming the bad
 * one. */
int fetch_allow(struct ns *ns, const char *const *prefixes, int n, char *err, size_t errlen);

#endif
