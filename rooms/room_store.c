/* room_store: loading and checkpointing rooms through store.c; see
 * room_store.h. */
#include "room_store.h"

#include "clock.h"
#include "lease.h"
#include "log.h"
#include "ns_internal.h"
#include "percent.h"
#include "registry.h"
#include "room_internal.h"
#include "storage_lua.h"
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX (32 + 3 * 256 + 16)
/* A fenced commit's keys (lease, kv, meta, alarms, alarm_data, the alarm index), and the most
 * arguments one of its commands passes to redis.call (Redis' Lua unpacks at most ~8000). */
#define FENCED_KEYS 6
#define FENCED_PIECE 1000
#define SMALL_ARGS 18 /* a command of up to 8 keys takes no malloc for its argument arrays */

struct ticket {
    struct ns *ns;
    uint64_t generation;
    long long sent_ns; /* a commit's: when it was sent */
    size_t id_len;
    char id[];
};

bool room_store_enabled(void) {
    return store_started();
}

void room_store_member(const char *ns, const char *id, size_t id_len, char *out, size_t len) {
    size_t n = (size_t)snprintf(out, len, "%s:", ns);
    percent_encode(id, id_len, out, n, len);
}

/* Appends s to out (n bytes long, cap bytes of room), truncating, NUL-terminated. Returns the
 * new length. */
static size_t append(char *out, size_t n, size_t cap, const char *s, size_t len) {
    if (n + 1 >= cap)
        return n;
    if (len > cap - 1 - n)
        len = cap - 1 - n;
    memcpy(out + n, s, len);
    out[n + len] = '\0';
    return n + len;
}

/* Built without snprintf: every checkpoint names its key. */
void room_store_key(const char *ns, const char *id, size_t id_len, char *out, size_t len) {
    size_t n = append(out, 0, len, "rd:{", 4);
    n = append(out, n, len, ns, strlen(ns));
    n = append(out, n, len, ":", 1);
    n = percent_encode(id, id_len, out, n, len > 4 ? len - 4 : len);
    append(out, n, len, "}:kv", 4);
}

/* The key of the room's other keys: its storage key with suffix ("meta", "alarms",
 * "alarm_data") for "kv". */
static void sibling_key(const char *kv_key, const char *suffix, char *out, size_t len) {
    snprintf(out, len, "%.*s%s", (int)(strlen(kv_key) - 2), kv_key, suffix);
}

void room_store_sibling(const char *ns, const char *id, size_t id_len, const char *suffix,
                        char *out, size_t len) {
    char kv[KEY_MAX];
    room_store_key(ns, id, id_len, kv, sizeof kv);
    sibling_key(kv, suffix, out, len);
}

static void meta_key(const char *kv_key, char *out, size_t len) {
    sibling_key(kv_key, "meta", out, len);
}

