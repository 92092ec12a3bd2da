/* Unit tests for rooms/usage.c, on made-up times: a turn's time rounds to microseconds and
 * counts toward the CPU budget of the current minute, which starts again once the minute is
 * over; connection-time is connections times time, brought up to date when connections change
 * and when counts are taken; memory time runs only while the room is in memory; taking the
 * counts empties them and says whether there were any; and the day of a time is its UTC date. */
#include "check.h"
#include "usage.h"
#include "usage_store.h"

#define MINUTE 60000

static void test_budget(void) {
    struct room_usage u;
    usage_init(&u, 1000);
    CHECK(!usage_over_budget(&u, 100, 1000));
    usage_turn(&u, 60 * 1000000LL + 499, 1010); /* 60 ms and a bit: rounds to 60000 us */
    CHECK_INT(u.n[USAGE_CPU_US], 60000);
    CHECK(!usage_over_budget(&u, 100, 1020));
    usage_turn(&u, 40 * 1000000LL, 1030);
    CHECK(usage_over_budget(&u, 100, 1040)); /* 100 ms used: at the budget is over it */
    CHECK(!usage_over_budget(&u, 0, 1040));  /* 0: no budget */
    CHECK(usage_over_budget(&u, 100, 1000 + MINUTE - 1));
    CHECK(!usage_over_budget(&u, 100, 1000 + MINUTE)); /* a new minute */
    CHECK_INT(u.n[USAGE_TURNS], 2);
    CHECK_INT(u.n[USAGE_CPU_US], 100000); /* the totals do not start again */
}

static void test_time_based(void) {
    struct room_usage u;
    uint64_t n[USAGE_FIELDS];
    usage_init(&u, 0);
    CHECK(!usage_take(&u, 0, 5000, n)); /* nothing in memory, no connection: nothing */
    usage_loaded(&u, 5000);
    usage_conns(&u, 0, 6000); /* the first join */
    usage_conns(&u, 1, 7000); /* one connection for 1 s, then a second one */
    CHECK(usage_take(&u, 2, 8000, n));
    CHECK_INT(n[USAGE_CONN_MS], 1000 + 2 * 1000);
    CHECK_INT(n[USAGE_MEMORY_MS], 3000);
    CHECK(usage_take(&u, 2, 8500, n)); /* still in memory with two: counted from the take */
    CHECK_INT(n[USAGE_CONN_MS], 1000);
    CHECK_INT(n[USAGE_MEMORY_MS], 500);
    usage_unloaded(&u, 9000); /* hibernated: memory time stops, connection time goes on */
    CHECK(usage_take(&u, 2, 10000, n));
    CHECK_INT(n[USAGE_MEMORY_MS], 500);
    CHECK_INT(n[USAGE_CONN_MS], 3000);
    u.n[USAGE_REQUESTS] = 3;
    CHECK(usage_take(&u, 0, 10000, n));
    CHECK_INT(n[USAGE_REQUESTS], 3);
    CHECK(!usage_take(&u, 0, 20000, n));
}

static void test_day(void) {
    char day[USAGE_DAY_LEN];
    usage_day(0, day);
    CHECK_STR(day, "1970-01-01");
    usage_day(1796342399999LL, day); /* the last millisecond of a day */
    CHECK_STR(day, "2026-12-03");
    usage_day(1796342400000LL, day);
    CHECK_STR(day, "2026-12-04");
}

int main(void) {
    test_budget();
    test_time_based();
    test_day();
    return check_summary("usage");
}
