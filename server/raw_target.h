/* raw_target: the request-target of each HTTP request as the client sent it.
 *
 * libwebsockets 4.1 hands roomd the path decoded and folded ("%2F" a '/', "//" and "/../"
 * folded, ';' cutting it), so two different URLs could reach one room; it keeps no copy of
 * what was sent. It reads every connection with recv(), and roomd defines recv (the dynamic
 * linker resolves libwebsockets' calls to the executable's own definition): for a connection
 * whose next bytes start a request, the wrapper keeps the request line as it goes past, then
 * lets the bytes through unchanged. Each request's first read starts at its request line,
 * since pipelined requests are not served (pipeline.h). Connections nobody marked, Redis'
 * included, pass through untouched. */
#ifndef ROOMD_RAW_TARGET_H
#define ROOMD_RAW_TARGET_H

#include <stddef.h>

/* The longest request line kept; a longer one is refused (414). */
#define RAW_TARGET_LINE_MAX 8192

/* The next bytes read from fd start a request (a new connection, or a kept-alive one whose
 * answer is out). */
void raw_target_expect(int fd);

/* The request-target of fd's current request, or NULL: *too_long is set when the request line
 * was longer than RAW_TARGET_LINE_MAX, else it was not seen whole (a connection nobody
 * marked). */
const char *raw_target_of(int fd, size_t *len, int *too_long);

/* Forgets fd's request line (its request is routed, or the connection is gone). */
void raw_target_forget(int fd);

#endif
