/* libFuzzer harness for lua/lpat.c: the input is a pattern, a NUL byte, then a subject. The
 * pattern is compiled twice (counting, then into storage of exactly the size counted) and, when
 * well formed, matched at every position of the subject (anchored and not) with a step budget.
 * A match must end inside the subject and its captures lie inside it too. */
#include "lpat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool out_of_steps(void *ud) {
    return ++*(int *)ud > 25; /* about 100,000 steps per attempt at most */
}

static void check_match(const struct lpat_match *m, const char *at, const char *e) {
    if (e < at || e > m->end || m->level < 0 || m->level > LPAT_MAX_CAPTURES)
        abort();
    for (int k = 0; k < m->level; k++) {
        const struct lpat_capture *c = &m->cap[k];
        if (c->init < m->src || c->init > m->end ||
            (c->len != LPAT_POSITION && (c->len < 0 || c->init + c->len > m->end)))
            abort();
    }
}

static void run(const char *pat, size_t plen, const char *s, size_t len, bool anchor) {
    struct lpat probe = {0};
    if (lpat_compile(&probe, pat, plen, anchor))
        return;
    struct lpat p = {.items = malloc((size_t)probe.n_items * sizeof *p.items + 1),
                     .sets = malloc((size_t)probe.n_sets * 32 + 1)};
    if (lpat_compile(&p, pat, plen, anchor) || p.n_items != probe.n_items ||
        p.n_sets != probe.n_sets)
        abort();
    for (size_t i = 0; i <= len; i++) {
        int looks = 0;
        struct lpat_match m;
        lpat_begin(&m, s, len, out_of_steps, &looks);
        const char *e = lpat_match_at(&m, &p, s + i);
        if (e)
            check_match(&m, s + i, e);
        else if (m.status == LPAT_STOPPED)
            break;
    }
    free(p.items);
    free(p.sets);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    const char *nul = memchr(in, '\0', size);
    size_t plen = nul ? (size_t)(nul - in) : size;
    const char *s = nul ? nul + 1 : in + size;
    size_t len = size - plen - (nul ? 1 : 0);
    /* The subject in a buffer of its own, so that reading past it is caught. */
    char *subject = malloc(len + 1);
    memcpy(subject, s, len);
    run(in, plen, subject, len, true);
    run(in, plen, subject, len, false);
    free(subject);
    return 0;
}
