/* libFuzzer harness for server/route.c: any bytes as a request path. The pieces route_parse
 * returns must lie inside the input and obey docs/http-contract.md's rules. */
#include "route.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = (const char *)data;
    struct route rt;
    route_parse(path, size, &rt);
    if (rt.kind != ROUTE_ROOM)
        return 0;
    const char *end = path + size;
    const char *why;
    if (rt.ns < path || rt.ns + rt.ns_len > end || rt.id < path || rt.id + rt.id_len > end ||
        rt.rest < path || rt.rest + rt.rest_len > end || !route_ns_valid(rt.ns, rt.ns_len) ||
        !route_id_valid(rt.id, rt.id_len, &why) || memchr(rt.id, '/', rt.id_len))
        abort();
    return 0;
}
