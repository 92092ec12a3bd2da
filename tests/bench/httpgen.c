/* httpgen: a fixed-count HTTP/1.1 GET generator for room-scale runs
 * (tests/bench/rooms.sh). It sends exactly --count requests, GET
 * <prefix><start + i> for i = 0 .. count-1, each path once, over --conns
 * keep-alive connections with one request in flight per connection (closed
 * loop), and reports how long they took and how they were answered. One
 * thread, plain epoll; loopback only; the whole run is bounded by
 * --deadline; a response must carry Content-Length (roomd's do).
 *
 * Output: one JSON line (prefix "RESULT ") and one line for people.
 *
 * --method POST sends POSTs with an empty body instead; --rooms R cycles the paths
 * over R rooms (<prefix><start + i % R>), so a room is asked many times
 * (tests/bench/cluster.sh: the durable counter's POST at steady state).
 *
 * usage: httpgen --port P [--host A] [--conns C] --count N [--prefix /counter/scale-]
 *                [--start S] [--rooms R] [--method GET|POST] [--deadline SECS]
 *                [--label TEXT] */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX 65536
#define REQ_MAX 1024

enum cstate { C_IDLE, C_CONNECTING, C_WAITING, C_DONE };

struct conn {
    int fd;
    enum cstate state;
    long id; /* the request in flight, -1 if none */
    char req[REQ_MAX];
    size_t req_len, req_off;
    char resp[RESP_MAX];
    size_t resp_len;
};

static struct {
    const char *host, *prefix, *label, *method;
    int port, conns;
    long count, start, rooms; /* rooms 0: every path once */
    double deadline;
} o = {"127.0.0.1", "/counter/scale-", "", "GET", 8080, 64, 0, 0, 0, 120};

static struct {
    long next, answered, ok, non2xx, errors;
    int first_bad_status;
} st = {.first_bad_status = 0};

static int epfd;
static struct conn *conns;

