/* door: the server's way into rooms; see door.h. */
#include "door.h"

#include "conn_internal.h"
#include "counters.h"
#include "lease.h"
#include "log.h"
#include "ns_internal.h"
#include "registry.h"
#include "request.h"
#include "room_internal.h"
#include "room_limits.h"
#include "storage_lua.h"

#include <stdlib.h>
#include <string.h>

enum door_answer door_can_join(struct ns *ns, const char *id, size_t len) {
    struct room *r = registry_find(ns, id, len);
    if (!r)
        return registry_count() >= ns->limits->max_rooms ? DOOR_TOO_MANY_ROOMS : DOOR_OK;
    return r->n_conns >= ns->limits->connections_per_room ? DOOR_ROOM_FULL : DOOR_OK;
}

/* Opens c (NULL: out of memory) in room r with join_req and queues its join turn. */
static struct conn *open_conn(struct room *r, struct conn *c, struct request *join_req,
                              bool stopping) {
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
    r->ns->counters.opened++;
    r->ns->counters.connections++;
    /* Refusals decided here skip the join turn: a closing conn is never joined. */
    if (r->n_conns >= r->ns->limits->connections_per_room)
        conn_close(c, 1013, "room is full");
    else if (stopping)
        conn_close(c, 1001, "server shutting down");
    room_post_join(r, c);
    return c;
}

struct conn *door_join(struct ns *ns, const char *id, size_t len, struct lws *wsi,
                       struct request *join_req, bool stopping) {
    struct room *r = registry_get(ns, id, len);
    return open_conn(r, r ? conn_new(wsi, r, ns->limits) : NULL, join_req, stopping);
}

struct conn *door_join_fake(struct ns *ns, const char *id, size_t len, struct request *join_req) {
    struct room *r = registry_get(ns, id, len);
    return open_conn(r, r ? conn_new_fake(r, ns->limits) : NULL, join_req, false);
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
    struct ns_counters *m = &c->room->ns->counters;
    m->bytes_in += len;
    if (conn_receive(c, in, len, final, binary) != 1)
        return;
    size_t n;
    char *msg = conn_take_message(c, &n, &binary);
    m->messages_in++;
    c->room->usage.n[USAGE_MESSAGES_IN]++;
    bool allowed = conn_take_token(c, now_ms);
    m->rate_limited += !allowed;
    if (!allowed || auto_reply(c, msg, n, binary)) {
        free(msg);
        return;
    }
    if (room_post_message(c->room, c, msg, n, binary) != 0) {
        m->queue_full++;
        log_limited(LOG_WARN, "[room %s] queue full: message from conn %llu dropped", c->room->tag,
                    (unsigned long long)c->id);
    }
}

/* The close code of c's socket: the peer's, else the one roomd closed it with, else none. */
static int close_code(const struct conn *c, int peer_code) {
    return peer_code ? peer_code : c->closing ? c->close_code : 0;
}

void door_closed(struct conn *c, int code, const char *reason) {
    struct ns_counters *m = &c->room->ns->counters;
    m->connections--;
    m->closed[counters_close_class(close_code(c, code))]++;
    conn_detach(c);
    room_post_leave(c->room, c, code, reason);
}

enum door_answer door_request(struct ns *ns, const char *id, size_t len, struct request *req) {
    struct room *r = registry_get(ns, id, len);
    if (!r)
        return DOOR_TOO_MANY_ROOMS;
    if (room_post_request(r, req) == 0)
        return DOOR_OK;
    ns->counters.queue_full++;
    return DOOR_QUEUE_FULL;
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

static void fill_info(const struct room *r, struct door_room_info *info) {
    *info = (struct door_room_info){r->ns->name, r->id, r->id_len,
                                    r->state == ROOM_COLD ? "hibernated" : "memory", r->n_conns};
}

struct each_args {
    const struct ns *ns;
    void (*fn)(const struct door_room_info *, void *);
    void *arg;
};

static void each_room(struct room *r, void *arg) {
    const struct each_args *a = arg;
    struct door_room_info info;
    if (a->ns && r->ns != a->ns)
        return;
    fill_info(r, &info);
    a->fn(&info, a->arg);
}

void door_each_room(const struct ns *ns, void (*fn)(const struct door_room_info *, void *),
                    void *arg) {
    struct each_args a = {ns, fn, arg};
    registry_each(each_room, &a);
}

bool door_room(struct ns *ns, const char *id, size_t len, struct door_room_info *info,
               void (*conn_fn)(const struct door_conn_info *, void *), void *arg) {
    struct room *r = registry_find(ns, id, len);
    if (!r)
        return false;
    fill_info(r, info);
    for (const struct conn *c = r->conns; c && conn_fn; c = c->next) {
        struct door_conn_info ci = {
            (unsigned long long)c->id, c->tags, c->n_tags, c->attachment, c->auth,
            c->q_bytes + c->held_bytes};
        conn_fn(&ci, arg);
    }
    return true;
}

void door_free_all(void) {
    registry_free_all();
}

int door_evict(struct ns *ns, const char *id, size_t len, int code, const char *reason,
               bool unload) {
    struct room *r = registry_find(ns, id, len);
    if (!r)
        return -1;
    int n = r->n_conns;
    if (code)
        room_close_all(r, code, reason);
    if (unload) {
        room_unload(r);
        lease_release(r); /* cluster mode: the admin's write that follows needs it free */
    }
    return n;
}

char *door_value_json(struct ns *ns, const char *bytes, size_t len, size_t *out_len,
                      bool *decodable) {
    return storage_lua_value_json(ns->vm, bytes, len, out_len, decodable);
}

char *door_value_bytes(struct ns *ns, const char *json, size_t len, size_t *out_len, char *err,
                       size_t errlen) {
    return storage_lua_value_bytes(ns->vm, json, len, out_len, err, errlen);
}
