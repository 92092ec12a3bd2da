/* call: one room calling another (docs/lua-api.md, "Calling other rooms").
 *
 * `rooms.call(ns, id, value [, {timeout_ms =}])` runs the target's `call(room, value, from)`
 * handler as one of its turns and returns what it returns; the caller's turn waits (its
 * coroutine yields, its input gate stays closed) while every other room, the target included,
 * goes on. `rooms.send(ns, id, value)` is the same without waiting, and goes out with the
 * caller's other output, once its writes are stored. Values travel as JSON text.
 *
 * A call reaches its target as a request (struct request, req->call set) that the target
 * answers through the output gate like an HTTP request; the answer, a timeout or a refusal
 * wakes the caller from the loop (never from inside another room's turn). A call that would
 * close a cycle of rooms waiting on each other fails at once, as does one nested deeper than
 * CALL_DEPTH_MAX. On one node a call is a direct in-process event; the request it travels as
 * is what an internal HTTP path between nodes would carry. */
#ifndef ROOMD_CALL_H
#define ROOMD_CALL_H

#include <stdbool.h>
#include <stddef.h>

struct call;
struct lws_context;
struct lvm;
struct ns;
struct request;

#define CALL_DEPTH_MAX 8
#define CALL_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MAX_MS 60000

/* Where answers and timeouts are scheduled; until then calls are refused ("not available"). */
void call_start(struct lws_context *context);
void call_stop(void);

/* Calls whose caller still waits (for roomd test: the rooms are settled when none does). */
int call_waiting(void);

/* Sets the `rooms` global of vm's sandbox. 0, or -1 with err. */
int call_open(struct lvm *vm, char *err, size_t errlen);

/* The caller's turn has yielded on c: sends it to its target and starts its timer. */
void call_begin(struct call *c);

/* The caller is gone (its room reset, unloaded or freed): an answer to c wakes no one. */
void call_forget_caller(struct call *c);

/* The target room and how deep a chain of calls c is (for a room answering it). */
int call_depth(const struct call *c);
struct ns *call_target_ns(const struct call *c);
const char *call_target_id(const struct call *c, size_t *len);

/* A sent (not awaited) call held by the caller's output gate: posted when released stored,
 * dropped otherwise. */
void call_release_send(struct call *c, bool stored);

/* The request a call travels as: its caller as {ns =, id =} is pushed by the target's turn. */
const char *call_from_ns(const struct request *req);
const char *call_from_id(const struct request *req, size_t *len);

#endif
