/* door: the server's way into rooms; see door.h. */
#include "door.h"

#include "conn_internal.h"
#include "log.h"
#include "ns_internal.h"
#include "registry.h"
#include "request.h"
#include "room_internal.h"
#include "room_limits.h"

#include <stdlib.h>
#include <string.h>

enum door_answer door_can_join(struct ns *ns, const char *id, size_t len) {
    struct room *r = registry_find(ns, id, len);
    if (!r)
        return registry_count() >= ns->limits->max_rooms ? DOOR_TOO_MANY_ROOMS : DOOR_OK;
    return r->n_conns >= ns->limits->connections_per_room ? DOOR_ROOM_FULL : DOOR_OK;
}

struct conn *door_join(struct ns *ns, const char *id, size_t len, struct lws *wsi,
                       struct request *join_req, bool stopping) {
    struct room *r = registry_get(ns, id, len);
    struct conn *c = r ? conn_new(wsi, r, ns->limits) : NULL;
    if (!c) {
        request_free(join_req);
        return NULL;
    }
    c->join_req = join_req;
    if (join_req->auth && !(c->auth = strdup(join_req->auth))) {
        conn_free(c);
        request_free(join_req);
        return NULL;
    }
    /* Refusals decided here skip the join turn: a closing conn is never joined. */
    if (r->n_conns >= ns->limits->connections_per_room)
        conn_close(c, 1013, "room is full");
    else if (stopping)
        conn_close(c, 1001, "server shutting down");
    room_post_join(r, c);
    return c;
}

/* Whether msg is the namespace's auto-reply ping: then it is answered without a turn, so a
 * hibernated room is not woken. */
static bool auto_reply(struct conn *c, const char *msg, size_t n, bool binary) {
    const struct ns *ns = c->room->ns;
    if (!ns->ping || binary || n != strlen(ns->ping) || memcmp(msg, ns->ping, n) != 0)
        return false;
    conn_send(c, ns->pong);
    return true;
}

void door_receive(struct conn *c, const void *in, size_t len, bool final, bool binary,
                  long long now_ms) {
    if (conn_receive(c, in, len, final, binary) != 1)
        return;
    size_t n;
    char *msg = conn_take_message(c, &n, &binary);
    if (!conn_take_token(c, now_ms) || auto_reply(c, msg, n, binary)) {
        free(msg);
        return;
    }
    if (room_post_message(c->room, c, msg, n, binary) != 0)
        log_warn("[room %s] queue full: message from conn %llu dropped", c->room->tag,
                 (unsigned long long)c->id);
}

void door_closed(struct conn *c, int code, const char *reason) {
    conn_detach(c);
    room_post_leave(c->room, c, code, reason);
}

enum door_answer door_request(struct ns *ns, const char *id, size_t len, struct request *req) {
    struct room *r = registry_get(ns, id, len);
    if (!r)
        return DOOR_TOO_MANY_ROOMS;
    return room_post_request(r, req) == 0 ? DOOR_OK : DOOR_QUEUE_FULL;
}

void door_stats(struct door_stats *out) {
    out->rooms = registry_count();
    out->lua_bytes = ns_lua_bytes();
}

struct close_args {
    int code;
    const char *reason;
};

static void close_room(struct room *r, void *arg) {
    const struct close_args *a = arg;
    room_close_all(r, a->code, a->reason);
}

void door_close_all(int code, const char *reason) {
    struct close_args a = {code, reason};
    registry_each(close_room, &a);
}
