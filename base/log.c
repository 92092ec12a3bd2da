/* log: leveled lines on stderr. One write per line so lines from a dying
 * process are never interleaved half-way. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level max_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level) {
    max_level = level;
}

int log_level_parse(const char *name) {
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int log_enabled(enum log_level level) {
    return level <= max_level;
}

void log_print(enum log_level level, const char *fmt, ...) {
    if (level > max_level)
        return;
    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-5s ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

int log_limit_pass(struct log_limit *l, long long now_ms, long long interval_ms,
                   unsigned long *held_back) {
    if (now_ms < l->next_ms) {
        l->held_back++;
        return 0;
    }
    *held_back = l->held_back;
    l->held_back = 0;
    l->next_ms = now_ms + interval_ms;
    return 1;
}
