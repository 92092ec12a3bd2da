/* auth: JWT checks at the door; see auth.h. */
#include "auth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int auth_alg_parse(const char *name) {
    if (strcmp(name, "HS256") == 0)
        return JWT_ALG_HS256;
    if (strcmp(name, "RS256") == 0)
        return JWT_ALG_RS256;
    if (strcmp(name, "ES256") == 0)
        return JWT_ALG_ES256;
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(16384 + 1) : NULL;
    size_t n = buf ? fread(buf, 1, 16384 + 1, f) : 0;
    if (f)
        fclose(f);
    if (!buf || n == 0 || n > 16384) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int auth_load_key(struct auth_config *a, const char *secret_env, const char *public_key_path,
                  char *err, size_t errlen) {
    if (!secret_env == !public_key_path) {
        snprintf(err, errlen, "auth.jwt needs one of secret_env or public_key");
        return -1;
    }
    if (public_key_path) {
        if (a->alg == JWT_ALG_HS256 || !(a->key = read_file(public_key_path, &a->key_len))) {
            snprintf(err, errlen, "auth.jwt.public_key %s: %s", public_key_path,
                     a->alg == JWT_ALG_HS256 ? "HS256 takes secret_env, not a public key"
                                             : "cannot read it (a PEM file of at most 16 KiB)");
            return -1;
        }
        return 0;
    }
    const char *secret = getenv(secret_env);
    if (a->alg != JWT_ALG_HS256 || !secret || strlen(secret) < 32) {
        snprintf(err, errlen, "auth.jwt.secret_env %s: %s", secret_env,
                 a->alg != JWT_ALG_HS256 ? "only HS256 takes a secret"
                 : !secret               ? "not set in the environment"
                                         : "the secret must be at least 32 bytes");
        return -1;
    }
    a->key_len = strlen(secret);
    return (a->key = strdup(secret)) ? 0 : -1;
}

/* Whether the "aud" claim (a string or an array of strings) names audience. */
static bool has_audience(json_t *aud, const char *audience) {
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), audience) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), audience) == 0) return true;
    return false;
}

/* The registered claims of a token whose signature holds, and the times it holds for. NULL, or
 * why it is refused. */
static const char *claims_refusal(const struct auth_config *a, json_t *c, long long now_s,
                                  struct auth_window *w) {
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)))
        return exp && !json_is_number(exp) ? "token expired" : "token not valid yet";
    w->until = exp ? json_number_value(exp) + a->leeway_s : 1e300;
    w->from = nbf ? json_number_value(nbf) - a->leeway_s : -1e300;
    if (w->until < (double)now_s)
        return "token expired";
    if (w->from > (double)now_s)
        return "token not valid yet";
    json_t *iss = json_object_get(c, "iss");
    if (a->issuer && (!json_is_string(iss) || strcmp(json_string_value(iss), a->issuer) != 0))
        return "token from another issuer";
    if (a->audience && !has_audience(json_object_get(c, "aud"), a->audience))
        return "token for another audience";
    return NULL;
}

/* The JSON text of a verified token's payload, checked against the config. */
static int check_claims(const struct auth_config *a, jwt_t *jwt, long long now_s, char **claims,
                        struct auth_window *w, const char **why) {
    char *text = jwt_get_grants_json(jwt, NULL);
    json_t *c = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    *why = !c || !json_is_object(c) ? "token payload is not a JSON object"
                                    : claims_refusal(a, c, now_s, w);
    json_decref(c);
    if (*why) {
        free(text);
        return -1;
    }
    *claims = text;
    return 0;
}

int auth_check(const struct auth_config *a, const char *token, size_t len, long long now_s,
               char **claims, struct auth_window *window, char *why, size_t whylen) {
    const char *reason = "malformed token";
    char copy[AUTH_TOKEN_MAX + 1];
    jwt_t *jwt = NULL;
    *claims = NULL;
    if (len == 0 || len > AUTH_TOKEN_MAX || memchr(token, '\0', len)) {
        reason = len ? "malformed token" : "missing token";
        goto refuse;
    }
    memcpy(copy, token, len);
    copy[len] = '\0';
    int rc = jwt_decode(&jwt, copy, (const unsigned char *)a->key, (int)a->key_len);
    if (rc != 0) {
        reason = rc == EINVAL ? "invalid token signature" : "malformed token";
        goto refuse;
    }
    if ((int)jwt_get_alg(jwt) != a->alg) {
        reason = "token signed with another algorithm";
        goto refuse;
    }
    if (check_claims(a, jwt, now_s, claims, window, &reason) == 0) {
        jwt_free(jwt);
        return 0;
    }
refuse:
    jwt_free(jwt);
    snprintf(why, whylen, "%s", reason);
    return -1;
}

void auth_config_free(struct auth_config *a) {
    free(a->key);
    free(a->issuer);
    free(a->audience);
    memset(a, 0, sizeof *a);
}
