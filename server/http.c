/* http: the HTTP half of the protocol callback: route a request, read its
 * body, hand it to its room, and write the answer: status line, headers and
 * body in one buffer and one lws_write (HTTP/1.1 only: lws writes it raw),
 * so an answer is one send.
 *
 * Every error is a JSON {"error": ...} with the status docs/http-contract.md gives. A request
 * handed to a room belongs to the room until it calls on_done; if the
 * client leaves first, the session only marks it abandoned. */
#include "clock.h"
#include "config.h"
#include "door.h"
#include "keepalive.h"
#include "ljson.h"
#include "log.h"
#include "metrics.h"
#include "ns.h"
#include "pipeline.h"
#include "request.h"
#include "route.h"
#include "server.h"
#include "session.h"
#include "static.h"
#include "token.h"
#include "wire.h"

#include <ctype.h>
#include <jansson.h>
#include <lauxlib.h>
#include <libwebsockets.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUERY 64
#define HEADER_BUF 8192
#define SMALL_BODY 4096 /* answers up to this size are built on the stack */

static const char *const method_names[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                           "PATCH", "DELETE", "CONNECT", "HEAD"};

/* ---- building requests ---- */

static int add_field(struct request_field *f, int *n, const char *name, size_t nlen,
                     const char *value) {
    if (!(f[*n].name = strndup(name, nlen)) || !(f[*n].value = strdup(value))) {
        free(f[*n].name);
        return -1;
    }
    for (char *p = f[*n].name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    (*n)++;
    return 0;
}

/* The header tokens lws parses by name ("host:" and so on; not its pseudo-headers such as the
 * method and URI, nor ones without a colon), found once: a request is then checked for each by
 * index alone. */
static struct header_token {
    enum lws_token_indexes token;
    const char *name; /* with its colon */
    size_t nlen;      /* without it */
} header_tokens[WSI_TOKEN_COUNT];
static int n_header_tokens = -1;

static void find_header_tokens(void) {
    n_header_tokens = 0;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        size_t nlen = name ? strlen(name) : 0;
        if (nlen < 2 || name[0] == ':' || name[nlen - 1] != ':')
            continue;
        header_tokens[n_header_tokens++] =
            (struct header_token){(enum lws_token_indexes)t, name, nlen - 1};
    }
}

/* The query's fields (none allocated when there is no query). */
static int read_query(struct lws *wsi, struct request *req) {
    char buf[4096];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) <= 0)
        return 0;
    req->query = calloc(MAX_QUERY, sizeof *req->query);
    if (!req->query)
        return -1;
    for (int i = 0; i < MAX_QUERY; i++) {
        int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        char *eq = strchr(buf, '=');
        size_t nlen = eq ? (size_t)(eq - buf) : (size_t)n;
        if (add_field(req->query, &req->n_query, buf, nlen, eq ? eq + 1 : "") != 0)
            return -1;
    }
    return 0;
}

