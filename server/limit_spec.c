/* limit_spec: see limit_spec.h. */
#include "limit_spec.h"

#include <stddef.h>

#define BIG 1e15

#define LIMIT(field, type, def, min, max, effect)                                                  \
    { #field, offsetof(struct limits, field), type, def, min, max, effect }

const struct limit_spec limit_specs[] = {
    LIMIT(message_bytes, LIMIT_SIZE, 1 << 20, 16, BIG,
          "largest WebSocket message in; a larger one closes the connection with 1009"),
    LIMIT(body_bytes, LIMIT_SIZE, 1 << 20, 0, BIG,
          "largest HTTP request body; a larger one gets 413"),
    LIMIT(connections_per_room, LIMIT_INT, 32768, 1, 1e9,
          "WebSockets in one room; the next upgrade gets 503"),
    LIMIT(send_queue_bytes, LIMIT_SIZE, 1 << 20, 1024, BIG,
          "bytes queued for one socket that does not read; past it the socket is closed 1013"),
    LIMIT(send_queue_messages, LIMIT_SIZE, 4096, 1, 1e9,
          "frames queued for one socket; past it the socket is closed 1013"),
    LIMIT(room_queue, LIMIT_INT, 4096, 1, 1e9,
          "events waiting for one room; past it HTTP gets 503 and messages are dropped"),
    LIMIT(json_depth, LIMIT_INT, 64, 1, 1000, "deepest JSON nesting, in and out"),
    LIMIT(attachment_bytes, LIMIT_SIZE, 2048, 0, BIG,
          "largest conn attachment, JSON-encoded; set_attachment raises past it"),
    LIMIT(vm_memory_bytes, LIMIT_SIZE, 128 << 20, 1 << 20, BIG,
          "Lua heap per namespace; an allocation past it fails the turn (not enough memory)"),
    LIMIT(room_idle_ms, LIMIT_LONG, 30000, 1, 1e12,
          "a room with no connection and no event this long leaves memory (storage stays)"),
    LIMIT(hibernate_ms, LIMIT_LONG, 10000, 1, 1e12,
          "a room with connections but no event this long drops its Lua instance"),
    LIMIT(turn_cpu_ms, LIMIT_INT, 1000, 0, 1e9,
          "CPU time of one turn; past it the turn fails and nothing of it stays (0: no bound, "
          "JIT on)"),
    LIMIT(messages_per_second, LIMIT_INT, 20000, 1, 1e9,
          "messages one connection may send, with a burst of as many; past it: close 1008"),
    LIMIT(max_rooms, LIMIT_SIZE, 1000000, 1, 1e12, "rooms in memory at once; a new one gets 503"),
    LIMIT(room_cpu_ms_per_minute, LIMIT_LONG, 0, 0, 60000,
          "turn time one room may use per minute; past it its requests get 429, its messages an "
          "error and its joins close 1013 until the minute is over (0: no budget)"),
    LIMIT(jit_watchdog_ms, LIMIT_LONG, 10000, 100, 1e9,
          "a turn of a namespace with jit = true (no per-turn bound) running this long ends the "
          "process (exit 70) for its supervisor to restart"),
    {0},
};

_Static_assert(sizeof limit_specs / sizeof *limit_specs <= LIMIT_SPEC_MAX, "LIMIT_SPEC_MAX");

void limit_spec_set(struct limits *lim, const struct limit_spec *spec, double v) {
    char *field = (char *)lim + spec->offset;
    if (spec->type == LIMIT_SIZE)
        *(size_t *)field = (size_t)v;
    else if (spec->type == LIMIT_INT)
        *(int *)field = (int)v;
    else
        *(long *)field = (long)v;
}

double limit_spec_get(const struct limits *lim, const struct limit_spec *spec) {
    const char *field = (const char *)lim + spec->offset;
    if (spec->type == LIMIT_SIZE)
        return (double)*(const size_t *)field;
    if (spec->type == LIMIT_INT)
        return *(const int *)field;
    return (double)*(const long *)field;
}

void limit_spec_defaults(struct limits *lim) {
    for (const struct limit_spec *s = limit_specs; s->name; s++)
        limit_spec_set(lim, s, s->def);
}

void limit_spec_print_markdown(FILE *out) {
    fputs("| `limits.` | default | when it is hit |\n|---|---|---|\n", out);
    for (const struct limit_spec *s = limit_specs; s->name; s++)
        fprintf(out, "| `%s` | %.0f | %s |\n", s->name, s->def, s->effect);
}
