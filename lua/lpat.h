/* lpat: Lua 5.1 patterns, matched with a budget.
 *
 * The room sandbox's string.find, match, gmatch and gsub (lstr.c) run on this matcher instead of
 * LuaJIT's, whose backtracking runs in C with no bound: a pattern like (".-"):rep(8) .. "b"
 * against a long subject takes minutes, out of reach of the count hook that bounds a turn. Here
 * every step counts, and every LPAT_CHECK_EVERY steps the matcher asks its caller whether to go
 * on (the turn's CPU deadline).
 *
 * A pattern is compiled once into items (a single-byte class with its repetition, a capture, a
 * %b, a %f, a back reference, the final $), then matched by backtracking over the items. The
 * syntax and results are Lua 5.1's (as LuaJIT 2.1 has them); one difference: a malformed
 * pattern is always an error, even where Lua would fail to match before reaching the fault. Knows
 * nothing of Lua. */
#ifndef ROOMD_LPAT_H
#define ROOMD_LPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LPAT_MAX_CAPTURES 32
#define LPAT_MAX_DEPTH 200    /* nested backtracking points (Lua's "pattern too complex") */
#define LPAT_CHECK_EVERY 4096 /* steps between two calls of the budget callback */
#define LPAT_POSITION (-2)    /* the len of a position capture, "()" */

struct lpat_item {
    const uint8_t *set; /* the bytes a class item matches (32-byte bitmap), NULL for a literal */
    uint8_t op;         /* enum in lpat.c */
    uint8_t rep;        /* repetition of a class item: one, *, +, -, ? */
    uint8_t a, b;       /* a literal byte; %b's two bytes; a back reference's capture index */
};

/* A compiled pattern. items and sets point into storage the caller provides. */
struct lpat {
    struct lpat_item *items;
    uint8_t (*sets)[32];
    int n_items, n_sets, n_captures;
    bool anchored; /* began with '^' (only where the caller allows an anchor) */
};

/* Compiles pat[0..len). With p->items NULL it only checks the pattern and counts what it needs
 * into p->n_items and p->n_sets; with p->items (and p->sets) pointing at that many, it fills
 * them. anchor: a leading '^' anchors the match (find, match, gsub) rather than being a literal
 * (gmatch). Returns NULL, or the reason the pattern is malformed. */
const char *lpat_compile(struct lpat *p, const char *pat, size_t len, bool anchor);

enum lpat_status {
    LPAT_OK,          /* matched or not */
    LPAT_TOO_COMPLEX, /* past LPAT_MAX_DEPTH nested backtracking points */
    LPAT_STOPPED,     /* the budget callback said stop */
};

struct lpat_capture {
    const char *init;
    ptrdiff_t len; /* LPAT_POSITION for a position capture */
};

/* One match attempt's state: the subject, the captures, the budget. */
struct lpat_match {
    const char *src, *end; /* the subject */
    int level;             /* captures made */
    struct lpat_capture cap[LPAT_MAX_CAPTURES];
    enum lpat_status status;
    int depth;
    unsigned long steps, next_check;
    bool (*stop)(void *ud); /* called every LPAT_CHECK_EVERY steps; true ends matching */
    void *ud;
};

/* Prepares m for matching in subject s[0..len). stop may be NULL (no budget). */
void lpat_begin(struct lpat_match *m, const char *s, size_t len, bool (*stop)(void *ud), void *ud);

/* Matches p at s (inside the subject) only, without moving on. Returns the end of the match
 * (captures in m), or NULL: no match, or m->status says why matching ended. */
const char *lpat_match_at(struct lpat_match *m, const struct lpat *p, const char *s);

/* Counts n steps of work done outside the matcher (the caller's scanning); false once the
 * budget callback said stop (m->status is LPAT_STOPPED). */
bool lpat_spend(struct lpat_match *m, unsigned long n);

/* Whether pat[0..len) has a byte that makes string.find treat it as a pattern rather than plain
 * text: one of ^$*+?.([%- (LuaJIT's rule). */
bool lpat_is_pattern(const char *pat, size_t len);

#endif