/* Copies the configured custom headers lws kept by name. */
static int read_custom_headers(struct lws *wsi, struct request *req) {
    const struct config *cfg = server.cfg;
    for (int i = 0; i < cfg->n_custom_headers; i++) {
        const char *name = cfg->custom_headers[i];
        int nlen = (int)strlen(name), len = lws_hdr_custom_length(wsi, name, nlen);
        if (len < 0)
            continue;
        char *value = malloc((size_t)len + 1);
        if (!value || lws_hdr_custom_copy(wsi, value, len + 1, name, nlen) < 0) {
            free(value);
            continue;
        }
        int rc = add_field(req->headers, &req->n_headers, name, (size_t)nlen - 1, value);
        free(value);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Copies every header lws knows by name (about a hundred common ones), then the configured
 * custom ones: lws 4.1 cannot list the others. */
static int read_headers(struct lws *wsi, struct request *req) {
    struct header_token *present[WSI_TOKEN_COUNT];
    int n = 0;
    if (n_header_tokens < 0)
        find_header_tokens();
    for (int i = 0; i < n_header_tokens; i++)
        if (lws_hdr_total_length(wsi, header_tokens[i].token) > 0)
            present[n++] = &header_tokens[i];
    req->headers =
        calloc((size_t)n + (size_t)server.cfg->n_custom_headers + 1, sizeof *req->headers);
    if (!req->headers)
        return -1;
    for (int i = 0; i < n; i++) {
        char small[256]; /* most values fit: no malloc for the copy add_field duplicates */
        int len = lws_hdr_total_length(wsi, present[i]->token);
        char *value = (size_t)len < sizeof small ? small : malloc((size_t)len + 1);
        if (!value || lws_hdr_copy(wsi, value, len + 1, present[i]->token) < 0) {
            if (value != small)
                free(value);
            continue;
        }
        int rc =
            add_field(req->headers, &req->n_headers, present[i]->name, present[i]->nlen, value);
        if (value != small)
            free(value);
        if (rc != 0)
            return -1;
    }
    return read_custom_headers(wsi, req);
}

struct request *http_new_request(struct lws *wsi, const char *method, const char *path,
                                 size_t path_len, size_t rest_off, size_t rest_len) {
    struct request *req = calloc(1, sizeof *req);
    if (!req || !(req->path = strndup(path, path_len)))
        goto fail;
    snprintf(req->method, sizeof req->method, "%s", method);
    req->started_ns = clock_ns();
    req->path_len = path_len;
    req->rest = req->path + rest_off;
    req->rest_len = rest_len;
    if (read_query(wsi, req) != 0 || read_headers(wsi, req) != 0)
        goto fail;
    return req;
fail:
    request_free(req);
    return NULL;
}

/* ---- answering ---- */

/* Makes the session answer with req's response as soon as the socket is writable. */
static int reply_ready(struct session *s) {
    s->state = SESSION_REPLY;
    pipeline_writing(s->pipeline_slot);
    lws_callback_on_writable(s->wsi);
    return 0;
}

/* Answers {"error": msg} with status, from a fresh request record if there is none. */
static int reply_error(struct session *s, int status, const char *msg) {
    if (!s->req && !(s->req = calloc(1, sizeof *s->req)))
        return -1;
    request_fail(s->req, status, msg);
    return reply_ready(s);
}

static int reply_json(struct session *s, int status, const char *json) {
    if (!s->req && !(s->req = calloc(1, sizeof *s->req)))
        return -1;
    free(s->req->resp_body);
    s->req->resp_body = strdup(json);
    s->req->resp_len = strlen(json);
    s->req->status = status;
    return s->req->resp_body ? reply_ready(s) : -1;
}

/* /healthz: ok, and what this server holds (rooms in memory, WebSockets, Lua heap bytes). */
static int reply_health(struct session *s) {
    struct door_stats st;
    door_stats(&st);
    char body[160];
    snprintf(body, sizeof body,
             "{\"status\":\"ok\",\"rooms\":%zu,\"connections\":%d,\"lua_bytes\":%zu}", st.rooms,
             server.ws_open, st.lua_bytes);
    return reply_json(s, 200, body);
}

static void request_done(struct request *req) {
    struct session *s = req->owner;
    if (!s) { /* the client left while the room worked */
        server.http_pending--;
        request_free(req);
        return;
    }
    reply_ready(s);
}

static const char *content_type(const struct request *req) {
    for (int i = 0; i < req->n_resp_headers; i++)
        if (strcasecmp(req->resp_headers[i].name, "content-type") == 0)
            return req->resp_headers[i].value;
    return req->resp_type ? req->resp_type : "application/json";
}

/* Appends "name: value\r\n" at *p, as lws_add_http_header_by_name writes it on HTTP/1.1 (the
 * only protocol served); -1 when it does not fit before end. */
static int append_header(unsigned char **p, unsigned char *end, const char *name, size_t nlen,
                         const char *value, size_t vlen) {
    if ((size_t)(end - *p) < nlen + vlen + 4)
        return -1;
    memcpy(*p, name, nlen);
    *p += nlen;
    *(*p)++ = ':';
    *(*p)++ = ' ';
    memcpy(*p, value, vlen);
    *p += vlen;
    *(*p)++ = '\r';
    *(*p)++ = '\n';
    return 0;
}

/* Writes n in decimal at the end of buf[0..size), returning where it starts. */
static const char *decimal(size_t n, char *buf, size_t size) {
    char *d = buf + size;
    do
        *--d = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    return d;
}

/* Adds the status line (lws's: it knows the request's HTTP version) and the headers at *p. */
static int add_headers(struct session *s, unsigned char **p, unsigned char *end) {
    struct request *req = s->req;
    char buf[24];
    const char *type = content_type(req), *len = decimal(req->resp_len, buf, sizeof buf);
    if (lws_add_http_header_status(s->wsi, (unsigned int)req->status, p, end) ||
        append_header(p, end, "content-type", 12, type, strlen(type)) ||
        append_header(p, end, "content-length", 14, len, (size_t)(buf + sizeof buf - len)))
        return -1;
    for (int i = 0; i < req->n_resp_headers; i++) {
        const struct request_field *f = &req->resp_headers[i];
        if (strcasecmp(f->name, "content-type") != 0 &&
            append_header(p, end, f->name, strlen(f->name), f->value, strlen(f->value)))
            return -1;
    }
    bool closing = s->close_after || pipeline_seen(s->pipeline_slot);
    if (closing && append_header(p, end, "connection", 10, "close", 5))
        return -1;
    return lws_finalize_http_header(s->wsi, p, end) ? -1 : 0;
}

/* Writes the whole answer, head and body (none for HEAD), with one lws_write. */
static int write_answer(struct session *s, bool head) {
    struct request *req = s->req;
    size_t body = head ? 0 : req->resp_len;
    unsigned char small[LWS_PRE + HEADER_BUF + SMALL_BODY];
    unsigned char *buf = body <= SMALL_BODY ? small : malloc(LWS_PRE + HEADER_BUF + body);
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start;
    metrics_count_http(req->status);
    int rc = add_headers(s, &p, start + HEADER_BUF - 1);
    if (rc == 0) {
        if (body)
            memcpy(p, req->resp_body, body);
        p += body;
        rc = lws_write(s->wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 0;
    }
    if (buf != small)
        free(buf);
    return rc;
}

/* access_log = true: one line per answer, with the request's method, path, status, bytes and
 * time, and its room. */
static void access_line(struct session *s) {
    char *uri;
    int uri_len, m = lws_http_get_uri_and_method(s->wsi, &uri, &uri_len);
    struct request *req = s->req;
    struct log_fields f = {
        .method =
            m >= 0 && m < (int)(sizeof method_names / sizeof *method_names) ? method_names[m] : "-",
        .path = uri_len > 0 ? uri : "-",
        .status = req->status,
        .bytes = (long long)req->resp_len,
        .duration_ms = req->started_ns ? (double)(clock_ns() - req->started_ns) / 1e6 : 0,
        .ns = s->ns ? ns_name(s->ns) : NULL,
        .room = s->ns ? s->id : NULL,
        .room_len = s->ns && s->id ? s->id_len : 0};
    if (!f.room)
        f.ns = NULL;
    log_with(LOG_INFO, &f, "%s %s %d", f.method, f.path, f.status);
}

/* After lws_http_transaction_completed: the connection waits for its next request. lws has
 * freed the session and made a fresh one for it. */
static int keep_alive(struct lws *wsi) {
    struct session *fresh = lws_wsi_user(wsi);
    return fresh ? keepalive_idle(&fresh->idle, wsi) : 0;
}

/* The answer is out: forget the request, keep the connection alive if we may. */
static int finish_transaction(struct session *s) {
    if (server.cfg->access_log && s->req)
        access_line(s);
    if (s->counted)
        server.http_pending--;
    request_free(s->req);
    s->req = NULL;
    s->counted = false;
    s->state = SESSION_IDLE;
    bool pipelined = pipeline_idle(&s->pipeline_slot);
    if (s->close_after || pipelined)
        return -1;
    struct lws *wsi = s->wsi;
    wire_expect_request(lws_get_socket_fd(wsi)); /* the next request on this connection */
    return lws_http_transaction_completed(wsi) ? -1 : keep_alive(wsi);
}

int http_on_writable(struct session *s) {
    if (s->state != SESSION_REPLY || !s->req)
        return 0;
    bool head = strcmp(s->req->method, "HEAD") == 0;
    return write_answer(s, head) != 0 ? -1 : finish_transaction(s);
}

static const char *status_text(int status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 401:
        return "Unauthorized";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 405:
        return "Method Not Allowed";
    default:
        return "Service Unavailable";
    }
}

/* Written by hand: during an upgrade lws does not know the request's HTTP version yet and
 * would answer "HTTP/1.0", which WebSocket clients reject. */
int http_refuse_now(struct lws *wsi, int status, const char *msg) {
    unsigned char buf[LWS_PRE + 1024];
    json_t *obj = json_pack("{s:s}", "error", msg);
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!body)
        return -1;
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n%s%s%s%s"
                     "content-length: %zu\r\nconnection: close\r\n\r\n%s",
                     status, status_text(status), status == 401 ? "www-authenticate: " : "",
                     status == 401 ? HTTP_BEARER_CHALLENGE : "", status == 401 ? "\r\n" : "",
                     status == 426 ? "sec-websocket-version: 13\r\n" : "", strlen(body), body);
    free(body);
    if (n < 0 || (size_t)n >= sizeof buf - LWS_PRE)
        return -1;
    metrics_count_http(status);
    lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS);
    return 1;
}

