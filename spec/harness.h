/* harness: roomd's rooms without a network, for `roomd test`. It runs the
 * real namespaces (their VMs, sandbox, bindings, limits) and the real
 * storage path (room_store on a Redis: the embedded redis-server in a
 * temporary folder with nothing on disk, or --redis), on an event loop that
 * listens on no port. Clients are fake: HTTP requests are handed to rooms
 * through the door as the server would after routing, WebSockets are fake
 * conns whose frames are collected here. The clocks are frozen (base/clock.h)
 * and move only by harness_advance, which fires due alarms in time order.
 *
 * Every call that gives rooms work runs the loop until the work is done
 * (turns run, writes stored, output released), so its effects are visible
 * when it returns. It does not do the server's own checks before a room is
 * reached (routing, tokens, Content-Type: application/json bodies). */
#ifndef ROOMD_HARNESS_H
#define ROOMD_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

struct config;
struct ns;
struct request;

/* The fake clocks' time at start and after every harness_reset: 2024-01-01T00:00:00Z. */
#define HARNESS_EPOCH_MS 1704067200000LL

/* Loads the config's namespaces and starts storage. Returns 0, or -1 with a reason in err. */
int harness_start(const struct config *cfg, char *err, size_t errlen);

/* Stops everything harness_start started (and removes the temporary folder). */
void harness_stop(void);

/* A clean slate for the next test: every room and fake conn gone (no leave turns), every
 * namespace on a fresh VM (module-level state reset), storage emptied (FLUSHDB), the clocks
 * back at HARNESS_EPOCH_MS. Returns 0 or -1 with err. */
int harness_reset(char *err, size_t errlen);

/* Hands req (taken) to room <ns, id> and runs the loop until it is answered. Returns the
 * request with its response filled in (free it with request_free), or NULL with err. */
struct request *harness_request(struct ns *ns, const char *id, size_t len, struct request *req,
                                char *err, size_t errlen);

/* Opens a fake WebSocket on room <ns, id> with join_req (taken) as its opening request and runs
 * its join turn. Returns the conn's handle (>= 0), or -1 with err. */
int harness_connect(struct ns *ns, const char *id, size_t len, struct request *join_req, char *err,
                    size_t errlen);

/* Sends text[0..len) from conn h (a text frame, or binary) and runs its turn. 0 or -1 with err
 * (h unknown, or already closed). */
int harness_send(int h, const char *text, size_t len, bool binary, char *err, size_t errlen);

/* Calls fn with each frame conn h received since the last call, oldest first, and forgets them.
 * Returns -1 when h is unknown. */
int harness_take_frames(int h, void (*fn)(void *arg, const char *text, size_t len), void *arg);

/* conn.id as the room sees it, or 0 when h is unknown. */
unsigned long long harness_conn_id(int h);

/* Whether conn h is closed; if so, the close's code (0: none) and reason, and whether the room
 * closed it (rather than the test). */
bool harness_closed(int h, int *code, const char **reason, bool *by_room);

/* The client closes conn h with code (0: none) and reason; its leave turn runs. 0 or -1. */
int harness_close(int h, int code, const char *reason, char *err, size_t errlen);

/* Drops the Lua instance of room <ns, id>, as eviction, hibernation or a reload does: its
 * next event starts it from storage (init runs). Its fake conns stay open. */
void harness_restart(struct ns *ns, const char *id, size_t len);

/* Runs a Redis command and hands fn its reply (NULL: storage failed) before returning. 0 or -1
 * with err. */
int harness_command(int argc, const char **argv, const size_t *lens,
                    void (*fn)(void *arg, redisReply *reply), void *arg, char *err, size_t errlen);

/* Moves the clocks ms forward, stopping at each alarm due on the way (in time order, the
 * clock set to its time) to run it. Returns 0, or -1 with err when alarms keep firing
 * without end. */
int harness_advance(long long ms, char *err, size_t errlen);

/* Runs the loop until nothing is left to do (no turn waiting on storage, no output held). */
int harness_settle(char *err, size_t errlen);

#endif
