/* ns_internal: the namespace's struct, for the files of rooms/ only (see ns.h). */
#ifndef ROOMD_NS_INTERNAL_H
#define ROOMD_NS_INTERNAL_H

#include "counters.h"
#include "ns.h"

#include <stdbool.h>

struct lvm;
struct limits;
struct outbuf;

struct ns {
    char *name;
    char *script;        /* path of the room script */
    char *settings;      /* room.settings as JSON text */
    const char *ping;    /* auto reply: a message answered without a turn, or NULL */
    struct outbuf *pong; /* its answer, framed once */
    struct lvm *vm;
    int settings_ref;     /* room.settings, in the VM's registry */
    int storage_ctor_ref; /* makes a room's storage object (rooms/storage.lua) */
    const char *node;     /* this server's node name */
    const struct limits *limits;
    bool collect_pending; /* a garbage collection cycle ns_collect_step owes */
    struct ns *next;      /* in the list ns_find searches */
    struct ns_counters counters;
    char **outbound; /* URL prefixes http.fetch may reach (rooms/fetch.h), normalised */
    int n_outbound;
    long cpu_budget_ms; /* per room per minute (0: none), or -1: limits.room_cpu_ms_per_minute */
    bool jit;           /* trusted scripts, compiled: no per-turn bound, the watchdog instead */
};

#endif
