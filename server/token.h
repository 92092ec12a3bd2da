/* token: finds the bearer token of a request and checks it against its
 * namespace's auth config (auth.h), before any room is touched. Where a
 * request carries both, the first of these wins:
 *   1. the Authorization header, "Bearer <token>";
 *   2. the query parameter ?token=<token> (browsers cannot set headers on
 *      a WebSocket).
 * Not Sec-WebSocket-Protocol: libwebsockets 4.1 drops an upgrade whose
 * protocol header is longer than about 100 bytes, and signed tokens are
 * longer. A refusal's reason is logged (rate-limited), never the token.
 * Verified tokens are remembered (token.c), so one sent with every request
 * costs one signature check until it expires. */
#ifndef ROOMD_TOKEN_H
#define ROOMD_TOKEN_H

#include <stddef.h>

struct lws;
struct auth_config;

/* Checks wsi's token against a (NULL or no jwt: nothing to check). Returns 0 with *claims the
 * token's claims as malloc()ed JSON (NULL when there was no token and none is required), or -1
 * with the reason in why: the request is refused with 401. */
int token_check(struct lws *wsi, const struct auth_config *a, const char *ns_name, char **claims,
                char *why, size_t whylen);

/* Forgets every verified token (at exit, and when the config they were checked against goes). */
void token_cache_clear(void);

#endif
