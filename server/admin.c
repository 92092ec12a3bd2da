/* admin: the admin API; see admin.h.
 *
 * A request becomes a call: it is answered at once (health, reload, a refusal)
 * or once Redis has answered (listing, showing, deleting). A call whose client
 * leaves meanwhile is abandoned (wsi NULL) and freed by the reply that comes
 * back for it, never under it. Answers are JSON, written from the WRITEABLE
 * callback: the headers, then the body. */
#include "admin.h"

#include "base64.h"
#include "config.h"
#include "door.h"
#include "log.h"
#include "metrics.h"
#include "ns.h"
#include "pipeline.h"
#include "reload.h"
#include "room_limits.h"
#include "room_store.h"
#include "server.h"
#include "storage_lua.h"
#include "store.h"
#include "usage_api.h"
#include "utf8.h"
#include "wire.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define REFUSE_DELAY_US (250 * LWS_US_PER_MS) /* a wrong token waits this long for its 401 */
#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define DELETE_CODE 4410       /* the close code of sockets of a room deleted by the admin API */
#define IMPORT_MAX (64u << 20) /* the largest storage document PUT takes */
#define EXPORT_FORMAT "roomd-storage/1"

enum call_step { CALL_WAITING, CALL_HEADERS, CALL_BODY };

struct call {
    struct lws *wsi; /* NULL once the client left: the pending reply frees the call */
    enum call_step step;
    int status;
    char *body;       /* the answer: JSON, unless type says otherwise */
    const char *type; /* its content type, NULL for JSON */
    lws_sorted_usec_list_t delay;
    /* what a request that waits on Redis needs when its reply comes */
    struct ns *ns; /* NULL: every namespace */
    char id[ROOM_ID_MAX];
    size_t id_len;
    char prefix[ROOM_ID_MAX];
    size_t prefix_len;
    int closed;      /* DELETE: sockets closed (-1: the room was not in memory) */
    int scanned;     /* GET /rooms: rooms SCAN found on this page (first in rooms) */
    bool last_page;  /* GET /rooms: SCAN is done, memory-only rooms join this page */
    char cursor[32]; /* GET /rooms: the next SCAN cursor */
    json_t *rooms;   /* GET /rooms, GET /rooms/<ns>/<id>: rooms waiting for their stats */
    bool storage;    /* the target is .../<id>/storage */
    bool importing;  /* PUT .../storage: the body is being read into in */
    char *in;
    size_t in_len;
};

struct admin_session {
    struct call *call;
    unsigned pipeline_slot; /* watched by pipeline.c while an answer is owed */
};

static struct {
    const struct admin_config *cfg;
    struct lws_context *context;
} admin;

/* ---- answering ---- */

static void call_free(struct call *c) {
    lws_sul_cancel(&c->delay);
    json_decref(c->rooms);
    free(c->in);
    free(c->body);
    free(c);
}

/* Sets the answer (taking doc) and asks to write it; a call whose client left is freed. */
static void answer(struct call *c, int status, json_t *doc) {
    if (!c->wsi) {
        json_decref(doc);
        call_free(c);
        return;
    }
    c->status = status;
    c->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    c->step = CALL_HEADERS;
    struct admin_session *s = lws_wsi_user(c->wsi);
    pipeline_writing(s->pipeline_slot);
    lws_callback_on_writable(c->wsi);
}

/* Sets a text answer (taking body, malloc()ed) of content type type, and asks to write it. */
static void answer_text(struct call *c, int status, char *body, const char *type) {
    if (!c->wsi) {
        free(body);
        call_free(c);
        return;
    }
    c->status = status;
    c->body = body;
    c->type = type;
    c->step = CALL_HEADERS;
    lws_callback_on_writable(c->wsi);
}

static void answer_error(struct call *c, int status, const char *msg) {
    answer(c, status, json_pack("{s:s}", "error", msg));
}