/* ---- requests ---- */

/* Starts sending file; extra_headers is NULL or "name: value\r\n" lines. */
static int send_file(struct lws *wsi, struct session *s, const char *file, const char *mime,
                     const char *extra_headers) {
    s->state = SESSION_FILE;
    pipeline_writing(s->pipeline_slot);
    int n = lws_serve_http_file(wsi, file, mime, extra_headers,
                                extra_headers ? (int)strlen(extra_headers) : 0);
    if (n >= 0)
        metrics_count_http(200); /* the file is on its way */
    return n < 0 || (n > 0 && http_on_file_done(s)) ? -1 : 0;
}

static int serve_static(struct lws *wsi, struct session *s, const char *path, int method) {
    char file[4096];
    const char *root = server.cfg->static_root;
    enum static_result res = root ? static_resolve(root, path, file, sizeof file) : STATIC_MISSING;
    if (res == STATIC_FORBIDDEN)
        return reply_error(s, 403, "forbidden path");
    if (res == STATIC_MISSING)
        return reply_error(s, 404, "not found");
    if (method != LWSHUMETH_GET && method != LWSHUMETH_HEAD)
        return reply_error(s, 405, "static files answer GET and HEAD only");
    return send_file(wsi, s, file, static_mime_type(file), NULL);
}

