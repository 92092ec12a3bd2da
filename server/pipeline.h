/* pipeline: finds HTTP connections that sent a request before the previous one was answered.
 *
 * libwebsockets 4.1 keeps such input in the connection's own buffer, and when the pipelined
 * request has a body it reads that request's header bytes a second time as its body, then
 * loops for good inside lws_service. roomd does not serve pipelined requests: a connection
 * found holding input behind the request in hand stops being read, gets its answer with
 * "connection: close", and is closed; the client sends what went unanswered again on a new
 * connection (RFC 9112, 9.3.2).
 *
 * lws does not say which connection holds input, only whether any does
 * (lws_service_adjust_timeout), and a connection it is told not to read stops counting. So
 * after every service call, if some connection holds input, the connections with a request
 * in hand stop being read, newest first, until none does. lws 4.1 does not write to a
 * connection it does not read either: the owner calls pipeline_writing when its answer is
 * ready, which reads it again (lws then spins on the held input while the answer goes out, a
 * cost bounded by the answer's size, and ended by the close). */
#ifndef ROOMD_PIPELINE_H
#define ROOMD_PIPELINE_H

#include <stdbool.h>

struct lws;
struct lws_context;

/* A request arrived on wsi and its answer is owed. *slot is the connection's own word, 0 when
 * it is not watched. Returns -1 if out of memory. */
int pipeline_busy(unsigned *slot, struct lws *wsi);

/* The answer is ready to be written: the connection is read again, and not stopped after. */
void pipeline_writing(unsigned slot);

/* Whether input was found behind the request in hand: answer with "connection: close". */
bool pipeline_seen(unsigned slot);

/* The answer is out or the connection is closing: stops watching it. Returns pipeline_seen. */
bool pipeline_idle(unsigned *slot);

/* After each lws_service: stops reading the connections found holding input. */
void pipeline_check(struct lws_context *ctx);

#endif
