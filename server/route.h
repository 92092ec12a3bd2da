/* route: splits a request path into what it addresses.
 *
 * Rooms are routed from the request-target as the client sent it
 * (route_parse_target): libwebsockets decodes the path and folds "//", "/./"
 * and "/../" before roomd sees it, so two different URLs would reach one
 * room. The target is split at its first two '/' first, and each piece is
 * percent-decoded after: the id is the decoded second segment, any bytes but
 * '/' and control bytes, '+' a plus. route_parse classifies an already
 * decoded path (static files keep libwebsockets' folded path, which cannot
 * climb out of the static root). Both check docs/http-contract.md's syntax
 * only; whether a namespace exists is the caller's question. */
#ifndef ROOMD_ROUTE_H
#define ROOMD_ROUTE_H

#include "room_limits.h"

#include <stdbool.h>
#include <stddef.h>

enum route_kind {
    ROUTE_HEALTH, /* GET /healthz */
    ROUTE_ROOM,   /* /<ns>/<id>[/<rest>] with a well-formed ns and id */
    ROUTE_STATIC, /* anything else: a file under the static root, or 404 */
    ROUTE_BAD,    /* /<ns>/<id...> whose id breaks the rules: 400 with error */
};

struct route {
    enum route_kind kind;
    const char *ns, *id, *rest; /* ROUTE_ROOM only; rest excludes its leading '/' */
    size_t ns_len, id_len, rest_len;
    const char *error; /* ROUTE_BAD only: why, for the client */
};

/* Classifies path[0..len). Never fails: bad input is ROUTE_BAD or ROUTE_STATIC. The pieces point
 * into path. */
void route_parse(const char *path, size_t len, struct route *out);

/* The decoded path of a request-target is at most this long. */
#define ROUTE_PATH_MAX 4096

/* Classifies the raw request-target target[0..len) (its query cut off): the decoded path goes
 * into path (ROUTE_PATH_MAX bytes), and the pieces point into it. A target whose room id or
 * rest cannot be decoded, or decodes to a '/' in the id or a control byte, is ROUTE_BAD when
 * its namespace is well-formed. */
void route_parse_target(const char *target, size_t len, char path[ROUTE_PATH_MAX],
                        struct route *out);

/* Whether s[0..len) is a namespace name: [a-z][a-z0-9_-]{0,31}. */
bool route_ns_valid(const char *s, size_t len);

/* Whether s[0..len) is a room id: 1..256 bytes, no '/', NUL or control byte. */
bool route_id_valid(const char *s, size_t len, const char **why);

#endif
