/* token: the bearer token of a request; see token.h. */
#include "token.h"

#include "auth.h"
#include "log.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Verified tokens, so a client that sends the same token with every request pays for the
 * signature once: a direct-mapped table keyed by the token's bytes and its config. A hit is
 * still checked against the token's exp and nbf; a token longer than CACHE_TOKEN_MAX is
 * verified every time. */
#define CACHE_SLOTS 1024
#define CACHE_TOKEN_MAX 2048

struct cached {
    const struct auth_config *config;
    char *token, *claims;
    size_t len;
    struct auth_window window;
};

static struct cached cache[CACHE_SLOTS];

static struct cached *slot(const struct auth_config *a, const char *token, size_t len) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)a;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 1099511628211ull;
    return &cache[h % CACHE_SLOTS];
}

/* The claims of a token verified before and valid at now_s, copied; or NULL. */
static char *cache_find(const struct auth_config *a, const char *token, size_t len, double now_s) {
    const struct cached *c = slot(a, token, len);
    if (c->config != a || c->len != len || memcmp(c->token, token, len) != 0 ||
        now_s < c->window.from || now_s > c->window.until)
        return NULL;
    return strdup(c->claims);
}

static void cache_keep(const struct auth_config *a, const char *token, size_t len,
                       const char *claims, struct auth_window w) {
    if (len > CACHE_TOKEN_MAX)
        return;
    struct cached *c = slot(a, token, len);
    char *t = malloc(len), *copy = strdup(claims);
    if (!t || !copy) {
        free(t);
        free(copy);
        return;
    }
    free(c->token);
    free(c->claims);
    memcpy(t, token, len);
    *c = (struct cached){a, t, copy, len, w};
}

/* Copies the token into out; returns its length, 0 when there is none, -1 when the place
 * that holds one holds something else or too much. */
static int from_authorization(struct lws *wsi, char *out, int cap) {
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0)
        return 0;
    char header[AUTH_TOKEN_MAX + 16];
    if (n >= (int)sizeof header ||
        lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_HTTP_AUTHORIZATION) < 0 ||
        strncasecmp(header, "Bearer ", 7) != 0 || n - 7 >= cap)
        return -1;
    memcpy(out, header + 7, (size_t)(n - 7) + 1);
    return n - 7;
}

static int from_query(struct lws *wsi, char *out, int cap) {
    char arg[AUTH_TOKEN_MAX + 16];
    const char *v = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof arg);
    if (!v)
        return 0;
    int n = (int)strlen(v);
    if (n >= cap)
        return -1;
    memcpy(out, v, (size_t)n + 1);
    return n;
}

int token_check(struct lws *wsi, const struct auth_config *a, const char *ns_name, char **claims,
                char *why, size_t whylen) {
    char token[AUTH_TOKEN_MAX + 1];
    *claims = NULL;
    if (!a || !a->alg)
        return 0;
    int n = from_authorization(wsi, token, sizeof token);
    if (n == 0)
        n = from_query(wsi, token, sizeof token);
    if (n == 0 && !a->required)
        return 0;
    long long now = (long long)time(NULL);
    struct auth_window w;
    if (n > 0 && (*claims = cache_find(a, token, (size_t)n, (double)now)))
        return 0;
    if (n > 0 && auth_check(a, token, (size_t)n, now, claims, &w, why, whylen) == 0) {
        cache_keep(a, token, (size_t)n, *claims, w);
        return 0;
    }
    if (n <= 0)
        snprintf(why, whylen, "%s", n == 0 ? "missing token" : "malformed token");
    log_limited(LOG_WARN, "[ns %s] refused at the door: %s", ns_name, why);
    return -1;
}

void token_cache_clear(void) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
        free(cache[i].token);
        free(cache[i].claims);
        cache[i] = (struct cached){0};
    }
}
