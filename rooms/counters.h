/* counters: what the room runtime counts, as plain integers on the loop's
 * one thread: per namespace (struct ns_counters, kept in struct ns and
 * reached through counters_of), incremented where each event happens. Nothing
 * here allocates, locks or formats: server/metrics.c reads the numbers and
 * writes them out. Durations are fixed-bucket histograms. */
#ifndef ROOMD_COUNTERS_H
#define ROOMD_COUNTERS_H

#include <stdint.h>

struct ns;

/* Buckets of a duration histogram: bucket i counts durations <= counters_bucket_ns[i] (and
 * above the bound before it); the last one counts the rest (+Inf). */
#define COUNTERS_BUCKETS 19
extern const uint64_t counters_bucket_ns[COUNTERS_BUCKETS - 1];

struct counters_histogram {
    uint64_t bucket[COUNTERS_BUCKETS]; /* not cumulative: each duration is in one bucket */
    uint64_t sum_ns;
};

/* Counts one duration of ns nanoseconds. */
void counters_observe(struct counters_histogram *h, uint64_t ns);

/* How a failed turn failed. */
enum counters_turn_error { TURN_ERROR, TURN_CPU_LIMIT, TURN_MEMORY_LIMIT, TURN_ERROR_KINDS };

/* Close codes, by class: each code a close frame may carry (1000-1003, 1007-1014) a class of its
 * own, 3000-3999 one class ("3xxx"), 4000-4999 one ("4xxx"), and "none" (no close frame). */
#define COUNTERS_CLOSE_CLASSES 15
int counters_close_class(int code);
const char *counters_close_class_name(int cls);

struct ns_counters {
    /* rooms: loaded from storage into a Lua instance (each wake-up too), dropped from memory by
     * the idle sweep, and hibernated (Lua instance dropped, sockets kept) */
    uint64_t activated, evicted, hibernated;
    /* WebSockets: open now, opened, and closed by the class of their close code */
    int64_t connections;
    uint64_t opened, closed[COUNTERS_CLOSE_CLASSES];
    /* whole messages received and messages sent; payload bytes of the data frames received, and
     * bytes of the frames sent (headers included) */
    uint64_t messages_in, messages_out, bytes_in, bytes_out;
    uint64_t turns, turn_errors[TURN_ERROR_KINDS];
    struct counters_histogram turn_time;
    /* refusals: an event dropped because its room's queue was full, a socket closed for its
     * message rate (1008), or because it does not read (1013, its send queue full) */
    uint64_t queue_full, rate_limited, slow_consumers;
    /* checkpoints sent to Redis, those that failed, and the time to their answer */
    uint64_t commits, commit_failures;
    struct counters_histogram commit_time;
    uint64_t alarms_fired, alarms_retried;
    uint64_t reloads_ok, reloads_failed;
};

/* The namespace's counters (they live as long as it does). */
struct ns_counters *counters_of(struct ns *ns);

#endif