/* A browser's navigation to a room URL (GET, no further path, Accept names text/html) gets the
 * namespace's page, if it has one; every other client gets the room's own answer. */
static const char *page_for(struct lws *wsi, const struct session *s, const struct route *rt,
                            int method) {
    char accept[512];
    if (method != LWSHUMETH_GET || rt->kind != ROUTE_ROOM || rt->rest_len > 0)
        return NULL;
    const struct ns_config *nc = config_namespace(server.cfg, ns_name(s->ns));
    if (!nc || !nc->page || lws_hdr_copy(wsi, accept, sizeof accept, WSI_TOKEN_HTTP_ACCEPT) <= 0)
        return NULL;
    return strstr(accept, "text/html") ? nc->page : NULL;
}

static int dispatch(struct session *s) {
    struct request *req = s->req;
    req->on_done = request_done;
    req->owner = s;
    s->state = SESSION_IN_ROOM;
    s->counted = true;
    server.http_pending++;
    enum door_answer a = door_request(s->ns, s->id, s->id_len, req);
    if (a == DOOR_OK)
        return 0;
    server.http_pending--;
    s->counted = false;
    return reply_error(s, 503,
                       a == DOOR_QUEUE_FULL ? "room is busy: too many requests waiting"
                                            : "server busy: too many rooms in memory");
}

static bool is_json_type(struct lws *wsi) {
    char ct[128];
    if (lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0)
        return false;
    return strncasecmp(ct, "application/json", 16) == 0;
}

/* A POST, PUT or PATCH without Content-Length: lws 4.1 then reads everything that follows on
 * the connection as its body, a next request included, so such a connection is closed after
 * its answer. */
