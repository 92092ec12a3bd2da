/* log: leveled lines on stderr, each with a time stamp and the level, as text or as one JSON
 * object per line (log_set_format). Callers tag the object they speak of in the text
 * ("[room vote:berlin] ...", "[store] ..."); a JSON line carries the tag as fields (ns and room,
 * or component) and the rest as msg. log_with passes fields explicitly. Either way a message
 * never breaks its line: control bytes are escaped (\n in text, JSON's escapes in JSON). */
#ifndef ROOMD_LOG_H
#define ROOMD_LOG_H

#include "clock.h"

#include <stdlib.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

enum log_format { LOG_TEXT, LOG_JSON };

/* What a line may say besides its message (NULL / 0: not said). */
struct log_fields {
    const char *ns, *room; /* room: room_len bytes, any bytes */
    size_t room_len;
    const char *file; /* a room script's file and line */
    int line;
    const char *method, *path; /* the access log's */
    int status;
    long long bytes;
    double duration_ms;
};

void log_set_format(enum log_format format);

/* Parses "text" or "json"; returns -1 for anything else. */
int log_format_parse(const char *name);

/* A line with fields (log_print's lines have only their text's tag). */
void log_with(enum log_level level, const struct log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes line (without its newline) of the given level and fields, as the format says, into
 * out (cap bytes, NUL-terminated; cut to fit, the line stays whole). Returns its length. For
 * the tests; log_print and log_with use it. */
size_t log_format_line(char *out, size_t cap, enum log_level level, long long wall_ms,
                       const struct log_fields *f, const char *msg);

/* Sets the most verbose level that is printed. */
void log_set_level(enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

int log_enabled(enum log_level level);

void log_print(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_print(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_print(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_print(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG))                                                                \
            log_print(LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

/* One call site's budget for log_limited: at most one line per interval. */
struct log_limit {
    long long next_ms;       /* monotonic time before which lines are held back */
    unsigned long held_back; /* lines held back since the last one printed */
};

/* Whether a line limited by l may print at now_ms; if so, *held_back gets how many were held back
 * before it (and the count restarts). */
int log_limit_pass(struct log_limit *l, long long now_ms, long long interval_ms,
                   unsigned long *held_back);

/* log_print for lines a client can cause in a flood: at most one per second per call site, the
 * next one printed says how many were held back. */
#define log_limited(level, ...)                                                                    \
    do {                                                                                           \
        static struct log_limit limit_;                                                            \
        unsigned long held_;                                                                       \
        if (log_enabled(level) && log_limit_pass(&limit_, clock_ms(), 1000, &held_)) {             \
            if (held_)                                                                             \
                log_print(level, "(%lu more like the next line held back)", held_);                \
            log_print(level, __VA_ARGS__);                                                         \
        }                                                                                          \
    } while (0)

/* Always-on invariant check: logs the failed condition and aborts. */
#define rd_assert(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            log_print(LOG_ERROR, "assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
