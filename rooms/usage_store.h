/* usage_store: rooms' usage (usage.h) as per-room, per-day totals in Redis. Every
 * USAGE_FLUSH_MS, and when a room leaves memory, hibernates or the server stops, each room that
 * used anything since its last flush sends one EVAL (one command, pipelined with the others)
 * that adds its counts to the day's totals. A room that used nothing sends nothing. Layout
 * (beside room_store.h's; days are UTC, YYYY-MM-DD):
 *
 *     rd:{<ns>:<escaped id>}:usage:<day>   hash: each usage field -> that day's total, and
 *                                          "stored_bytes" -> storage size as last seen
 *     rd:usage:<day>:<ns>:<by>             sorted set: "<escaped id>" by that day's total of
 *                                          <by>: cpu_us, requests, messages (in + out) or
 *                                          bytes_out (for GET /usage/top)
 *
 * Each key expires USAGE_KEEP_DAYS after its last write. The totals outlive the room: deleting
 * a room's storage leaves what it used. A SIGKILL loses what was counted since the last
 * flush. */
#ifndef ROOMD_USAGE_STORE_H
#define ROOMD_USAGE_STORE_H

#include "store.h"
#include "usage.h"

#include <stddef.h>

struct lws_context;
struct ns;
struct room;

#define USAGE_FLUSH_MS 10000
#define USAGE_KEEP_DAYS 400
#define USAGE_DAY_LEN 11 /* "YYYY-MM-DD" and its NUL */

/* The sorted sets of GET /usage/top, by what they rank. */
enum usage_rank { RANK_CPU, RANK_REQUESTS, RANK_MESSAGES, RANK_BYTES_OUT, USAGE_RANKS };
extern const char *const usage_rank_names[USAGE_RANKS];

/* Starts the periodic flush on the loop of context. */
void usage_store_start(struct lws_context *context);
void usage_store_stop(void);

/* Flushes one room now (it leaves memory or hibernates), or every room (the server stops, or
 * an admin read wants exact totals). */
void usage_store_flush(struct room *r);
void usage_store_flush_all(void);

/* The day (UTC) of wall-clock time ms, as YYYY-MM-DD. */
void usage_day(long long wall_ms, char out[USAGE_DAY_LEN]);

/* Reads room <ns, id>'s totals for days[0..n): one HGETALL each, fn gets the array of their
 * replies (NULL: no storage). 0, or -1 when nothing could be sent. */
int usage_store_read(const char *ns, const char *id, size_t id_len, char (*days)[USAGE_DAY_LEN],
                     int n, store_reply_fn *fn, void *arg);

/* The first limit rooms of namespace ns on day by rank: ZREVRANGE ... WITHSCORES. */
int usage_store_top(const char *ns, const char *day, enum usage_rank by, int limit,
                    store_reply_fn *fn, void *arg);

#endif