static int write_answer(struct lws *wsi, struct call *c) {
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    size_t len = c->body ? strlen(c->body) : 0;
    if (c->step == CALL_HEADERS) {
        struct admin_session *s = lws_wsi_user(wsi);
        if (lws_add_http_common_headers(wsi, (unsigned)c->status,
                                        c->type ? c->type : "application/json", len, &p, end) ||
            (pipeline_seen(s->pipeline_slot) &&
             lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (unsigned char *)"close", 5,
                                          &p, end)) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        c->step = CALL_BODY;
        lws_callback_on_writable(wsi);
        return 0;
    }
    unsigned char *out = malloc(LWS_PRE + len + 1);
    if (!out)
        return -1;
    memcpy(out + LWS_PRE, c->body ? c->body : "", len);
    int n = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free(out);
    return n < 0 ? -1 : 0;
}

/* ---- authorisation ---- */

/* Whether a equals b, in a time that does not depend on where they differ. */
static bool same_secret(const char *a, size_t a_len, const char *b, size_t b_len) {
    unsigned char diff = a_len != b_len;
    for (size_t i = 0; i < b_len; i++)
        diff |= (unsigned char)(a[i < a_len ? i : 0] ^ b[i]);
    return a_len > 0 && diff == 0;
}

static bool authorized(struct lws *wsi) {
    const char *want = admin.cfg->token;
    char header[512];
    if (!want)
        return true; /* a loopback listener without a token (config.c refuses any other) */
    int n = lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n < 7 || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    return same_secret(header + 7, (size_t)n - 7, want, strlen(want));
}

static void refuse_later(lws_sorted_usec_list_t *sul) {
    struct call *c = lws_container_of(sul, struct call, delay);
    answer_error(c, 401, "a valid admin token is needed (Authorization: Bearer ...)");
}

/* ---- rooms and their stats ---- */

static json_t *room_json(const char *ns, const char *id, size_t id_len, const char *state) {
    return json_pack("{s:s,s:s%,s:s,s:i,s:i,s:i,s:n}", "ns", ns, "id", id, id_len, "state", state,
                     "connections", 0, "keys", 0, "bytes", 0, "alarm");
}

static long long reply_integer(const redisReply *r) {
    return r && r->type == REDIS_REPLY_INTEGER  ? r->integer
           : r && r->type == REDIS_REPLY_STRING ? atoll(r->str)
                                                : 0;
}

/* Fills room's keys, bytes, alarm and stored from its 4 stats replies at el[0..3], and its
 * memory state. */
static void fill_stats(json_t *room, redisReply **el) {
    json_object_set_new(room, "keys", json_integer(reply_integer(el[0])));
    json_object_set_new(room, "bytes", json_integer(reply_integer(el[1])));
    if (el[2]->type == REDIS_REPLY_STRING)
        json_object_set_new(room, "alarm", json_integer(atoll(el[2]->str)));
    json_object_set_new(room, "stored", json_boolean(reply_integer(el[3]) > 0));
    struct door_room_info info;
    const char *ns = json_string_value(json_object_get(room, "ns"));
    json_t *id = json_object_get(room, "id");
    struct ns *n = ns_find(ns, strlen(ns));
    if (n && door_room(n, json_string_value(id), json_string_length(id), &info, NULL, NULL)) {
        json_object_set_new(room, "state", json_string(info.state));
        json_object_set_new(room, "connections", json_integer(info.connections));
    }
}

/* Asks Redis for the stats of every room in c->rooms; done gets the reply. */
static int ask_stats(struct call *c, store_reply_fn *done) {
    size_t n = json_array_size(c->rooms);
    struct store_room *rooms = calloc(n + 1, sizeof *rooms);
    if (!rooms)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(c->rooms, i), *id = json_object_get(r, "id");
        rooms[i] = (struct store_room){json_string_value(json_object_get(r, "ns")),
                                       json_string_value(id), json_string_length(id)};
    }
    int rc = room_store_stats(rooms, (int)n, done, c);
    free(rooms);
    return rc;
}

/* ---- GET /rooms ---- */

static bool matches(const struct call *c, const char *ns, const char *id, size_t id_len) {
    return (!c->ns || strcmp(ns_name(c->ns), ns) == 0) && id_len >= c->prefix_len &&
           memcmp(id, c->prefix, c->prefix_len) == 0;
}