static bool body_without_length(struct lws *wsi, int method) {
    return (method == LWSHUMETH_POST || method == LWSHUMETH_PUT || method == LWSHUMETH_PATCH) &&
           lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0;
}

/* The Content-Length the client announced, 0 if none; one that is not a number of at most 31
 * digits reads as more than any limit (the request is refused 413, not read as empty). */
static unsigned long long declared_length(struct lws *wsi) {
    char cl[32], *end;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return ULLONG_MAX;
    unsigned long long n = strtoull(cl, &end, 10);
    return *end || cl[0] == '-' ? ULLONG_MAX : n;
}

/* Whether a body follows; answers 411/413 itself when it cannot be taken. */
static int expect_body(struct lws *wsi, struct session *s, bool *body) {
    *body = false;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        s->close_after = true;
        return reply_error(s, 411, "send the body with a Content-Length");
    }
    unsigned long long n = declared_length(wsi);
    if (n > server.cfg->limits.body_bytes) {
        s->close_after = true;
        return reply_error(s, 413, "request body too large");
    }
    *body = n > 0;
    return 0;
}

/* 401 with the reason, and the header RFC 6750 asks for. */
static int reply_unauthorized(struct session *s, const char *why) {
    if (reply_error(s, 401, why) != 0)
        return -1;
    struct request *req = s->req;
    req->resp_headers = calloc(1, sizeof *req->resp_headers);
    if (!req->resp_headers || !(req->resp_headers[0].name = strdup("www-authenticate")) ||
        !(req->resp_headers[0].value = strdup(HTTP_BEARER_CHALLENGE)))
        return 0; /* out of memory: the 401 goes without it */
    req->n_resp_headers = 1;
    return 0;
}

static int room_request(struct lws *wsi, struct session *s, const struct route *rt, int method,
                        const char *path) {
    s->req = http_new_request(wsi, method_names[method], path, strlen(path),
                              (size_t)(rt->rest - path), rt->rest_len);
    if (!s->req)
        return reply_error(s, 503, "out of memory");
    char why[128];
    const struct ns_config *nc = config_namespace(server.cfg, ns_name(s->ns));
    if (token_check(wsi, nc ? &nc->auth : NULL, ns_name(s->ns), &s->req->auth, why, sizeof why))
        return reply_unauthorized(s, why);
    s->id = s->req->path + (rt->id - path);
    s->id_len = rt->id_len;
    bool body;
    if (expect_body(wsi, s, &body) != 0 || s->state != SESSION_IDLE)
        return 0;
    if (body) {
        s->state = SESSION_BODY;
        s->close_after = false;
        return 0;
    }
    return dispatch(s);
}

int http_route(struct lws *wsi, char *path, struct route *rt, const char **why) {
    size_t len;
    int too_long;
    const char *target = wire_request_target(lws_get_socket_fd(wsi), &len, &too_long);
    if (!target) {
        *why = too_long ? "request line too long" : "request line not seen";
        return too_long ? 414 : 400;
    }
    route_parse_target(target, len, path, rt);
    return 0;
}

/* path is libwebsockets' decoded one: rooms are routed from the raw target (http_route), static
 * files from this. */
