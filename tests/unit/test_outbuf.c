/* Unit tests for rooms/outbuf.c: the RFC 6455 header of text frames at each length boundary
 * (7-, 16- and 64-bit lengths), the payload behind it, the LWS_PRE headroom lws_write needs,
 * and the reference count (the sanitizer build catches a use after free or a double free). */
#include "check.h"
#include "outbuf.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <string.h>

/* The payload length the header at h announces, and the header's size in *hlen. */
static uint64_t header_length(const unsigned char *h, size_t *hlen) {
    uint64_t len = h[1] & 0x7f;
    *hlen = 2;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        *hlen = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        *hlen = 10;
    }
    return len;
}

static void check_frame(int line, size_t n, size_t want_hlen) {
    char *payload = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        payload[i] = (char)('a' + i % 26);
    struct outbuf *ob = outbuf_new_text(payload, n);
    check_report(ob != NULL, line, "outbuf_new_text", "NULL for %zu bytes", n);
    if (!ob) {
        free(payload);
        return;
    }
    size_t hlen;
    uint64_t len = header_length(ob->frame, &hlen);
    check_report(ob->frame[0] == 0x81, line, "first byte", "0x%02x for %zu bytes, want 0x81",
                 ob->frame[0], n);
    check_report((ob->frame[1] & 0x80) == 0, line, "mask bit", "set for %zu bytes", n);
    check_report(len == n && hlen == want_hlen, line, "length",
                 "%llu in %zu header bytes, want %zu in %zu", (unsigned long long)len, hlen, n,
                 want_hlen);
    check_report(outbuf_header_len(n) == want_hlen, line, "outbuf_header_len",
                 "%zu for %zu, want %zu", outbuf_header_len(n), n, want_hlen);
    check_report(ob->len == want_hlen + n, line, "ob->len", "%zu, want %zu", ob->len,
                 want_hlen + n);
    check_report(memcmp(ob->frame + want_hlen, payload, n) == 0, line, "payload",
                 "differs for %zu bytes", n);
    check_report(ob->frame >= ob->data + LWS_PRE, line, "headroom", "%td bytes, want %d",
                 ob->frame - ob->data, (int)LWS_PRE);
    /* lws_write writes its own bytes in the LWS_PRE before the frame: they must be ours */
    memset(ob->frame - LWS_PRE, 0, LWS_PRE);
    CHECK_INT(ob->refs, 1);
    outbuf_unref(ob);
    free(payload);
}

static void test_frames(void) {
    check_frame(__LINE__, 0, 2);
    check_frame(__LINE__, 1, 2);
    check_frame(__LINE__, 125, 2);
    check_frame(__LINE__, 126, 4);
    check_frame(__LINE__, 127, 4);
    check_frame(__LINE__, 65535, 4);
    check_frame(__LINE__, 65536, 10);
    check_frame(__LINE__, 100000, 10);
}

static void test_header_bytes(void) {
    struct outbuf *ob = outbuf_new_text("hi", 2);
    static const unsigned char small[] = {0x81, 0x02, 'h', 'i'};
    CHECK(ob && ob->len == 4 && memcmp(ob->frame, small, 4) == 0);
    outbuf_unref(ob);

    char *big = calloc(1, 65535);
    ob = outbuf_new_text(big, 65535);
    static const unsigned char mid[] = {0x81, 126, 0xff, 0xff};
    CHECK(ob && memcmp(ob->frame, mid, 4) == 0);
    outbuf_unref(ob);
    free(big);

    big = calloc(1, 100000);
    ob = outbuf_new_text(big, 100000); /* 0x186a0 */
    static const unsigned char large[] = {0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x86, 0xa0};
    CHECK(ob && memcmp(ob->frame, large, 10) == 0);
    outbuf_unref(ob);
    free(big);

    CHECK_INT(outbuf_header_len((size_t)1 << 40), 10);
}

static void test_refs(void) {
    struct outbuf *ob = outbuf_new_text("{\"a\":1}", 7);
    CHECK(ob != NULL);
    if (!ob)
        return;
    outbuf_ref(ob);
    outbuf_ref(ob);
    CHECK_INT(ob->refs, 3);
    outbuf_unref(ob);
    CHECK_INT(ob->refs, 2);
    CHECK(memcmp(ob->frame + 2, "{\"a\":1}", 7) == 0); /* still alive */
    outbuf_unref(ob);
    CHECK_INT(ob->refs, 1);
    outbuf_unref(ob); /* freed: the sanitizer build would report a further use */
    outbuf_unref(NULL);

    /* many holders, released in any order */
    struct outbuf *shared = outbuf_new_text("x", 1);
    for (int i = 0; i < 999; i++)
        outbuf_ref(shared);
    CHECK_INT(shared->refs, 1000);
    for (int i = 0; i < 999; i++)
        outbuf_unref(shared);
    CHECK_INT(shared->refs, 1);
    outbuf_unref(shared);
}

int main(void) {
    test_frames();
    test_header_bytes();
    test_refs();
    return check_summary("outbuf");
}