static int hex_value(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int room_store_parse_member(const char *member, size_t len, char *ns, size_t ns_cap, char *id,
                            size_t *id_len, size_t id_cap) {
    const char *colon = memchr(member, ':', len);
    if (!colon || (size_t)(colon - member) >= ns_cap)
        return -1;
    memcpy(ns, member, (size_t)(colon - member));
    ns[colon - member] = '\0';
    size_t n = 0;
    for (const char *p = colon + 1, *end = member + len; p < end; p++) {
        if (n == id_cap)
            return -1;
        if (*p != '%') {
            id[n++] = *p;
            continue;
        }
        if (end - p < 3 || hex_value(p[1]) < 0 || hex_value(p[2]) < 0)
            return -1;
        id[n++] = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
        p += 2;
    }
    *id_len = n;
    return 0;
}

static struct ticket *ticket_new(const struct room *r) {
    struct ticket *t = malloc(sizeof *t + r->id_len);
    if (!t)
        return NULL;
    t->ns = r->ns;
    t->generation = r->generation;
    t->id_len = r->id_len;
    memcpy(t->id, r->id, r->id_len);
    return t;
}

/* The room a ticket was issued for, if it is still that room; frees the ticket. */
static struct room *ticket_redeem(struct ticket *t) {
    struct room *r = registry_find(t->ns, t->id, t->id_len);
    if (r && r->generation != t->generation)
        r = NULL;
    free(t);
    return r;
}

static bool reply_ok(const redisReply *reply, int type) {
    return reply && reply->type == type;
}

/* Whether reply is an array of pairs (HGETALL, ZRANGE WITHSCORES). */
static bool pairs_ok(const redisReply *reply) {
    return reply->type == REDIS_REPLY_ARRAY && reply->elements % 2 == 0;
}

/* The pairs of reply as entries (malloc()ed, at least one; NULL on out-of-memory), pointing into
 * it. */
static struct storage_entry *entries_of(const redisReply *reply) {
    int n = (int)reply->elements / 2;
    struct storage_entry *e = calloc((size_t)n + 1, sizeof *e);
    for (int i = 0; e && i < n; i++) {
        redisReply *k = reply->element[2 * i], *v = reply->element[2 * i + 1];
        e[i] = (struct storage_entry){k->str, v->str, k->len, v->len};
    }
    return e;
}

/* Fills r from the four parts of a load: [entries, [alarm, retries, epoch], alarms, extras].
 * The meta hash's alarm is one stored before named alarms: the room moves it into its alarm set
 * with its next checkpoint. The activation's epoch is epoch, or (0) the stored one + 1. */
static void load_from(struct room *r, redisReply *const *part, long long epoch) {
    if (!pairs_ok(part[0]) || part[1]->type != REDIS_REPLY_ARRAY || part[1]->elements != 3 ||
        !pairs_ok(part[2]) || !pairs_ok(part[3])) {
        log_error("[room %s] cannot load storage: malformed reply", r->tag);
        room_loaded(r, NULL, -1, NULL);
        return;
    }
    redisReply *kv = part[0], *alarm = part[1]->element[0], *retries = part[1]->element[1],
               *stored = part[1]->element[2];
    struct storage_entry *e = entries_of(kv), *times = entries_of(part[2]),
                         *extras = entries_of(part[3]);
    struct storage_alarms alarms = {
        times,
        extras,
        (int)part[2]->elements / 2,
        (int)part[3]->elements / 2,
        alarm->type == REDIS_REPLY_STRING ? strtod(alarm->str, NULL) : 0,
        retries->type == REDIS_REPLY_STRING ? atoi(retries->str) : 0,
    };
    r->epoch = epoch ? epoch : (stored->type == REDIS_REPLY_STRING ? atoll(stored->str) : 0) + 1;
    r->epoch_stored = false;
    room_loaded(r, e, e && times && extras ? (int)kv->elements / 2 : -1, &alarms);
    free(e);
    free(times);
    free(extras);
}

static void load_failed(struct room *r, const redisReply *reply) {
    log_error("[room %s] cannot load storage: %s", r->tag,
              reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no connection");
    room_loaded(r, NULL, -1, NULL);
}

/* The reply to MULTI; HGETALL kv; HMGET meta alarm retries epoch; ZRANGE alarms 0 -1
 * WITHSCORES; HGETALL alarm_data; EXEC. Loading writes nothing: a room that never stores
 * leaves nothing in Redis. */
static void on_loaded(void *arg, redisReply *reply) {
    struct room *r = ticket_redeem(arg);
    if (!r)
        return;
    if (!reply_ok(reply, REDIS_REPLY_ARRAY) || reply->elements != 4)
        load_failed(r, reply);
    else
        load_from(r, reply->element, 0);
}

/* Cluster mode: the reply to roomd_acquire (rooms/lease.lua): {"ok", epoch, the four parts of
 * a load}, or {"held" | "wanted", holder}. */
static void on_acquired(void *arg, redisReply *reply) {
    long long sent_ms = ((struct ticket *)arg)->sent_ns / 1000000;
    struct room *r = ticket_redeem(arg);
    if (!r)
        return;
    const redisReply *status = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2
                                   ? reply->element[0]
                                   : NULL;
    if (!status || status->type != REDIS_REPLY_STRING) {
        lease_check_error(reply);
        load_failed(r, reply);
    } else if (strcmp(status->str, "ok") == 0 && reply->elements == 6 &&
               reply->element[1]->type == REDIS_REPLY_INTEGER) {
        lease_acquired(r, reply->element[1]->integer, sent_ms);
        load_from(r, reply->element + 2, reply->element[1]->integer);
    } else if (reply->element[1]->type == REDIS_REPLY_STRING &&
               (strcmp(status->str, "held") == 0 || strcmp(status->str, "wanted") == 0)) {
        if (!lease_wait(r, reply->element[1]->str, reply->element[1]->len, status->str[0] == 'w'))
            room_lease_refused(r);
    } else {
        load_failed(r, reply);
    }
}

/* Cluster mode: takes the room's lease and reads it in one call (lease.h). */
static int send_acquire(struct room *r, struct ticket *t) {
    char key[KEY_MAX], lease[KEY_MAX], meta[KEY_MAX], alarms[KEY_MAX], extras[KEY_MAX],
        want[KEY_MAX], ms[24];
    room_store_key(r->ns->name, r->id, r->id_len, key, sizeof key);
    sibling_key(key, "lease", lease, sizeof lease);
    meta_key(key, meta, sizeof meta);
    sibling_key(key, "alarms", alarms, sizeof alarms);
    sibling_key(key, "alarm_data", extras, sizeof extras);
    sibling_key(key, "want", want, sizeof want);
    snprintf(ms, sizeof ms, "%ld", lease_duration_ms());
    const char *argv[] = {"FCALL", "roomd_acquire", "6",  lease,        key, meta,
                          alarms,  extras,          want, lease_node(), ms};
    t->sent_ns = clock_ns();
    return store_command(on_acquired, t, 11, argv, NULL);
}

void room_store_load(struct room *r) {
    char key[KEY_MAX], meta[KEY_MAX], alarms[KEY_MAX], extras[KEY_MAX];
    room_store_key(r->ns->name, r->id, r->id_len, key, sizeof key);
    meta_key(key, meta, sizeof meta);
    sibling_key(key, "alarms", alarms, sizeof alarms);
    sibling_key(key, "alarm_data", extras, sizeof extras);
    const char *multi[] = {"MULTI"}, *all[] = {"HGETALL", key},
               *meta_fields[] = {"HMGET", meta, "alarm", "retries", "epoch"},
               *times[] = {"ZRANGE", alarms, "0", "-1", "WITHSCORES"},
               *data[] = {"HGETALL", extras}, *exec[] = {"EXEC"};
    struct ticket *t = ticket_new(r);
    if (t && lease_enabled()) {
        if (send_acquire(r, t) != 0) {
            free(t);
            room_loaded(r, NULL, -1, NULL);
        }
        return;
    }
    if (!t || store_command(NULL, NULL, 1, multi, NULL) != 0 ||
        store_command(NULL, NULL, 2, all, NULL) != 0 ||
        store_command(NULL, NULL, 5, meta_fields, NULL) != 0 ||
        store_command(NULL, NULL, 5, times, NULL) != 0 ||
        store_command(NULL, NULL, 2, data, NULL) != 0 ||
        store_command(on_loaded, t, 1, exec, NULL) != 0) {
        free(t);
        room_loaded(r, NULL, -1, NULL);
    }
}

/* Counts a commit's answer: its time, and whether it failed. */
static void count_commit(struct ns *ns, long long sent_ns, bool ok) {
    counters_observe(&ns->counters.commit_time, (uint64_t)(clock_ns() - sent_ns));
    ns->counters.commit_failures += !ok;
}

/* The reply to a commit: EXEC's array, or the one command's integer when it went alone. */
static void committed(void *arg, const redisReply *reply, int type) {
    struct ticket *t = arg;
    bool ok = reply_ok(reply, type);
    count_commit(t->ns, t->sent_ns, ok);
    struct room *r = ticket_redeem(t);
    if (!ok && r)
        log_error("[room %s] checkpoint failed: %s", r->tag,
                  reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no connection");
    if (r)
        room_committed(r, ok);
}

static void on_committed(void *arg, redisReply *reply) {
    committed(arg, reply, REDIS_REPLY_ARRAY);
}

static void on_written(void *arg, redisReply *reply) {
    committed(arg, reply, REDIS_REPLY_INTEGER);
}

/* Cluster mode: a checkpoint's commands as the arguments of one roomd_commit call
 * (rooms/lease.lua), each as: count, command, key index, count arguments. The arguments are
 * copies: the commands' own buffers do not outlive send_part. */
struct fenced {
    const char *keys[FENCED_KEYS]; /* lease kv meta alarms alarm_data, the alarm index */
    char **args;
    size_t *lens;
    int n, cap;
    bool failed; /* out of memory: nothing is sent */
};

/* The batch send_part adds to, or NULL: each command goes to Redis as it comes (MULTI). */
static struct fenced *fencing;

static void fenced_add(struct fenced *b, const char *arg, size_t len) {
    if (b->failed)
        return;
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        char **args = realloc(b->args, (size_t)cap * sizeof *args);
        if (args)
            b->args = args;
        size_t *lens = realloc(b->lens, (size_t)cap * sizeof *lens);
        if (lens)
            b->lens = lens;
        if (!args || !lens) {
            b->failed = true;
            return;
        }
        b->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        b->failed = true;
        return;
    }
    memcpy(copy, arg, len);
    copy[len] = '\0';
    b->args[b->n] = copy;
    b->lens[b->n++] = len;
}

static void fenced_add_number(struct fenced *b, long n) {
    char text[24];
    fenced_add(b, text, (size_t)snprintf(text, sizeof text, "%ld", n));
}

/* Adds a command (its key one of b's keys) in pieces of at most FENCED_PIECE arguments, so
 * that the script's unpack() stays within Lua's stack; HSET and ZADD pieces keep their
 * pairs. */
static int fenced_command(struct fenced *b, int argc, const char **argv, const size_t *lens) {
    int key = 0;
    for (int k = 0; k < FENCED_KEYS && !key; k++)
        if (strcmp(argv[1], b->keys[k]) == 0)
            key = k + 1;
    if (!key)
        return -1;
    int piece = strcmp(argv[0], "HSET") == 0 || strcmp(argv[0], "ZADD") == 0
                    ? FENCED_PIECE - FENCED_PIECE % 2
                    : FENCED_PIECE;
    for (int from = 2; from < argc || from == 2; from += piece) { /* DEL key: no arguments */
        int n = argc - from < piece ? argc - from : piece;
        fenced_add_number(b, n);
        fenced_add(b, argv[0], strlen(argv[0]));
        fenced_add_number(b, key);
        for (int i = from; i < from + n; i++)
            fenced_add(b, argv[i], lens ? lens[i] : strlen(argv[i]));
    }
    return b->failed ? -1 : 0;
}

/* Starts b, a roomd_commit call of b's keys guarded by lease (the value the room's lease must
 * hold, or "": none), and makes send_part add to it. */
static void fenced_begin(struct fenced *b, const char *lease) {
    const char *head[] = {"FCALL", "roomd_commit", "6"};
    for (int i = 0; i < 3; i++)
        fenced_add(b, head[i], strlen(head[i]));
    for (int i = 0; i < FENCED_KEYS; i++)
        fenced_add(b, b->keys[i], strlen(b->keys[i]));
    fenced_add(b, lease, strlen(lease));
    fencing = b;
}

/* Ends b: sends it unless rc (its commands') or b failed, with fn(arg) for the reply; frees
 * it. Returns 0, or -1 when nothing was sent. */
static int fenced_end(struct fenced *b, int rc, store_reply_fn *fn, void *arg) {
    fencing = NULL;
    if (rc == 0 && !b->failed)
        rc = store_command(fn, arg, b->n, (const char **)b->args, b->lens);
    else
        rc = -1;
    for (int i = 0; i < b->n; i++)
        free(b->args[i]);
    free(b->args);
    free(b->lens);
    return rc;
}

bool room_store_refused(const redisReply *reply) {
    return reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "FENCED", 6) == 0;
}

/* Sends one command of the transaction; only EXEC's reply matters (it fails if any failed). */
static int send_part(int argc, const char **argv, const size_t *lens) {
    if (fencing)
        return fenced_command(fencing, argc, argv, lens);
    return store_command(NULL, NULL, argc, argv, lens);
}

/* HSET key k v ... for the puts, HDEL key k ... for the deletions; done(arg, reply) gets the
 * reply, or nothing does (NULL: a part of a transaction). */
static int send_writes(const char *key, const struct storage_writes *w, bool deletes,
                       store_reply_fn *done, void *arg) {
    int argc = 2, rc = -1;
    const char *small_argv[SMALL_ARGS];
    size_t small_lens[SMALL_ARGS];
    bool small = 2 * w->n + 2 <= SMALL_ARGS; /* most turns write a key or two: no malloc */
    const char **argv = small ? small_argv : malloc((size_t)(2 * w->n + 2) * sizeof *argv);
    size_t *lens = small ? small_lens : malloc((size_t)(2 * w->n + 2) * sizeof *lens);
    if (!argv || !lens)
        goto out;
    argv[0] = deletes ? "HDEL" : "HSET";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = strlen(key);
    for (int i = 0; i < w->n; i++) {
        const struct storage_entry *e = &w->entries[i];
        if (deletes != (e->value == NULL))
            continue;
        argv[argc] = e->key;
        lens[argc++] = e->key_len;
        if (!deletes) {
            argv[argc] = e->value;
            lens[argc++] = e->value_len;
        }
    }
    rc = argc <= 2 ? 0
         : done    ? store_command(done, arg, argc, argv, lens)
                   : send_part(argc, argv, lens);
out:
    if (!small) {
        free(argv);
        free(lens);
    }
    return rc;
}

/* The four commands the alarm changes of a checkpoint may need, each over the alarms it takes. */
enum alarm_part { ALARM_ZADD, ALARM_ZREM, ALARM_HSET, ALARM_HDEL };

static bool alarm_in(const struct storage_alarm *a, enum alarm_part part) {
    switch (part) {
    case ALARM_ZADD:
        return a->time > 0;
    case ALARM_ZREM:
        return a->time == 0;
    case ALARM_HSET:
        return a->time > 0 && a->data;
    case ALARM_HDEL:
        return a->time == 0 || !a->data;
    }
    return false;
}

/* One command over the alarms of w that belong to part: ZADD alarms time name ..., ZREM alarms
 * name ..., HSET alarm_data name extras ..., HDEL alarm_data name ... (nothing when none do). */
static int send_alarm_part(const char *key, const struct storage_writes *w, enum alarm_part part) {
    static const char *const cmds[] = {"ZADD", "ZREM", "HSET", "HDEL"};
    int argc = 2, rc = -1;
    const char **argv = malloc((size_t)(2 * w->n_alarms + 2) * sizeof *argv);
    size_t *lens = malloc((size_t)(2 * w->n_alarms + 2) * sizeof *lens);
    char(*when)[24] = malloc((size_t)w->n_alarms * sizeof *when + 1);
    if (!argv || !lens || !when)
        goto out;
    argv[0] = cmds[part], lens[0] = 4, argv[1] = key, lens[1] = strlen(key);
    for (int i = 0; i < w->n_alarms; i++) {
        const struct storage_alarm *a = &w->alarms[i];
        if (!alarm_in(a, part))
            continue;
        if (part == ALARM_ZADD) {
            argv[argc] = when[i];
            lens[argc++] = (size_t)snprintf(when[i], sizeof when[i], "%.0f", a->time);
        }
        argv[argc] = a->name, lens[argc++] = a->name_len;
        if (part == ALARM_HSET)
            argv[argc] = a->data, lens[argc++] = a->data_len;
    }
    rc = argc > 2 ? send_part(argc, argv, lens) : 0;
out:
    free(argv);
    free(lens);
    free(when);
    return rc;
}

/* The alarm changes: the room's alarm set and their extras, its member in the index of all rooms'
 * alarms (scored by its earliest alarm, or removed when it has none), and the removal of an
 * alarm stored before named alarms from the meta hash. */
static int send_alarms(const struct room *r, const char *key, const struct storage_writes *w) {
    char alarms[KEY_MAX], extras[KEY_MAX], meta[KEY_MAX], member[KEY_MAX], when[32];
    sibling_key(key, "alarms", alarms, sizeof alarms);
    sibling_key(key, "alarm_data", extras, sizeof extras);
    meta_key(key, meta, sizeof meta);
    room_store_member(r->ns->name, r->id, r->id_len, member, sizeof member);
    snprintf(when, sizeof when, "%.0f", w->next_alarm);
    const char *zadd[] = {"ZADD", ROOM_STORE_ALARMS, when, member},
               *zrem[] = {"ZREM", ROOM_STORE_ALARMS, member},
               *hdel[] = {"HDEL", meta, "alarm", "retries"};
    if (send_alarm_part(alarms, w, ALARM_ZADD) || send_alarm_part(alarms, w, ALARM_ZREM) ||
        send_alarm_part(extras, w, ALARM_HSET) || send_alarm_part(extras, w, ALARM_HDEL) ||
        (w->legacy_alarm && send_part(4, hdel, NULL)))
        return -1;
    return w->next_alarm > 0 ? send_part(4, zadd, NULL) : send_part(3, zrem, NULL);
}

/* The activation's epoch, with its first checkpoint: later multi-node fencing checks it. */
static int send_epoch(const struct room *r, const char *key) {
    char meta[KEY_MAX], epoch[24];
    meta_key(key, meta, sizeof meta);
    snprintf(epoch, sizeof epoch, "%lld", r->epoch);
    const char *hset[] = {"HSET", meta, "epoch", epoch};
    return send_part(4, hset, NULL);
}

/* Whether the commit is one command (only puts, or only deletions, after the activation's first
 * checkpoint): that command alone is atomic, so it goes without MULTI/EXEC, a third of the work
 * for Redis in the common one-key turn. Never in cluster mode: every commit is fenced. */
static bool single_command(const struct room *r, const struct storage_writes *w) {
    if (lease_enabled())
        return false;
    int puts = 0;
    for (int i = 0; i < w->n; i++)
        puts += w->entries[i].value != NULL;
    return r->epoch_stored && !w->cleared && !w->alarms_changed && w->n > 0 &&
           (puts == 0 || puts == w->n);
}

static void commit_failed(struct room *r, struct ticket *t) {
    r->ns->counters.commit_failures++;
    free(t);
    log_error("[room %s] checkpoint failed: no connection to storage", r->tag);
    room_committed(r, false);
}

/* w as MULTI ... EXEC, EXEC's reply to on_committed(t). Returns 0, or -1 (no connection). */
static int send_transaction(struct room *r, const char *key, const struct storage_writes *w,
                            struct ticket *t) {
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"}, *del[] = {"DEL", key};
    /* hiredis queues them all at once: they leave in one write with other rooms' commits. */
    if (send_part(1, multi, NULL) != 0 || (w->cleared && send_part(2, del, NULL) != 0) ||
        send_writes(key, w, true, NULL, NULL) != 0 || send_writes(key, w, false, NULL, NULL) != 0 ||
        (w->alarms_changed && send_alarms(r, key, w) != 0) ||
        (!r->epoch_stored && send_epoch(r, key) != 0) ||
        store_command(on_committed, t, 1, exec, NULL) != 0)
        return -1;
    r->epoch_stored = true; /* a failed commit resets the room: the next activation writes it */
    return 0;
}

/* Cluster mode: the reply to roomd_commit: 1, or an error; FENCED means another activation holds
 * the lease, and the room must go (lease.h). */
static void on_fenced_commit(void *arg, redisReply *reply) {
    struct ticket *t = arg;
    lease_check_error(reply);
    if (room_store_refused(reply)) {
        struct room *r = registry_find(t->ns, t->id, t->id_len);
        if (r && r->generation == t->generation)
            lease_fenced(r);
    }
    committed(arg, reply, REDIS_REPLY_ARRAY);
}

/* Cluster mode: w as one roomd_commit call, which stores it only while r's lease holds this
 * activation's value. Returns 0, or -1 (no connection, out of memory). */
static int send_fenced(struct room *r, const char *key, const struct storage_writes *w,
                       struct ticket *t) {
    char lease[KEY_MAX], meta[KEY_MAX], alarms[KEY_MAX], extras[KEY_MAX], value[KEY_MAX];
    sibling_key(key, "lease", lease, sizeof lease);
    meta_key(key, meta, sizeof meta);
    sibling_key(key, "alarms", alarms, sizeof alarms);
    sibling_key(key, "alarm_data", extras, sizeof extras);
    lease_value(r, value, sizeof value);
    struct fenced b = {.keys = {lease, key, meta, alarms, extras, ROOM_STORE_ALARMS}};
    const char *del[] = {"DEL", key};
    fenced_begin(&b, value);
    int rc = (w->cleared && send_part(2, del, NULL) != 0) ||
                     send_writes(key, w, true, NULL, NULL) != 0 ||
                     send_writes(key, w, false, NULL, NULL) != 0 ||
                     (w->alarms_changed && send_alarms(r, key, w) != 0) ||
                     (!r->epoch_stored && send_epoch(r, key) != 0) || b.failed
                 ? -1
                 : 0;
    rc = fenced_end(&b, rc, on_fenced_commit, t);
    if (rc == 0)
        r->epoch_stored = true;
    return rc;
}

void room_store_commit(struct room *r, const struct storage_writes *w) {
    char key[KEY_MAX];
    room_store_key(r->ns->name, r->id, r->id_len, key, sizeof key);
    struct ticket *t = ticket_new(r);
    int rc = -1;
    r->ns->counters.commits++;
    if (t)
        t->sent_ns = clock_ns();
    if (t && lease_enabled())
        rc = send_fenced(r, key, w, t);
    else if (t && single_command(r, w))
        rc = send_writes(key, w, w->entries[0].value == NULL, on_written, t);
    else if (t)
        rc = send_transaction(r, key, w, t);
    if (rc != 0)
        commit_failed(r, t);
}

int room_store_parse_key(const char *key, size_t len, char *ns, size_t ns_cap, char *id,
                         size_t *id_len, size_t id_cap) {
    const char *open = memchr(key, '{', len),
               *close = open ? memchr(open, '}', len - (size_t)(open - key)) : NULL;
    if (len < 4 || memcmp(key, "rd:{", 4) != 0 || !close || open != key + 3)
        return -1;
    return room_store_parse_member(open + 1, (size_t)(close - open - 1), ns, ns_cap, id, id_len,
                                   id_cap);
}

int room_store_scan(const char *cursor, const char *ns, const char *prefix, size_t prefix_len,
                    int count, store_reply_fn *fn, void *arg) {
    char match[KEY_MAX + 8], n[16];
    size_t len = (size_t)snprintf(match, sizeof match, "rd:{%s:", ns ? ns : "*");
    len = percent_encode(prefix, prefix_len, match, len, sizeof match - 8);
    snprintf(match + len, sizeof match - len, "*}:meta");
    snprintf(n, sizeof n, "%d", count);
    const char *argv[] = {"SCAN", cursor, "MATCH", match, "COUNT", n};
    return store_command(fn, arg, 6, argv, NULL);
}

int room_store_stats(const struct store_room *rooms, int n, store_reply_fn *fn, void *arg) {
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    if (store_command(NULL, NULL, 1, multi, NULL) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char key[KEY_MAX], meta[KEY_MAX], member[KEY_MAX];
        room_store_key(rooms[i].ns, rooms[i].id, rooms[i].id_len, key, sizeof key);
        meta_key(key, meta, sizeof meta);
        room_store_member(rooms[i].ns, rooms[i].id, rooms[i].id_len, member, sizeof member);
        const char *hlen[] = {"HLEN", key}, *usage[] = {"MEMORY", "USAGE", key},
                   *alarm[] = {"ZSCORE", ROOM_STORE_ALARMS, member}, *exists[] = {"EXISTS", meta};
        if (store_command(NULL, NULL, 2, hlen, NULL) != 0 ||
            store_command(NULL, NULL, 3, usage, NULL) != 0 ||
            store_command(NULL, NULL, 3, alarm, NULL) != 0 ||
            store_command(NULL, NULL, 2, exists, NULL) != 0)
            return -1;
    }
    return store_command(fn, arg, 1, exec, NULL);
}

int room_store_delete(const char *ns, const char *id, size_t id_len, store_reply_fn *fn,
                      void *arg) {
    char key[KEY_MAX], meta[KEY_MAX], member[KEY_MAX], alarms[KEY_MAX], extras[KEY_MAX];
    room_store_key(ns, id, id_len, key, sizeof key);
    meta_key(key, meta, sizeof meta);
    sibling_key(key, "alarms", alarms, sizeof alarms);
    sibling_key(key, "alarm_data", extras, sizeof extras);
    room_store_member(ns, id, id_len, member, sizeof member);
    const char *multi[] = {"MULTI"}, *del[] = {"DEL", key, meta, alarms, extras},
               *zrem[] = {"ZREM", ROOM_STORE_ALARMS, member}, *exec[] = {"EXEC"};
    if (lease_enabled()) { /* one key per command in a fenced call */
        char lease[KEY_MAX];
        sibling_key(key, "lease", lease, sizeof lease);
        struct fenced b = {.keys = {lease, key, meta, alarms, extras, ROOM_STORE_ALARMS}};
        fenced_begin(&b, "");
        int rc = 0;
        for (int i = 1; i < 5; i++)
            rc |= send_part(2, (const char *[]){"DEL", del[i]}, NULL);
        return fenced_end(&b, rc | send_part(3, zrem, NULL), fn, arg);
    }
    if (store_command(NULL, NULL, 1, multi, NULL) != 0 ||
        store_command(NULL, NULL, 5, del, NULL) != 0 ||
        store_command(NULL, NULL, 3, zrem, NULL) != 0)
        return -1;
    return store_command(fn, arg, 1, exec, NULL);
}

int room_store_export(const char *ns, const char *id, size_t id_len, store_reply_fn *fn,
                      void *arg) {
    char key[KEY_MAX], meta[KEY_MAX], alarms[KEY_MAX];
    room_store_key(ns, id, id_len, key, sizeof key);
    meta_key(key, meta, sizeof meta);
    sibling_key(key, "alarms", alarms, sizeof alarms);
    const char *multi[] = {"MULTI"}, *all[] = {"HGETALL", key}, *alarm[] = {"ZSCORE", alarms, ""},
               *legacy[] = {"HGET", meta, "alarm"}, *exec[] = {"EXEC"};
    if (store_command(NULL, NULL, 1, multi, NULL) != 0 ||
        store_command(NULL, NULL, 2, all, NULL) != 0 ||
        store_command(NULL, NULL, 3, alarm, NULL) != 0 ||
        store_command(NULL, NULL, 3, legacy, NULL) != 0)
        return -1;
    return store_command(fn, arg, 1, exec, NULL);
}

/* HSET key with every entry, in one command (of the transaction or the fenced call). */
static int send_entries(const char *key, const struct storage_entry *e, int n) {
    const char **argv = malloc(((size_t)n * 2 + 2) * sizeof *argv);
    size_t *lens = malloc(((size_t)n * 2 + 2) * sizeof *lens);
    int rc = -1;
    if (argv && lens) {
        argv[0] = "HSET", lens[0] = 4, argv[1] = key, lens[1] = strlen(key);
        for (int i = 0; i < n; i++) {
            argv[2 + 2 * i] = e[i].key, lens[2 + 2 * i] = e[i].key_len;
            argv[3 + 2 * i] = e[i].value, lens[3 + 2 * i] = e[i].value_len;
        }
        rc = send_part(n * 2 + 2, argv, lens);
    }
    free(argv);
    free(lens);
    return rc;
}

int room_store_import(const char *ns, const char *id, size_t id_len,
                      const struct storage_entry *entries, int n, long long alarm,
                      store_reply_fn *fn, void *arg) {
    char key[KEY_MAX], meta[KEY_MAX], member[KEY_MAX], alarms[KEY_MAX], extras[KEY_MAX], when[32];
    room_store_key(ns, id, id_len, key, sizeof key);
    meta_key(key, meta, sizeof meta);
    sibling_key(key, "alarms", alarms, sizeof alarms);
    sibling_key(key, "alarm_data", extras, sizeof extras);
    room_store_member(ns, id, id_len, member, sizeof member);
    snprintf(when, sizeof when, "%lld", alarm);
    const char *multi[] = {"MULTI"}, *del[] = {"DEL", key, alarms, extras}, *exec[] = {"EXEC"},
               *legacy[] = {"HDEL", meta, "alarm", "retries"},
               *set_alarm[] = {"ZADD", alarms, when, ""},
               *index[] = {"ZADD", ROOM_STORE_ALARMS, when, member},
               *unindex[] = {"ZREM", ROOM_STORE_ALARMS, member};
    struct fenced b = {.keys = {NULL, key, meta, alarms, extras, ROOM_STORE_ALARMS}};
    char lease[KEY_MAX];
    if (lease_enabled()) { /* one key per command in a fenced call */
        sibling_key(key, "lease", lease, sizeof lease);
        b.keys[0] = lease;
        fenced_begin(&b, "");
    }
    int rc = (fencing ? send_part(2, (const char *[]){"DEL", key}, NULL) ||
                            send_part(2, (const char *[]){"DEL", alarms}, NULL) ||
                            send_part(2, (const char *[]){"DEL", extras}, NULL)
                      : store_command(NULL, NULL, 1, multi, NULL) ||
                            store_command(NULL, NULL, 4, del, NULL)) ||
             send_part(4, legacy, NULL) || (n > 0 && send_entries(key, entries, n)) ||
             (alarm > 0 ? send_part(4, set_alarm, NULL) || send_part(4, index, NULL)
                        : send_part(3, unindex, NULL));
    if (fencing)
        return fenced_end(&b, rc ? -1 : 0, fn, arg);
    return rc ? -1 : store_command(fn, arg, 1, exec, NULL);
}
