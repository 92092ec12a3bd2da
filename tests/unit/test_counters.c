/* Unit tests for rooms/counters.c and the text server/metrics.c makes of it: a duration lands in
 * the bucket whose bound is the first at or above it (+Inf past the last); close codes map to
 * their classes at every edge; turns count where they run, a failed turn by what stopped it
 * (an error, the CPU limit, the memory limit); reloads by result; and the Prometheus text
 * carries those figures under the namespace's label, escaped, with cumulative buckets. */
#include "check.h"
#include "counters.h"
#include "log.h"
#include "metrics.h"
#include "ns.h"
#include "registry.h"
#include "reload.h"
#include "request.h"
#include "room.h"
#include "room_limits.h"

#include <stdlib.h>
#include <string.h>

static void test_buckets(void) {
    struct counters_histogram h = {0};
    counters_observe(&h, 0);
    counters_observe(&h, counters_bucket_ns[0]);     /* on the bound: that bucket */
    counters_observe(&h, counters_bucket_ns[0] + 1); /* just past it: the next */
    counters_observe(&h, counters_bucket_ns[COUNTERS_BUCKETS - 2]);
    counters_observe(&h, counters_bucket_ns[COUNTERS_BUCKETS - 2] + 1); /* +Inf */
    counters_observe(&h, UINT64_MAX / 2);
    CHECK_INT(h.bucket[0], 2);
    CHECK_INT(h.bucket[1], 1);
    CHECK_INT(h.bucket[COUNTERS_BUCKETS - 2], 1);
    CHECK_INT(h.bucket[COUNTERS_BUCKETS - 1], 2);
    uint64_t n = 0;
    for (int i = 0; i < COUNTERS_BUCKETS; i++)
        n += h.bucket[i];
    CHECK_INT(n, 6);
    for (int i = 1; i < COUNTERS_BUCKETS - 1; i++)
        CHECK(counters_bucket_ns[i] > counters_bucket_ns[i - 1]);
}

