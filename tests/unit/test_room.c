/* Unit tests for the room runtime (rooms/room.c, ns.c, registry.c, request.c, room_lua.c) without
 * sockets: a namespace over a scratch script, rooms taken from the registry, and HTTP requests
 * built by hand and posted to them. Turns run at once, inside room_post_request, and answer
 * through on_done. Checks the order of init and requests, what scripts see of room and req,
 * the responses they may return, failed turns, and that rooms keep separate state. */
#include "check.h"
#include "log.h"
#include "lvm.h"
#include "ns_internal.h"
#include "registry.h"
#include "request.h"
#include "room.h"
#include "room_limits.h"

#include <jansson.h>
#include <lua.h>
#include <string.h>

#define ERR_MAX 512

static const char room_script[] =
    "local R = {}\n"
    "local inits = 0\n"
    "local failed_init = {}\n"
    "\n"
    "function R.init(room)\n"
    "  if room.id:find('^flaky') and not failed_init[room.id] then\n"
    "    failed_init[room.id] = true\n"
    "    error('init fails once')\n"
    "  end\n"
    "  inits = inits + 1\n"
    "  room.value = 0\n"
    "  room.inits = (room.inits or 0) + 1\n"
    "  room.requests_before_init = room.requests or 0\n"
    "end\n"
    "\n"
    "local routes = {}\n"
    "function routes.info(room)\n"
    "  return {json = {id = room.id, namespace = room.namespace, node = room.node,\n"
    "                  k = room.settings.k, inits = room.inits, all_inits = inits,\n"
    "                  before = room.requests_before_init}}\n"
    "end\n"
    "function routes.boom(room) error('handler boom in ' .. room.id) end\n"
    "function routes.none() return nil end\n"
    "function routes.nothing() end\n"
    "function routes.number() return 42 end\n"
    "function routes.custom()\n"
    "  return {status = 201, body = 'x', headers = {['x-a'] = 'b'}}\n"
    "end\n"
    "function routes.func() return {json = {f = function() end}} end\n"
    "function routes.headers_then_func()\n"
    "  return {headers = {['x-a'] = 'b'}, json = {f = function() end}}\n"
    "end\n"
    "function routes.bad_status() return {status = 99} end\n"
    "function routes.frac_status() return {status = 200.5} end\n"
    "function routes.str_status() return {status = 'ok'} end\n"
    "function routes.nan_status() return {status = 0/0} end\n"
    "function routes.bad_header() return {headers = {['x-a'] = 'b\\r\\nx-evil: 1'}} end\n"
    "function routes.bad_body() return {body = {}} end\n"
    "function routes.empty() return {} end\n"
    "function routes.list() return {json = {}} end\n"
    "function routes.echo(room, req)\n"
    "  return {json = {method = req.method, path = req.path, rest = req.rest,\n"
    "                  a = req.query.a, b = req.query.b, header = req.headers['x-test'],\n"
    "                  body = req.body, json = req.json, json_error = req.json_error,\n"
    "                  has_json = req.json ~= nil, has_error = req.json_error ~= nil}}\n"
    "end\n"
    "function routes.hog()\n"
    "  local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end\n"
    "end\n"
    "\n"
    "function R.request(room, req)\n"
    "  room.requests = (room.requests or 0) + 1\n"
    "  local route = routes[req.rest]\n"
    "  if route then return route(room, req) end\n"
    "  if req.method == 'POST' then\n"
    "    room.value = room.value + 1\n"
    "  elseif req.method ~= 'GET' then\n"
    "    return {status = 405, json = {error = 'use GET or POST'}}\n"
    "  end\n"
    "  return {status = 200, json = {value = room.value}}\n"
    "end\n"
    "\n"
    "return R\n";

static struct limits limits = {
    .message_bytes = 1 << 20,
    .body_bytes = 1 << 20,
    .send_queue_bytes = 1 << 20,
    .send_queue_messages = 4096,
    .attachment_bytes = 2048,
    .vm_memory_bytes = 64 << 20,
    .connections_per_room = 100,
    .room_queue = 16,
    .json_depth = 64,
    .max_rooms = 1000,
    .messages_per_second = 1000,
};

static int done_calls;
static struct request *last_done;

static void on_done(struct request *req) {
    done_calls++;
    last_done = req;
}

