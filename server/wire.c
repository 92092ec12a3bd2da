/* wire: see wire.h. One slot per file descriptor, in an array grown to the highest descriptor
 * marked. A slot holds the request line from the request's first bytes to its routing; a
 * WebSocket's slot holds where it is in the frame it is reading. */
#include "wire.h"

#include "store.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum slot_state {
    SLOT_IDLE,      /* not looked at */
    SLOT_EXPECTING, /* the next bytes start a request */
    SLOT_LINE,      /* part of the request line seen */
    SLOT_HEADERS,   /* the request line is whole: checking the header lines */
    SLOT_HEAD_DONE, /* the empty line that ends the head seen */
    SLOT_TOO_LONG,  /* the request line was longer than WIRE_LINE_MAX */
    SLOT_FRAMES,    /* a WebSocket: checking each frame is masked */
    SLOT_BROKEN,    /* a WebSocket that sent a frame that is not masked */
};

struct slot {
    enum slot_state state;
    size_t len, cap;
    char *line;       /* cap bytes (up to WIRE_LINE_MAX) from SLOT_LINE to SLOT_HEAD_DONE */
    bool line_start;  /* SLOT_HEADERS: at the start of a header line */
    bool in_name;     /* SLOT_HEADERS: inside a header's name */
    uint8_t hdr[14];  /* SLOT_FRAMES: the frame header read so far */
    uint8_t hdr_len;  /* its bytes */
    uint64_t payload; /* SLOT_FRAMES: payload bytes of the current frame still to come */
    struct lws *wsi;  /* SLOT_FRAMES, SLOT_BROKEN */
};

/* A request line's first buffer: most lines fit, a longer one grows it (to WIRE_LINE_MAX). */
#define LINE_START 256

/* The methods roomd serves; lws would answer any other with its HTML 403 page, or hold a
 * CONNECT open, so they are refused here first. */
static const char *const served_methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                             "PATCH", "DELETE", "OPTIONS", NULL};

static struct {
    struct slot *slots;
    size_t n;
} table;

static struct slot *slot_of(int fd) {
    return fd >= 0 && (size_t)fd < table.n ? &table.slots[fd] : NULL;
}

void wire_forget(int fd) {
    struct slot *s = slot_of(fd);
    if (!s)
        return;
    free(s->line);
    memset(s, 0, sizeof *s);
}

/* fd's slot, emptied; NULL when the table cannot grow (fd is then not looked at). */
static struct slot *fresh_slot(int fd) {
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= table.n) {
        size_t n = table.n ? table.n : 256;
        while (n <= (size_t)fd)
            n *= 2;
        struct slot *slots = realloc(table.slots, n * sizeof *slots);
        if (!slots)
            return NULL;
        memset(slots + table.n, 0, (n - table.n) * sizeof *slots);
        table.slots = slots;
        table.n = n;
    }
    wire_forget(fd);
    return &table.slots[fd];
}

void wire_expect_request(int fd) {
    struct slot *s = fresh_slot(fd);
    if (s) /* else the request is refused as not seen */
        s->state = SLOT_EXPECTING;
}

bool wire_request_begun(int fd) {
    const struct slot *s = slot_of(fd);
    return s && (s->state == SLOT_LINE || s->state == SLOT_HEADERS || s->state == SLOT_HEAD_DONE ||
                 s->state == SLOT_TOO_LONG);
}

void wire_watch_frames(int fd, struct lws *wsi) {
    struct slot *s = fresh_slot(fd);
    if (s) {
        s->state = SLOT_FRAMES;
        s->wsi = wsi;
    }
}

bool wire_frames_broken(int fd) {
    struct slot *s = slot_of(fd);
    return s && s->state == SLOT_BROKEN;
}

/* ---- the request head ---- */

/* Whether method[0..len) is a token (RFC 9110 5.6.2), as every method is. */
static bool is_token(const char *method, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)method[i] <= ' ' || (unsigned char)method[i] >= 0x7f ||
            strchr("\"(),/:;<=>?@[\\]{}", method[i]))
            return false;
    return len > 0;
}

