/* conn_internal: the conn's struct, for the files of rooms/ only (see conn.h). */
#ifndef ROOMD_CONN_INTERNAL_H
#define ROOMD_CONN_INTERNAL_H

#include "conn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws;
struct room;
struct outbuf;
struct request;
struct limits;

/* Laid out for idle memory: 184 bytes, one 192-byte malloc chunk. What only some conns need
 * (a send ring, an rx buffer, a close reason, tags) hangs off a pointer. */
struct conn {
    uint64_t id;
    struct lws *wsi; /* NULL once the socket is gone */
    struct room *room;
    struct conn *prev, *next; /* in the room's list */
    const struct limits *limits;

    struct outbuf **queue; /* ring of q_cap slots, or NULL */
    uint32_t q_cap, q_head, q_len;
    uint32_t held_frames;       /* sent by a turn whose writes are not stored yet */
    size_t q_bytes, held_bytes; /* ... and their bytes */
    struct conn *write_next;    /* in the list of sockets to ask for WRITEABLE */

    double tokens;       /* messages it may still send now (rate limit) */
    long long tokens_at; /* when tokens was last topped up, monotonic ms */

    char *rx; /* message being reassembled; NULL between messages */
    size_t rx_len, rx_cap;

    char **tags;        /* n_tags strings; NULL until the first tag */
    char *attachment;   /* JSON text, or NULL */
    char *auth;         /* the token's claims as JSON text (conn.auth), or NULL */
    char *close_reason; /* once closing: NULL for none */

    struct request *join_req; /* until the join turn has run */
    void *lua_handle;         /* the Lua object's body, cleared when the conn is freed */
    int lua_ref;              /* anchors the Lua object while the conn lives */
    uint16_t close_code;      /* once closing */
    uint8_t n_tags;
    bool write_wanted : 1;
    bool rx_binary : 1, rx_active : 1; /* rx_active: a message has begun */
    bool accepted : 1;                 /* join turn accepted it: broadcasts reach it */
    bool closing : 1;                  /* close requested: send what is queued, then close */
    bool fake : 1; /* no socket: output goes to the sink (conn_new_fake); false once detached */
};

#endif