static struct request_field *fields(const char *const *pairs, int *n) {
    int count = 0;
    while (pairs && pairs[2 * count])
        count++;
    struct request_field *f = calloc((size_t)count + 1, sizeof *f);
    for (int i = 0; f && i < count; i++) {
        f[i].name = strdup(pairs[2 * i]);
        f[i].value = strdup(pairs[2 * i + 1]);
    }
    *n = count;
    return f;
}

/* A request as the server would build it: path "/<ns>/<id>[/<rest>]", rest pointing into it. */
static struct request *new_request(const char *method, const char *ns, const char *id,
                                   const char *rest, const char *body, const char *const *query,
                                   const char *const *headers) {
    struct request *req = calloc(1, sizeof *req);
    char path[1024];
    int n = snprintf(path, sizeof path, "/%s/%s%s%s", ns, id, *rest ? "/" : "", rest);
    snprintf(req->method, sizeof req->method, "%s", method);
    req->path = strdup(path);
    req->path_len = (size_t)n;
    req->rest = req->path + n - strlen(rest);
    req->rest_len = strlen(rest);
    req->query = fields(query, &req->n_query);
    req->headers = fields(headers, &req->n_headers);
    if (body && *body) {
        req->body = strdup(body);
        req->body_len = strlen(body);
    }
    req->on_done = on_done;
    req->owner = &limits; /* any non-NULL session */
    return req;
}

/* Posts req to room <ns, id>; checks on_done ran exactly once, for req. */
static struct request *post(int line, struct ns *ns, const char *id, struct request *req) {
    struct room *r = registry_get(ns, id, strlen(id));
    int before = done_calls;
    int rc = r ? room_post_request(r, req) : -1;
    check_report(rc == 0 && done_calls == before + 1 && last_done == req, line, req->path,
                 "posted %d, on_done ran %d times", rc, done_calls - before);
    return req;
}

/* Sends a request and expects its status; returns the request (to free) for more checks. */
static struct request *expect_status(int line, struct ns *ns, const char *method, const char *id,
                                     const char *rest, int status) {
    struct request *req =
        post(line, ns, id, new_request(method, ns->name, id, rest, NULL, NULL, NULL));
    check_report(req->status == status, line, req->path, "status %d, want %d (body %.*s)",
                 req->status, status, (int)req->resp_len, req->resp_body ? req->resp_body : "");
    return req;
}

/* The response body parsed as JSON (to json_decref), or NULL. */
static json_t *body_json(const struct request *req) {
    json_error_t jerr;
    return req->resp_body ? json_loadb(req->resp_body, req->resp_len, 0, &jerr) : NULL;
}

static long long json_int(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? (long long)json_number_value(v) : -1;
}

/* Sends a request and expects status and a JSON number field. */
static void expect_value(int line, struct ns *ns, const char *method, const char *id,
                         long long value) {
    struct request *req = expect_status(line, ns, method, id, "", 200);
    json_t *obj = body_json(req);
    check_report(json_int(obj, "value") == value, line, req->path, "value %lld, want %lld",
                 json_int(obj, "value"), value);
    CHECK(req->resp_type == NULL); /* JSON */
    json_decref(obj);
    request_free(req);
}

static void expect_error_body(int line, struct ns *ns, const char *id, const char *rest, int status,
                              const char *body) {
    struct request *req = expect_status(line, ns, "GET", id, rest, status);
    check_report(
        req->resp_body && strcmp(req->resp_body, body) == 0 && req->resp_len == strlen(body), line,
        req->path, "body '%s', want '%s'", req->resp_body ? req->resp_body : "", body);
    check_report(req->n_resp_headers == 0, line, req->path, "%d response headers on an error",
                 req->n_resp_headers);
    request_free(req);
}

/* -- tests ---------------------------------------------------------------------------------- */

static void test_counter(struct ns *ns) {
    CHECK(registry_find(ns, "c1", 2) == NULL);
    expect_value(__LINE__, ns, "GET", "c1", 0);
    CHECK(registry_find(ns, "c1", 2) != NULL);
    CHECK(registry_get(ns, "c1", 2) == registry_find(ns, "c1", 2));
    expect_value(__LINE__, ns, "POST", "c1", 1);
    expect_value(__LINE__, ns, "POST", "c1", 2);
    expect_value(__LINE__, ns, "GET", "c1", 2);
    struct request *req = expect_status(__LINE__, ns, "PUT", "c1", "", 405);
    request_free(req);
    expect_value(__LINE__, ns, "GET", "c1", 2);

    /* init ran once, before the first request */
    req = expect_status(__LINE__, ns, "GET", "c1", "info", 200);
    json_t *obj = body_json(req);
    CHECK_INT(json_int(obj, "inits"), 1);
    CHECK_INT(json_int(obj, "before"), 0);
    json_decref(obj);
    request_free(req);
}

