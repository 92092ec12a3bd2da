/* usage_api: the admin API's usage endpoints (docs/operations.md, "Usage"), over the per-room,
 * per-day totals of rooms/usage_store.h:
 *
 *   GET /rooms/<ns>/<id>/usage?from=YYYY-MM-DD&to=YYYY-MM-DD   (default: today, UTC)
 *       -> {"ns", "id", "from", "to", "days": [{"day", <field>: N, ...}], "total": {...}}
 *   GET /usage/top?by=cpu_us|requests|messages|bytes_out&ns=&day=&limit=
 *       -> {"day", "by", "rooms": [{"ns", "id", "value"}]}   (default cpu_us, every
 *          namespace, today, 10 rooms)
 *
 * Both first flush what rooms in memory counted since their last flush (the one room, or every
 * room), so the totals they read are exact up to the request. */
#ifndef ROOMD_USAGE_API_H
#define ROOMD_USAGE_API_H

#include <jansson.h>
#include <stddef.h>

struct ns;

#define USAGE_API_MAX_DAYS 366
#define USAGE_API_MAX_TOP 1000

/* Gets the answer: a status and its JSON document (taken). */
typedef void usage_answer_fn(void *arg, int status, json_t *doc);

/* from and to may be NULL (today). */
void usage_api_room(struct ns *ns, const char *id, size_t id_len, const char *from, const char *to,
                    usage_answer_fn *answer, void *arg);

/* Each argument may be NULL (its default). */
void usage_api_top(const char *by, const char *ns, const char *day, const char *limit,
                   usage_answer_fn *answer, void *arg);

#endif
