/* usage_api: see usage_api.h. */
#include "usage_api.h"

#include "clock.h"
#include "ns.h"
#include "registry.h"
#include "room_limits.h"
#include "room_store.h"
#include "usage_store.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_S 86400

static json_t *error_doc(const char *msg) {
    return json_pack("{s:s}", "error", msg);
}

/* Parses YYYY-MM-DD into seconds since the epoch (UTC midnight); -1 if it is not a date. */
static long long parse_day(const char *s) {
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%d", &tm) : NULL;
    if (!end || *end || strlen(s) != USAGE_DAY_LEN - 1)
        return -1;
    return (long long)timegm(&tm);
}

/* ---- one room ---- */

struct room_read {
    usage_answer_fn *answer;
    void *arg;
    json_t *doc;
    int n;
    char (*days)[USAGE_DAY_LEN];
};

/* Adds the day's hash (field, value, ...) to days and total. */
static void add_day(json_t *days, json_t *total, const char *day, const redisReply *h) {
    json_t *d = json_pack("{s:s}", "day", day);
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *name = h->element[i]->str;
        json_int_t v = atoll(h->element[i + 1]->str);
        json_object_set_new(d, name, json_integer(v));
        json_t *sum = json_object_get(total, name);
        bool gauge = strcmp(name, "stored_bytes") == 0; /* the last day's, not a sum */
        json_object_set_new(total, name,
                            json_integer(gauge || !sum ? v : json_integer_value(sum) + v));
    }
    json_array_append_new(days, d);
}

static void on_room_read(void *arg, redisReply *reply) {
    struct room_read *rr = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t)rr->n) {
        rr->answer(rr->arg, 503, error_doc("storage unavailable"));
        json_decref(rr->doc);
    } else {
        json_t *days = json_array(), *total = json_object();
        for (int i = 0; i < rr->n; i++)
            if (reply->element[i]->type == REDIS_REPLY_ARRAY && reply->element[i]->elements)
                add_day(days, total, rr->days[i], reply->element[i]);
        json_object_set_new(rr->doc, "days", days);
        json_object_set_new(rr->doc, "total", total);
        rr->answer(rr->arg, 200, rr->doc);
    }
    free(rr->days);
    free(rr);
}

void usage_api_room(struct ns *ns, const char *id, size_t id_len, const char *from, const char *to,
                    usage_answer_fn *answer, void *arg) {
    char today[USAGE_DAY_LEN];
    usage_day(clock_wall_ms(), today);
    long long first = parse_day(from && *from ? from : today);
    long long last = parse_day(to && *to ? to : from && *from ? from : today);
    if (first < 0 || last < 0 || last < first) {
        answer(arg, 400, error_doc("from and to are days, YYYY-MM-DD, from <= to"));
        return;
    }
    int n = (int)((last - first) / DAY_S) + 1;
    if (n > USAGE_API_MAX_DAYS) {
        answer(arg, 400, error_doc("at most 366 days at once"));
        return;
    }
    struct room_read *rr = calloc(1, sizeof *rr);
    if (rr)
        rr->days = malloc((size_t)n * sizeof *rr->days);
    if (!rr || !rr->days) {
        free(rr);
        answer(arg, 503, error_doc("out of memory"));
        return;
    }
    for (int i = 0; i < n; i++)
        usage_day((first + (long long)i * DAY_S) * 1000, rr->days[i]);
    *rr = (struct room_read){answer, arg, NULL, n, rr->days};
    rr->doc = json_pack("{s:s,s:s%,s:s,s:s}", "ns", ns_name(ns), "id", id, id_len, "from",
                        rr->days[0], "to", rr->days[n - 1]);
    struct room *live = registry_find(ns, id, id_len);
    if (live) /* what it counted since its last flush goes first: the read then sees it */
        usage_store_flush(live);
    if (!rr->doc || usage_store_read(ns_name(ns), id, id_len, rr->days, n, on_room_read, rr) != 0) {
        json_decref(rr->doc);
        free(rr->days);
        free(rr);
        answer(arg, 503, error_doc("storage unavailable"));
    }
}

/* ---- the top rooms ---- */

struct top_read {
    usage_answer_fn *answer;
    void *arg;
    int waiting; /* replies still to come, one per namespace */
    bool failed;
    int limit;
    json_t *rooms; /* [{ns, id, value}] from every reply */
    json_t *doc;
};

/* The id a member (an escaped id) stands for, as JSON: its text, or the escaped form when the
 * id is not UTF-8. */
