/* raw_target: see raw_target.h. One slot per file descriptor, in an array grown to the highest
 * descriptor marked; a slot holds the line only between the request's first bytes and its
 * routing. */
#include "raw_target.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum slot_state {
    SLOT_IDLE,      /* not watched */
    SLOT_EXPECTING, /* the next bytes start a request */
    SLOT_PARTIAL,   /* part of the request line seen */
    SLOT_DONE,      /* the request line is whole */
    SLOT_TOO_LONG,  /* it was longer than RAW_TARGET_LINE_MAX */
};

struct slot {
    enum slot_state state;
    size_t len;
    char *line; /* RAW_TARGET_LINE_MAX bytes while PARTIAL or DONE */
};

static struct {
    struct slot *slots;
    size_t n;
} table;

static struct slot *slot_of(int fd) {
    return fd >= 0 && (size_t)fd < table.n ? &table.slots[fd] : NULL;
}

void raw_target_forget(int fd) {
    struct slot *s = slot_of(fd);
    if (!s)
        return;
    free(s->line);
    *s = (struct slot){SLOT_IDLE, 0, NULL};
}

void raw_target_expect(int fd) {
    if (fd < 0)
        return;
    if ((size_t)fd >= table.n) {
        size_t n = table.n ? table.n : 256;
        while (n <= (size_t)fd)
            n *= 2;
        struct slot *slots = realloc(table.slots, n * sizeof *slots);
        if (!slots)
            return; /* the request is refused as not seen */
        memset(slots + table.n, 0, (n - table.n) * sizeof *slots);
        table.slots = slots;
        table.n = n;
    }
    raw_target_forget(fd);
    table.slots[fd].state = SLOT_EXPECTING;
}

/* Keeps what of buf[0..n) belongs to the request line. */
static void take(struct slot *s, const char *buf, size_t n) {
    if (s->state == SLOT_EXPECTING) {
        if (!(s->line = malloc(RAW_TARGET_LINE_MAX))) {
            s->state = SLOT_IDLE;
            return;
        }
        s->len = 0;
        s->state = SLOT_PARTIAL;
    }
    while (s->len == 0 && n && (*buf == '\r' || *buf == '\n')) { /* empty lines may come first */
        buf++;
        n--;
    }
    const char *eol = memchr(buf, '\n', n);
    size_t part = eol ? (size_t)(eol - buf) : n;
    if (s->len + part > RAW_TARGET_LINE_MAX) {
        free(s->line);
        *s = (struct slot){SLOT_TOO_LONG, 0, NULL};
        return;
    }
    memcpy(s->line + s->len, buf, part);
    s->len += part;
    if (eol)
        s->state = SLOT_DONE;
}

/* libwebsockets' (and hiredis') reads come here. */
ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    struct slot *s = n > 0 && !(flags & MSG_PEEK) ? slot_of(fd) : NULL;
    if (s && (s->state == SLOT_EXPECTING || s->state == SLOT_PARTIAL))
        take(s, buf, (size_t)n);
    return n;
}

const char *raw_target_of(int fd, size_t *len, int *too_long) {
    struct slot *s = slot_of(fd);
    *too_long = s && s->state == SLOT_TOO_LONG;
    if (!s || s->state != SLOT_DONE)
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
