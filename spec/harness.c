/* harness: rooms without a network; see harness.h.
 *
 * The loop is libwebsockets' like the server's, but its context listens on no
 * port: it carries the Redis connection only. "Settling" runs it until no
 * command is waiting for Redis and no fake conn has output or a close to
 * hand over; a turn's output is released only once its writes are stored, so
 * a settled room has shown everything it did. A fake conn closed by its room
 * is closed from the client's side too (door_closed, echoing the code) while
 * settling, never inside the sink's callback (conn_request_writes is on the
 * stack there). */
#include "harness.h"

#include "alarm.h"
#include "call.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "door.h"
#include "log.h"
#include "ns.h"
#include "redis_child.h"
#include "reload.h"
#include "request.h"
#include "room_store.h"
#include "store.h"

#include <dirent.h>
#include <libwebsockets.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_LIMIT_MS 10000        /* real time the loop may take to settle */
#define TICK_US (50 * LWS_US_PER_MS) /* lws_service returns at least this often while settling */
#define ALARMS_PER_ADVANCE 10000 /* more in one advance: an alarm that keeps setting itself due */

/* A fake WebSocket as the test sees it. */
struct fake {
    struct conn *conn; /* NULL once gone: closed by either side, then its leave turn queued */
    unsigned long long id;
    char **frames; /* received and not yet taken, oldest first */
    size_t *lens;
    int n_frames, cap_frames;
    bool closed, by_room;
    bool close_owed; /* the room closed it: the client's side of the close is still to do */
    int code;
    char *reason;
};

/* Everything the harness runs: the config, the loop's context, the embedded redis-server and
 * its temporary folder (dir is "" with --redis), the tick timer, and the fake conns by handle. */
static struct {
    const struct config *cfg;
    struct lws_context *context;
    struct redis_child *child;
    char dir[PATH_MAX];
    lws_sorted_usec_list_t tick;
    struct fake *fakes;
    int n_fakes, cap_fakes;
} h;

