/* route: classifies decoded request paths per docs/http-contract.md.
 * See route.h; the unit tests in tests/unit/test_route.c pin each rule. */
#include "route.h"

#include "percent.h"

#include <string.h>

bool route_ns_valid(const char *s, size_t len) {
    if (len == 0 || len > ROOM_NS_MAX || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool route_id_valid(const char *s, size_t len, const char **why) {
    if (len == 0) {
        *why = "room id is empty";
        return false;
    }
    if (len > ROOM_ID_MAX) {
        *why = "room id is longer than 256 bytes";
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/') {
            *why = c == '/' ? "room id holds a '/' (%2F)" : "room id holds a control character";
            return false;
        }
    }
    return true;
}

static bool is_health(const char *path, size_t len) {
    return len == 8 && memcmp(path, "/healthz", 8) == 0;
}

void route_parse(const char *path, size_t len, struct route *out) {
    memset(out, 0, sizeof *out);
    out->kind = ROUTE_STATIC;
    if (is_health(path, len)) {
        out->kind = ROUTE_HEALTH;
        return;
    }
    if (len < 2 || path[0] != '/')
        return;
    const char *ns = path + 1, *end = path + len;
    const char *slash = memchr(ns, '/', (size_t)(end - ns));
    if (!slash || !route_ns_valid(ns, (size_t)(slash - ns)))
        return;
    const char *id = slash + 1;
    const char *id_end = memchr(id, '/', (size_t)(end - id));
    if (!id_end)
        id_end = end;
    out->ns = ns;
    out->ns_len = (size_t)(slash - ns);
    out->id = id;
    out->id_len = (size_t)(id_end - id);
    out->rest = id_end < end ? id_end + 1 : end;
    out->rest_len = (size_t)(end - out->rest);
    out->kind = route_id_valid(id, out->id_len, &out->error) ? ROUTE_ROOM : ROUTE_BAD;
}

/* Appends '/' and the decoded piece to path at *n; false if it cannot be decoded or fit. */
static bool append_decoded(char *path, size_t *n, const char *piece, size_t len) {
    if (*n + 1 >= ROUTE_PATH_MAX)
        return false;
    path[(*n)++] = '/';
    long m = percent_decode(piece, len, path + *n, ROUTE_PATH_MAX - *n);
    if (m < 0)
        return false;
    *n += (size_t)m;
    return true;
}

static bool has_control(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

void route_parse_target(const char *target, size_t len, char path[ROUTE_PATH_MAX],
                        struct route *out) {
    memset(out, 0, sizeof *out);
    out->kind = ROUTE_STATIC;
    path[0] = '\0';
    const char *q = memchr(target, '?', len), *end = q ? q : target + len;
    if (is_health(target, (size_t)(end - target))) {
        out->kind = ROUTE_HEALTH;
        return;
    }
    if (end - target < 2 || target[0] != '/')
        return;
    const char *ns = target + 1, *slash = memchr(ns, '/', (size_t)(end - ns));
    size_t n = 0;
    if (!slash || !append_decoded(path, &n, ns, (size_t)(slash - ns)) ||
        !route_ns_valid(path + 1, n - 1))
        return;
    out->ns = path + 1;
    out->ns_len = n - 1;
    out->kind = ROUTE_BAD;
    const char *id = slash + 1, *id_end = memchr(id, '/', (size_t)(end - id));
    id_end = id_end ? id_end : end;
    size_t id_at = n + 1;
    if (!append_decoded(path, &n, id, (size_t)(id_end - id))) {
        out->error = "room id is not percent-encoded right, or too long";
        return;
    }
    out->id = path + id_at;
    out->id_len = n - id_at;
    if (!route_id_valid(out->id, out->id_len, &out->error))
        return;
    size_t rest_at = n + 1;
    if (id_end < end && (!append_decoded(path, &n, id_end + 1, (size_t)(end - id_end - 1)) ||
                         has_control(path + rest_at, n - rest_at))) {
        out->error = "path after the room id is not percent-encoded right, or holds a control "
                     "character";
        return;
    }
    out->rest = id_end < end ? path + rest_at : path + n;
    out->rest_len = id_end < end ? n - rest_at : 0;
    out->kind = ROUTE_ROOM;
}
