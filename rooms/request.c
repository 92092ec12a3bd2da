/* request: the shared HTTP request record; see request.h. */
#include "request.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_fields(struct request_field *f, int n) {
    for (int i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].value);
    }
    free(f);
}

void request_fail(struct request *req, int status, const char *msg) {
    json_t *obj = json_pack("{s:s}", "error", msg);
    free_fields(req->resp_headers, req->n_resp_headers);
    req->resp_headers = NULL;
    req->n_resp_headers = 0;
    free(req->resp_body);
    req->resp_body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    req->resp_len = req->resp_body ? strlen(req->resp_body) : 0;
    req->resp_type = NULL;
    req->status = status;
    json_decref(obj);
}

void request_fail_retry(struct request *req, const char *msg, int seconds) {
    request_fail(req, 503, msg);
    struct request_field *f = calloc(1, sizeof *f);
    char value[16];
    snprintf(value, sizeof value, "%d", seconds);
    if (f && (f->name = strdup("retry-after")) && (f->value = strdup(value))) {
        req->resp_headers = f;
        req->n_resp_headers = 1;
    } else if (f) {
        free_fields(f, 1);
    }
}

void request_free(struct request *req) {
    if (!req)
        return;
    free(req->path);
    free_fields(req->query, req->n_query);
    free_fields(req->headers, req->n_headers);
    free_fields(req->resp_headers, req->n_resp_headers);
    free(req->body);
    free(req->auth);
    free(req->resp_body);
    free(req);
}
