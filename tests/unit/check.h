/* check: the assertions and scratch files of roomd's unit tests.
 *
 * Each test is one executable with its own main. The CHECK macros count passes and failures
 * and print both sides of a failed comparison with its line; check_summary prints the last
 * line, "<name>: N passed, M failed", and gives the exit status. Scratch files live in one
 * mkdtemp folder per process, removed by scratch_remove. Header-only, for one-file tests. */
#ifndef ROOMD_TEST_CHECK_H
#define ROOMD_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* nftw's FTW_PHYS; the build defines it already */
#endif

#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_passed, check_failed;

__attribute__((format(printf, 4, 5))) static inline void
check_report(int ok, int line, const char *what, const char *fmt, ...) {
    if (ok) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "FAIL line %d: %s: ", line, what);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define CHECK(cond) check_report((cond) != 0, __LINE__, #cond, "false")
#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        check_report(got_ == want_, __LINE__, #got, "got %lld, want %lld", got_, want_);           \
    } while (0)
#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        int ok_ = got_ && strcmp(got_, want_) == 0;                                                \
        check_report(ok_, __LINE__, #got, "got '%s', want '%s'", got_ ? got_ : "(null)", want_);   \
    } while (0)
#define CHECK_HAS(got, part)                                                                       \
    do {                                                                                           \
        const char *got_ = (got), *part_ = (part);                                                 \
        int ok_ = got_ && strstr(got_, part_) != NULL;                                             \
        check_report(ok_, __LINE__, #got, "got '%s', want it to contain '%s'",                     \
                     got_ ? got_ : "(null)", part_);                                               \
    } while (0)
/* got[0..got_len) holds exactly the NUL-terminated want. */
#define CHECK_MEM(got, got_len, want)                                                              \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        size_t got_len_ = (got_len), want_len_ = strlen(want_);                                    \
        int ok_ = got_ && got_len_ == want_len_ && memcmp(got_, want_, want_len_) == 0;            \
        check_report(ok_, __LINE__, #got, "got '%.*s' (%zu bytes), want '%s' (%zu bytes)",         \
                     got_ ? (int)got_len_ : 6, got_ ? got_ : "(null)", got_len_, want_,            \
                     want_len_);                                                                   \
    } while (0)

/* Prints the summary line; returns the exit status. */
static inline int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

/* -- scratch files ---------------------------------------------------------------------------- */

static char scratch_root[PATH_MAX];

/* The scratch folder (its real path), created on first use. Exits if it cannot be. */
static inline const char *scratch_dir(void) {
    if (scratch_root[0])
        return scratch_root;
    const char *tmp = getenv("TMPDIR");
    char templ[PATH_MAX];
    snprintf(templ, sizeof templ, "%s/roomd-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(templ) || !realpath(templ, scratch_root)) {
        perror("scratch folder");
        exit(2);
    }
    return scratch_root;
}

/* <scratch>/<name> in buf (of PATH_MAX bytes). */
static inline char *scratch_path(char *buf, const char *name) {
    if (snprintf(buf, PATH_MAX, "%s/%s", scratch_dir(), name) >= PATH_MAX) {
        fprintf(stderr, "scratch path too long: %s\n", name);
        exit(2);
    }
    return buf;
}

/* Writes len bytes of text to <scratch>/<name> and returns its path in buf (of PATH_MAX bytes).
 * Exits on failure: the test cannot go on. */
static inline char *scratch_write_len(char *buf, const char *name, const char *text, size_t len) {
    FILE *f = fopen(scratch_path(buf, name), "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        perror(buf);
        exit(2);
    }
    return buf;
}

static inline char *scratch_write(char *buf, const char *name, const char *text) {
    return scratch_write_len(buf, name, text, strlen(text));
}

static inline int scratch_remove_one(const char *path, const struct stat *st, int flag,
                                     struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes the scratch folder and everything in it (symlinks, not their targets). */
static inline void scratch_remove(void) {
    if (scratch_root[0])
        nftw(scratch_root, scratch_remove_one, 16, FTW_DEPTH | FTW_PHYS);
    scratch_root[0] = '\0';
}

#endif