static void add_memory_room(const struct door_room_info *info, void *arg) {
    struct call *c = arg;
    if (matches(c, info->ns, info->id, info->id_len))
        json_array_append_new(c->rooms, room_json(info->ns, info->id, info->id_len, info->state));
}

static void on_page_stats(void *arg, redisReply *reply) {
    struct call *c = arg;
    size_t n = json_array_size(c->rooms);
    if (!c->wsi || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 * n) {
        answer_error(c, 503, "storage unavailable");
        return;
    }
    json_t *page = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *room = json_array_get(c->rooms, i);
        fill_stats(room, reply->element + 4 * i);
        bool memory_only = c->last_page && json_is_false(json_object_get(room, "stored"));
        if ((int)i < c->scanned || memory_only)
            json_array_append(page, room);
    }
    answer(c, 200,
           json_pack("{s:o,s:s?}", "rooms", page, "cursor", c->last_page ? NULL : c->cursor));
}

static void on_scan(void *arg, redisReply *reply) {
    struct call *c = arg;
    if (!c->wsi || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        answer_error(c, 503, "storage unavailable");
        return;
    }
    snprintf(c->cursor, sizeof c->cursor, "%s", reply->element[0]->str);
    c->last_page = strcmp(c->cursor, "0") == 0;
    redisReply *keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        char ns[ROOM_NS_MAX + 1], id[ROOM_ID_MAX];
        size_t id_len;
        if (room_store_parse_key(keys->element[i]->str, keys->element[i]->len, ns, sizeof ns, id,
                                 &id_len, sizeof id) == 0 &&
            matches(c, ns, id, id_len))
            json_array_append_new(c->rooms, room_json(ns, id, id_len, "stored"));
    }
    c->scanned = (int)json_array_size(c->rooms);
    if (c->last_page)
        door_each_room(c->ns, add_memory_room, c);
    if (ask_stats(c, on_page_stats) != 0)
        answer_error(c, 503, "storage unavailable");
}

/* The query parameter name (e.g. "ns="), or NULL. */
static const char *query(struct lws *wsi, const char *name, char *buf, int len) {
    return lws_get_urlarg_by_name(wsi, name, buf, len);
}

static void list_rooms(struct lws *wsi, struct call *c) {
    char buf[ROOM_ID_MAX + 16], cursor[32] = "0";
    const char *ns = query(wsi, "ns=", buf, sizeof buf);
    if (ns && !(c->ns = ns_find(ns, strlen(ns)))) {
        answer(c, 200, json_pack("{s:[],s:n}", "rooms", "cursor"));
        return;
    }
    const char *prefix = query(wsi, "prefix=", buf, sizeof buf);
    c->prefix_len = prefix ? strlen(prefix) : 0;
    memcpy(c->prefix, prefix ? prefix : "", c->prefix_len);
    const char *cur = query(wsi, "cursor=", buf, sizeof buf);
    snprintf(cursor, sizeof cursor, "%s", cur && *cur ? cur : "0");
    const char *lim = query(wsi, "limit=", buf, sizeof buf);
    long limit = lim ? strtol(lim, NULL, 10) : PAGE_DEFAULT;
    limit = limit < 1 ? 1 : limit > PAGE_MAX ? PAGE_MAX : limit;
    c->rooms = json_array();
    if (room_store_scan(cursor, c->ns ? ns_name(c->ns) : NULL, c->prefix, c->prefix_len, (int)limit,
                        on_scan, c) != 0)
        answer_error(c, 503, "storage unavailable");
}

/* ---- GET and DELETE /rooms/<ns>/<id> ---- */

static void add_conn(const struct door_conn_info *ci, void *arg) {
    json_t *conns = arg, *tags = json_array();
    for (int i = 0; i < ci->n_tags; i++)
        json_array_append_new(tags, json_string(ci->tags[i]));
    json_t *auth = ci->auth ? json_loads(ci->auth, 0, NULL) : NULL;
    json_t *sub = json_object_get(auth, "sub");
    json_array_append_new(
        conns, json_pack("{s:I,s:o,s:o?,s:O?,s:I}", "id", (json_int_t)ci->id, "tags", tags,
                         "attachment", ci->attachment ? json_loads(ci->attachment, 0, NULL) : NULL,
                         "subject", sub, "queued_bytes", (json_int_t)ci->queued_bytes));
    json_decref(auth);
}

