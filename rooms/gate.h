/* gate: the output gate of a room (see gate.c). Everything a turn sends goes
 * through here; room.c releases it once the turn's writes are stored. */
#ifndef ROOMD_GATE_H
#define ROOMD_GATE_H

#include <stdbool.h>

struct room;
struct conn;
struct outbuf;
struct request;

/* Holds a frame for c (a reference). Returns false when c is closed or closing, or when the
 * frame would pass c's send bounds (then c is being closed with 1013). */
bool gate_send(struct room *r, struct conn *c, struct outbuf *ob);

/* Holds a close of c with code and reason, after what c was sent before. */
void gate_close(struct room *r, struct conn *c, int code, const char *reason);

/* Holds an HTTP response (req->on_done is called on release). */
void gate_respond(struct room *r, struct request *req);

/* Holds a rooms.send (rooms/call.h), posted to its target on release if stored. False on
 * out-of-memory. */
struct call;
bool gate_post_send(struct room *r, struct call *c);

/* Lets the held output go in order (stored), or drops it, failing held responses with 503
 * (a 500 from a failed handler stays a 500). */
void gate_release(struct room *r, bool stored);

#endif
