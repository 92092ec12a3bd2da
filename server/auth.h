/* auth: identity at the door. A namespace may ask for a JSON Web Token on
 * every request and WebSocket; it is checked here, in C, before a room is
 * looked up, so a refused client creates, loads or wakes nothing.
 *
 * The signature is verified by libjwt with the one algorithm the config
 * names: a token whose header names another ("none" included) is refused,
 * which closes the algorithm-confusion hole (an HS256 token signed with an
 * RS256 public key). The registered claims are checked here: exp and nbf
 * (with leeway_s), iss and aud when the config names them. What a valid
 * token claims reaches the room as JSON text (req.auth, conn.auth). */
#ifndef ROOMD_AUTH_H
#define ROOMD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_MAX 8192 /* longer tokens are refused unread */

struct auth_config {
    bool required; /* refuse requests without a valid token (else a token is optional) */
    int alg;       /* libjwt's jwt_alg_t: HS256, RS256 or ES256; 0 when no jwt is set */
    char *key;     /* the HMAC secret, or the PEM public key */
    size_t key_len;
    char *issuer;   /* required "iss", or NULL */
    char *audience; /* required in "aud" (a string or an array), or NULL */
    int leeway_s;   /* clock skew allowed for exp and nbf */
};

/* Parses "HS256", "RS256" or "ES256". Returns 0 when it is none of them. */
int auth_alg_parse(const char *name);

/* Reads the key: the secret from environment variable secret_env, or the PEM file at
 * public_key_path (exactly one of them). Returns 0, or -1 with a one-line reason in err. */
int auth_load_key(struct auth_config *a, const char *secret_env, const char *public_key_path,
                  char *err, size_t errlen);

/* When a verified token may be used: from..until (Unix seconds, leeway included). */
struct auth_window {
    double from, until;
};

/* Checks token[0..len) at now_s (Unix seconds). Returns 0 with *claims the payload as
 * malloc()ed JSON text and *window the times it holds for (so a cache may reuse the result),
 * or -1 with why (for the log and the 401 body; never the token). */
int auth_check(const struct auth_config *a, const char *token, size_t len, long long now_s,
               char **claims, struct auth_window *window, char *why, size_t whylen);

/* Frees what auth_load_key and the config strings hold. Accepts a zeroed config. */
void auth_config_free(struct auth_config *a);

#endif