static void on_room_stats(void *arg, redisReply *reply) {
    struct call *c = arg;
    if (!c->wsi || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
        answer_error(c, 503, "storage unavailable");
        return;
    }
    json_t *room = json_incref(json_array_get(c->rooms, 0)), *conns = json_array();
    fill_stats(room, reply->element);
    struct door_room_info info;
    bool live = door_room(c->ns, c->id, c->id_len, &info, add_conn, conns);
    json_object_set_new(room, "conns", conns);
    if (!live && json_is_false(json_object_get(room, "stored"))) {
        json_decref(room);
        answer_error(c, 404, "no such room, in memory or in storage");
    } else {
        answer(c, 200, room);
    }
}

static void show_room(struct call *c) {
    c->rooms = json_pack("[o]", room_json(ns_name(c->ns), c->id, c->id_len, "stored"));
    if (ask_stats(c, on_room_stats) != 0)
        answer_error(c, 503, "storage unavailable");
}

#define HELD_ELSEWHERE "the room is live on another node: use that node's admin API"

static void on_deleted(void *arg, redisReply *reply) {
    struct call *c = arg;
    if (room_store_refused(reply)) {
        answer_error(c, 409, HELD_ELSEWHERE);
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        answer_error(c, 503, "storage unavailable: the room may not be deleted");
        return;
    }
    door_evict(c->ns, c->id, c->id_len, DELETE_CODE, "room deleted", true); /* a load in flight */
    long long keys = 0; /* the DELs' counts, before the last reply (ZREM's) */
    for (size_t i = 0; i + 1 < reply->elements; i++)
        keys += reply_integer(reply->element[i]);
    if (keys == 0 && c->closed < 0) {
        answer_error(c, 404, "no such room, in memory or in storage");
        return;
    }
    log_info("[admin] deleted room %s:%.*s (%lld keys, %d connections closed)", ns_name(c->ns),
             (int)c->id_len, c->id, keys, c->closed < 0 ? 0 : c->closed);
    answer(
        c, 200,
        json_pack("{s:b,s:i,s:b}", "ok", 1, "closed", c->closed < 0 ? 0 : c->closed, "deleted", 1));
}

static void delete_room(struct lws *wsi, struct call *c) {
    char buf[32];
    const char *v = query(wsi, "close_only=", buf, sizeof buf);
    bool close_only = v && strcmp(v, "1") == 0;
    c->closed = door_evict(c->ns, c->id, c->id_len, DELETE_CODE, "room deleted", !close_only);
    if (close_only && c->closed < 0)
        answer_error(c, 404, "no such room in memory");
    else if (close_only)
        answer(c, 200, json_pack("{s:b,s:i,s:b}", "ok", 1, "closed", c->closed, "deleted", 0));
    else if (room_store_delete(ns_name(c->ns), c->id, c->id_len, on_deleted, c) != 0)
        answer_error(c, 503, "storage unavailable");
}

/* "/rooms/<ns>/<id>": the id is everything after the namespace's slash. */
static int room_target(struct call *c, const char *path) {
    const char *ns = path + 7, *slash = strchr(ns, '/');
    if (!slash || !slash[1] || strlen(slash + 1) > ROOM_ID_MAX ||
        !(c->ns = ns_find(ns, (size_t)(slash - ns))))
        return -1;
    c->id_len = strlen(slash + 1);
    memcpy(c->id, slash + 1, c->id_len);
    return 0;
}

/* ---- usage ---- */

static void answer_usage(void *arg, int status, json_t *doc) {
    answer(arg, status, doc);
}

/* Whether the target is ".../<id>/usage": then the id is what precedes it. */
static bool usage_target(struct call *c) {
    static const char suffix[] = "/usage";
    size_t n = sizeof suffix - 1;
    if (c->id_len <= n || memcmp(c->id + c->id_len - n, suffix, n) != 0)
        return false;
    c->id_len -= n;
    return true;
}

