/* store: roomd's one Redis connection, a hiredis async context driven by
 * the event loop. Its socket is adopted into libwebsockets as a raw file
 * (a dup of it: lws and hiredis each close their own), read and write
 * events call redisAsyncHandleRead/Write. A lost connection is retried with
 * backoff; commands queued on it get a NULL reply. It stores byte strings
 * under keys and knows nothing of rooms or Lua. */
#ifndef ROOMD_STORE_H
#define ROOMD_STORE_H

#include <hiredis/hiredis.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where Redis is: a unix socket path, or host and port; and the database number. */
struct store_target {
    char path[108];
    char host[256];
    int port;
    int db;
};

/* Parses "redis://HOST:PORT[/DB]" or "unix:///path/to/socket". Returns 0 or -1 with err. */
int store_parse_url(const char *url, struct store_target *t, char *err, size_t errlen);

/* Checks, blocking for at most timeout_ms, that Redis at t answers PING (for start-up, before
 * the loop runs). Returns 0, or -1 with the reason in err. */
int store_ping(const struct store_target *t, int timeout_ms, char *err, size_t errlen);

/* Runs one command on Redis at t, blocking for at most timeout_ms (for start-up, before the
 * loop runs). Returns 0, or -1 with the reason (an error reply included) in err. */
int store_run(const struct store_target *t, int timeout_ms, int argc, const char **argv, char *err,
              size_t errlen);

/* Gets the reply to a command: NULL when it failed (not connected, connection lost). The reply
 * is valid only inside the call. */
typedef void store_reply_fn(void *arg, redisReply *reply);

/* Connects (asynchronously) and keeps reconnecting. vhost must have the "roomd-redis"
 * protocol (store_callback). Returns 0, or -1 with err when not even a first try can start. */
int store_start(struct lws_context *context, struct lws_vhost *vh, const struct store_target *t,
                char *err, size_t errlen);

/* Whether store_start was called: rooms are stored (false: memory only, as in unit tests). */
bool store_started(void);

bool store_connected(void);
/* The Redis connection's socket, -1 when there is none (server/wire.c leaves it alone). */
int store_socket(void);

/* Connections to Redis made after the first one (each after a lost connection). */
uint64_t store_reconnects(void);

/* Queues a command; fn (may be NULL) gets its reply later, exactly once. Returns -1 (fn not
 * called) when there is no connection. */
int store_command(store_reply_fn *fn, void *arg, int argc, const char **argv, const size_t *lens);

/* Commands sent and not yet answered. */
/* Asks for a write chance while hiredis holds output it could not write yet. Called once per
 * loop iteration, before polling: a raw file's WRITEABLE callback cannot ask for the next one
 * itself (libwebsockets 4.1 clears the request after the callback returns), so a large
 * checkpoint that does not fit the socket in one write would otherwise wait for an unrelated
 * wake-up. */
void store_request_write(void);

int store_pending(void);

/* Disconnects; pending callbacks get NULL. */
void store_stop(void);

/* The lws protocol callback of "roomd-redis". */
int store_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

#endif
