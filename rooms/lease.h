/* lease: which rooms this node may serve, when several roomd nodes share one
 * Redis (--cluster; docs/cluster.md).
 *
 * A room's lease is the key rd:{<ns>:<id>}:lease, holding "<node> <epoch>"
 * with an expiry of lease_ms. A node loads a room only by taking its lease
 * (roomd_acquire in rooms/lease.lua, which also reads the room, in one step);
 * the epoch rises with every new activation, and every checkpoint goes
 * through roomd_commit, which refuses it (FENCED) unless the lease still holds
 * that activation's value. So two nodes never both store for one room, even
 * when one is paused or cut off and does not know it lost the lease.
 *
 * One timer renews every lease this node holds, in batches (one round trip
 * per 500 rooms), every lease_ms / 3. A room whose lease is not renewed in
 * time is dropped at its next event: its sockets close with 1012, its Lua
 * state goes, and it loads again only by taking the lease again.
 *
 * A node asked for a room held by another live node asks the holder to hand
 * it over (a list per node in Redis, polled every HANDOVER_POLL_MS) and marks
 * itself as the one waiting (rd:{...}:want), then retries the lease until
 * lease_ms + 1 s have passed; past that its requests get 503 with
 * Retry-After. The holder finishes the turn in flight and its checkpoint,
 * closes the room's sockets with 1012 and releases the lease. */
#ifndef ROOMD_LEASE_H
#define ROOMD_LEASE_H

#include "store.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct room;

/* What the node's leases did, for /metrics. */
struct lease_counters {
    uint64_t acquired;      /* leases taken */
    uint64_t renewals;      /* renewal round trips */
    uint64_t lost;          /* leases found taken or expired: the room was dropped */
    uint64_t fenced;        /* checkpoints refused by the fence */
    uint64_t handovers;     /* rooms handed to another node on its request */
    uint64_t asked;         /* handovers this node asked of others */
    uint64_t wait_timeouts; /* rooms whose lease did not come within the wait: 503 */
    uint64_t held;          /* leases held now */
};

/* Whether this node runs with leases (--cluster). */
bool lease_enabled(void);

/* Turns leases on for node (letters, digits, '.', '_', '-'): loads rooms/lease.lua into the
 * Redis at t with FUNCTION LOAD REPLACE (blocking; Redis 7 or later). Returns 0, or -1 with
 * the reason in err. */
int lease_setup(const char *node, long lease_ms, const struct store_target *t, char *err,
                size_t errlen);

/* Starts and stops the renewal, the handover poll and the lease retries on the loop. */
void lease_start(struct lws_context *ctx);
void lease_stop(void);

long lease_duration_ms(void);
const char *lease_node(void);
const struct lease_counters *lease_counters(void);

/* "<node> <epoch>": the value of r's lease for its current activation. */
void lease_value(const struct room *r, char *out, size_t len);

/* Whether r may run a turn: it holds its lease, renewed in time. */
bool lease_valid(const struct room *r);

/* r took its lease with epoch (asked at sent_ms, monotonic). */
void lease_acquired(struct room *r, long long epoch, long long sent_ms);

/* r's lease is held by holder ("<node> <epoch>"), or (wanted) free but another node waits for
 * it. For a client's event, r asks the holder to hand it over (once) and tries again every
 * RETRY_MS until its wait runs out: returns true while it waits. False: r gives up now (an
 * alarm's wake-up, or the wait ran out). */
bool lease_wait(struct room *r, const char *holder, size_t holder_len, bool wanted);

/* r's lease no longer counts (lost, handed over, released): counted unless it was not held. */
void lease_forget(struct room *r);

/* Deletes r's lease in Redis if it still holds r's value (fire and forget), and forgets it. */
void lease_release(struct room *r);

/* Releases every lease this node holds (at a graceful stop). */
void lease_release_all(void);

/* Looks at an error reply to one of rooms/lease.lua's functions: when Redis lost them (a
 * restart without persistence, FUNCTION FLUSH), loads them again (at most once a second). */
void lease_check_error(const redisReply *reply);

/* A checkpoint of r was refused by the fence. */
void lease_fenced(struct room *r);

#endif
