/* loadgen: a bounded WebSocket load generator for roomd's relay room and its
 * peers (tests/bench/peers/). One thread, plain epoll, its own minimal client
 * framing (RFC 6455: client frames masked, server frames unmasked). Loopback
 * only; every phase is bounded by a deadline and every queue by a size.
 *
 * Modes:
 *   relay    N connections over R rooms of /relay/<id>, S senders per room.
 *            Closed loop (default): each sender keeps at most W messages in
 *            flight; a message completes when every member of its room has
 *            received it (so at most W of one sender's frames wait on any
 *            socket). Open loop (--rate X): each sender sends X msgs/s on a
 *            fixed schedule and latency is measured from each message's
 *            intended send time (no coordinated omission).
 *            Messages: {"s":sender,"q":seq,"t":ns,"p":"xxx.."} of --size bytes.
 *            Count-bounded (--count M): no warm-up; each sender sends exactly
 *            M messages and the run ends when every delivery has arrived (or
 *            at the deadline, --duration). The figures cover the whole run,
 *            from the first send to the last delivery: a fixed workload for
 *            instruction and syscall counts (tests/bench/profile.sh).
 *            Every receiver tracks the next seq per sender of its room, so
 *            gaps and tail losses give an exact "missing" count.
 *   connect  N idle connections over R rooms; the server's RSS (from
 *            /proc/PID/status, --server-pid) before and after gives KB/conn.
 *
 * Output: one JSON line (prefix "RESULT ") and one human line. With
 * --server-pid, the server's utime+stime over the measured window gives
 * deliveries per server CPU-second, fair even when the generator is the
 * bottleneck; server_user_s and server_sys_s split it. */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (256 * 1024)
#define LEFT_MAX 65536
#define OUT_MAX (1 << 20)
#define MAX_PENDING_CONNECTS 256
#define HIST_SUB 32
#define HIST_N (64 + 58 * HIST_SUB)

enum mode { MODE_RELAY, MODE_CONNECT };
enum cstate { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_DEAD };

struct opts {
    enum mode mode;
    const char *host, *prefix, *suffix; /* suffix: after the room number, e.g. "?token=..." */
    int port, conns, rooms, senders, window, size, src_spread;
    long count; /* messages per sender; 0: time-bounded */
    double rate, duration, warmup, drain, connect_timeout, hold;
    int server_pid;
    const char *label;
};

struct sender {
    int conn, room, local;
    uint64_t sent, completed, sent_in_window;
    uint32_t *cnt;  /* closed loop: deliveries per in-flight seq, ring of W */
    uint64_t t0_ns; /* open loop schedule origin */
};

struct conn {
    int fd, room, local, sender; /* sender: global sender id or -1 */
    enum cstate state;
    uint64_t *next; /* next expected seq per sender of the room */
    unsigned char *left;
    size_t left_len;
    unsigned char *out;
    size_t out_len, out_cap;
    int want_out;
    char hs[512];
    size_t hs_len;
};

struct room {
    int members, joined;
    int first_sender; /* global id of local sender 0 */
};

static struct opts o = {
    .mode = MODE_RELAY,
    .host = "127.0.0.1",
    .prefix = "/relay/bench-",
    .suffix = "",
    .port = 8080,
    .conns = 100,
    .rooms = 1,
    .senders = 1,
    .window = 1,
    .size = 100,
    .src_spread = 8,
    .count = 0,
    .rate = 0,
    .duration = 5,
    .warmup = 1,
    .drain = 3,
    .connect_timeout = 30,
    .hold = 1,
    .server_pid = 0,
    .label = "",
};

static struct conn *conns;
static struct sender *senders;
static struct room *rooms;
static int n_senders, epfd;
static uint64_t t_start_ns;
static unsigned char rbuf[RBUF_SIZE + LEFT_MAX];
static uint32_t rng = 2463534242u;

static struct {
    int measuring, sending;
    uint64_t deliveries, deliveries_win, gaps, dupes, errors, closed, pings, bad;
    uint64_t hist[HIST_N];
    uint64_t hist_n;
    int pending_connects, opened, failed;
} st;

