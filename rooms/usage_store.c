/* usage_store: see usage_store.h. */
#include "usage_store.h"

#include "log.h"
#include "ns_internal.h"
#include "registry.h"
#include "room_internal.h"
#include "room_store.h"
#include "storage_lua.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define KEY_MAX 1024
#define NUM 24 /* a decimal uint64_t and its NUL */

const char *const usage_rank_names[USAGE_RANKS] = {"cpu_us", "requests", "messages", "bytes_out"};

/* KEYS: the day's hash, then the USAGE_RANKS sorted sets. ARGV: seconds to keep, the member,
 * stored bytes (-1: unknown), the USAGE_FIELDS counts in usage_field_names' order, then the
 * USAGE_RANKS increments. */
static const char flush_script[] =
    "local ttl, member = ARGV[1], ARGV[2]\n"
    "local names = {'requests', 'messages_in', 'messages_out', 'bytes_out', 'turns', 'cpu_us',\n"
    "               'memory_ms', 'conn_ms', 'reads', 'writes', 'deletes', 'alarms'}\n"
    "for i = 1, #names do\n"
    "  local v = tonumber(ARGV[3 + i])\n"
    "  if v ~= 0 then redis.call('HINCRBY', KEYS[1], names[i], v) end\n"
    "end\n"
    "if tonumber(ARGV[3]) >= 0 then redis.call('HSET', KEYS[1], 'stored_bytes', ARGV[3]) end\n"
    "redis.call('EXPIRE', KEYS[1], ttl)\n"
    "for j = 1, #KEYS - 1 do\n"
    "  local v = tonumber(ARGV[3 + #names + j])\n"
    "  if v ~= 0 then\n"
    "    redis.call('ZINCRBY', KEYS[1 + j], v, member)\n"
    "    redis.call('EXPIRE', KEYS[1 + j], ttl)\n"
    "  end\n"
    "end\n"
    "return 1\n";

_Static_assert(USAGE_FIELDS == 12, "flush_script names every usage field");

static struct {
    struct lws_context *context;
    lws_sorted_usec_list_t timer;
    struct log_limit failed_log;
} flusher;

void usage_day(long long wall_ms, char out[USAGE_DAY_LEN]) {
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, USAGE_DAY_LEN, "%Y-%m-%d", &tm);
}

/* rd:{<ns>:<escaped id>}:usage:<day>: the room's storage key with "usage:<day>" for "kv". */
static void day_key(const char *ns, const char *id, size_t id_len, const char *day, char *out,
                    size_t len) {
    room_store_key(ns, id, id_len, out, len);
    size_t n = strlen(out) - 2;
    snprintf(out + n, len - n, "usage:%s", day);
}

static void rank_key(const char *ns, const char *day, enum usage_rank by, char *out, size_t len) {
    snprintf(out, len, "rd:usage:%s:%s:%s", day, ns, usage_rank_names[by]);
}

static void on_flushed(void *arg, redisReply *reply) {
    (void)arg;
    unsigned long held;
    if ((!reply || reply->type == REDIS_REPLY_ERROR) &&
        log_limit_pass(&flusher.failed_log, clock_ms(), 10000, &held))
        log_warn("[usage] a room's usage was not stored: %s (%lu more held back)",
                 reply ? reply->str : "no connection to Redis", held);
}

