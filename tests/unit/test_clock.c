/* Unit tests for base/clock.c: the clocks run until clock_fake freezes them (as `roomd test`
 * does); then only clock_advance moves them, both by the same amount, never backwards. */
#include "check.h"
#include "clock.h"

static void test_real_then_frozen(void) {
    long long wall = clock_wall_ms();
    CHECK(wall > 1600000000000LL); /* after 2020: the real wall clock */
    clock_advance(1000);           /* not frozen: does nothing */
    CHECK(clock_wall_ms() - wall < 1000);
    clock_fake(1704067200000LL);
    long long mono = clock_ms();
    CHECK(clock_wall_ms() == 1704067200000LL);
    clock_advance(250);
    CHECK(clock_wall_ms() == 1704067200250LL);
    CHECK(clock_ms() == mono + 250);
    clock_advance(-5); /* time does not go back */
    CHECK(clock_ms() == mono + 250);
    clock_fake(1704067200000LL); /* a reset moves the wall clock only */
    CHECK(clock_wall_ms() == 1704067200000LL);
    CHECK(clock_ms() == mono + 250);
}

int main(void) {
    test_real_then_frozen();
    return check_summary("test_clock");
}