static uint32_t xorshift(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* ---- log-linear histogram (32 linear steps per power of two, ~3%) ---- */

static int hist_index(uint64_t v) {
    if (v < 64)
        return (int)v;
    int b = 63 - __builtin_clzll(v);
    int shift = b - 5;
    return 64 + (b - 6) * HIST_SUB + (int)((v >> shift) - HIST_SUB);
}

static double hist_value(int idx) {
    if (idx < 64)
        return idx;
    int b = (idx - 64) / HIST_SUB + 6, sub = (idx - 64) % HIST_SUB;
    double lo = (double)((uint64_t)(HIST_SUB + sub) << (b - 5));
    return lo + (double)(1ull << (b - 5)) / 2;
}

static void hist_add(uint64_t v) {
    st.hist[hist_index(v)]++;
    st.hist_n++;
}

static double hist_pct(double p) {
    if (!st.hist_n)
        return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)st.hist_n);
    if (want >= st.hist_n)
        want = st.hist_n - 1;
    uint64_t acc = 0;
    for (int i = 0; i < HIST_N; i++) {
        acc += st.hist[i];
        if (acc > want)
            return hist_value(i);
    }
    return 0;
}

static double hist_max(void) {
    for (int i = HIST_N - 1; i >= 0; i--)
        if (st.hist[i])
            return hist_value(i);
    return 0;
}

/* ---- server process figures from /proc ---- */

/* utime and stime of pid in seconds; both 0 if it cannot be read. */
static void proc_cpu_split(int pid, double *user, double *sys) {
    char path[64], buf[2048];
    *user = *sys = 0;
    if (!pid)
        return;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return;
    unsigned long ut = 0, stt = 0;
    /* after ')': state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
        return;
    *user = (double)ut / (double)sysconf(_SC_CLK_TCK);
    *sys = (double)stt / (double)sysconf(_SC_CLK_TCK);
}

static long proc_rss_kb(int pid) {
    char path[64], line[256];
    long kb = 0;
    if (!pid)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- output ---- */

static void conn_kill(struct conn *c) {
    if (c->state == C_DEAD)
        return;
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE)
        st.pending_connects--;
    if (c->state == C_OPEN)
        rooms[c->room].joined--;
    c->state = C_DEAD;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    st.closed++;
}