static json_t *member_id(const char *ns, const char *member, size_t len) {
    char full[ROOM_NS_MAX + 4 * ROOM_ID_MAX + 2], nsbuf[ROOM_NS_MAX + 1], id[ROOM_ID_MAX + 1];
    size_t id_len;
    int n = snprintf(full, sizeof full, "%s:%.*s", ns, (int)len, member);
    if (n < 0 || (size_t)n >= sizeof full ||
        room_store_parse_member(full, (size_t)n, nsbuf, sizeof nsbuf, id, &id_len, sizeof id) !=
            0 ||
        !utf8_valid(id, id_len))
        return json_stringn_nocheck(member, len);
    return json_stringn(id, id_len);
}

struct top_ns {
    struct top_read *top;
    const char *ns;
};

static int by_value_desc(const void *a, const void *b) {
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "value"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "value"));
    return x < y ? 1 : x > y ? -1 : 0;
}

static void finish_top(struct top_read *t) {
    if (t->failed) {
        t->answer(t->arg, 503, error_doc("storage unavailable"));
        json_decref(t->doc);
    } else {
        size_t n = json_array_size(t->rooms);
        json_t **all = malloc((n ? n : 1) * sizeof *all);
        for (size_t i = 0; all && i < n; i++)
            all[i] = json_array_get(t->rooms, i);
        if (all)
            qsort(all, n, sizeof *all, by_value_desc);
        json_t *out = json_array();
        for (size_t i = 0; all && i < n && i < (size_t)t->limit; i++)
            json_array_append(out, all[i]);
        free(all);
        json_object_set_new(t->doc, "rooms", out);
        t->answer(t->arg, 200, t->doc);
    }
    json_decref(t->rooms);
    free(t);
}

static void on_top(void *arg, redisReply *reply) {
    struct top_ns *tn = arg;
    struct top_read *t = tn->top;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        t->failed = true;
    for (size_t i = 0; !t->failed && i + 1 < reply->elements; i += 2) {
        const redisReply *m = reply->element[i], *score = reply->element[i + 1];
        json_array_append_new(t->rooms, json_pack("{s:s,s:o,s:I}", "ns", tn->ns, "id",
                                                  member_id(tn->ns, m->str, m->len), "value",
                                                  (json_int_t)strtod(score->str, NULL)));
    }
    free(tn);
    if (--t->waiting == 0)
        finish_top(t);
}

void usage_api_top(const char *by, const char *ns, const char *day, const char *limit,
                   usage_answer_fn *answer, void *arg) {
    int rank = -1;
    for (int i = 0; i < USAGE_RANKS; i++)
        if (strcmp(by && *by ? by : "cpu_us", usage_rank_names[i]) == 0)
            rank = i;
    char today[USAGE_DAY_LEN];
    usage_day(clock_wall_ms(), today);
    const char *d = day && *day ? day : today;
    char *end;
    long n = limit && *limit ? strtol(limit, &end, 10) : 10;
    struct ns *only = ns && *ns ? ns_find(ns, strlen(ns)) : NULL;
    if (rank < 0)
        answer(arg, 400, error_doc("by is one of cpu_us, requests, messages, bytes_out"));
    else if (parse_day(d) < 0)
        answer(arg, 400, error_doc("day is YYYY-MM-DD"));
    else if ((limit && *limit && *end) || n < 1 || n > USAGE_API_MAX_TOP)
        answer(arg, 400, error_doc("limit is 1 to 1000"));
    else if (ns && *ns && !only)
        answer(arg, 404, error_doc("no such namespace"));
    else {
        struct top_read *t = calloc(1, sizeof *t);
        if (!t) {
            answer(arg, 503, error_doc("out of memory"));
            return;
        }
        *t = (struct top_read){answer,
                               arg,
                               1,
                               false,
                               (int)n,
                               json_array(),
                               json_pack("{s:s,s:s}", "day", d, "by", usage_rank_names[rank])};
        usage_store_flush_all(); /* exact totals: what rooms counted since their last flush */
        for (size_t i = 0; i < ns_count(); i++) {
            struct ns *each = ns_at(i);
            struct top_ns *tn = malloc(sizeof *tn);
            if (only && each != only) {
                free(tn);
                continue;
            }
            if (!tn) {
                t->failed = true;
                break;
            }
            *tn = (struct top_ns){t, ns_name(each)};
            t->waiting++;
            if (usage_store_top(ns_name(each), d, (enum usage_rank)rank, (int)n, on_top, tn) != 0) {
                t->failed = true;
                t->waiting--;
                free(tn);
            }
        }
        if (--t->waiting == 0) /* the one held while sending */
            finish_top(t);
    }
}
