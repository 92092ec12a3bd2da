/* outbuf: shared, pre-framed WebSocket text frames (RFC 6455 section 5.2). */
#include "outbuf.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER 10

size_t outbuf_header_len(size_t len) {
    return len < 126 ? 2 : len <= 0xffff ? 4 : 10;
}

static void write_header(unsigned char *h, size_t len) {
    h[0] = 0x81; /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
}

struct outbuf *outbuf_new_text(const char *payload, size_t len) {
    struct outbuf *ob = malloc(sizeof *ob + LWS_PRE + MAX_HEADER + len);
    if (!ob)
        return NULL;
    size_t hlen = outbuf_header_len(len);
    unsigned char *body = ob->data + LWS_PRE + MAX_HEADER;
    ob->refs = 1;
    ob->frame = body - hlen;
    ob->len = hlen + len;
    write_header(ob->frame, len);
    memcpy(body, payload, len);
    return ob;
}

void outbuf_ref(struct outbuf *ob) {
    ob->refs++;
}

void outbuf_unref(struct outbuf *ob) {
    if (ob && --ob->refs == 0)
        free(ob);
}
