/* Unit tests for rooms/conn.c, the parts no socket is needed for: the per-connection message
 * allowance (limits.messages_per_second, a token bucket) to the exact message with a clock the
 * test sets, reassembly of fragments against limits.message_bytes at its exact boundary, the
 * text/binary kind of a fragmented message, tags (at most CONN_MAX_TAGS, no duplicates) and
 * attachments (replaced and cleared). A conn without a socket ignores closes, which lets the
 * refusals run here without libwebsockets. */
#include "check.h"
#include "conn_internal.h"
#include "outbuf.h"
#include "room_limits.h"

#include <stdlib.h>
#include <string.h>

static struct limits limits = {.message_bytes = 10, .messages_per_second = 4};

static void test_token_bucket(void) {
    struct conn *c = conn_new(NULL, NULL, &limits);
    long long t = 1000000;
    for (int i = 0; i < 4; i++) /* a burst of as many as the rate */
        CHECK(conn_take_token(c, t));
    CHECK(!conn_take_token(c, t));
    CHECK(!conn_take_token(c, t + 249)); /* 249 ms at 4/s: 0.996 of a message */
    CHECK(conn_take_token(c, t + 250 + 249));
    CHECK(!conn_take_token(c, t + 250 + 249));
    /* a long pause refills to the burst, never past it */
    t += 60000;
    for (int i = 0; i < 4; i++)
        CHECK(conn_take_token(c, t));
    CHECK(!conn_take_token(c, t));
    conn_free(c);
}

static void test_reassembly(void) {
    struct conn *c = conn_new(NULL, NULL, &limits);
    size_t n;
    bool binary;
    CHECK_INT(conn_receive(c, "hello", 5, false, false), 0);
    CHECK_INT(conn_receive(c, "world", 5, true, true), 1); /* exactly message_bytes */
    char *msg = conn_take_message(c, &n, &binary);
    CHECK_MEM(msg, n, "helloworld");
    CHECK(!binary); /* the kind is the first fragment's */
    CHECK_INT(msg[n], '\0');
    free(msg);
    CHECK_INT(conn_receive(c, "0123456789", 10, false, true), 0);
    CHECK_INT(conn_receive(c, "x", 1, true, true), -1); /* one byte past the limit */
    CHECK_INT(conn_receive(c, "", 0, true, false), 1);  /* no socket: nothing closed it */
    msg = conn_take_message(c, &n, &binary);
    CHECK(binary);
    free(msg);
    conn_free(c);
}

static void test_tags(void) {
    struct conn *c = conn_new(NULL, NULL, &limits);
    char tag[16];
    for (int i = 0; i < CONN_MAX_TAGS; i++) {
        snprintf(tag, sizeof tag, "t%d", i);
        CHECK_INT(conn_add_tag(c, tag), 0);
    }
    CHECK_INT(conn_add_tag(c, "t0"), 1);
    CHECK_INT(conn_add_tag(c, "one-more"), -1);
    CHECK(conn_has_tag(c, "t7"));
    CHECK(!conn_has_tag(c, "one-more"));
    CHECK(!conn_has_tag(c, "t"));
    conn_free(c);
}

static void test_attachment(void) {
    struct conn *c = conn_new(NULL, NULL, &limits);
    CHECK_INT(conn_set_attachment(c, "{\"a\":1}xyz", 7), 0);
    CHECK_STR(c->attachment, "{\"a\":1}");
    CHECK_INT(conn_set_attachment(c, "[2]", 3), 0);
    CHECK_STR(c->attachment, "[2]");
    CHECK_INT(conn_set_attachment(c, NULL, 0), 0);
    CHECK(c->attachment == NULL);
    conn_free(c);
}

static void test_ids(void) {
    struct conn *a = conn_new(NULL, NULL, &limits), *b = conn_new(NULL, NULL, &limits);
    CHECK(b->id > a->id);
    conn_free(a);
    conn_free(b);
    conn_free(NULL);
}

/* What the sink of test_fake got. */
static struct {
    char text[128];
    size_t len;
    int frames, closes, code;
} sunk;

static void sink_frame(struct conn *c, const char *payload, size_t len) {
    (void)c;
    sunk.frames++;
    memcpy(sunk.text + sunk.len, payload, len);
    sunk.len += len;
}

static void sink_close(struct conn *c, int code, const char *reason) {
    (void)c, (void)reason;
    sunk.closes++;
    sunk.code = code;
}

/* A fake conn (roomd test) hands its frames' payloads, in order, then its close, to the sink at
 * conn_request_writes; once detached it takes nothing more. */
static void test_fake(void) {
    static const struct conn_sink sink = {sink_frame, sink_close};
    static struct limits roomy = {.send_queue_bytes = 1 << 20, .send_queue_messages = 16};
    conn_set_sink(&sink);
    struct conn *c = conn_new_fake(NULL, &roomy);
    struct outbuf *a = outbuf_new_text("[1]", 3), *b = outbuf_new_text("{}", 2);
    CHECK(conn_attached(c));
    CHECK_INT(conn_send(c, a), 0);
    CHECK_INT(conn_send(c, b), 0);
    CHECK_INT(sunk.frames, 0); /* nothing before the loop's write step */
    conn_close(c, 4000, "bye");
    conn_request_writes();
    CHECK_INT(sunk.frames, 2);
    CHECK_MEM(sunk.text, sunk.len, "[1]{}");
    CHECK_INT(sunk.closes, 1);
    CHECK_INT(sunk.code, 4000);
    conn_detach(c);
    CHECK(!conn_attached(c));
    CHECK_INT(conn_send(c, a), -1);
    outbuf_unref(a);
    outbuf_unref(b);
    conn_free(c);
}

int main(void) {
    test_token_bucket();
    test_reassembly();
    test_tags();
    test_attachment();
    test_ids();
    test_fake();
    return check_summary("test_conn");
}
