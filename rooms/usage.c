/* usage: see usage.h. */
#include "usage.h"

#include <string.h>

#define BUDGET_WINDOW_MS 60000

const char *const usage_field_names[USAGE_FIELDS] = {
    "requests",  "messages_in", "messages_out", "bytes_out", "turns",   "cpu_us",
    "memory_ms", "conn_ms",     "reads",        "writes",    "deletes", "alarms",
};

void usage_init(struct room_usage *u, long long now_ms) {
    memset(u, 0, sizeof *u);
    u->stored_bytes = -1;
    u->conns_since_ms = now_ms;
    u->window_start_ms = now_ms;
}

static void roll_window(struct room_usage *u, long long now_ms) {
    if (now_ms - u->window_start_ms >= BUDGET_WINDOW_MS) {
        u->window_start_ms = now_ms;
        u->window_cpu_us = 0;
    }
}

void usage_turn(struct room_usage *u, long long ns, long long now_ms) {
    uint64_t us = (uint64_t)(ns + 500) / 1000;
    u->n[USAGE_TURNS]++;
    u->n[USAGE_CPU_US] += us;
    roll_window(u, now_ms);
    u->window_cpu_us += us;
}

bool usage_over_budget(struct room_usage *u, long budget_ms, long long now_ms) {
    if (budget_ms <= 0)
        return false;
    roll_window(u, now_ms);
    return u->window_cpu_us >= (uint64_t)budget_ms * 1000;
}

void usage_conns(struct room_usage *u, int n_conns, long long now_ms) {
    if (now_ms > u->conns_since_ms)
        u->n[USAGE_CONN_MS] += (uint64_t)n_conns * (uint64_t)(now_ms - u->conns_since_ms);
    u->conns_since_ms = now_ms;
}

void usage_loaded(struct room_usage *u, long long now_ms) {
    if (!u->memory_since_ms)
        u->memory_since_ms = now_ms;
}

void usage_unloaded(struct room_usage *u, long long now_ms) {
    if (u->memory_since_ms && now_ms > u->memory_since_ms)
        u->n[USAGE_MEMORY_MS] += (uint64_t)(now_ms - u->memory_since_ms);
    u->memory_since_ms = 0;
}

bool usage_take(struct room_usage *u, int n_conns, long long now_ms, uint64_t out[USAGE_FIELDS]) {
    usage_conns(u, n_conns, now_ms);
    if (u->memory_since_ms) {
        usage_unloaded(u, now_ms);
        u->memory_since_ms = now_ms;
    }
    bool any = false;
    for (int i = 0; i < USAGE_FIELDS; i++) {
        out[i] = u->n[i];
        any |= u->n[i] != 0;
        u->n[i] = 0;
    }
    return any;
}
