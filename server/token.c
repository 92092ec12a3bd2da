/* token: the bearer token of a request; see token.h. */
#include "token.h"

#include "auth.h"
#include "log.h"

#include <libwebsockets.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    if (n > 0 && auth_check(a, token, (size_t)n, (long long)time(NULL), claims, why, whylen) == 0)
        return 0;
    if (n <= 0)
        snprintf(why, whylen, "%s", n == 0 ? "missing token" : "malformed token");
    log_limited(LOG_WARN, "[ns %s] refused at the door: %s", ns_name, why);
    return -1;
}
