/* gate: the output gate. What a turn sends (frames, closes, HTTP responses, rooms.send)
 * is held in its room, in order, until the turn's writes are stored; then
 * it is released, or dropped (responses fail with 503) when storing failed.
 * Held frames count against their socket's send bounds as if queued. */
#include "gate.h"

#include "call.h"
#include "conn_internal.h"
#include "outbuf.h"
#include "request.h"
#include "room_internal.h"

#include <stdlib.h>
#include <string.h>

static bool hold(struct room *r, struct held h) {
    if (r->n_held == r->cap_held) {
        size_t cap = r->cap_held ? r->cap_held * 2 : 16;
        struct held *more = realloc(r->held, cap * sizeof *more);
        if (!more)
            return false;
        r->held = more;
        r->cap_held = cap;
    }
    r->held[r->n_held++] = h;
    return true;
}

bool gate_send(struct room *r, struct conn *c, struct outbuf *ob) {
    if (!conn_attached(c) || c->closing || !conn_has_room(c, ob->len))
        return false;
    if (!hold(r, (struct held){.conn = c, .ob = ob}))
        return false;
    outbuf_ref(ob);
    c->held_frames++;
    c->held_bytes += ob->len;
    return true;
}

void gate_close(struct room *r, struct conn *c, int code, const char *reason) {
    char *why = strdup(reason ? reason : "");
    if (!why || !hold(r, (struct held){.conn = c, .code = code, .reason = why})) {
        free(why);
        conn_close(c, code, reason); /* out of memory: close at once rather than not at all */
    }
}

bool gate_post_send(struct room *r, struct call *c) {
    return hold(r, (struct held){.send = c});
}

void gate_respond(struct room *r, struct request *req) {
    if (!hold(r, (struct held){.req = req}))
        req->on_done(req); /* out of memory: answer now rather than never */
}

/* Lets the held output go (stored is true), or drops it, failing held responses with 503. */
void gate_release(struct room *r, bool stored) {
    for (size_t i = 0; i < r->n_held; i++) {
        struct held *h = &r->held[i];
        if (h->send) {
            call_release_send(h->send, stored);
        } else if (h->req) {
            if (!stored && h->req->status != 500 && r->fenced) /* surely not stored */
                request_fail_retry(h->req,
                                   "the room moved to another node: nothing was "
                                   "stored, try again",
                                   1);
            else if (!stored && h->req->status != 500) /* a failed handler's 500 stays */
                request_fail(h->req, 503,
                             "storage unavailable: the change may not have been stored");
            h->req->on_done(h->req);
        } else if (h->ob) {
            h->conn->held_frames--;
            h->conn->held_bytes -= h->ob->len;
            if (stored)
                conn_send(h->conn, h->ob);
            outbuf_unref(h->ob);
        } else {
            if (stored)
                conn_close(h->conn, h->code, h->reason);
            free(h->reason);
        }
    }
    r->n_held = 0;
}
