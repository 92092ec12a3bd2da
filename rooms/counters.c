/* counters: see counters.h. */
#include "counters.h"

#include "ns_internal.h"

#define US 1000ull
#define MS 1000000ull

/* From 10 us (a short turn) to 5 s (a commit waiting on a Redis that is far or struggling). */
const uint64_t counters_bucket_ns[COUNTERS_BUCKETS - 1] = {
    10 * US, 25 * US, 50 * US, 100 * US, 250 * US, 500 * US, 1 * MS,    2500 * US, 5 * MS,
    10 * MS, 25 * MS, 50 * MS, 100 * MS, 250 * MS, 500 * MS, 1000 * MS, 2500 * MS, 5000 * MS,
};

/* Most durations fall in the first buckets: a linear search finds them in a few compares. */
void counters_observe(struct counters_histogram *h, uint64_t ns) {
    int i = 0;
    while (i < COUNTERS_BUCKETS - 1 && ns > counters_bucket_ns[i])
        i++;
    h->bucket[i]++;
    h->sum_ns += ns;
}

/* The codes a close frame may carry (RFC 6455 7.4), one class each, then 3000-3999 and
 * 4000-4999 as one class each, then "none". */
static const char *const close_names[COUNTERS_CLOSE_CLASSES] = {
    "1000", "1001", "1002", "1003", "1007", "1008", "1009", "1010",
    "1011", "1012", "1013", "1014", "3xxx", "4xxx", "none"};

int counters_close_class(int code) {
    if (code >= 1000 && code <= 1003)
        return code - 1000;
    if (code >= 1007 && code <= 1014)
        return code - 1007 + 4;
    if (code >= 3000 && code <= 4999)
        return 12 + (code >= 4000);
    return COUNTERS_CLOSE_CLASSES - 1;
}

const char *counters_close_class_name(int cls) {
    return close_names[cls >= 0 && cls < COUNTERS_CLOSE_CLASSES ? cls : COUNTERS_CLOSE_CLASSES - 1];
}

struct ns_counters *counters_of(struct ns *ns) {
    return &ns->counters;
}
