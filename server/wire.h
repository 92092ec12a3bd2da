/* wire: what roomd checks of the bytes libwebsockets reads from clients, before lws parses
 * them. lws 4.1 reads every connection with recv(), and roomd defines recv (the dynamic linker
 * resolves lws' calls to the executable's own definition): for a connection roomd marked, the
 * wrapper looks at the bytes as they go past, then lets them through unchanged. Connections
 * nobody marked, and the Redis connection, pass through untouched.
 *
 * - The request-target as the client sent it: lws decodes and folds the path ("%2F" a '/',
 *   "//" and "/../" folded, ';' cutting it) and keeps no copy, so roomd routes from the line it
 *   kept (route_parse_target). Each request's first read starts at its request line, since
 *   pipelined requests are not served (pipeline.h).
 * - A request line whose method roomd does not serve (an unknown or lowercase one, CONNECT,
 *   bytes that are no request line), whose URL has a malformed escape or an escaped NUL, CR or
 *   LF, or a header with whitespace before its colon (RFC 9112 5.1), is answered there with a
 *   JSON error and the connection closed, where lws would send its HTML 403 page, drop or hold
 *   the connection, or take the header.
 * - A WebSocket frame from the client that is not masked (RFC 6455 5.1) marks the connection
 *   broken: nothing more of it reaches lws, and the connection is closed with 1002. (Frames in
 *   the same read as the upgrade request, before the 101 answer, are not looked at.) */
#ifndef ROOMD_WIRE_H
#define ROOMD_WIRE_H

#include <stdbool.h>
#include <stddef.h>

struct lws;

/* The longest request line kept; a longer one is refused (414). */
#define WIRE_LINE_MAX 8192

/* The next bytes read from fd start a request (a new connection, or a kept-alive one whose
 * answer is out). */
void wire_expect_request(int fd);

/* Whether bytes of a request came on fd since wire_expect_request. */
bool wire_request_begun(int fd);

/* The request-target of fd's current request, or NULL: *too_long is set when the request line
 * was longer than WIRE_LINE_MAX, else it was not seen whole. */
const char *wire_request_target(int fd, size_t *len, int *too_long);

/* fd (a WebSocket now, wsi) sends frames from here on: each must be masked. */
void wire_watch_frames(int fd, struct lws *wsi);

/* Whether fd sent a frame that is not masked: close it with 1002. */
bool wire_frames_broken(int fd);

/* Stops looking at fd (its request is routed, or it is another listener's connection). */
void wire_forget(int fd);

#endif
