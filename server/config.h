/* config: the server's settings, read from a Lua config file (conf/) and
 * overridden by `--set NAME=VALUE`.
 *
 * The file is run in a Lua state of its own and must return a table; every
 * key is checked (an unknown one is an error, to catch typos). Paths in it
 * are relative to the file's folder. */
#ifndef ROOMD_CONFIG_H
#define ROOMD_CONFIG_H

#include "auth.h"
#include "room_limits.h"

#include <stdbool.h>
#include <stddef.h>

struct ns_config {
    char *name;
    char *script;      /* absolute path */
    char *page;        /* absolute path of the HTML page a browser gets for the room URL, or NULL */
    char *settings;    /* the namespace's settings as JSON text */
    char *ping, *pong; /* auto_reply: a message answered without waking the room, or NULL */
    struct auth_config auth; /* tokens checked at the door (auth.alg 0: none configured) */
    char **outbound;         /* URL prefixes the rooms may fetch (rooms/fetch.h) */
    long cpu_budget_ms;      /* budget.cpu_ms_per_minute, or -1: limits.room_cpu_ms_per_minute */
    bool jit;                /* jit = true: compiled, unbounded turns (rooms/watchdog.h) */
    int n_outbound;
};

/* The admin API's listener (server/admin.h): off when port is 0. */
struct admin_config {
    char *host;
    int port;
    char *token; /* the value of the token_env variable, or NULL: no token asked (loopback only) */
};

/* Cluster mode (rooms/lease.h, docs/cluster.md): several nodes share one Redis. */
struct cluster_config {
    bool enabled;
    long lease_ms; /* how long a room's lease lasts without renewal */
};

struct config {
    char *host;
    int port;
    char *node;
    int log_level;
    int log_format;        /* enum log_format: text (default) or json */
    bool access_log;       /* a line per answered HTTP request */
    char *static_root;     /* absolute path, or NULL when there is none */
    char *data_dir;        /* the embedded storage folder (absolute) */
    char *redis;           /* an existing Redis server URL, or NULL for the embedded one */
    bool watch;            /* reload room scripts when they change on disk */
    bool fsync_always;     /* durability = "always": the embedded Redis fsyncs before answering */
    char **custom_headers; /* request headers beyond the ones lws knows ("name:", lower case) */
    int n_custom_headers;
    struct limits limits;
    struct admin_config admin;
    struct cluster_config cluster;
    struct ns_config *namespaces;
    int n_namespaces;
};

/* Loads path, applies the overrides ("NAME=VALUE" each), and fills cfg. Returns 0, or -1 with
 * a one-line reason in err. cfg must be freed with config_free either way. */
int config_load(struct config *cfg, const char *path, char *const *sets, int n_sets, char *err,
                size_t errlen);

void config_free(struct config *cfg);

/* The namespace called name in cfg, or NULL. */
const struct ns_config *config_namespace(const struct config *cfg, const char *name);

#endif