static void room_usage(struct lws *wsi, struct call *c) {
    char from[16], to[16];
    usage_api_room(c->ns, c->id, c->id_len, query(wsi, "from=", from, sizeof from),
                   query(wsi, "to=", to, sizeof to), answer_usage, c);
}

static void top_usage(struct lws *wsi, struct call *c) {
    char by[16], ns[ROOM_NS_MAX + 1], day[16], limit[16];
    usage_api_top(query(wsi, "by=", by, sizeof by), query(wsi, "ns=", ns, sizeof ns),
                  query(wsi, "day=", day, sizeof day), query(wsi, "limit=", limit, sizeof limit),
                  answer_usage, c);
}

/* ---- GET and PUT /rooms/<ns>/<id>/storage ---- */

/* Whether the target is ".../<id>/storage": then the id is what precedes it. */
static bool storage_target(struct call *c) {
    static const char suffix[] = "/storage";
    size_t n = sizeof suffix - 1;
    if (c->id_len <= n || memcmp(c->id + c->id_len - n, suffix, n) != 0)
        return false;
    c->id_len -= n;
    c->storage = true;
    return true;
}

/* One stored entry as exported: its key (as text, or base64 when it is not UTF-8), its value as
 * JSON where JSON can carry it, and always its stored bytes. */
static json_t *export_entry(struct ns *ns, const redisReply *k, const redisReply *v) {
    size_t len;
    bool decodable;
    char *json = door_value_json(ns, v->str, v->len, &len, &decodable);
    char *raw = base64_encode(v->str, v->len), *key64 = NULL;
    json_t *e = json_object();
    if (utf8_valid(k->str, k->len))
        json_object_set_new(e, "key", json_stringn(k->str, k->len));
    else if ((key64 = base64_encode(k->str, k->len)))
        json_object_set_new(e, "key_base64", json_string(key64));
    if (json)
        json_object_set_new(e, "value", json_loadb(json, len, JSON_DECODE_ANY, NULL));
    json_object_set_new(e, "raw", raw ? json_string(raw) : json_null());
    free(json);
    free(raw);
    free(key64);
    return e;
}

static void on_exported(void *arg, redisReply *reply) {
    struct call *c = arg;
    if (!c->wsi || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY) {
        answer_error(c, 503, "storage unavailable");
        return;
    }
    /* the unnamed alarm, or one stored before named alarms (room_store_export) */
    const redisReply *kv = reply->element[0], *alarm = reply->element[1];
    if (alarm->type != REDIS_REPLY_STRING)
        alarm = reply->element[2];
    json_t *entries = json_array();
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        json_array_append_new(entries, export_entry(c->ns, kv->element[i], kv->element[i + 1]));
    json_t *when =
        alarm->type == REDIS_REPLY_STRING ? json_integer(atoll(alarm->str)) : json_null();
    answer(c, 200,
           json_pack("{s:s,s:s,s:o,s:o}", "format", EXPORT_FORMAT, "ns", ns_name(c->ns), "alarm",
                     when, "entries", entries));
}

static void export_room(struct call *c) {
    if (room_store_export(ns_name(c->ns), c->id, c->id_len, on_exported, c) != 0)
        answer_error(c, 503, "storage unavailable");
}

/* A raw value: base64 of bytes the codec wrote, within the value limit. */
static char *raw_value(struct ns *ns, json_t *raw, size_t *len) {
    bool decodable = false;
    size_t n;
    char *bytes = base64_decode(json_string_value(raw), json_string_length(raw), len);
    free(bytes ? door_value_json(ns, bytes, *len, &n, &decodable) : NULL);
    if (bytes && decodable && *len <= STORAGE_VALUE_MAX)
        return bytes;
    free(bytes);
    return NULL;
}

/* Fills e from one entry of a document (its key and stored bytes, malloc()ed); NULL, or what is
 * wrong with it (in err, or a constant). */
