/* libFuzzer harness for server/route.c: any bytes as a decoded request path, and as a raw
 * request-target. The pieces route_parse returns must lie inside the input (route_parse_target's
 * inside its decoded path) and obey docs/http-contract.md's rules. */
#include "route.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_room(const struct route *rt, const char *path, size_t size) {
    if (rt->kind != ROUTE_ROOM)
        return;
    const char *end = path + size;
    const char *why;
    if (rt->ns < path || rt->ns + rt->ns_len > end || rt->id < path || rt->id + rt->id_len > end ||
        rt->rest < path || rt->rest + rt->rest_len > end || !route_ns_valid(rt->ns, rt->ns_len) ||
        !route_id_valid(rt->id, rt->id_len, &why) || memchr(rt->id, '/', rt->id_len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = (const char *)data;
    struct route rt;
    route_parse(path, size, &rt);
    check_room(&rt, path, size);
    char decoded[ROUTE_PATH_MAX];
    route_parse_target(path, size, decoded, &rt);
    check_room(&rt, decoded, strnlen(decoded, ROUTE_PATH_MAX));
    return 0;
}