static void test_room_fields(struct ns *ns) {
    const char *id = "caf\xc3\xa9 room";
    struct request *req = expect_status(__LINE__, ns, "GET", id, "info", 200);
    json_t *obj = body_json(req);
    CHECK_STR(json_string_value(json_object_get(obj, "id")), id);
    CHECK_STR(json_string_value(json_object_get(obj, "namespace")), "cnt");
    CHECK_STR(json_string_value(json_object_get(obj, "node")), "node-x");
    CHECK_INT(json_int(obj, "k"), 1);
    json_decref(obj);
    request_free(req);
}

static void test_separate_rooms(struct ns *ns) {
    expect_value(__LINE__, ns, "POST", "a", 1);
    expect_value(__LINE__, ns, "POST", "a", 2);
    expect_value(__LINE__, ns, "POST", "a", 3);
    expect_value(__LINE__, ns, "GET", "b", 0);
    expect_value(__LINE__, ns, "POST", "b", 1);
    expect_value(__LINE__, ns, "GET", "a", 3);
    /* ids differ by bytes: "a" and "a " are two rooms */
    expect_value(__LINE__, ns, "GET", "a ", 0);
    CHECK(registry_find(ns, "a", 1) != registry_find(ns, "a ", 2));
}

static void test_handler_errors(struct ns *ns) {
    expect_value(__LINE__, ns, "POST", "e", 1);
    expect_value(__LINE__, ns, "POST", "e", 2);
    expect_error_body(__LINE__, ns, "e", "boom", 500, "{\"error\":\"room handler failed\"}");
    /* the room goes on, with its state */
    expect_value(__LINE__, ns, "GET", "e", 2);
    expect_value(__LINE__, ns, "POST", "e", 3);
    expect_error_body(__LINE__, ns, "e", "boom", 500, "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "e", "boom", 500, "{\"error\":\"room handler failed\"}");
    expect_value(__LINE__, ns, "GET", "e", 3);
    struct request *req = expect_status(__LINE__, ns, "GET", "e", "info", 200);
    json_t *obj = body_json(req);
    CHECK_INT(json_int(obj, "inits"), 1); /* a failed turn does not restart the room */
    json_decref(obj);
    request_free(req);
}

static void test_init_errors(struct ns *ns) {
    struct request *req = expect_status(__LINE__, ns, "GET", "flaky", "", 500);
    CHECK_HAS(req->resp_body, "\"error\"");
    CHECK(req->resp_body && !strstr(req->resp_body, "traceback"));
    CHECK(req->resp_body && !strstr(req->resp_body, "init fails once"));
    request_free(req);
    /* init is tried again, and this time works */
    expect_value(__LINE__, ns, "POST", "flaky", 1);
    req = expect_status(__LINE__, ns, "GET", "flaky", "info", 200);
    json_t *obj = body_json(req);
    CHECK_INT(json_int(obj, "inits"), 1);
    json_decref(obj);
    request_free(req);
    /* a fresh room whose init fails, then a handler error right after its init worked */
    expect_error_body(__LINE__, ns, "flaky2", "boom", 500, "{\"error\":\"room failed to start\"}");
    expect_error_body(__LINE__, ns, "flaky2", "boom", 500, "{\"error\":\"room handler failed\"}");
    expect_value(__LINE__, ns, "GET", "flaky2", 0);
}

static void test_responses(struct ns *ns) {
    expect_error_body(__LINE__, ns, "r", "none", 404, "{\"error\":\"not found\"}");
    expect_error_body(__LINE__, ns, "r", "nothing", 404, "{\"error\":\"not found\"}");
    expect_error_body(__LINE__, ns, "r", "number", 500, "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "r", "func", 500, "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "r", "headers_then_func", 500,
                      "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "r", "bad_status", 500, "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "r", "frac_status", 500, "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "r", "str_status", 500, "{\"error\":\"room handler failed\"}");
    /* NaN passes both range comparisons in room_lua_take_response and reaches its (int) cast,
     * which is undefined behaviour (caught by clang's -fsanitize=float-cast-overflow, which
     * GCC's -fsanitize=undefined leaves out) */
    expect_error_body(__LINE__, ns, "r", "nan_status", 500, "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "r", "bad_header", 500, "{\"error\":\"room handler failed\"}");
    expect_error_body(__LINE__, ns, "r", "bad_body", 500, "{\"error\":\"room handler failed\"}");

    struct request *req = expect_status(__LINE__, ns, "GET", "r", "custom", 201);
    CHECK_MEM(req->resp_body, req->resp_len, "x");
    CHECK_STR(req->resp_type, "text/plain; charset=utf-8");
    CHECK_INT(req->n_resp_headers, 1);
    if (req->n_resp_headers == 1) {
        CHECK_STR(req->resp_headers[0].name, "x-a");
        CHECK_STR(req->resp_headers[0].value, "b");
    }
    request_free(req);

    req = expect_status(__LINE__, ns, "GET", "r", "empty", 200);
    CHECK_MEM(req->resp_body, req->resp_len, "");
    CHECK_INT(req->n_resp_headers, 0);
    request_free(req);
    req = expect_status(__LINE__, ns, "GET", "r", "list", 200);
    CHECK_MEM(req->resp_body, req->resp_len, "{}");
    CHECK(req->resp_type == NULL);
    request_free(req);
}

static void test_request_fields(struct ns *ns) {
    static const char *const query[] = {"a", "1", "b", "", NULL};
    static const char *const headers[] = {"x-test", "yes", "content-type", "application/json",
                                          NULL};
    struct request *req =
        new_request("POST", "cnt", "q", "echo", "{\"n\":[1,2,{\"m\":true}]}", query, headers);
    post(__LINE__, ns, "q", req);
    CHECK_INT(req->status, 200);
    json_t *obj = body_json(req);
    CHECK_STR(json_string_value(json_object_get(obj, "method")), "POST");
    CHECK_STR(json_string_value(json_object_get(obj, "path")), "/cnt/q/echo");
    CHECK_STR(json_string_value(json_object_get(obj, "rest")), "echo");
    CHECK_STR(json_string_value(json_object_get(obj, "a")), "1");
    CHECK_STR(json_string_value(json_object_get(obj, "b")), "");
    CHECK_STR(json_string_value(json_object_get(obj, "header")), "yes");
    CHECK_STR(json_string_value(json_object_get(obj, "body")), "{\"n\":[1,2,{\"m\":true}]}");
    json_t *n = json_object_get(json_object_get(obj, "json"), "n");
    CHECK(json_array_size(n) == 3 && json_integer_value(json_array_get(n, 1)) == 2);
    CHECK(json_is_true(json_object_get(json_array_get(n, 2), "m")));
    CHECK(json_is_false(json_object_get(obj, "has_error")));
    json_decref(obj);
    request_free(req);

    req = post(__LINE__, ns, "q", new_request("POST", "cnt", "q", "echo", "not json", NULL, NULL));
    obj = body_json(req);
    CHECK_STR(json_string_value(json_object_get(obj, "body")), "not json");
    CHECK(json_is_false(json_object_get(obj, "has_json")));
    CHECK(json_is_true(json_object_get(obj, "has_error")));
    CHECK_HAS(json_string_value(json_object_get(obj, "json_error")), "invalid JSON");
    json_decref(obj);
    request_free(req);

    /* no body, no query, no headers */
    req = post(__LINE__, ns, "q", new_request("GET", "cnt", "q", "echo", NULL, NULL, NULL));
    obj = body_json(req);
    CHECK_STR(json_string_value(json_object_get(obj, "body")), "");
    CHECK(json_is_false(json_object_get(obj, "has_json")));
    CHECK(json_is_false(json_object_get(obj, "has_error")));
    CHECK(json_object_get(obj, "a") == NULL);
    json_decref(obj);
    request_free(req);

    /* rest "" for a request to the room itself */
    req = post(__LINE__, ns, "q", new_request("GET", "cnt", "q", "", NULL, NULL, NULL));
    CHECK(req->rest_len == 0 && req->path_len == 6);
    CHECK_INT(req->status, 200);
    request_free(req);
}

/* A namespace whose script has no request handler (and no init). */
static void test_no_request_handler(void) {
    char path[PATH_MAX], err[ERR_MAX] = "";
    scratch_write(path, "quiet.lua", "return { message = function() end }\n");
    struct ns *ns = ns_new("quiet", path, NULL, "node-x", &limits, err, sizeof err);
    CHECK(ns != NULL);
    if (!ns)
        return;
    struct request *req = expect_status(__LINE__, ns, "GET", "r", "", 404);
    CHECK_HAS(req->resp_body, "does not serve HTTP");
    request_free(req);
    registry_free_all();
    ns_free(ns);
}

static void test_ns_errors(void) {
    char path[PATH_MAX], err[ERR_MAX] = "";
    CHECK(ns_new("x", scratch_path(path, "absent.lua"), "{}", "n", &limits, err, sizeof err) ==
          NULL);
    CHECK_HAS(err, "cannot read the script");
    scratch_write(path, "number.lua", "return 1\n");
    CHECK(ns_new("x", path, "{}", "n", &limits, err, sizeof err) == NULL);
    CHECK_HAS(err, "must return a table");
    scratch_write(path, "syntax.lua", "return {\n");
    CHECK(ns_new("x", path, "{}", "n", &limits, err, sizeof err) == NULL);
    CHECK_HAS(err, "syntax.lua:");
    scratch_write(path, "fine.lua", "return {}\n");
    CHECK(ns_new("x", path, "{\"k\":", "n", &limits, err, sizeof err) == NULL);
    CHECK_HAS(err, "settings of namespace 'x'");
    ns_free(NULL);
}

/* Out of memory in one turn fails that turn only: docs/lua-api.md says "the room, the VM and
 * every other room go on". */
static void test_out_of_memory(void) {
    char path[PATH_MAX], err[ERR_MAX] = "";
    struct limits small = limits;
    small.vm_memory_bytes = 4 << 20;
    scratch_write(path, "mem.lua", room_script);
    struct ns *ns = ns_new("mem", path, "{\"k\":2}", "node-x", &small, err, sizeof err);
    CHECK(ns != NULL);
    if (!ns)
        return;
    expect_value(__LINE__, ns, "POST", "m", 1);
    expect_error_body(__LINE__, ns, "m", "hog", 500, "{\"error\":\"room handler failed\"}");
    /* The failed turn's garbage must not wedge the namespace: LuaJIT has no emergency
     * collection, so roomd collects when it drops a failed coroutine near the limit. */
    struct request *req = expect_status(__LINE__, ns, "GET", "m", "", 200);
    request_free(req);
    req = expect_status(__LINE__, ns, "GET", "other", "", 200);
    request_free(req);
    /* and an explicit full collection changes nothing */
    lua_gc(lvm_state(ns->vm), LUA_GCCOLLECT, 0);
    expect_value(__LINE__, ns, "POST", "m", 2);
    expect_value(__LINE__, ns, "GET", "other2", 0);
    registry_free_all();
    ns_free(ns);
}

static void count_room(struct room *r, void *arg) {
    (void)r;
    ++*(size_t *)arg;
}

int main(void) {
    char path[PATH_MAX], err[ERR_MAX] = "";
    log_set_level(LOG_ERROR);
    scratch_write(path, "counter.lua", room_script);
    struct ns *ns = ns_new("cnt", path, "{\"k\":1}", "node-x", &limits, err, sizeof err);
    if (!ns) {
        fprintf(stderr, "ns_new: %s\n", err);
        return 2;
    }
    test_counter(ns);
    test_room_fields(ns);
    test_separate_rooms(ns);
    test_handler_errors(ns);
    test_init_errors(ns);
    test_responses(ns);
    test_request_fields(ns);
    size_t rooms = 0;
    registry_each(count_room, &rooms);
    CHECK(rooms >= 10);
    CHECK_INT(rooms, registry_count());
    registry_free_all();
    CHECK_INT(registry_count(), 0);
    CHECK(registry_find(ns, "c1", 2) == NULL);
    /* a room made again after registry_free_all starts afresh */
    expect_value(__LINE__, ns, "GET", "c1", 0);
    registry_free_all();
    ns_free(ns);

    test_no_request_handler();
    test_ns_errors();
    test_out_of_memory();
    scratch_remove();
    return check_summary("room");
}
