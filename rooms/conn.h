/* conn: a WebSocket connection, owned by the C runtime, not by Lua.
 *
 * A conn carries its id, tags and attachment (so a room's Lua instance can
 * be dropped and rebuilt while its sockets stay open), the bounded queue of
 * frames waiting for its socket, and the message being reassembled from
 * fragments. Frames are written only from the socket's WRITEABLE callback,
 * coalesced into one lws_write per callback. A socket that does not drain
 * past the queue bounds is closed with 1013. An idle conn holds little but
 * its struct: no rx buffer between messages, no close reason until closing,
 * and no send ring once its room hibernates (conn_trim). */
#ifndef ROOMD_CONN_H
#define ROOMD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws;
struct room;
struct outbuf;
struct request;
struct limits;

#define CONN_MAX_TAGS 8
#define CONN_TAG_MAX 64
#define CONN_CLOSE_REASON_MAX 123 /* a close frame's payload is 125 bytes, the code 2 of them */

/* A conn for socket wsi in room. NULL on out-of-memory. */
struct conn *conn_new(struct lws *wsi, struct room *room, const struct limits *limits);

/* Where a fake conn's output goes instead of a socket (`roomd test`, spec/): each frame's
 * payload, in order, and then its close once what was queued before it went out. Called from
 * conn_request_writes: a sink must not post events or free conns (it notes, and acts later). */
struct conn_sink {
    void (*frame)(struct conn *c, const char *payload, size_t len);
    void (*close)(struct conn *c, int code, const char *reason);
};

/* A conn without a socket: everything a socket's conn does (send bounds, closes, the rate
 * limit), but its frames go to the process's sink (conn_set_sink, which must be set) at the
 * next conn_request_writes. It is gone, like a socket, once conn_detach is called. */
struct conn *conn_new_fake(struct room *room, const struct limits *limits);

void conn_set_sink(const struct conn_sink *sink);

/* Whether c still has its socket (or, fake, has not been detached): it can be sent to. */
bool conn_attached(const struct conn *c);

/* The id scripts see as conn.id. */
uint64_t conn_id(const struct conn *c);

/* Queues a frame (taking a reference). Returns 0, or -1 if the conn is closing or gone, or if
 * the queue overflowed: then the socket is being closed with 1013. */
int conn_send(struct conn *c, struct outbuf *ob);

/* Whether n_bytes more (in one more frame) fit the send bounds, counting what is queued and
 * held. If not, the socket is being closed with 1013 and false is returned. */
bool conn_has_room(struct conn *c, size_t n_bytes);

/* Asks to close with code and reason once what is queued has been sent. */
void conn_close(struct conn *c, int code, const char *reason);

/* Closes at once, dropping what is queued (the peer will not drain it). */
void conn_abort(struct conn *c, int code, const char *reason);

/* The WRITEABLE callback: writes one coalesced batch. Returns -1 when lws must close the
 * socket (after a close was requested and the queue drained). */
int conn_on_writable(struct conn *c);

/* Adds received bytes to the message being reassembled. Returns 1 when a whole message is
 * ready (take it with conn_take_message), 0 for more to come, or -1 when it is over the limit:
 * the socket is then being closed with 1009. */
int conn_receive(struct conn *c, const void *in, size_t len, bool final, bool binary);

/* Takes one message from c's allowance (limits.messages_per_second, with a burst of as many).
 * Returns false when c sends faster: it is then being closed with 1008. */
bool conn_take_token(struct conn *c, long long now_ms);

/* Hands over the reassembled message (malloc()ed, NUL-terminated) and its length. */
char *conn_take_message(struct conn *c, size_t *len, bool *binary);

/* Whether c carries tag. */
bool conn_has_tag(const struct conn *c, const char *tag);

/* Adds a tag (already checked: 1..CONN_TAG_MAX bytes). Returns 0, 1 if it was there already,
 * or -1 when c has CONN_MAX_TAGS tags or memory ran out. */
int conn_add_tag(struct conn *c, const char *tag);

/* Replaces the attachment with json[0..len) (NULL clears it). Returns 0 or -1 (out of
 * memory, the old attachment kept). */
int conn_set_attachment(struct conn *c, const char *json, size_t len);

/* Frees what an idle conn does not need (an empty send ring). For rooms gone quiet. */
void conn_trim(struct conn *c);

/* The socket went away: drop the queue and forget the wsi. */
void conn_detach(struct conn *c);

/* Asks lws for WRITEABLE on each socket that got frames since the last call. Called once per
 * loop iteration, before polling: one request per socket however many frames it got. */
void conn_request_writes(void);

/* Frees the conn. Accepts NULL. Must not be on the write list (conn_detach takes it off). */
void conn_free(struct conn *c);

#endif