void usage_store_flush(struct room *r) {
    if (!room_store_enabled())
        return;
    storage_lua_take_usage(r->ns->vm, r, &r->usage.n[USAGE_READS], &r->usage.stored_bytes);
    uint64_t n[USAGE_FIELDS];
    if (!usage_take(&r->usage, r->n_conns, clock_ms(), n))
        return;
    char day[USAGE_DAY_LEN], keys[1 + USAGE_RANKS][KEY_MAX], member[KEY_MAX];
    char nums[2 + USAGE_FIELDS + USAGE_RANKS][NUM];
    usage_day(clock_wall_ms(), day);
    day_key(r->ns->name, r->id, r->id_len, day, keys[0], KEY_MAX);
    for (int j = 0; j < USAGE_RANKS; j++)
        rank_key(r->ns->name, day, (enum usage_rank)j, keys[1 + j], KEY_MAX);
    /* the member is the escaped id: what follows "<ns>:" in the room's alarm member */
    room_store_member(r->ns->name, r->id, r->id_len, member, sizeof member);
    const char *escaped = member + strlen(r->ns->name) + 1;
    uint64_t ranks[USAGE_RANKS] = {n[USAGE_CPU_US], n[USAGE_REQUESTS],
                                   n[USAGE_MESSAGES_IN] + n[USAGE_MESSAGES_OUT],
                                   n[USAGE_BYTES_OUT]};
    snprintf(nums[0], NUM, "%d", USAGE_KEEP_DAYS * 86400);
    snprintf(nums[1], NUM, "%lld", (long long)r->usage.stored_bytes);
    for (int i = 0; i < USAGE_FIELDS; i++)
        snprintf(nums[2 + i], NUM, "%llu", (unsigned long long)n[i]);
    for (int j = 0; j < USAGE_RANKS; j++)
        snprintf(nums[2 + USAGE_FIELDS + j], NUM, "%llu", (unsigned long long)ranks[j]);
    enum { NKEYS = 1 + USAGE_RANKS, ARGC = 3 + NKEYS + 3 + USAGE_FIELDS + USAGE_RANKS };
    const char *argv[ARGC];
    char nkeys[NUM];
    snprintf(nkeys, NUM, "%d", NKEYS);
    int a = 0;
    argv[a++] = "EVAL";
    argv[a++] = flush_script;
    argv[a++] = nkeys;
    for (int k = 0; k < NKEYS; k++)
        argv[a++] = keys[k];
    argv[a++] = nums[0];
    argv[a++] = escaped;
    argv[a++] = nums[1];
    for (int i = 0; i < USAGE_FIELDS + USAGE_RANKS; i++)
        argv[a++] = nums[2 + i];
    if (store_command(on_flushed, NULL, a, argv, NULL) != 0)
        on_flushed(NULL, NULL);
}

static void flush_one(struct room *r, void *arg) {
    (void)arg;
    usage_store_flush(r);
}

void usage_store_flush_all(void) {
    registry_each(flush_one, NULL);
}

static void tick(lws_sorted_usec_list_t *sul) {
    (void)sul;
    usage_store_flush_all();
    lws_sul_schedule(flusher.context, 0, &flusher.timer, tick, USAGE_FLUSH_MS * LWS_US_PER_MS);
}

void usage_store_start(struct lws_context *context) {
    flusher.context = context;
    lws_sul_schedule(context, 0, &flusher.timer, tick, USAGE_FLUSH_MS * LWS_US_PER_MS);
}

void usage_store_stop(void) {
    if (flusher.context)
        lws_sul_cancel(&flusher.timer);
    flusher.context = NULL;
}

int usage_store_read(const char *ns, const char *id, size_t id_len, char (*days)[USAGE_DAY_LEN],
                     int n, store_reply_fn *fn, void *arg) {
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    if (store_command(NULL, NULL, 1, multi, NULL) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char key[KEY_MAX];
        day_key(ns, id, id_len, days[i], key, sizeof key);
        const char *all[] = {"HGETALL", key};
        if (store_command(NULL, NULL, 2, all, NULL) != 0)
            return -1;
    }
    return store_command(fn, arg, 1, exec, NULL);
}

int usage_store_top(const char *ns, const char *day, enum usage_rank by, int limit,
                    store_reply_fn *fn, void *arg) {
    char key[KEY_MAX], last[NUM];
    rank_key(ns, day, by, key, sizeof key);
    snprintf(last, sizeof last, "%d", limit - 1);
    const char *argv[] = {"ZREVRANGE", key, "0", last, "WITHSCORES"};
    return store_command(fn, arg, 5, argv, NULL);
}
