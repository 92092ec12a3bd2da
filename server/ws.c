/* ws: the WebSocket half of the protocol callback. An upgrade is checked
 * while it is still HTTP (unknown room, full room, stopping: a JSON error
 * answer); once established, the socket gets a conn in its room and every
 * frame, write chance and close is handed to that conn and room. The join
 * handler runs as the room's next turn; it may still refuse (close 1008). */
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "door.h"
#include "ns.h"
#include "request.h"
#include "route.h"
#include "server.h"
#include "session.h"
#include "token.h"
#include "wire.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

/* The namespace of the room the upgrading request names (its decoded path in uri), or NULL with
 * *status and *why set. */
static struct ns *upgrade_target(struct lws *wsi, char uri[ROUTE_PATH_MAX], struct route *rt,
                                 int *status, const char **why) {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        *status = 405;
        *why = "a WebSocket opens with GET";
        return NULL;
    }
    if ((*status = http_route(wsi, uri, rt, why)) != 0)
        return NULL;
    *status = 404;
    *why = "no room at this path";
    struct ns *ns =
        rt->kind == ROUTE_ROOM || rt->kind == ROUTE_BAD ? ns_find(rt->ns, rt->ns_len) : NULL;
    if (ns && rt->kind == ROUTE_BAD) {
        *status = 400;
        *why = rt->error;
        return NULL;
    }
    return ns;
}

int ws_confirm_upgrade(struct lws *wsi) {
    char uri[ROUTE_PATH_MAX], refusal[128];
    struct route rt;
    int status;
    const char *why;
    char version[8];
    if (server.stopping)
        return http_refuse_now(wsi, 503, "server shutting down");
    if (lws_hdr_copy(wsi, version, sizeof version, WSI_TOKEN_VERSION) <= 0 ||
        strcmp(version, "13") != 0) /* RFC 6455 4.4: say which version roomd speaks */
        return http_refuse_now(wsi, 426, "roomd speaks WebSocket version 13");
    struct ns *ns = upgrade_target(wsi, uri, &rt, &status, &why);
    if (!ns)
        return http_refuse_now(wsi, status, why);
    const struct ns_config *nc = config_namespace(server.cfg, ns_name(ns));
    char *claims;
    if (token_check(wsi, nc ? &nc->auth : NULL, ns_name(ns), &claims, refusal, sizeof refusal))
        return http_refuse_now(wsi, 401, refusal);
    free(lws_get_opaque_user_data(wsi));
    lws_set_opaque_user_data(wsi, claims);
    if (door_can_join(ns, rt.id, rt.id_len) != DOOR_OK)
        return http_refuse_now(wsi, 503, "room is full");
    return 0;
}

int ws_on_established(struct lws *wsi, struct session *s) {
    char uri[ROUTE_PATH_MAX];
    struct route rt;
    int status;
    const char *why;
    char *auth = lws_get_opaque_user_data(wsi); /* checked by ws_confirm_upgrade */
    lws_set_opaque_user_data(wsi, NULL);
    memset(s, 0, sizeof *s);
    s->wsi = wsi;
    struct ns *ns = upgrade_target(wsi, uri, &rt, &status, &why);
    wire_watch_frames(lws_get_socket_fd(wsi), wsi); /* a WebSocket now: frames come */
    struct request *join_req =
        ns ? http_new_request(wsi, "GET", uri, strlen(uri), (size_t)(rt.rest - uri), rt.rest_len)
           : NULL;
    if (!join_req) {
        free(auth);
        return -1;
    }
    join_req->auth = auth;
    s->conn = door_join(ns, rt.id, rt.id_len, wsi, join_req, server.stopping);
    if (!s->conn)
        return -1;
    server.ws_open++;
    return 0;
}

int ws_on_receive(struct session *s, const void *in, size_t len) {
    if (!s->conn)
        return -1;
    if (s->peer_closed) /* RFC 6455 5.5.1: no data frame follows a close frame */
        return 0;
    bool final = lws_is_final_fragment(s->wsi) && !lws_remaining_packet_payload(s->wsi);
    door_receive(s->conn, in, len, final, lws_frame_is_binary(s->wsi), clock_ms());
    return 0;
}

int ws_on_writable(struct session *s) {
    if (wire_frames_broken(lws_get_socket_fd(s->wsi))) { /* RFC 6455 5.1 */
        lws_close_reason(s->wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR,
                         (unsigned char *)"client frames must be masked", 28);
        s->close_code = 1002;
        return -1;
    }
    return s->conn ? conn_on_writable(s->conn) : 0;
}

/* Whether a peer may send code in a close frame (RFC 6455 7.4): the defined codes that are not
 * reserved for the endpoint's own use, and 3000-4999. */
static bool close_code_valid(int code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int ws_on_peer_close(struct lws *wsi, struct session *s, const void *in, size_t len) {
    const unsigned char *p = in;
    s->peer_closed = true;
    if (len == 1) { /* RFC 6455 5.5.1: a close body starts with a 2-byte code */
        lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)"invalid close frame",
                         19);
        s->close_code = 1002;
        return -1;
    }
    if (len < 2)
        return 0;
    s->close_code = (p[0] << 8) | p[1];
    if (!close_code_valid(s->close_code)) { /* answered 1002, not echoed */
        lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)"invalid close code",
                         18);
        s->close_code = 1002;
        return -1;
    }
    size_t n = len - 2 < CONN_CLOSE_REASON_MAX ? len - 2 : CONN_CLOSE_REASON_MAX;
    free(s->close_reason);
    s->close_reason = n ? malloc(n + 1) : NULL; /* out of memory: no reason, as it is optional */
    if (s->close_reason) {
        memcpy(s->close_reason, p + 2, n); /* not NUL-terminated in lws's buffer */
        s->close_reason[n] = '\0';
    }
    return 0;
}

void ws_on_closed(struct session *s) {
    struct conn *c = s->conn;
    char *reason = s->close_reason;
    s->conn = NULL;
    s->close_reason = NULL;
    if (c) {
        server.ws_open--;
        door_closed(c, s->close_code, reason);
    }
    free(reason);
}

void ws_on_destroy(struct lws *wsi) {
    free(lws_get_opaque_user_data(wsi));
    lws_set_opaque_user_data(wsi, NULL);
}
