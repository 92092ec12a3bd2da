/* usage: what one room used, counted as plain integers where each thing happens (requests,
 * messages, turns and their time, storage calls, alarms), plus the time it spent in memory
 * and its connection-time, brought up to date whenever they are read. usage_store.c flushes
 * the counts to Redis as per-room, per-day totals and reads them back. The same counts drive
 * the optional CPU budget (limits.room_cpu_ms_per_minute). Nothing here allocates. */
#ifndef ROOMD_USAGE_H
#define ROOMD_USAGE_H

#include <stdbool.h>
#include <stdint.h>

enum usage_field {
    USAGE_REQUESTS,     /* HTTP requests that reached the room */
    USAGE_MESSAGES_IN,  /* WebSocket messages received */
    USAGE_MESSAGES_OUT, /* WebSocket frames sent */
    USAGE_BYTES_OUT,    /* bytes of those frames */
    USAGE_TURNS,        /* turns run (init, requests, joins, messages, leaves, alarms) */
    USAGE_CPU_US,       /* time its turns ran on the loop's thread, microseconds */
    USAGE_MEMORY_MS,    /* wall time with its Lua instance in memory */
    USAGE_CONN_MS,      /* connection-time: each open WebSocket, each millisecond */
    USAGE_READS,        /* storage keys read */
    USAGE_WRITES,       /* storage keys written (put) */
    USAGE_DELETES,      /* storage keys deleted */
    USAGE_ALARMS,       /* alarms fired */
    USAGE_FIELDS
};

/* The field names, as stored in Redis and shown by the admin API. */
extern const char *const usage_field_names[USAGE_FIELDS];

struct room_usage {
    uint64_t n[USAGE_FIELDS];  /* counted since the last take */
    int64_t stored_bytes;      /* keys + values in storage, as last seen; -1 unknown */
    long long conns_since_ms;  /* USAGE_CONN_MS is counted up to here */
    long long memory_since_ms; /* in memory since (USAGE_MEMORY_MS counted up to here); 0: not */
    long long window_start_ms; /* the CPU budget's current minute */
    uint64_t window_cpu_us;    /* turn time in that minute */
};

/* A new room's usage: nothing counted, storage size unknown. */
void usage_init(struct room_usage *u, long long now_ms);

/* A turn ran for ns nanoseconds. */
void usage_turn(struct room_usage *u, long long ns, long long now_ms);

/* Whether the room has used budget_ms (> 0) of turn time in the current minute. */
bool usage_over_budget(struct room_usage *u, long budget_ms, long long now_ms);

/* Connection-time up to now; call before the number of connections changes. */
void usage_conns(struct room_usage *u, int n_conns, long long now_ms);

/* The room's Lua instance came into memory, or left it. */
void usage_loaded(struct room_usage *u, long long now_ms);
void usage_unloaded(struct room_usage *u, long long now_ms);

/* Moves the counts (time-based ones brought up to now) into out and starts again from zero.
 * Returns whether anything was counted. */
bool usage_take(struct room_usage *u, int n_conns, long long now_ms, uint64_t out[USAGE_FIELDS]);

#endif
