/* session: what the server keeps per libwebsockets connection (its
 * per-session data): the HTTP request being read, handed to a room or
 * answered; or the WebSocket's conn. Shared by http.c and ws.c, which are
 * the two halves of the protocol callback in server.c. */
#ifndef ROOMD_SESSION_H
#define ROOMD_SESSION_H

#include <stdbool.h>
#include <stddef.h>

struct lws;
struct ns;
struct conn;
struct request;
struct keepalive;

enum session_state {
    SESSION_IDLE,
    SESSION_BODY,    /* reading the request body */
    SESSION_IN_ROOM, /* the request waits for its turn's answer */
    SESSION_REPLY,   /* the answer is ready: write it, head and body in one write */
    SESSION_FILE,    /* lws is sending a static file */
};

/* lws allocates one per connection, WebSockets included, for its whole life: keep it small
 * (80 bytes); the peer's close reason, which few connections send, is on the heap. */
struct session {
    struct lws *wsi;
    enum session_state state;
    int close_code; /* WebSocket: as the peer sent it */
    struct request *req;
    struct ns *ns; /* the room the request is for: ns and id (into req->path) */
    const char *id;
    size_t id_len;
    bool close_after;       /* the body was not read: close instead of keeping alive */
    bool counted;           /* counted in server.http_pending */
    bool peer_closed;       /* WebSocket: the peer sent its close frame; nothing after counts */
    unsigned pipeline_slot; /* watched by pipeline.c while an answer is owed */
    struct keepalive *idle; /* kept alive and waiting for a request (keepalive.h), or NULL */

    struct conn *conn;  /* WebSocket */
    char *close_reason; /* as the peer sent it, or NULL */
};

/* http.c */
struct route;
/* Routes wsi's request from its raw request-target (wire.h); its decoded path goes into
 * path (ROUTE_PATH_MAX bytes). 0, or the status to refuse it with (400, 414) and why. */
int http_route(struct lws *wsi, char *path, struct route *rt, const char **why);
int http_on_request(struct lws *wsi, struct session *s, const char *path);
int http_on_body(struct session *s, const void *in, size_t len);
int http_on_body_done(struct session *s);
int http_on_writable(struct session *s);
/* A static file is out: -1 if the connection closes. */
int http_on_file_done(struct session *s);
void http_on_closed(struct session *s);
/* Builds a request from the headers lws still holds for wsi. NULL on out-of-memory. */
struct request *http_new_request(struct lws *wsi, const char *method, const char *path,
                                 size_t path_len, size_t rest_off, size_t rest_len);
/* What a 401 asks for (RFC 6750). */
#define HTTP_BEARER_CHALLENGE "Bearer error=\"invalid_token\""

/* Answers an upgrade or request at once with {"error": msg}; for CONFIRM_UPGRADE. */
int http_refuse_now(struct lws *wsi, int status, const char *msg);

/* ws.c */
/* Checks an upgrade (room, token); the token's claims wait on the wsi's opaque user data until
 * the socket opens (ws_on_established takes them, ws_on_destroy frees what is left). */
int ws_confirm_upgrade(struct lws *wsi);
int ws_on_established(struct lws *wsi, struct session *s);
int ws_on_receive(struct session *s, const void *in, size_t len);
int ws_on_writable(struct session *s);
int ws_on_peer_close(struct lws *wsi, struct session *s, const void *in, size_t len);
void ws_on_closed(struct session *s);
void ws_on_destroy(struct lws *wsi);

#endif