static void set_out_interest(struct conn *c, int want) {
    if (c->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void conn_flush(struct conn *c) {
    while (c->out_len) {
        ssize_t n = write(c->fd, c->out, c->out_len);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            conn_kill(c);
            return;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    set_out_interest(c, c->out_len > 0);
}

/* Queue bytes for c, writing at once when nothing waits before them. */
static void conn_send_raw(struct conn *c, const void *p, size_t len) {
    if (!c->out_len) {
        ssize_t n = write(c->fd, p, len);
        if (n == (ssize_t)len)
            return;
        if (n < 0 && errno != EAGAIN) {
            conn_kill(c);
            return;
        }
        if (n > 0) {
            p = (const char *)p + n;
            len -= (size_t)n;
        }
    }
    if (c->out_len + len > OUT_MAX)
        die("generator overrun: more than %d bytes queued on one socket", OUT_MAX);
    if (c->out_len + len > c->out_cap) {
        c->out_cap = c->out_cap ? c->out_cap * 2 : 4096;
        while (c->out_cap < c->out_len + len)
            c->out_cap *= 2;
        c->out = realloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    set_out_interest(c, 1);
}

static void send_frame(struct conn *c, int opcode, const char *payload, size_t len) {
    unsigned char f[16 + 65536];
    size_t h = 0;
    if (len > 65535)
        die("frame too large");
    f[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        f[h++] = (unsigned char)(0x80 | len);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(len >> 8);
        f[h++] = (unsigned char)len;
    }
    uint32_t key = xorshift();
    unsigned char *m = f + h;
    memcpy(m, &key, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        f[h + i] = (unsigned char)payload[i] ^ m[i & 3];
    conn_send_raw(c, f, h + len);
}

static void sender_send(struct sender *s, uint64_t stamp_ns) {
    static char pad[4096];
    if (!pad[0])
        memset(pad, 'x', sizeof pad - 1);
    char msg[4200];
    int n =
        snprintf(msg, sizeof msg, "{\"s\":%d,\"q\":%llu,\"t\":%llu,\"p\":\"\"}", (int)(s - senders),
                 (unsigned long long)s->sent, (unsigned long long)(stamp_ns - t_start_ns));
    int padn = o.size > n ? o.size - n : 0;
    if (padn > 4000)
        padn = 4000;
    n = snprintf(msg, sizeof msg, "{\"s\":%d,\"q\":%llu,\"t\":%llu,\"p\":\"%.*s\"}",
                 (int)(s - senders), (unsigned long long)s->sent,
                 (unsigned long long)(stamp_ns - t_start_ns), padn, pad);
    s->sent++;
    if (st.measuring)
        s->sent_in_window++;
    send_frame(&conns[s->conn], 1, msg, (size_t)n);
}

/* ---- receiving ---- */

/* The number after "key": in a JSON text, whatever the key order/spacing. */
static int json_num(const char *p, size_t len, const char *key, double *out) {
    size_t kl = strlen(key);
    const char *end = p + len;
    for (const char *q = p; (q = memmem(q, (size_t)(end - q), key, kl)); q += kl) {
        const char *v = q + kl;
        while (v < end && (*v == ' ' || *v == ':'))
            v++;
        if (v < end && (*v == '-' || (*v >= '0' && *v <= '9'))) {
            char tmp[40];
            size_t n = 0;
            while (v + n < end && n < sizeof tmp - 1 && strchr("0123456789.eE+-", v[n]))
                n++;
            memcpy(tmp, v, n);
            tmp[n] = '\0';
            *out = strtod(tmp, NULL);
            return 0;
        }
    }
    return -1;
}

/* Whether s may send another message (--count bounds each sender). */
static int sender_may_send(const struct sender *s) {
    return !o.count || s->sent < (uint64_t)o.count;
}

static void sender_complete(struct sender *s, uint64_t q) {
    struct room *r = &rooms[s->room];
    uint32_t *slot = &s->cnt[q % (uint64_t)o.window];
    if (++*slot < (uint32_t)r->members)
        return;
    /* Per receiver delivery is in order, so seqs complete in order. */
    while (s->completed < s->sent &&
           s->cnt[s->completed % (uint64_t)o.window] >= (uint32_t)r->members) {
        s->cnt[s->completed % (uint64_t)o.window] = 0;
        s->completed++;
    }
    if (o.rate == 0 && st.sending)
        while (s->sent - s->completed < (uint64_t)o.window && conns[s->conn].state == C_OPEN &&
               sender_may_send(s))
            sender_send(s, now_ns());
}

static void on_text(struct conn *c, const char *p, size_t len, uint64_t now) {
    double sd, qd, td;
    if (json_num(p, len, "\"s\"", &sd) || json_num(p, len, "\"q\"", &qd) ||
        json_num(p, len, "\"t\"", &td)) {
        if (memmem(p, len, "\"error\"", 7))
            st.errors++;
        else
            st.bad++;
        return;
    }
    int sid = (int)sd;
    uint64_t q = (uint64_t)qd;
    if (sid < 0 || sid >= n_senders || senders[sid].room != c->room) {
        st.bad++;
        return;
    }
    struct sender *s = &senders[sid];
    uint64_t *next = &c->next[s->local];
    if (q < *next) {
        st.dupes++;
        return;
    }
    st.gaps += q - *next;
    *next = q + 1;
    st.deliveries++;
    if (st.measuring) {
        st.deliveries_win++;
        uint64_t t = t_start_ns + (uint64_t)td;
        hist_add(now > t ? now - t : 0);
    }
    if (o.rate == 0)
        sender_complete(s, q);
}

/* Parse whole frames from buf; returns bytes consumed. */
static size_t parse_frames(struct conn *c, unsigned char *buf, size_t len, uint64_t now) {
    size_t off = 0;
    while (len - off >= 2) {
        unsigned char *f = buf + off;
        int op = f[0] & 0x0f, masked = f[1] & 0x80;
        uint64_t pl = f[1] & 0x7f;
        size_t h = 2;
        if (pl == 126) {
            if (len - off < 4)
                break;
            pl = ((uint64_t)f[2] << 8) | f[3];
            h = 4;
        } else if (pl == 127) {
            if (len - off < 10)
                break;
            pl = 0;
            for (int i = 0; i < 8; i++)
                pl = (pl << 8) | f[2 + i];
            h = 10;
        }
        if (masked)
            h += 4;
        if (pl > LEFT_MAX - 16)
            die("server frame of %llu bytes is larger than this generator takes",
                (unsigned long long)pl);
        if (len - off < h + pl)
            break;
        const char *payload = (const char *)f + h;
        if (op == 1)
            on_text(c, payload, (size_t)pl, now);
        else if (op == 9) {
            st.pings++;
            send_frame(c, 10, payload, (size_t)pl);
        } else if (op == 8) {
            conn_kill(c);
            return len;
        }
        off += h + (size_t)pl;
    }
    return off;
}

static void on_handshake(struct conn *c, unsigned char *buf, size_t len) {
    size_t room_left = sizeof c->hs - 1 - c->hs_len;
    size_t take = len < room_left ? len : room_left;
    memcpy(c->hs + c->hs_len, buf, take);
    c->hs_len += take;
    c->hs[c->hs_len] = '\0';
    char *end = strstr(c->hs, "\r\n\r\n");
    if (!end) {
        if (c->hs_len == sizeof c->hs - 1)
            conn_kill(c), st.failed++;
        return;
    }
    if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
        conn_kill(c);
        st.failed++;
        return;
    }
    size_t used = (size_t)(end + 4 - c->hs) - (c->hs_len - take);
    c->state = C_OPEN;
    st.pending_connects--;
    st.opened++;
    rooms[c->room].joined++;
    if (used < len) { /* frames right after the 101 */
        memcpy(c->left, buf + used, len - used);
        c->left_len = len - used;
    }
}

static void conn_on_readable(struct conn *c) {
    unsigned char *buf = rbuf;
    memcpy(buf, c->left, c->left_len);
    ssize_t n = read(c->fd, buf + c->left_len, RBUF_SIZE);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return;
        conn_kill(c);
        return;
    }
    if (c->state == C_HANDSHAKE) {
        on_handshake(c, buf, (size_t)n);
        return;
    }
    size_t len = c->left_len + (size_t)n;
    size_t used = parse_frames(c, buf, len, now_ns());
    if (c->state != C_OPEN)
        return;
    c->left_len = len - used;
    if (c->left_len > LEFT_MAX)
        die("partial frame larger than %d bytes", LEFT_MAX);
    memcpy(c->left, buf + used, c->left_len);
}

/* ---- connecting ---- */

static void conn_start(struct conn *c, int i) {
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket: %s (conn %d; raise the file limit or lower --conns)", strerror(errno), i);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o.src_spread > 1) {
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % o.src_spread));
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0)
            die("bind 127.0.0.%d: %s", 1 + i % o.src_spread, strerror(errno));
    }
    dst.sin_port = htons((uint16_t)o.port);
    inet_pton(AF_INET, o.host, &dst.sin_addr);
    c->state = C_CONNECTING;
    st.pending_connects++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->want_out = 1;
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        conn_kill(c);
        st.failed++;
    }
}