/* The status line and error of a request line whose method is method[0..len), or NULL when
 * that method is served. */
static const char *method_refusal(const char *method, size_t len, const char **error) {
    for (const char *const *m = served_methods; *m; m++)
        if (strlen(*m) == len && memcmp(*m, method, len) == 0)
            return NULL;
    if (!is_token(method, len)) {
        *error = "not an HTTP request line";
        return "400 Bad Request";
    }
    if (len == 7 && memcmp(method, "CONNECT", 7) == 0) {
        *error = "CONNECT is not served";
        return "405 Method Not Allowed";
    }
    *error = "method not implemented: roomd serves GET HEAD POST PUT PATCH DELETE OPTIONS";
    return "501 Not Implemented";
}

static int hex_value(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Why lws could not take the request-target target[0..len) (it would answer its HTML 403 or
 * drop the connection), or NULL: a malformed escape, or an escaped NUL, CR or LF. */
static const char *target_refusal(const char *target, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (target[i] != '%')
            continue;
        int hi = i + 2 < len ? hex_value(target[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(target[i + 2]) : -1;
        if (lo < 0)
            return "a %-escape in the URL is not two hex digits";
        int c = hi << 4 | lo;
        if (c == 0 || c == '\r' || c == '\n')
            return "the URL holds an escaped NUL, CR or LF";
    }
    return NULL;
}

/* Answers fd with status and {"error": error} (the connection closes after it) and stops
 * looking at it. */
static void refuse(int fd, const char *status, const char *error) {
    char answer[256];
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n\r\n{\"error\":\"%s\"}",
                     status, strlen(error) + 12, error);
    syscall(SYS_sendto, fd, answer, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
    wire_forget(fd);
}

/* Checks header lines in buf[0..n): false at whitespace inside or after a name, before its
 * colon. A line that starts with whitespace (an obsolete folded value) is left to lws. */
static bool headers_ok(struct slot *s, const char *buf, size_t n) {
    for (size_t i = 0; i < n && s->state == SLOT_HEADERS; i++) {
        char c = buf[i];
        if (c == '\n') {
            if (s->line_start) /* the empty line: the head is over */
                s->state = SLOT_HEAD_DONE;
            s->line_start = true;
            s->in_name = false;
        } else if (c == '\r') {
            continue;
        } else if (s->line_start) {
            s->line_start = false;
            s->in_name = c != ' ' && c != '\t' && c != ':';
        } else if (s->in_name && c == ':') {
            s->in_name = false;
        } else if (s->in_name && (c == ' ' || c == '\t')) {
            return false;
        }
    }
    return true;
}

/* Makes s->line hold at least need bytes; false when it cannot. */
static bool grow_line(struct slot *s, size_t need) {
    if (need <= s->cap)
        return true;
    size_t cap = s->cap;
    while (cap < need)
        cap *= 2;
    cap = cap < WIRE_LINE_MAX ? cap : WIRE_LINE_MAX;
    char *line = realloc(s->line, cap);
    if (!line)
        return false;
    s->line = line;
    s->cap = cap;
    return true;
}

/* Keeps what of buf[0..n) belongs to the request line; the rest goes to the header check.
 * Returns false when the request is refused. */
static bool take_head(int fd, struct slot *s, const char *buf, size_t n) {
    if (s->state == SLOT_EXPECTING) {
        while (n && (*buf == '\r' || *buf == '\n')) { /* empty lines may come first */
            buf++;
            n--;
        }
        if (!n)
            return true;
        if (!(s->line = malloc(LINE_START))) {
            s->state = SLOT_IDLE;
            return true;
        }
        s->cap = LINE_START;
        s->state = SLOT_LINE;
    }
    if (s->state == SLOT_LINE) {
        bool method_known = memchr(s->line, ' ', s->len) != NULL;
        const char *eol = memchr(buf, '\n', n);
        size_t part = eol ? (size_t)(eol - buf) : n;
        if (s->len + part > WIRE_LINE_MAX || !grow_line(s, s->len + part)) {
            free(s->line);
            memset(s, 0, sizeof *s);
            s->state = SLOT_TOO_LONG;
            return true;
        }
        memcpy(s->line + s->len, buf, part);
        s->len += part;
        const char *sp = memchr(s->line, ' ', s->len), *error;
        if (!method_known && (sp || eol)) {
            const char *status =
                method_refusal(s->line, sp ? (size_t)(sp - s->line) : s->len, &error);
            if (status) {
                refuse(fd, status, error);
                return false;
            }
        }
        if (!eol)
            return true;
        s->state = SLOT_HEADERS;
        size_t target_len;
        int too_long;
        const char *target = wire_request_target(fd, &target_len, &too_long);
        const char *bad = target ? target_refusal(target, target_len) : NULL;
        if (bad) {
            refuse(fd, "400 Bad Request", bad);
            return false;
        }
        s->line_start = true;
        buf = eol + 1;
        n -= part + 1;
    }
    if (s->state == SLOT_HEADERS && !headers_ok(s, buf, n)) {
        refuse(fd, "400 Bad Request", "whitespace between a header name and its colon");
        return false;
    }
    return true;
}

const char *wire_request_target(int fd, size_t *len, int *too_long) {
    struct slot *s = slot_of(fd);
    *too_long = s && s->state == SLOT_TOO_LONG;
    if (!s || (s->state != SLOT_HEADERS && s->state != SLOT_HEAD_DONE))
        return NULL;
    /* method SP request-target SP version: the target is between the first two spaces */
    const char *line = s->line, *end = line + s->len;
    const char *sp = memchr(line, ' ', s->len);
    if (!sp)
        return NULL;
    const char *target = sp + 1;
    while (target < end && *target == ' ')
        target++;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    *len = (size_t)((sp2 ? sp2 : end) - target);
    while (*len && (target[*len - 1] == '\r' || target[*len - 1] == ' '))
        (*len)--;
    return target;
}

/* ---- WebSocket frames ---- */

/* Follows the frames in buf[0..n); false at a frame header without the mask bit. */
static bool frames_masked(struct slot *s, const uint8_t *buf, size_t n) {
    while (n) {
        if (s->payload) {
            size_t k = n < s->payload ? n : (size_t)s->payload;
            buf += k;
            n -= k;
            s->payload -= k;
            continue;
        }
        s->hdr[s->hdr_len++] = *buf++;
        n--;
        if (s->hdr_len < 2)
            continue;
        if (!(s->hdr[1] & 0x80))
            return false;
        unsigned len7 = s->hdr[1] & 0x7f, ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        if (s->hdr_len < 2 + ext + 4)
            continue;
        uint64_t len = len7;
        if (ext) {
            len = 0;
            for (unsigned i = 0; i < ext; i++)
                len = len << 8 | s->hdr[2 + i];
        }
        s->payload = len;
        s->hdr_len = 0;
    }
    return true;
}

/* ---- the reads ---- */

/* libwebsockets' (and hiredis') reads come here. */
ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    struct slot *s = n > 0 && !(flags & MSG_PEEK) ? slot_of(fd) : NULL;
    if (!s || s->state == SLOT_IDLE || fd == store_socket())
        return n;
    switch (s->state) {
    case SLOT_EXPECTING:
    case SLOT_LINE:
    case SLOT_HEADERS:
        return take_head(fd, s, buf, (size_t)n) ? n : 0; /* refused: lws sees the end */
    case SLOT_FRAMES:
        if (frames_masked(s, buf, (size_t)n))
            return n;
        s->state = SLOT_BROKEN;
        lws_callback_on_writable(s->wsi); /* where ws.c closes it with 1002 */
        errno = EAGAIN;                   /* nothing of a broken connection reaches lws */
        return -1;
    case SLOT_BROKEN:
        errno = EAGAIN;
        return -1;
    default:
        return n;
    }
}
