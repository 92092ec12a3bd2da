/* route: classifies decoded request paths per docs/http-contract.md.
 * See route.h; the unit tests in tests/unit/test_route.c pin each rule. */
#include "route.h"

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
            *why = "room id holds a control character";
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
