/* log: leveled lines on stderr. One write per line so lines from a dying
 * process are never interleaved half-way. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level max_level = LOG_INFO;
static enum log_format out_format = LOG_TEXT;
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

int log_format_parse(const char *name) {
    return strcmp(name, "text") == 0 ? LOG_TEXT : strcmp(name, "json") == 0 ? LOG_JSON : -1;
}

void log_set_format(enum log_format format) {
    out_format = format;
}

/* The output being written: a buffer that never overflows (what does not fit is dropped, and
 * the caller ends the line). */
struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n) {
    if (o->len + n >= o->cap)
        n = o->len + 1 < o->cap ? o->cap - o->len - 1 : 0;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, const char *s) {
    put(o, s, strlen(s));
}

static void put_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct out *o, const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(o, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (s[0] >= 0xf8 || len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* s[0..n) as text that stays on its line: JSON's escapes in a JSON string (invalid UTF-8 as
 * U+FFFD), or \n, \r, \t and \xNN for control bytes in text. */
static void put_escaped(struct out *o, const char *s, size_t n, bool json) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        const char *esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (esc) {
            put_str(o, esc);
        } else if (json && (c == '"' || c == '\\')) {
            put(o, "\\", 1);
            put(o, (const char *)&c, 1);
        } else if (c < 0x20 || c == 0x7f) {
            put_fmt(o, json ? "\\u%04x" : "\\x%02x", c);
        } else if (c >= 0x80 && json) {
            size_t len = utf8_seq(u + i, n - i);
            if (!len) {
                put_str(o, "\\ufffd");
                i++;
                continue;
            }
            put(o, s + i, len);
            i += len;
            continue;
        } else {
            put(o, (const char *)&c, 1);
        }
        i++;
    }
}

static void json_field(struct out *o, const char *name, const char *value, size_t len) {
    put_fmt(o, ",\"%s\":\"", name);
    put_escaped(o, value, len, true);
    put(o, "\"", 1);
}

/* A tag at the start of msg: "[room <ns>:<id>] " or "[<component>] ". */
static const char *split_tag(const char *msg, struct log_fields *f, const char **component,
                             size_t *component_len) {
    *component = NULL;
    const char *end = msg[0] == '[' ? strchr(msg, ']') : NULL;
    if (!end || end[1] != ' ')
        return msg;
    if (strncmp(msg, "[room ", 6) == 0 && !f->ns) {
        const char *colon = memchr(msg + 6, ':', (size_t)(end - msg - 6));
        if (colon) {
            static char ns[64];
            snprintf(ns, sizeof ns, "%.*s", (int)(colon - msg - 6), msg + 6);
            f->ns = ns;
            f->room = colon + 1;
            f->room_len = (size_t)(end - colon - 1);
            return end + 2;
        }
    }
    if (strchr(msg, ' ') > end) {
        *component = msg + 1;
        *component_len = (size_t)(end - msg - 1);
        return end + 2;
    }
    return msg;
}

size_t log_format_line(char *buf, size_t cap, enum log_level level, long long wall_ms,
                       const struct log_fields *given, const char *msg) {
    struct out o = {buf, 0, cap};
    struct log_fields f = given ? *given : (struct log_fields){0};
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (out_format == LOG_TEXT) {
        put_fmt(&o, "%02d:%02d:%02d.%03lld %-5s ", tm.tm_hour, tm.tm_min, tm.tm_sec, wall_ms % 1000,
                level_names[level]);
        if (f.ns) {
            put_fmt(&o, "[room %s:", f.ns);
            put_escaped(&o, f.room, f.room_len, false);
            put_str(&o, "] ");
        }
        put_escaped(&o, msg, strlen(msg), false);
        if (f.file)
            put_fmt(&o, " (%.200s:%d)", f.file, f.line);
    } else {
        const char *component;
        size_t component_len;
        msg = split_tag(msg, &f, &component, &component_len);
        put_fmt(&o, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ\",\"level\":\"%s\"",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                wall_ms % 1000, level_names[level]);
        json_field(&o, "msg", msg, strlen(msg));
        if (component)
            json_field(&o, "component", component, component_len);
        if (f.ns)
            json_field(&o, "ns", f.ns, strlen(f.ns));
        if (f.room)
            json_field(&o, "room", f.room, f.room_len);
        if (f.file) {
            json_field(&o, "file", f.file, strlen(f.file));
            put_fmt(&o, ",\"line\":%d", f.line);
        }
        if (f.method) {
            json_field(&o, "method", f.method, strlen(f.method));
            json_field(&o, "path", f.path ? f.path : "", f.path ? strlen(f.path) : 0);
            put_fmt(&o, ",\"status\":%d,\"bytes\":%lld,\"duration_ms\":%.3f", f.status, f.bytes,
                    f.duration_ms);
        }
        /* cut to fit: the object must still close */
        if (o.len + 2 >= cap)
            o.len = cap > 3 ? cap - 3 : 0;
        put(&o, "}", 1);
    }
    buf[o.len] = '\0';
    return o.len;
}

static void emit(enum log_level level, const struct log_fields *f, const char *fmt, va_list ap) {
    char msg[4096], line[8192];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = log_format_line(line, sizeof line - 1, level,
                                 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, f, msg);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr); /* one write per line: lines are never interleaved */
}

void log_print(enum log_level level, const char *fmt, ...) {
    if (level > max_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, NULL, fmt, ap);
    va_end(ap);
}

void log_with(enum log_level level, const struct log_fields *f, const char *fmt, ...) {
    if (level > max_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, f, fmt, ap);
    va_end(ap);
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
