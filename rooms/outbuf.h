/* outbuf: one WebSocket frame, encoded once and shared by every socket it
 * is queued on (reference counted). The frame is built ready for the wire
 * (server frames are unmasked) with LWS_PRE bytes of headroom before it, so
 * a socket can hand it to lws_write without copying. */
#ifndef ROOMD_OUTBUF_H
#define ROOMD_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

struct outbuf {
    uint32_t refs;
    size_t len;           /* bytes of the frame: header + payload */
    unsigned char *frame; /* points into data, at least LWS_PRE bytes in */
    unsigned char data[];
};

/* A final text frame carrying payload[0..len), with one reference held by the caller.
 * NULL on out-of-memory. */
struct outbuf *outbuf_new_text(const char *payload, size_t len);

/* Size of the frame header for a payload of len bytes. */
size_t outbuf_header_len(size_t len);

void outbuf_ref(struct outbuf *ob);

/* Drops one reference; frees at zero. Accepts NULL. */
void outbuf_unref(struct outbuf *ob);

#endif
