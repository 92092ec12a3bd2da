/* route: splits a decoded request path into what it addresses.
 *
 * libwebsockets hands us the path already percent-decoded, with "//", "/./"
 * and "/../" collapsed, so a room id can never carry a '/' or climb out of
 * the static root. route_parse checks docs/http-contract.md's syntax only; whether a
 * namespace exists is the caller's question. It allocates nothing: the
 * pieces point into the caller's path. */
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

/* Classifies path[0..len). Never fails: bad input is ROUTE_BAD or ROUTE_STATIC. */
void route_parse(const char *path, size_t len, struct route *out);

/* Whether s[0..len) is a namespace name: [a-z][a-z0-9_-]{0,31}. */
bool route_ns_valid(const char *s, size_t len);

/* Whether s[0..len) is a room id: 1..256 bytes, no '/', NUL or control byte. */
bool route_id_valid(const char *s, size_t len, const char **why);

#endif
