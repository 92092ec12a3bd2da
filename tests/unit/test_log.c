/* Unit tests for base/log.c: the rate limit (log_limit_pass: one line per interval, the ones
 * held back counted and reported with the next line that passes), and the line formatter
 * (log_format_line): text and JSON, fields, escapes that keep a line whole, invalid UTF-8 as
 * U+FFFD, a cut line that stays a JSON object. */
#include "check.h"
#include "clock.h"
#include "log.h"

#include <string.h>

static void test_lines(void) {
    char out[512];
    long long t = 1796342400123LL; /* 2026-12-04T00:00:00.123Z */
    log_set_format(LOG_JSON);
    log_format_line(out, sizeof out, LOG_INFO, t, NULL, "[room vote:ber\"lin] hello");
    CHECK_STR(out, "{\"ts\":\"2026-12-04T00:00:00.123Z\",\"level\":\"info\",\"msg\":\"hello\","
                   "\"ns\":\"vote\",\"room\":\"ber\\\"lin\"}");
    log_format_line(out, sizeof out, LOG_WARN, t, NULL, "[store] lost");
    CHECK_STR(out, "{\"ts\":\"2026-12-04T00:00:00.123Z\",\"level\":\"warn\",\"msg\":\"lost\","
                   "\"component\":\"store\"}");
    struct log_fields f = {
        .ns = "chat", .room = "a\nb\xff", .room_len = 4, .file = "c.lua", .line = 7};
    log_format_line(out, sizeof out, LOG_ERROR, t, &f, "x\n\t\x01\xc3\xa9\xc3");
    CHECK_STR(out, "{\"ts\":\"2026-12-04T00:00:00.123Z\",\"level\":\"error\",\"msg\":"
                   "\"x\\n\\t\\u0001\xc3\xa9\\ufffd\",\"ns\":\"chat\",\"room\":\"a\\nb\\ufffd\","
                   "\"file\":\"c.lua\",\"line\":7}");
    char small[48];
    size_t n = log_format_line(small, sizeof small, LOG_INFO, t, NULL, "a long message indeed");
    CHECK_INT(n, strlen(small));
    CHECK(small[n - 1] == '}');
    log_set_format(LOG_TEXT);
    log_format_line(out, sizeof out, LOG_WARN, t, &f, "two\nlines");
    CHECK_STR(
        out,
        "00:00:00.123 warn  [room chat:a\\nb\xff] two\\nlines (c.lua:7)"); /* bytes as they are */
    CHECK_INT(log_format_parse("json"), LOG_JSON);
    CHECK_INT(log_format_parse("xml"), -1);
}

int main(void) {
    test_lines();
    struct log_limit l = {0};
    unsigned long held = 99;
    CHECK(log_limit_pass(&l, 5000, 1000, &held));
    CHECK_INT(held, 0);
    for (long long t = 5001; t < 6000; t += 100)
        CHECK(!log_limit_pass(&l, t, 1000, &held));
    CHECK_INT(l.held_back, 10);
    CHECK(log_limit_pass(&l, 6000, 1000, &held));
    CHECK_INT(held, 10);
    CHECK(!log_limit_pass(&l, 6999, 1000, &held));
    CHECK(log_limit_pass(&l, 9000, 1000, &held));
    CHECK_INT(held, 1);
    CHECK(clock_ms() > 0);
    return check_summary("test_log");
}