static void conn_on_connected(struct conn *c) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        conn_kill(c);
        st.failed++;
        return;
    }
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "GET %s%d%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o.prefix, c->room, o.suffix, o.host, o.port);
    c->state = C_HANDSHAKE;
    set_out_interest(c, 0);
    conn_send_raw(c, req, (size_t)n);
}

static void on_event(struct epoll_event *ev) {
    struct conn *c = ev->data.ptr;
    if (c->state == C_DEAD)
        return;
    if (c->state == C_CONNECTING) {
        if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_on_connected(c);
        return;
    }
    if (ev->events & EPOLLOUT)
        conn_flush(c);
    if (c->state != C_DEAD && (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_on_readable(c);
}

/* One bounded epoll turn; timeout_ms <= 0 polls. */
static void poll_once(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(epfd, evs, 512, timeout_ms < 0 ? 0 : timeout_ms);
    for (int i = 0; i < n; i++)
        on_event(&evs[i]);
}

static int connect_all(void) {
    uint64_t deadline = now_ns() + (uint64_t)(o.connect_timeout * 1e9);
    int next = 0;
    while (now_ns() < deadline) {
        while (next < o.conns && st.pending_connects < MAX_PENDING_CONNECTS)
            conn_start(&conns[next], next), next++;
        if (next == o.conns && st.pending_connects == 0)
            break;
        poll_once(10);
    }
    return st.opened;
}

/* ---- modes ---- */

static void setup(void) {
    conns = calloc((size_t)o.conns, sizeof *conns);
    rooms = calloc((size_t)o.rooms, sizeof *rooms);
    for (int i = 0; i < o.conns; i++) {
        struct conn *c = &conns[i];
        c->room = i % o.rooms;
        c->local = i / o.rooms;
        c->sender = -1;
        c->left = malloc(LEFT_MAX + 16);
        rooms[c->room].members++;
    }
    senders = calloc((size_t)o.rooms * (size_t)o.senders, sizeof *senders);
    for (int r = 0; r < o.rooms && o.mode == MODE_RELAY; r++) {
        rooms[r].first_sender = n_senders;
        n_senders += rooms[r].members < o.senders ? rooms[r].members : o.senders;
    }
    for (int i = 0; i < o.conns; i++) {
        struct conn *c = &conns[i];
        if (o.mode != MODE_RELAY || c->local >= o.senders)
            continue;
        c->sender = rooms[c->room].first_sender + c->local;
        struct sender *s = &senders[c->sender];
        s->conn = i, s->room = c->room, s->local = c->local;
        s->cnt = calloc((size_t)o.window, sizeof *s->cnt);
    }
    for (int i = 0; i < o.conns; i++)
        conns[i].next = calloc((size_t)o.senders, sizeof(uint64_t));
}

/* Open loop: send every message whose intended time has come; returns ms to the next one. */
static int open_loop_tick(uint64_t now) {
    double per = 1e9 / o.rate;
    uint64_t soonest = UINT64_MAX;
    for (int i = 0; i < n_senders; i++) {
        struct sender *s = &senders[i];
        uint64_t due;
        while ((due = s->t0_ns + (uint64_t)((double)s->sent * per)) <= now && sender_may_send(s))
            sender_send(s, due);
        if (sender_may_send(s) && due < soonest)
            soonest = due;
    }
    if (soonest == UINT64_MAX)
        return 50; /* every sender is done */
    return (int)((soonest - now) / 1000000);
}

/* Runs the loop for secs, or until `want` deliveries (gaps included) are in, if want > 0. */
static void run_until(double secs, uint64_t want) {
    uint64_t end = now_ns() + (uint64_t)(secs * 1e9);
    uint64_t now;
    while ((now = now_ns()) < end && (!want || st.deliveries + st.gaps < want)) {
        int to = (int)((end - now) / 1000000) + 1;
        if (o.rate > 0) {
            int t = open_loop_tick(now);
            if (t < to)
                to = t;
        }
        poll_once(to > 50 ? 50 : to);
    }
}

static void run_phase(double secs) {
    run_until(secs, 0);
}

/* Deliveries a count-bounded run makes: every sender's messages to every member of its room. */
static uint64_t count_deliveries(void) {
    uint64_t n = 0;
    for (int i = 0; i < n_senders; i++)
        n += (uint64_t)o.count * (uint64_t)rooms[senders[i].room].members;
    return n;
}

static uint64_t outstanding(void) {
    uint64_t miss = 0;
    for (int i = 0; i < o.conns; i++) {
        struct conn *c = &conns[i];
        for (int l = 0; l < o.senders && l < rooms[c->room].members; l++) {
            struct sender *s = &senders[rooms[c->room].first_sender + l];
            miss += s->sent - c->next[l];
        }
    }
    return miss;
}

static void drain(void) {
    uint64_t end = now_ns() + (uint64_t)(o.drain * 1e9);
    while (now_ns() < end && outstanding() > 0)
        poll_once(20);
}

static void relay_start_senders(void) {
    uint64_t now = now_ns();
    st.sending = 1;
    for (int i = 0; i < n_senders; i++) {
        struct sender *s = &senders[i];
        s->t0_ns =
            now + (uint64_t)(1e9 / (o.rate > 0 ? o.rate : 1) * i / (n_senders ? n_senders : 1));
        if (o.rate == 0)
            while (s->sent - s->completed < (uint64_t)o.window && sender_may_send(s))
                sender_send(s, now);
    }
}

static int mode_relay(void) {
    int opened = connect_all();
    if (opened != o.conns)
        die("only %d of %d connections opened (%d failed)", opened, o.conns, st.failed);
    poll_once(100); /* let the server finish its join turns */
    double user0, sys0, user1, sys1;
    if (o.count == 0) {
        relay_start_senders();
        run_phase(o.warmup);
    }
    proc_cpu_split(o.server_pid, &user0, &sys0);
    double self0 = self_cpu_s();
    uint64_t t0 = now_ns();
    st.measuring = 1;
    if (o.count) { /* the whole fixed workload is measured; --duration is its deadline */
        relay_start_senders();
        run_until(o.duration, count_deliveries());
    } else {
        run_phase(o.duration);
    }
    st.measuring = 0;
    double secs = (double)(now_ns() - t0) / 1e9;
    proc_cpu_split(o.server_pid, &user1, &sys1);
    double user = user1 - user0, sys = sys1 - sys0;
    double cpu = user + sys, self = self_cpu_s() - self0;
    st.sending = 0;
    drain();
    uint64_t sent_win = 0, sent = 0;
    for (int i = 0; i < n_senders; i++)
        sent_win += senders[i].sent_in_window, sent += senders[i].sent;
    uint64_t missing = st.gaps + outstanding();
    double dps = (double)st.deliveries_win / secs;
    double per_cpu = cpu > 0 ? (double)st.deliveries_win / cpu : 0;
    printf("RESULT {\"label\":\"%s\",\"mode\":\"relay\",\"conns\":%d,\"rooms\":%d,\"senders\":%d,"
           "\"window\":%d,\"rate\":%.0f,\"size\":%d,\"count\":%ld,\"secs\":%.3f,\"sent\":%llu,"
           "\"sent_per_s\":%.0f,\"deliveries\":%llu,\"deliveries_per_s\":%.0f,"
           "\"server_cpu_s\":%.3f,\"server_user_s\":%.3f,\"server_sys_s\":%.3f,"
           "\"deliveries_per_server_cpu_s\":%.0f,\"gen_cpu_s\":%.3f,\"missing\":%llu,"
           "\"dupes\":%llu,\"errors\":%llu,\"bad\":%llu,\"closed\":%llu,"
           "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
           o.label, o.conns, o.rooms, o.senders, o.window, o.rate, o.size, o.count, secs,
           (unsigned long long)sent_win, (double)sent_win / secs,
           (unsigned long long)st.deliveries_win, dps, cpu, user, sys, per_cpu, self,
           (unsigned long long)missing, (unsigned long long)st.dupes, (unsigned long long)st.errors,
           (unsigned long long)st.bad, (unsigned long long)st.closed, hist_pct(50) / 1e3,
           hist_pct(90) / 1e3, hist_pct(99) / 1e3, hist_pct(99.9) / 1e3, hist_max() / 1e3);
    printf("%s relay N=%d R=%d S=%d %s%s: %.0f sent/s, %.0f deliveries/s, %.0f "
           "deliveries/server-CPU-s "
           "(server %.0f%% CPU, generator %.0f%%), missing %llu, latency p50 %.0f us p99 %.0f us "
           "p99.9 %.0f us max %.0f us\n",
           o.label, o.conns, o.rooms, o.senders, o.rate > 0 ? "open-loop" : "closed-loop",
           o.count ? ", fixed count" : "", (double)sent_win / secs, dps, per_cpu, 100 * cpu / secs,
           100 * self / secs, (unsigned long long)missing, hist_pct(50) / 1e3, hist_pct(99) / 1e3,
           hist_pct(99.9) / 1e3, hist_max() / 1e3);
    return missing || st.closed ? 1 : 0;
}

static int mode_connect(void) {
    long rss0 = proc_rss_kb(o.server_pid);
    uint64_t t0 = now_ns();
    int opened = connect_all();
    double secs = (double)(now_ns() - t0) / 1e9;
    run_phase(o.hold); /* let the server settle its join turns */
    long rss1 = proc_rss_kb(o.server_pid);
    int alive = 0;
    for (int i = 0; i < o.conns; i++)
        alive += conns[i].state == C_OPEN;
    double per = alive ? (double)(rss1 - rss0) / alive : 0;
    printf("RESULT {\"label\":\"%s\",\"mode\":\"connect\",\"conns\":%d,\"rooms\":%d,\"opened\":%d,"
           "\"alive\":%d,\"failed\":%d,\"connect_secs\":%.3f,\"rss_before_kb\":%ld,"
           "\"rss_after_kb\":%ld,\"kb_per_conn\":%.2f}\n",
           o.label, o.conns, o.rooms, opened, alive, st.failed, secs, rss0, rss1, per);
    printf("%s connect N=%d R=%d: %d open (%d failed) in %.2f s; server RSS %ld -> %ld KB = "
           "%.2f KB per connection\n",
           o.label, o.conns, o.rooms, alive, st.failed, secs, rss0, rss1, per);
    return alive == o.conns ? 0 : 1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen [relay|connect] [--port P] [--host A] [--prefix /relay/bench-]\n"
            "  [--suffix ?token=...]\n"
            "  [--conns N] [--rooms R] [--senders S] [--window W] [--rate MSGS_PER_S_PER_SENDER]\n"
            "  [--size BYTES] [--duration S] [--warmup S] [--drain S] [--hold S]\n"
            "  [--count MSGS_PER_SENDER (fixed workload; --duration is then its deadline)]\n"
            "  [--connect-timeout S] [--src-spread K] [--server-pid PID] [--label TEXT]\n");
    exit(2);
}

static void parse_args(int argc, char **argv) {
    static const struct option lo[] = {{"port", 1, 0, 'p'},
                                       {"host", 1, 0, 'H'},
                                       {"prefix", 1, 0, 'P'},
                                       {"suffix", 1, 0, 'X'},
                                       {"conns", 1, 0, 'n'},
                                       {"rooms", 1, 0, 'r'},
                                       {"senders", 1, 0, 's'},
                                       {"window", 1, 0, 'w'},
                                       {"rate", 1, 0, 'R'},
                                       {"size", 1, 0, 'z'},
                                       {"duration", 1, 0, 'd'},
                                       {"warmup", 1, 0, 'W'},
                                       {"drain", 1, 0, 'D'},
                                       {"hold", 1, 0, 'h'},
                                       {"connect-timeout", 1, 0, 'T'},
                                       {"src-spread", 1, 0, 'S'},
                                       {"server-pid", 1, 0, 'x'},
                                       {"label", 1, 0, 'l'},
                                       {"count", 1, 0, 'c'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'H':
            o.host = optarg;
            break;
        case 'P':
            o.prefix = optarg;
            break;
        case 'X':
            o.suffix = optarg;
            break;
        case 'n':
            o.conns = atoi(optarg);
            break;
        case 'r':
            o.rooms = atoi(optarg);
            break;
        case 's':
            o.senders = atoi(optarg);
            break;
        case 'w':
            o.window = atoi(optarg);
            break;
        case 'R':
            o.rate = atof(optarg);
            break;
        case 'z':
            o.size = atoi(optarg);
            break;
        case 'd':
            o.duration = atof(optarg);
            break;
        case 'W':
            o.warmup = atof(optarg);
            break;
        case 'D':
            o.drain = atof(optarg);
            break;
        case 'h':
            o.hold = atof(optarg);
            break;
        case 'T':
            o.connect_timeout = atof(optarg);
            break;
        case 'S':
            o.src_spread = atoi(optarg);
            break;
        case 'x':
            o.server_pid = atoi(optarg);
            break;
        case 'l':
            o.label = optarg;
            break;
        case 'c':
            o.count = atol(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind < argc && !strcmp(argv[optind], "connect"))
        o.mode = MODE_CONNECT;
    else if (optind < argc && strcmp(argv[optind], "relay"))
        usage();
    if (o.conns < 1 || o.rooms < 1 || o.rooms > o.conns || o.senders < 1 || o.window < 1 ||
        o.duration <= 0 || o.duration > 3600 || o.src_spread < 1 || o.src_spread > 250 ||
        o.count < 0)
        die("bad arguments (conns>=1, 1<=rooms<=conns, senders>=1, window>=1, "
            "0<duration<=3600, count>=0)");
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    t_start_ns = now_ns();
    rng ^= (uint32_t)t_start_ns;
    epfd = epoll_create1(0);
    setup();
    return o.mode == MODE_RELAY ? mode_relay() : mode_connect();
}