static const char *import_entry(struct ns *ns, json_t *in, struct storage_entry *e, char *err,
                                size_t errlen) {
    json_t *key = json_object_get(in, "key"), *key64 = json_object_get(in, "key_base64");
    json_t *raw = json_object_get(in, "raw"), *value = json_object_get(in, "value");
    size_t n = 0;
    if (json_is_string(key))
        e->key = strndup(json_string_value(key), n = json_string_length(key));
    else if (json_is_string(key64))
        e->key = base64_decode(json_string_value(key64), json_string_length(key64), &n);
    else
        return "an entry has no key (\"key\" or \"key_base64\")";
    e->key_len = e->key ? n : 0;
    if (!e->key || n == 0 || n > STORAGE_KEY_MAX)
        return "a key is empty, not base64, or over 2048 bytes";
    if (json_is_string(raw))
        return (e->value = raw_value(ns, raw, &e->value_len))
                   ? NULL
                   : "a \"raw\" value is not base64 of a stored value of at most 131072 bytes";
    if (!value)
        return "an entry has no value (\"value\" or \"raw\")";
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    e->value = text ? door_value_bytes(ns, text, strlen(text), &e->value_len, err, errlen) : NULL;
    free(text);
    return e->value ? NULL : err;
}

static void free_entries(struct storage_entry *e, int n) {
    for (int i = 0; e && i < n; i++) {
        free((char *)e[i].key);
        free((char *)e[i].value);
    }
    free(e);
}

/* The document's entries as storage entries; NULL with why in err. */
static struct storage_entry *import_entries(struct call *c, json_t *doc, int *n, char *err,
                                            size_t errlen) {
    json_t *list = json_object_get(doc, "entries");
    *n = (int)json_array_size(list);
    struct storage_entry *e = calloc((size_t)*n + 1, sizeof *e);
    const char *why = !json_is_array(list) ? "\"entries\" is not a list"
                      : e                  ? NULL
                                           : "out of memory";
    for (int i = 0; !why && i < *n; i++)
        why = import_entry(c->ns, json_array_get(list, (size_t)i), &e[i], err, errlen);
    if (!why)
        return e;
    if (why != err)
        snprintf(err, errlen, "%s", why);
    free_entries(e, *n);
    return NULL;
}

static void on_imported(void *arg, redisReply *reply) {
    struct call *c = arg;
    door_evict(c->ns, c->id, c->id_len, 0, NULL, true); /* a live room starts again from it */
    if (room_store_refused(reply)) {
        answer_error(c, 409, HELD_ELSEWHERE);
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        answer_error(c, 503, "storage unavailable: the import may not have been stored");
        return;
    }
    log_info("[admin] imported the storage of room %s:%.*s (%d keys)", ns_name(c->ns),
             (int)c->id_len, c->id, c->scanned);
    answer(c, 200, json_pack("{s:b,s:i}", "ok", 1, "keys", c->scanned));
}