static const struct lws_protocols protocols[] = {
    {"roomd-test", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
    {"roomd-redis", store_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Real time, for the settle deadline: base/clock.c's clocks are frozen. */
static long long real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the conn sink ---- */

static struct fake *fake_of(const struct conn *c) {
    for (int i = 0; i < h.n_fakes; i++)
        if (h.fakes[i].conn == c)
            return &h.fakes[i];
    return NULL;
}

static void on_frame(struct conn *c, const char *payload, size_t len) {
    struct fake *f = fake_of(c);
    if (!f)
        return;
    if (f->n_frames == f->cap_frames) {
        int cap = f->cap_frames ? f->cap_frames * 2 : 8;
        char **frames = realloc(f->frames, (size_t)cap * sizeof *frames);
        if (frames)
            f->frames = frames;
        size_t *lens = realloc(f->lens, (size_t)cap * sizeof *lens);
        if (lens)
            f->lens = lens;
        if (!frames || !lens)
            return;
        f->cap_frames = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, payload, len);
    copy[len] = '\0';
    f->frames[f->n_frames] = copy;
    f->lens[f->n_frames++] = len;
}

static void on_close(struct conn *c, int code, const char *reason) {
    struct fake *f = fake_of(c);
    if (!f || f->closed)
        return;
    f->closed = f->by_room = f->close_owed = true;
    f->code = code;
    f->reason = strdup(reason);
}

static const struct conn_sink sink = {on_frame, on_close};

/* The client's side of closes the rooms made. Returns whether there was any. */
static bool finish_closes(void) {
    bool any = false;
    for (int i = 0; i < h.n_fakes; i++) {
        struct fake *f = &h.fakes[i];
        if (!f->close_owed)
            continue;
        struct conn *c = f->conn;
        f->close_owed = false;
        f->conn = NULL;
        door_closed(c, f->code, f->reason);
        any = true;
    }
    return any;
}

/* ---- the loop ---- */

static void on_tick(lws_sorted_usec_list_t *sul) {
    (void)sul; /* only wakes lws_service, so the deadline is looked at */
}

int harness_settle(char *err, size_t errlen) {
    long long deadline = real_ms() + SETTLE_LIMIT_MS;
    for (;;) {
        conn_request_writes();
        if (finish_closes())
            continue;
        if (store_pending() == 0 && call_waiting() == 0)
            return 0;
        if (real_ms() > deadline) {
            snprintf(err, errlen, "storage (or a call) did not answer within %d ms",
                     SETTLE_LIMIT_MS);
            return -1;
        }
        store_request_write();
        lws_sul_schedule(h.context, 0, &h.tick, on_tick, TICK_US);
        if (lws_service(h.context, 0) < 0) {
            snprintf(err, errlen, "the event loop failed");
            return -1;
        }
    }
}

static int wait_connected(char *err, size_t errlen) {
    long long deadline = real_ms() + SETTLE_LIMIT_MS;
    while (!store_connected()) {
        if (real_ms() > deadline) {
            snprintf(err, errlen, "cannot connect to Redis within %d ms", SETTLE_LIMIT_MS);
            return -1;
        }
        lws_sul_schedule(h.context, 0, &h.tick, on_tick, TICK_US);
        lws_service(h.context, 0);
    }
    return 0;
}

/* ---- HTTP ---- */

/* req->owner is the flag to set, or NULL when the test gave up on it: then it is freed here. */
static void on_answer(struct request *req) {
    if (req->owner)
        *(bool *)req->owner = true;
    else
        request_free(req);
}

struct request *harness_request(struct ns *ns, const char *id, size_t len, struct request *req,
                                char *err, size_t errlen) {
    bool answered = false;
    req->owner = &answered;
    req->on_done = on_answer;
    enum door_answer a = door_request(ns, id, len, req);
    if (a != DOOR_OK) {
        request_free(req);
        snprintf(err, errlen, "the server would answer 503: %s",
                 a == DOOR_QUEUE_FULL ? "room queue full" : "too many rooms");
        return NULL;
    }
    if (harness_settle(err, errlen) == 0 && !answered)
        snprintf(err, errlen, "the room did not answer");
    if (!answered) {
        req->owner = NULL; /* the room still holds it */
        return NULL;
    }
    return req;
}

/* ---- fake WebSockets ---- */

static struct fake *fake_at(int i) {
    return i >= 0 && i < h.n_fakes ? &h.fakes[i] : NULL;
}

int harness_connect(struct ns *ns, const char *id, size_t len, struct request *join_req, char *err,
                    size_t errlen) {
    if (door_can_join(ns, id, len) != DOOR_OK) {
        request_free(join_req);
        snprintf(err, errlen, "the upgrade would get 503: the room is full");
        return -1;
    }
    if (h.n_fakes == h.cap_fakes) {
        int cap = h.cap_fakes ? h.cap_fakes * 2 : 16;
        struct fake *more = realloc(h.fakes, (size_t)cap * sizeof *more);
        if (!more) {
            request_free(join_req);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        h.fakes = more;
        h.cap_fakes = cap;
    }
    int i = h.n_fakes;
    struct fake *f = &h.fakes[i];
    memset(f, 0, sizeof *f);
    if (!(f->conn = door_join_fake(ns, id, len, join_req))) {
        snprintf(err, errlen, "the room cannot be had (out of memory, or limits.max_rooms)");
        return -1;
    }
    f->id = conn_id(f->conn);
    h.n_fakes++;
    return harness_settle(err, errlen) == 0 ? i : -1;
}

static struct fake *open_fake(int i, char *err, size_t errlen) {
    struct fake *f = fake_at(i);
    if (!f)
        snprintf(err, errlen, "no such connection");
    else if (f->closed)
        snprintf(err, errlen, "the connection is closed (%d %s)", f->code,
                 f->reason ? f->reason : "");
    return f && !f->closed ? f : NULL;
}

int harness_send(int i, const char *text, size_t len, bool binary, char *err, size_t errlen) {
    struct fake *f = open_fake(i, err, errlen);
    if (!f)
        return -1;
    door_receive(f->conn, text, len, true, binary, clock_ms());
    return harness_settle(err, errlen);
}

int harness_take_frames(int i, void (*fn)(void *arg, const char *text, size_t len), void *arg) {
    struct fake *f = fake_at(i);
    if (!f)
        return -1;
    for (int k = 0; k < f->n_frames; k++) {
        fn(arg, f->frames[k], f->lens[k]);
        free(f->frames[k]);
    }
    f->n_frames = 0;
    return 0;
}

unsigned long long harness_conn_id(int i) {
    struct fake *f = fake_at(i);
    return f ? f->id : 0;
}

bool harness_closed(int i, int *code, const char **reason, bool *by_room) {
    struct fake *f = fake_at(i);
    if (!f || !f->closed)
        return false;
    *code = f->code;
    *reason = f->reason ? f->reason : "";
    *by_room = f->by_room;
    return true;
}

int harness_close(int i, int code, const char *reason, char *err, size_t errlen) {
    struct fake *f = open_fake(i, err, errlen);
    if (!f)
        return -1;
    struct conn *c = f->conn;
    f->closed = true;
    f->code = code;
    f->reason = strdup(reason ? reason : "");
    f->conn = NULL;
    door_closed(c, code, reason);
    return harness_settle(err, errlen);
}

static void free_fakes(void) {
    for (int i = 0; i < h.n_fakes; i++) {
        for (int k = 0; k < h.fakes[i].n_frames; k++)
            free(h.fakes[i].frames[k]);
        free(h.fakes[i].frames);
        free(h.fakes[i].lens);
        free(h.fakes[i].reason);
    }
    h.n_fakes = 0;
}

/* ---- storage, time, restarts ---- */

void harness_restart(struct ns *ns, const char *id, size_t len) {
    door_evict(ns, id, len, 0, NULL, true);
}

struct command {
    void (*fn)(void *arg, redisReply *reply);
    void *arg;
    bool answered;
    bool abandoned; /* the caller gave up waiting: the reply, if it comes, only frees this */
};

static void on_reply(void *arg, redisReply *reply) {
    struct command *cmd = arg;
    if (cmd->abandoned) {
        free(cmd);
        return;
    }
    cmd->answered = true;
    if (cmd->fn)
        cmd->fn(cmd->arg, reply);
}

int harness_command(int argc, const char **argv, const size_t *lens,
                    void (*fn)(void *arg, redisReply *reply), void *arg, char *err, size_t errlen) {
    struct command *cmd = malloc(sizeof *cmd);
    if (!cmd) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *cmd = (struct command){fn, arg, false, false};
    if (store_command(on_reply, cmd, argc, argv, lens) != 0) {
        free(cmd);
        snprintf(err, errlen, "no connection to Redis");
        return -1;
    }
    int rc = harness_settle(err, errlen);
    if (!cmd->answered) {
        cmd->abandoned = true; /* its reply (or the NULL of store_stop) frees it */
        if (rc == 0)
            snprintf(err, errlen, "Redis did not answer");
        return -1;
    }
    free(cmd);
    return rc;
}

struct next_alarm {
    bool found;
    long long at;
};

static void on_next_alarm(void *arg, redisReply *reply) {
    struct next_alarm *next = arg;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_STRING) {
        next->found = true;
        next->at = (long long)strtod(reply->element[1]->str, NULL);
    }
}

int harness_advance(long long ms, char *err, size_t errlen) {
    long long target = clock_wall_ms() + ms;
    const char *argv[] = {"ZRANGE", ROOM_STORE_ALARMS, "0", "0", "WITHSCORES"};
    for (int fired = 0; fired <= ALARMS_PER_ADVANCE; fired++) {
        struct next_alarm next = {false, 0};
        if (harness_command(5, argv, NULL, on_next_alarm, &next, err, errlen) != 0)
            return -1;
        if (!next.found || next.at > target) {
            clock_advance(target - clock_wall_ms());
            return 0;
        }
        if (next.at > clock_wall_ms())
            clock_advance(next.at - clock_wall_ms());
        if (!alarm_poll() || harness_settle(err, errlen) != 0) {
            if (!*err)
                snprintf(err, errlen, "cannot ask Redis for the alarms due");
            return -1;
        }
    }
    snprintf(err, errlen, "more than %d alarms in one advance: one keeps setting itself due",
             ALARMS_PER_ADVANCE);
    return -1;
}

/* ---- start, reset, stop ---- */

static int load_namespaces(const struct config *cfg, char *err, size_t errlen) {
    for (int i = 0; i < cfg->n_namespaces; i++) {
        const struct ns_config *nc = &cfg->namespaces[i];
        char why[1024];
        struct ns *ns =
            ns_new(nc->name, nc->script, nc->settings, cfg->node, &cfg->limits, why, sizeof why);
        if (!ns || (nc->ping && ns_set_auto_reply(ns, nc->ping, nc->pong) != 0)) {
            snprintf(err, errlen, "namespace '%s': %s", nc->name, ns ? "out of memory" : why);
            ns_free(ns);
            return -1;
        }
    }
    return 0;
}

static void free_namespaces(void) {
    for (struct ns *ns; (ns = ns_at(0));)
        ns_free(ns);
}

/* The embedded redis-server, in a fresh temporary folder, with nothing on disk. */
static int start_child(struct store_target *t, char *err, size_t errlen) {
    const char *tmp = getenv("TMPDIR");
    snprintf(h.dir, sizeof h.dir, "%s/roomd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(h.dir)) {
        snprintf(err, errlen, "cannot make a temporary folder in %s", tmp ? tmp : "/tmp");
        h.dir[0] = '\0';
        return -1;
    }
    if (!(h.child = redis_child_start(h.dir, REDIS_CHILD_MEMORY, err, errlen)))
        return -1;
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", redis_child_socket(h.child));
    return 0;
}

static int start_storage(const struct config *cfg, struct lws_vhost *vh, char *err, size_t errlen) {
    struct store_target t;
    if (cfg->redis) {
        if (store_parse_url(cfg->redis, &t, err, errlen) != 0 ||
            store_ping(&t, 2000, err, errlen) != 0)
            return -1;
    } else if (start_child(&t, err, errlen) != 0) {
        return -1;
    }
    if (store_start(h.context, vh, &t, err, errlen) != 0)
        return -1;
    call_start(h.context);
    return wait_connected(err, errlen);
}

int harness_start(const struct config *cfg, char *err, size_t errlen) {
    h.cfg = cfg;
    clock_fake(HARNESS_EPOCH_MS);
    conn_set_sink(&sink);
    if (load_namespaces(cfg, err, errlen) != 0)
        return -1;
    struct lws_context_creation_info info = {
        .port = CONTEXT_PORT_NO_LISTEN, .vhost_name = "roomd-test", .protocols = protocols};
    lws_set_log_level(LLL_ERR, NULL);
    h.context = lws_create_context(&info);
    struct lws_vhost *vh = h.context ? lws_get_vhost_by_name(h.context, "roomd-test") : NULL;
    if (!vh) {
        snprintf(err, errlen, "cannot start the event loop");
        return -1;
    }
    return start_storage(cfg, vh, err, errlen);
}

int harness_reset(char *err, size_t errlen) {
    if (harness_settle(err, errlen) != 0)
        return -1;
    door_free_all();
    free_fakes();
    for (size_t i = 0; i < ns_count(); i++)
        if (reload_namespace(ns_at(i), err, errlen) != 0)
            return -1;
    const char *argv[] = {"FLUSHDB"};
    clock_fake(HARNESS_EPOCH_MS);
    return harness_command(1, argv, NULL, NULL, NULL, err, errlen);
}

/* The temporary folder holds only the child's few files (no subfolders). */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    char path[PATH_MAX + 256];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

void harness_stop(void) {
    call_stop();
    if (h.context)
        lws_sul_cancel(&h.tick);
    store_stop();
    if (h.context)
        lws_context_destroy(h.context);
    h.context = NULL;
    door_free_all();
    free_fakes();
    free(h.fakes);
    h.fakes = NULL;
    h.cap_fakes = 0;
    free_namespaces();
    redis_child_stop(h.child);
    h.child = NULL;
    if (h.dir[0])
        remove_dir(h.dir);
    h.dir[0] = '\0';
}
