/* ws: the WebSocket half of the protocol callback. An upgrade is checked
 * while it is still HTTP (unknown room, full room, stopping: a JSON error
 * answer); once established, the socket gets a conn in its room and every
 * frame, write chance and close is handed to that conn and room. The join
 * handler runs as the room's next turn; it may still refuse (close 1008). */
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "ns.h"
#include "registry.h"
#include "request.h"
#include "room.h"
#include "route.h"
#include "server.h"
#include "session.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define URI_MAX 4096

/* The namespace of the room the upgrading request names, or NULL with *status and *why set. */
static struct ns *upgrade_target(struct lws *wsi, char *uri, struct route *rt, int *status,
                                 const char **why) {
    *status = 404;
    *why = "no room at this path";
    if (lws_hdr_copy(wsi, uri, URI_MAX, WSI_TOKEN_GET_URI) <= 0) {
        *status = 405;
        *why = "a WebSocket opens with GET";
        return NULL;
    }
    route_parse(uri, strlen(uri), rt);
    struct ns *ns =
        rt->kind == ROUTE_ROOM || rt->kind == ROUTE_BAD ? ns_find(rt->ns, rt->ns_len) : NULL;
    if (ns && rt->kind == ROUTE_BAD) {
        *status = 400;
        *why = rt->error;
        return NULL;
    }
    return ns;
}

/* Whether the room cannot take another connection, or cannot start at all. */
static bool room_full(struct ns *ns, const struct route *rt) {
    struct room *r = registry_find(ns, rt->id, rt->id_len);
    if (!r)
        return registry_count() >= server.cfg->limits.max_rooms;
    return r->n_conns >= server.cfg->limits.connections_per_room;
}

int ws_confirm_upgrade(struct lws *wsi) {
    char uri[URI_MAX];
    struct route rt;
    int status;
    const char *why;
    if (server.stopping)
        return http_refuse_now(wsi, 503, "server shutting down");
    struct ns *ns = upgrade_target(wsi, uri, &rt, &status, &why);
    if (!ns)
        return http_refuse_now(wsi, status, why);
    if (room_full(ns, &rt))
        return http_refuse_now(wsi, 503, "room is full");
    return 0;
}

int ws_on_established(struct lws *wsi, struct session *s) {
    char uri[URI_MAX];
    struct route rt;
    int status;
    const char *why;
    memset(s, 0, sizeof *s);
    s->wsi = wsi;
    struct ns *ns = upgrade_target(wsi, uri, &rt, &status, &why);
    struct room *r = ns ? registry_get(ns, rt.id, rt.id_len) : NULL;
    if (!r)
        return -1;
    struct conn *c = conn_new(wsi, r, &server.cfg->limits);
    if (!c)
        return -1;
    c->join_req =
        http_new_request(wsi, "GET", uri, strlen(uri), (size_t)(rt.rest - uri), rt.rest_len);
    if (!c->join_req) {
        conn_free(c);
        return -1;
    }
    s->conn = c;
    server.ws_open++;
    /* Refusals decided here skip the join turn: a closing conn is never joined. */
    if (r->n_conns >= server.cfg->limits.connections_per_room)
        conn_close(c, 1013, "room is full");
    else if (server.stopping)
        conn_close(c, 1001, "server shutting down");
    room_post_join(r, c);
    return 0;
}

int ws_on_receive(struct session *s, const void *in, size_t len) {
    struct conn *c = s->conn;
    if (!c)
        return -1;
    bool final = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);
    if (conn_receive(c, in, len, final, lws_frame_is_binary(c->wsi)) != 1)
        return 0;
    size_t n;
    bool binary;
    char *msg = conn_take_message(c, &n, &binary);
    if (!conn_take_token(c, clock_ms())) {
        free(msg);
        return 0;
    }
    struct ns *ns = c->room->ns;
    if (ns->ping && !binary && n == strlen(ns->ping) && memcmp(msg, ns->ping, n) == 0) {
        conn_send(c, ns->pong); /* no turn: a hibernated room is not woken */
        free(msg);
        return 0;
    }
    if (room_post_message(c->room, c, msg, n, binary) != 0)
        log_warn("[room %s] queue full: message from conn %llu dropped", c->room->tag,
                 (unsigned long long)c->id);
    return 0;
}

int ws_on_writable(struct session *s) {
    return s->conn ? conn_on_writable(s->conn) : 0;
}

void ws_on_peer_close(struct session *s, const void *in, size_t len) {
    const unsigned char *p = in;
    if (len < 2)
        return;
    s->close_code = (p[0] << 8) | p[1];
    size_t n = len - 2 < CONN_CLOSE_REASON_MAX ? len - 2 : CONN_CLOSE_REASON_MAX;
    free(s->close_reason);
    s->close_reason = n ? malloc(n + 1) : NULL; /* out of memory: no reason, as it is optional */
    if (s->close_reason) {
        memcpy(s->close_reason, p + 2, n); /* not NUL-terminated in lws's buffer */
        s->close_reason[n] = '\0';
    }
}

void ws_on_closed(struct session *s) {
    struct conn *c = s->conn;
    char *reason = s->close_reason;
    s->conn = NULL;
    s->close_reason = NULL;
    if (c) {
        server.ws_open--;
        conn_detach(c);
        room_post_leave(c->room, c, s->close_code, reason);
    }
    free(reason);
}