/* Checks the whole document first: a bad one changes nothing. */
static void import_room(struct call *c) {
    char err[256];
    int n = 0;
    json_t *doc = json_loadb(c->in ? c->in : "", c->in_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *format = json_object_get(doc, "format"), *alarm = json_object_get(doc, "alarm");
    struct storage_entry *e = NULL;
    if (!json_is_string(format) || strcmp(json_string_value(format), EXPORT_FORMAT) != 0)
        snprintf(err, sizeof err, "not an export: a JSON object with \"format\": \"%s\"",
                 EXPORT_FORMAT);
    else if (alarm && !json_is_null(alarm) && !json_is_integer(alarm))
        snprintf(err, sizeof err, "\"alarm\" is not a time in ms or null");
    else
        e = import_entries(c, doc, &n, err, sizeof err);
    c->scanned = n;
    if (!e) {
        answer_error(c, 400, err);
    } else {
        door_evict(c->ns, c->id, c->id_len, 0, NULL, true); /* no turn mixes old and new */
        if (room_store_import(ns_name(c->ns), c->id, c->id_len, e, n,
                              json_is_integer(alarm) ? json_integer_value(alarm) : 0, on_imported,
                              c) != 0)
            answer_error(c, 503, "storage unavailable");
    }
    free_entries(e, n);
    json_decref(doc);
}

static int take_body(struct call *c, const void *in, size_t len) {
    if (c->in_len + len > IMPORT_MAX) {
        c->importing = false;
        answer_error(c, 413, "the document is over 64 MiB");
        return 0;
    }
    char *more = realloc(c->in, c->in_len + len + 1);
    if (!more)
        return -1;
    memcpy(more + c->in_len, in, len);
    c->in = more;
    c->in_len += len;
    return 0;
}

/* ---- the rest ---- */

static void health(struct call *c) {
    struct door_stats st;
    door_stats(&st);
    answer(c, 200,
           json_pack("{s:s,s:I,s:i,s:I}", "status", "ok", "rooms", (json_int_t)st.rooms,
                     "connections", server.ws_open, "lua_bytes", (json_int_t)st.lua_bytes));
}

static void metrics(struct call *c) {
    size_t len;
    char *text = metrics_render(&len);
    if (text)
        answer_text(c, 200, text, METRICS_CONTENT_TYPE);
    else
        answer_error(c, 503, "out of memory");
}

static void reload(struct lws *wsi, struct call *c) {
    char buf[64], err[2048];
    const char *only = query(wsi, "ns=", buf, sizeof buf);
    json_t *list = json_array();
    bool all_ok = true, any = false;
    for (size_t i = 0; i < ns_count(); i++) {
        if (only && strcmp(only, ns_name(ns_at(i))) != 0)
            continue;
        any = true;
        bool ok = reload_namespace(ns_at(i), err, sizeof err) == 0;
        all_ok &= ok;
        json_array_append_new(list, json_pack("{s:s,s:b,s:s?}", "ns", ns_name(ns_at(i)), "ok", ok,
                                              "error", ok ? NULL : err));
    }
    if (any) {
        answer(c, 200, json_pack("{s:b,s:o}", "ok", all_ok, "namespaces", list));
    } else {
        json_decref(list);
        answer_error(c, 404, "no such namespace");
    }
}

/* GET or DELETE /rooms/<ns>/<id>; GET or PUT /rooms/<ns>/<id>/storage. */
static void room_call(struct lws *wsi, struct call *c, const char *method) {
    bool get = strcmp(method, "GET") == 0;
    if (get && usage_target(c))
        room_usage(wsi, c);
    else if (!storage_target(c) && get)
        show_room(c);
    else if (!c->storage && strcmp(method, "DELETE") == 0)
        delete_room(wsi, c);
    else if (!c->storage)
        answer_error(c, 405, "a room takes GET and DELETE");
    else if (get)
        export_room(c);
    else if (strcmp(method, "PUT") != 0)
        answer_error(c, 405, "a room's storage takes GET and PUT");
    else if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        answer_error(c, 411, "send the document with a Content-Length");
    else
        c->importing = true; /* import_room runs once the body is in */
}

static void route(struct lws *wsi, struct call *c, const char *method, const char *path) {
    bool get = strcmp(method, "GET") == 0;
    if (get && strcmp(path, "/healthz") == 0)
        health(c);
    else if (get && strcmp(path, "/readyz") == 0 && store_connected())
        answer(c, 200, json_pack("{s:b}", "ready", 1));
    else if (get && strcmp(path, "/readyz") == 0)
        answer_error(c, 503, "storage unreachable");
    else if (get && strcmp(path, "/metrics") == 0)
        metrics(c);
    else if (strcmp(method, "POST") == 0 && strcmp(path, "/reload") == 0)
        reload(wsi, c);
    else if (get && strcmp(path, "/rooms") == 0)
        list_rooms(wsi, c);
    else if (get && strcmp(path, "/usage/top") == 0)
        top_usage(wsi, c);
    else if (strncmp(path, "/rooms/", 7) != 0)
        answer_error(c, 404, "no such endpoint");
    else if (room_target(c, path) != 0)
        answer_error(c, 404, "no such namespace, or no room id");
    else
        room_call(wsi, c, method);
}

static int on_request(struct lws *wsi, struct admin_session *s, const char *path) {
    char *uri;
    int uri_len;
    static const char *const methods[] = {"GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE"};
    int m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    struct call *c = calloc(1, sizeof *c);
    if (!c || pipeline_busy(&s->pipeline_slot, wsi) != 0) {
        free(c);
        return -1;
    }
    c->wsi = wsi;
    s->call = c;
    if (!authorized(wsi)) {
        log_limited(LOG_WARN, "[admin] refused a request without the admin token");
        lws_sul_schedule(admin.context, 0, &c->delay, refuse_later, REFUSE_DELAY_US);
        return 0;
    }
    if (m < 0 || m >= (int)(sizeof methods / sizeof *methods))
        answer_error(c, 405, "method not allowed");
    else
        route(wsi, c, methods[m], path);
    return 0;
}

/* The client left: a call still waiting is abandoned, its reply frees it. */
static void on_closed(struct admin_session *s) {
    pipeline_idle(&s->pipeline_slot);
    struct call *c = s->call;
    s->call = NULL;
    if (!c)
        return;
    if (c->step != CALL_WAITING || c->importing || lws_dll2_is_detached(&c->delay.list) == 0)
        call_free(c); /* answered, or waiting on its timer or its body: nothing else has it */
    else
        c->wsi = NULL; /* waiting on Redis */
}

/* Writes the answer: the headers, then the body, after which the call ends (before lws reuses
 * the session for the connection's next request). */
static int on_writable(struct lws *wsi, struct admin_session *s) {
    struct call *c = s->call;
    if (!c || c->step == CALL_WAITING)
        return 0;
    bool last = c->step == CALL_BODY;
    int rc = write_answer(wsi, c);
    if (!last)
        return rc;
    call_free(c);
    s->call = NULL;
    bool pipelined = pipeline_idle(&s->pipeline_slot);
    return rc != 0 || pipelined || lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The body is in: an import runs now; any other answer waited for this (lws holds it back). */
static void on_body_done(struct lws *wsi, struct admin_session *s) {
    if (s->call && s->call->importing) {
        s->call->importing = false;
        import_room(s->call);
    } else if (s->call && s->call->step != CALL_WAITING) {
        lws_callback_on_writable(wsi);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    struct admin_session *s = user;
    if (reason == LWS_CALLBACK_FILTER_NETWORK_CONNECTION) {
        wire_forget((int)(intptr_t)in); /* a roomd connection's fd, reused: not looked at here */
        return 0;
    }
    if (reason == LWS_CALLBACK_HTTP)
        return on_request(wsi, s, in);
    if (reason == LWS_CALLBACK_HTTP_WRITEABLE)
        return on_writable(wsi, s);
    if (reason == LWS_CALLBACK_HTTP_BODY) /* only an import takes one; others are dropped */
        return s->call && s->call->importing ? take_body(s->call, in, len) : 0;
    if (reason == LWS_CALLBACK_HTTP_BODY_COMPLETION)
        on_body_done(wsi, s);
    else if (reason == LWS_CALLBACK_CLOSED_HTTP && s)
        on_closed(s);
    else if (reason == LWS_CALLBACK_WSI_DESTROY && s && lws_get_protocol(wsi) &&
             lws_get_protocol(wsi)->callback == callback)
        pipeline_idle(&s->pipeline_slot); /* in case lws closed it without CLOSED_HTTP */
    else
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"roomd-admin", callback, sizeof(struct admin_session), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int admin_start(struct lws_context *context, const struct admin_config *cfg) {
    if (!cfg->port)
        return 0;
    struct lws_context_creation_info info = {
        .port = cfg->port, .iface = cfg->host, .vhost_name = "roomd-admin", .protocols = protocols};
    admin.cfg = cfg;
    admin.context = context;
    if (!lws_create_vhost(context, &info)) {
        fprintf(stderr, "roomd: cannot listen for the admin API on %s:%d\n", cfg->host, cfg->port);
        return -1;
    }
    log_info("admin API on http://%s:%d/%s", cfg->host, cfg->port,
             cfg->token ? "" : " (no token: loopback only)");
    return 0;
}
