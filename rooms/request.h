/* request: an HTTP request (or a WebSocket's opening request) as a room sees
 * it, and the response the room's turn writes back.
 *
 * The server fills one in and hands it to the room with an event; the room
 * runs its turn, fills in the response and calls on_done exactly once. The
 * request lives until then whatever happens to its socket: the server only
 * marks it abandoned when the client goes away. */
#ifndef ROOMD_REQUEST_H
#define ROOMD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

struct call;
struct request;
typedef void request_done_fn(struct request *req);

struct request_field {
    char *name, *value;
};

struct request {
    char method[8];
    char *path;
    size_t path_len;
    const char *rest; /* into path */
    size_t rest_len;
    struct request_field *query, *headers;
    int n_query, n_headers;
    char *body;
    size_t body_len;
    char *auth; /* a valid token's claims as JSON text (req.auth), or NULL */

    /* Written by the room's turn. */
    int status;
    char *resp_body; /* malloc()ed */
    size_t resp_len;
    const char *resp_type; /* static string, or NULL for application/json */
    struct request_field *resp_headers;
    int n_resp_headers;

    request_done_fn *on_done; /* NULL for a WebSocket's opening request */
    void *owner;              /* the server's session, or NULL once abandoned */
    struct call *call;        /* another room's call (rooms/call.h): body is its value's JSON */
    long long started_ns;     /* monotonic: when it arrived (the access log's duration) */
};

/* Sets a JSON {"error": msg} response with status. */
void request_fail(struct request *req, int status, const char *msg);

/* Sets a JSON {"error": msg} response with status 503 and a Retry-After of seconds: the room is
 * moving between nodes (lease.h), a retry soon reaches it. */
void request_fail_retry(struct request *req, const char *msg, int seconds);

/* Frees the request and its response. Accepts NULL. */
void request_free(struct request *req);

#endif
