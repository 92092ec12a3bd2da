/* redis_child: the embedded storage server. With no --redis, roomd runs
 * Debian's redis-server as its own child, on a unix socket under the data
 * folder, append-only file on (fsync every second, or before every answer), snapshots off, and
 * stops it on exit. `roomd test` runs one with nothing on disk at all. The child gets its own
 * process group, so a Ctrl-C meant for roomd does not stop storage before roomd has flushed to it.
 */
#ifndef ROOMD_REDIS_CHILD_H
#define ROOMD_REDIS_CHILD_H

#include <stdbool.h>
#include <stddef.h>

struct redis_child;

/* How the child keeps what it is given. */
enum redis_child_mode {
    REDIS_CHILD_EVERYSEC, /* append-only file, fsynced once a second */
    REDIS_CHILD_ALWAYS,   /* append-only file, written and fsynced before Redis answers a write */
    REDIS_CHILD_MEMORY,   /* nothing on disk (`roomd test`): a store that dies with the child */
};

/* Starts redis-server with its files in data_dir (created if missing) and waits, at most a few
 * seconds, until it answers. NULL with a one-line reason in err. */
struct redis_child *redis_child_start(const char *data_dir, enum redis_child_mode mode, char *err,
                                      size_t errlen);

/* The unix socket path the child listens on. */
const char *redis_child_socket(const struct redis_child *c);

/* Whether the child is still running; if it exited, starts a new one on the same folder
 * without waiting for it (the store's reconnects find it when it is ready). Returns 0 when it
 * was running, 1 when it was restarted, -1 when it could not be. Never blocks. */
int redis_child_check(struct redis_child *c);

/* Stops the child (SIGTERM: it fsyncs its append-only file), waits for it, frees c. Accepts
 * NULL. */
void redis_child_stop(struct redis_child *c);

#endif
