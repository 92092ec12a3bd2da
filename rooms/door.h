/* door: where the server hands rooms their work. Above rooms/, a room, a
 * conn and a namespace are opaque handles; the server admits and opens
 * WebSockets, passes on their frames and closes, posts HTTP requests, reads
 * the process's figures and closes every room at a stop, all through here.
 * Each call looks the room up by <namespace, id> itself, so the server never
 * holds a room pointer across events. */
#ifndef ROOMD_DOOR_H
#define ROOMD_DOOR_H

#include <stdbool.h>
#include <stddef.h>

struct lws;
struct ns;
struct conn;
struct request;

enum door_answer {
    DOOR_OK,
    DOOR_ROOM_FULL,      /* limits.connections_per_room reached */
    DOOR_TOO_MANY_ROOMS, /* a new room would pass limits.max_rooms (or memory ran out) */
    DOOR_QUEUE_FULL,     /* the room has limits.room_queue events waiting */
};

/* What the server reports of the rooms (GET /healthz). */
struct door_stats {
    size_t rooms;     /* in memory */
    size_t lua_bytes; /* Lua heap over every namespace */
};

/* Whether room <ns, id> would take one more WebSocket now (it need not be in memory). */
enum door_answer door_can_join(struct ns *ns, const char *id, size_t len);

/* Opens a conn for socket wsi in room <ns, id> and queues its join turn; join_req (the upgrade
 * request, taken) is what the join handler sees. With stopping, or past the room's connection
 * limit, the conn is closed at once (1001, 1013) and skips the join. NULL (join_req freed) when
 * the room cannot be had or memory ran out. */
struct conn *door_join(struct ns *ns, const char *id, size_t len, struct lws *wsi,
                       struct request *join_req, bool stopping);

/* Hands c a fragment of its current message (final: the message's last). A whole message is
 * answered at once by the namespace's auto reply, or queued as the room's turn. */
void door_receive(struct conn *c, const void *in, size_t len, bool final, bool binary,
                  long long now_ms);

/* c's socket closed with the peer's code (0 for none) and reason (or NULL): its leave turn is
 * queued, after which c is freed. */
void door_closed(struct conn *c, int code, const char *reason);

/* Queues an HTTP request for room <ns, id>; it is answered through req->on_done. Anything but
 * DOOR_OK: nothing was queued, the caller answers. */
enum door_answer door_request(struct ns *ns, const char *id, size_t len, struct request *req);

void door_stats(struct door_stats *out);

/* ---- the admin API's view (server/admin.c) ---- */

/* What the admin API shows of a room in memory, and of each of its connections. */
struct door_room_info {
    const char *ns, *id;
    size_t id_len;
    const char *state; /* "memory" (its Lua instance is live) or "hibernated" */
    int connections;
};
struct door_conn_info {
    unsigned long long id;
    char *const *tags;
    int n_tags;
    const char *attachment, *auth; /* JSON text, or NULL */
    size_t queued_bytes;           /* queued and held for its socket */
};

/* Calls fn for every room in memory (of namespace ns only, unless ns is NULL). fn must not add
 * or remove rooms. */
void door_each_room(const struct ns *ns, void (*fn)(const struct door_room_info *, void *),
                    void *arg);

/* Fills info for room <ns, id> and calls conn_fn (if not NULL) for each of its connections;
 * false when the room is not in memory. */
bool door_room(struct ns *ns, const char *id, size_t len, struct door_room_info *info,
               void (*conn_fn)(const struct door_conn_info *, void *), void *arg);

/* Closes every connection of room <ns, id> with code and reason (code 0: none); with unload, its
 * Lua instance goes too (at once, or once the writes in flight are stored and answered), so its
 * next event loads it from storage. Returns the connections closed, or -1 when it is not in memory.
 */
int door_evict(struct ns *ns, const char *id, size_t len, int code, const char *reason,
               bool unload);

/* A stored value of namespace ns as JSON text, and back (storage_lua.h says how). */
char *door_value_json(struct ns *ns, const char *bytes, size_t len, size_t *out_len,
                      bool *decodable);
char *door_value_bytes(struct ns *ns, const char *json, size_t len, size_t *out_len, char *err,
                       size_t errlen);

/* Closes every connection of every room with code and reason (a stop). */
void door_close_all(int code, const char *reason);

/* ---- `roomd test` (spec/): rooms without sockets ---- */

/* door_join for a fake conn (conn.h: conn_new_fake), whose output goes to the conn sink. */
struct conn *door_join_fake(struct ns *ns, const char *id, size_t len, struct request *join_req);

/* Frees every room in memory with its connections, without turns (no leave runs); their
 * storage stays. Pending HTTP requests get 503 through on_done. */
void door_free_all(void);

#endif