int http_on_request(struct lws *wsi, struct session *s, const char *path) {
    char *uri;
    int uri_len;
    int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    s->wsi = wsi;
    s->state = SESSION_IDLE;
    s->counted = false;
    s->id = NULL; /* set once the room is known (room_request) */
    s->id_len = 0;
    if (pipeline_busy(&s->pipeline_slot, wsi) != 0)
        return -1;
    /* A body we answer without reading would be parsed as the next request: close instead. */
    s->close_after = declared_length(wsi) > 0 ||
                     lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 ||
                     body_without_length(wsi, method);
    (void)uri;
    (void)uri_len;
    if (method < 0 || method >= (int)(sizeof method_names / sizeof *method_names))
        return reply_error(s, 405, "method not allowed");
    if (server.stopping)
        return reply_error(s, 503, "server shutting down");
    struct route rt;
    char decoded[ROUTE_PATH_MAX];
    const char *why;
    int status = http_route(wsi, decoded, &rt, &why);
    wire_forget(lws_get_socket_fd(wsi));
    if (status)
        return reply_error(s, status, why);
    s->ns = rt.kind == ROUTE_ROOM || rt.kind == ROUTE_BAD ? ns_find(rt.ns, rt.ns_len) : NULL;
    if (rt.kind == ROUTE_HEALTH)
        return method == LWSHUMETH_GET || method == LWSHUMETH_HEAD ? reply_health(s)
                                                                   : reply_error(s, 405, "use GET");
    if (s->ns && rt.kind == ROUTE_BAD)
        return reply_error(s, 400, rt.error);
    const char *page = s->ns ? page_for(wsi, s, &rt, method) : NULL;
    if (page) /* vary: the same URL answers JSON to other clients */
        return send_file(wsi, s, page, static_mime_type(page),
                         "vary: accept\r\ncache-control: no-cache\r\n");
    if (s->ns)
        return room_request(wsi, s, &rt, method, decoded);
    if (rt.kind != ROUTE_STATIC) {
        char file[4096];
        if (!server.cfg->static_root ||
            static_resolve(server.cfg->static_root, path, file, sizeof file) != STATIC_FOUND) {
            char msg[96];
            snprintf(msg, sizeof msg, "unknown namespace '%.*s'", (int)rt.ns_len, rt.ns);
            return reply_error(s, 404, msg);
        }
    }
    return serve_static(wsi, s, path, method);
}

int http_on_body(struct session *s, const void *in, size_t len) {
    struct request *req = s->req;
    if (s->state != SESSION_BODY)
        return 0;
    if (req->body_len + len > server.cfg->limits.body_bytes) {
        s->close_after = true;
        return reply_error(s, 413, "request body too large");
    }
    char *body = realloc(req->body, req->body_len + len + 1);
    if (!body)
        return -1;
    memcpy(body + req->body_len, in, len);
    req->body = body;
    req->body_len += len;
    body[req->body_len] = '\0';
    return 0;
}

/* ljson_open inside lua_cpcall: it may raise. */
static int open_checker(lua_State *L) {
    ljson_open(L);
    return 0;
}

/* The Lua state JSON bodies are checked in: the room's own codec (lua/ljson.h), so a body
 * passes here exactly when the turn's req.json will decode it. Made on first use; NULL when it
 * cannot be. Each check's value is garbage at once, collected as the state allocates. */
static lua_State *json_checker(void) {
    static lua_State *L;
    if (!L && (L = luaL_newstate()) && lua_cpcall(L, open_checker, NULL) != 0) {
        lua_close(L);
        L = NULL;
    }
    return L;
}

/* A body that says it is JSON must be JSON, within the nesting limit, before any turn. Returns
 * 1 when it is, else answers 400 (or 503). */
static int check_json_body(struct session *s) {
    char err[160], msg[200];
    lua_State *L = json_checker();
    if (!L)
        return reply_error(s, 503, "out of memory");
    if (ljson_decode(L, s->req->body, s->req->body_len, server.cfg->limits.json_depth, err,
                     sizeof err) != 0) {
        snprintf(msg, sizeof msg, "request body: %s", err);
        return reply_error(s, 400, msg);
    }
    lua_pop(L, 1);
    return 1;
}

int http_on_body_done(struct session *s) {
    if (s->state != SESSION_BODY)
        return 0;
    if (is_json_type(s->wsi)) {
        int rc = check_json_body(s);
        if (rc != 1)
            return rc;
    }
    return dispatch(s);
}

int http_on_file_done(struct session *s) {
    if (pipeline_idle(&s->pipeline_slot))
        return -1;
    struct lws *wsi = s->wsi;
    wire_expect_request(lws_get_socket_fd(wsi));
    return lws_http_transaction_completed(wsi) ? -1 : keep_alive(wsi);
}

void http_on_closed(struct session *s) {
    pipeline_idle(&s->pipeline_slot);
    if (!s->req)
        return;
    if (s->state == SESSION_IN_ROOM) {
        s->req->owner = NULL; /* the room still holds it: request_done frees it */
    } else {
        if (s->counted)
            server.http_pending--;
        request_free(s->req);
    }
    s->req = NULL;
}