static void test_close_classes(void) {
    static const struct {
        int code;
        const char *cls;
    } cases[] = {
        {1000, "1000"}, {1001, "1001"}, {1003, "1003"}, {1004, "none"}, {1005, "none"},
        {1006, "none"}, {1007, "1007"}, {1008, "1008"}, {1013, "1013"}, {1014, "1014"},
        {1015, "none"}, {2999, "none"}, {3000, "3xxx"}, {3999, "3xxx"}, {4000, "4xxx"},
        {4410, "4xxx"}, {4999, "4xxx"}, {5000, "none"}, {0, "none"},    {-1, "none"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_STR(counters_close_class_name(counters_close_class(cases[i].code)), cases[i].cls);
    CHECK_STR(counters_close_class_name(COUNTERS_CLOSE_CLASSES), "none");
}

static const char script[] = "local R = {}\n"
                             "function R.request(room, req)\n"
                             "  if req.rest == 'boom' then error('boom') end\n"
                             "  if req.rest == 'spin' then while true do end end\n"
                             "  if req.rest == 'hog' then\n"
                             "    local t = {}\n"
                             "    for i = 1, 1e9 do t[i] = ('x'):rep(65536) .. i end\n"
                             "  end\n"
                             "  return {json = {ok = true}}\n"
                             "end\n"
                             "return R\n";

static struct limits limits = {
    .message_bytes = 1 << 20,
    .body_bytes = 1 << 20,
    .send_queue_bytes = 1 << 20,
    .send_queue_messages = 64,
    .attachment_bytes = 2048,
    .vm_memory_bytes = 8 << 20,
    .connections_per_room = 100,
    .room_queue = 16,
    .json_depth = 64,
    .max_rooms = 100,
    .messages_per_second = 100,
    .turn_cpu_ms = 50,
};

static void on_done(struct request *req) {
    (void)req;
}

/* Runs GET /<ns>/<id>/<rest> as a turn and returns the answer's status. */
static int request(struct ns *ns, const char *id, const char *rest) {
    struct request *req = calloc(1, sizeof *req);
    char path[256];
    int n = snprintf(path, sizeof path, "/%s/%s/%s", ns_name(ns), id, rest);
    snprintf(req->method, sizeof req->method, "GET");
    req->path = strdup(path);
    req->path_len = (size_t)n;
    req->rest = req->path + n - strlen(rest);
    req->rest_len = strlen(rest);
    req->on_done = on_done;
    req->owner = &limits;
    struct room *r = registry_get(ns, id, strlen(id));
    int status = r && room_post_request(r, req) == 0 ? req->status : -1;
    request_free(req);
    return status;
}

static uint64_t histogram_count(const struct counters_histogram *h) {
    uint64_t n = 0;
    for (int i = 0; i < COUNTERS_BUCKETS; i++)
        n += h->bucket[i];
    return n;
}

static void test_turns(struct ns *ns) {
    const struct ns_counters *m = counters_of(ns);
    CHECK_INT(request(ns, "a", "ok"), 200); /* init (none in the script) and the request */
    CHECK_INT(m->activated, 1);
    CHECK_INT(m->turns, 2);
    CHECK_INT(request(ns, "a", "boom"), 500);
    CHECK_INT(m->turn_errors[TURN_ERROR], 1);
    CHECK_INT(request(ns, "a", "spin"), 500);
    CHECK_INT(m->turn_errors[TURN_CPU_LIMIT], 1);
    CHECK_INT(request(ns, "a", "hog"), 500);
    CHECK_INT(m->turn_errors[TURN_MEMORY_LIMIT], 1);
    CHECK_INT(m->turn_errors[TURN_ERROR], 1);
    CHECK_INT(m->turn_errors[TURN_CPU_LIMIT], 1);
    /* the runaway turns reset the room: each next request loads it again */
    CHECK(m->activated >= 2);
    CHECK_INT(histogram_count(&m->turn_time), m->turns);
    CHECK(m->turn_time.sum_ns >= 50 * 1000000ull); /* the spin ran to the CPU limit */
}

static void test_reloads(struct ns *ns) {
    char err[512], path[PATH_MAX];
    const struct ns_counters *m = counters_of(ns);
    CHECK_INT(reload_namespace(ns, err, sizeof err), 0);
    scratch_write(path, "t.lua", "return {\n");
    CHECK_INT(reload_namespace(ns, err, sizeof err), -1);
    scratch_write(path, "t.lua", script);
    CHECK_INT(m->reloads_ok, 1);
    CHECK_INT(m->reloads_failed, 1);
}

/* The first line of text that starts with line_start, or NULL. */
static const char *sample(const char *text, const char *line_start) {
    const char *p = text;
    size_t n = strlen(line_start);
    while ((p = strstr(p, line_start)) && p != text && p[-1] != '\n')
        p += n;
    return p;
}

static void test_render(struct ns *ns) {
    size_t len;
    char *text = metrics_render(&len);
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK_INT(strlen(text), len);
    char want[160];
    const struct ns_counters *m = counters_of(ns);
    snprintf(want, sizeof want, "roomd_turns_total{ns=\"we\\\"ird\\\\\"} %llu\n",
             (unsigned long long)m->turns);
    CHECK(sample(text, want) != NULL);
    CHECK(sample(text, "roomd_turn_errors_total{ns=\"we\\\"ird\\\\\",kind=\"cpu_limit\"} 1\n"));
    CHECK(sample(text, "roomd_reloads_total{ns=\"we\\\"ird\\\\\",result=\"error\"} 1\n"));
    snprintf(want, sizeof want,
             "roomd_turn_duration_seconds_bucket{ns=\"we\\\"ird\\\\\",le=\"+Inf\"} %llu\n",
             (unsigned long long)m->turns);
    CHECK(sample(text, want) != NULL);
    CHECK(sample(text, "# TYPE roomd_turn_duration_seconds histogram\n"));
    CHECK(sample(text, "roomd_rooms{ns=\"we\\\"ird\\\\\",state=\"memory\"} 1\n"));
    CHECK(sample(text, "roomd_redis_connected 0\n"));
    CHECK(sample(text, "process_cpu_seconds_total "));
    CHECK(sample(text, "process_start_time_seconds "));
    CHECK(!strstr(text, "process_open_fds -1"));
    free(text);
}

int main(void) {
    char path[PATH_MAX], err[512] = "";
    log_set_level(LOG_ERROR);
    test_buckets();
    test_close_classes();
    scratch_write(path, "t.lua", script);
    struct ns *ns = ns_new("we\"ird\\", path, NULL, "node-x", &limits, err, sizeof err);
    if (!ns) {
        fprintf(stderr, "ns_new: %s\n", err);
        return 2;
    }
    test_turns(ns);
    test_reloads(ns);
    request(ns, "b", "ok");
    test_render(ns);
    registry_free_all();
    ns_free(ns);
    scratch_remove();
    return check_summary("counters");
}
