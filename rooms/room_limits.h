/* limits: the configurable bounds every room and connection lives within.
 * Defaults and meaning are documented in conf/default.lua. */
#ifndef ROOMD_ROOM_LIMITS_H
#define ROOMD_ROOM_LIMITS_H

#include <stddef.h>

/* The longest namespace name and room id, in bytes: fixed, not configurable. */
#define ROOM_NS_MAX 32
#define ROOM_ID_MAX 256
/* The longest node name (--node) in cluster mode, where it is part of every lease. */
#define ROOM_NODE_MAX 64

struct limits {
    size_t message_bytes;    /* largest WebSocket message accepted */
    size_t body_bytes;       /* largest HTTP request body accepted */
    size_t send_queue_bytes; /* queued output per socket before it is closed 1013 */
    size_t send_queue_messages;
    size_t attachment_bytes; /* largest JSON-encoded conn attachment */
    size_t vm_memory_bytes;  /* Lua heap per namespace */
    int connections_per_room;
    int room_queue;    /* events waiting for one room */
    long room_idle_ms; /* a room with no connection and no event this long leaves memory */
    long hibernate_ms; /* a room with connections but no event this long drops its Lua instance */
    int turn_cpu_ms;   /* CPU time one turn may take; 0 turns the bound (and the interpreter) off */
    int messages_per_second; /* per connection, averaged over a burst of as many; past it: 1008 */
    size_t max_rooms;        /* rooms in memory at once; a new one past it gets 503 */
    int json_depth;
    long room_cpu_ms_per_minute; /* turn time per room per minute; 0: no budget */
    long jit_watchdog_ms;        /* a turn of a jit namespace past it ends the process */
};

#endif
