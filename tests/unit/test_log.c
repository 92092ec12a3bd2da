/* Unit tests for server/log.c's rate limit (log_limit_pass): one line per interval, the ones
 * held back counted and reported with the next line that passes. */
#include "check.h"
#include "clock.h"
#include "log.h"

int main(void) {
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