static void watch(struct conn *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void conn_close(struct conn *c) {
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_IDLE;
}

/* Opens a socket to the server; the request goes out once it is connected. */
static void conn_open(struct conn *c) {
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    inet_pton(AF_INET, o.host, &dst.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    c->state = C_CONNECTING;
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* Writes what is left of the request; asks for EPOLLOUT while some is. */
static void conn_flush(struct conn *c) {
    while (c->req_off < c->req_len) {
        ssize_t n = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            st.errors++;
            c->id = -1;
            conn_close(c);
            return;
        }
        c->req_off += (size_t)n;
    }
    c->state = C_WAITING;
    watch(c, EPOLLIN | (c->req_off < c->req_len ? EPOLLOUT : 0), EPOLL_CTL_MOD);
}

/* Starts the next request on c, or marks c done when every request has been sent. */
static void conn_next(struct conn *c) {
    if (st.next >= o.count) {
        c->id = -1;
        c->state = C_DONE;
        conn_close(c);
        c->state = C_DONE;
        return;
    }
    c->id = st.next++;
    long room = o.rooms ? c->id % o.rooms : c->id;
    const char *body_len = strcmp(o.method, "POST") ? "" : "Content-Length: 0\r\n";
    int n = snprintf(c->req, sizeof c->req, "%s %s%ld HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", o.method,
                     o.prefix, o.start + room, o.host, o.port, body_len);
    if (n < 0 || (size_t)n >= sizeof c->req)
        die("request line too long");
    c->req_len = (size_t)n;
    c->req_off = 0;
    c->resp_len = 0;
    conn_flush(c);
}

/* Length of the whole response in c->resp (headers and body), 0 if it is not all in, -1 if it
 * cannot be read. Sets *status and *close_after. */
static long response_length(struct conn *c, int *status, int *close_after) {
    c->resp[c->resp_len] = '\0';
    char *end = strstr(c->resp, "\r\n\r\n");
    if (!end)
        return c->resp_len >= RESP_MAX - 1 ? -1 : 0;
    if (sscanf(c->resp, "HTTP/1.%*d %d", status) != 1)
        return -1;
    long body = -1;
    *close_after = 0;
    for (char *line = strstr(c->resp, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0)
            body = atol(line + 15);
        else if (strncasecmp(line, "connection:", 11) == 0 && strcasestr(line, "close") &&
                 strcasestr(line, "close") < strstr(line, "\r\n"))
            *close_after = 1;
    }
    if (body < 0)
        return -1; /* chunked or unknown length: not supported */
    long total = (long)(end + 4 - c->resp) + body;
    if (total >= RESP_MAX)
        return -1;
    return (long)c->resp_len >= total ? total : 0;
}

static void on_response(struct conn *c, int status, int close_after) {
    st.answered++;
    if (status >= 200 && status < 300) {
        st.ok++;
    } else {
        st.non2xx++;
        if (!st.first_bad_status)
            st.first_bad_status = status;
    }
    if (close_after) {
        conn_close(c);
        c->id = -1;
        if (st.next < o.count)
            conn_open(c);
        else
            c->state = C_DONE;
        return;
    }
    conn_next(c);
}

static void conn_on_readable(struct conn *c) {
    ssize_t n = read(c->fd, c->resp + c->resp_len, RESP_MAX - 1 - c->resp_len);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) { /* closed or failed with a request in flight: that request is lost */
        st.errors++;
        conn_close(c);
        c->id = -1;
        if (st.next < o.count)
            conn_open(c);
        else
            c->state = C_DONE;
        return;
    }
    c->resp_len += (size_t)n;
    int status = 0, close_after = 0;
    long total = response_length(c, &status, &close_after);
    if (total < 0)
        die("cannot read the response to request %ld: %.200s", c->id, c->resp);
    if (total > 0) {
        if ((size_t)total != c->resp_len)
            die("more than one response to request %ld", c->id);
        on_response(c, status, close_after);
    }
}

static void on_event(struct epoll_event *ev) {
    struct conn *c = ev->data.ptr;
    if (c->state == C_CONNECTING) {
        if (!(ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return; /* left over from the socket this conn had before */
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err)
            die("connect to %s:%d: %s", o.host, o.port, strerror(err));
        if (c->id >= 0)
            conn_flush(c);
        else
            conn_next(c);
        return;
    }
    if (c->state != C_WAITING)
        return;
    if (ev->events & EPOLLOUT)
        conn_flush(c);
    if (c->state == C_WAITING && (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_on_readable(c);
}

static int all_done(void) {
    return st.answered + st.errors >= o.count;
}

static void parse_args(int argc, char **argv) {
    static const struct option lo[] = {
        {"host", 1, 0, 'H'},   {"port", 1, 0, 'p'},   {"conns", 1, 0, 'c'}, {"count", 1, 0, 'n'},
        {"prefix", 1, 0, 'P'}, {"start", 1, 0, 's'},  {"label", 1, 0, 'l'}, {"deadline", 1, 0, 'd'},
        {"rooms", 1, 0, 'r'},  {"method", 1, 0, 'm'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'c':
            o.conns = atoi(optarg);
            break;
        case 'n':
            o.count = atol(optarg);
            break;
        case 'P':
            o.prefix = optarg;
            break;
        case 's':
            o.start = atol(optarg);
            break;
        case 'l':
            o.label = optarg;
            break;
        case 'd':
            o.deadline = atof(optarg);
            break;
        case 'r':
            o.rooms = atol(optarg);
            break;
        case 'm':
            o.method = optarg;
            break;
        default:
            die("usage: httpgen --port P [--host A] [--conns C] --count N [--prefix /ns/x-] "
                "[--start S] [--rooms R] [--method GET|POST] [--deadline SECS] [--label TEXT]");
        }
    }
    if (o.conns < 1 || o.conns > 10000 || o.count < 1 || o.deadline <= 0 || o.deadline > 3600 ||
        o.rooms < 0 || (strcmp(o.method, "GET") && strcmp(o.method, "POST")))
        die("bad arguments (1 <= conns <= 10000, count >= 1, 0 < deadline <= 3600, rooms >= 0, "
            "method GET or POST)");
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    epfd = epoll_create1(0);
    int n_conns = o.conns < o.count ? o.conns : (int)o.count;
    conns = calloc((size_t)n_conns, sizeof *conns);
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o.deadline * 1e9);
    for (int i = 0; i < n_conns; i++) {
        conns[i].id = -1;
        conn_open(&conns[i]);
    }
    struct epoll_event evs[256];
    while (!all_done() && now_ns() < end) {
        int n = epoll_wait(epfd, evs, 256, 50);
        for (int i = 0; i < n; i++)
            on_event(&evs[i]);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    long lost = o.count - st.answered;
    printf("RESULT {\"label\":\"%s\",\"count\":%ld,\"conns\":%d,\"secs\":%.3f,\"answered\":%ld,"
           "\"ok\":%ld,\"non2xx\":%ld,\"first_non2xx\":%d,\"errors\":%ld,\"lost\":%ld,"
           "\"req_per_s\":%.0f}\n",
           o.label, o.count, n_conns, secs, st.answered, st.ok, st.non2xx, st.first_bad_status,
           st.errors, lost, (double)st.answered / secs);
    printf("%s: %ld %ss of %s<n> over %d connections in %.2f s = %.0f/s; %ld 2xx, %ld other "
           "(first %d), %ld lost\n",
           o.label, o.count, o.method, o.prefix, n_conns, secs, (double)st.answered / secs, st.ok,
           st.non2xx, st.first_bad_status, lost);
    for (int i = 0; i < n_conns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    return lost || st.non2xx ? 1 : 0;
}
