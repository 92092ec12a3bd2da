/* store: the hiredis async connection on the lws loop; see store.h. */
#include "store.h"

#include "log.h"

#include <fcntl.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKOFF_MIN_US (50 * LWS_US_PER_MS)
#define BACKOFF_MAX_US (2 * LWS_US_PER_SEC)

static struct {
    struct lws_context *context;
    struct lws_vhost *vh;
    struct store_target target;
    redisAsyncContext *ac; /* NULL while disconnected */
    struct lws *wsi;       /* the adopted dup of ac's socket */
    bool connected;
    bool ever_connected;
    uint64_t reconnects; /* connections made after the first */
    bool stopping;
    int pending;
    lws_usec_t backoff;
    lws_sorted_usec_list_t retry;
} st;

struct pending {
    store_reply_fn *fn;
    void *arg;
};

int store_parse_url(const char *url, struct store_target *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    if (strncmp(url, "unix://", 7) == 0) {
        if (snprintf(t->path, sizeof t->path, "%s", url + 7) >= (int)sizeof t->path ||
            t->path[0] != '/') {
            snprintf(err, errlen, "--redis %s: expected unix:///absolute/path", url);
            return -1;
        }
        return 0;
    }
    char rest[sizeof t->host];
    if (strncmp(url, "redis://", 8) != 0 ||
        snprintf(rest, sizeof rest, "%s", url + 8) >= (int)sizeof rest)
        goto bad;
    char *slash = strchr(rest, '/'), *end;
    if (slash) {
        *slash = '\0';
        t->db = (int)strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || t->db < 0)
            goto bad;
    }
    /* HOST, HOST:PORT, or an IPv6 address in brackets: [ADDR] or [ADDR]:PORT */
    char *host = rest, *close = rest[0] == '[' ? strchr(rest, ']') : NULL;
    char *colon = close ? (close[1] == ':' ? close + 1 : NULL) : strrchr(rest, ':');
    if ((rest[0] == '[' && (!close || (close[1] && close[1] != ':'))) ||
        (!close && colon && strchr(rest, ':') != colon))
        goto bad; /* an unclosed bracket, or an IPv6 address without brackets */
    if (close) {
        host = rest + 1;
        *close = '\0';
    }
    t->port = 6379;
    if (colon) {
        *colon = '\0';
        t->port = (int)strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || t->port <= 0 || t->port > 65535)
            goto bad;
    }
    if (!host[0])
        goto bad;
    snprintf(t->host, sizeof t->host, "%s", host);
    return 0;
bad:
    snprintf(err, errlen, "--redis %s: expected redis://HOST:PORT[/DB] or unix:///path", url);
    return -1;
}

int store_run(const struct store_target *t, int timeout_ms, int argc, const char **argv, char *err,
              size_t errlen) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = t->path[0] ? redisConnectUnixWithTimeout(t->path, tv)
                                 : redisConnectWithTimeout(t->host, t->port, tv);
    if (c && !c->err && t->db) {
        redisReply *r = redisCommand(c, "SELECT %d", t->db);
        freeReplyObject(r);
    }
    redisReply *r = c && !c->err ? redisCommandArgv(c, argc, argv, NULL) : NULL;
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(err, errlen, "%s",
                 c && c->err                         ? c->errstr
                 : r && r->type == REDIS_REPLY_ERROR ? r->str
                                                     : "no reply");
    freeReplyObject(r);
    redisFree(c);
    return ok ? 0 : -1;
}

int store_ping(const struct store_target *t, int timeout_ms, char *err, size_t errlen) {
    const char *argv[] = {"PING"};
    char why[256];
    if (store_run(t, timeout_ms, 1, argv, why, sizeof why) == 0)
        return 0;
    char where[300];
    if (t->path[0])
        snprintf(where, sizeof where, "%s", t->path);
    else
        snprintf(where, sizeof where, "%s:%d", t->host, t->port);
    snprintf(err, errlen, "Redis at %s does not answer: %s", where, why);
    return -1;
}

/* ---- hiredis event hooks ---- */

static void ev_add_write(void *data) {
    (void)data;
    if (st.wsi)
        lws_callback_on_writable(st.wsi);
}

static void ev_nothing(void *data) {
    (void)data; /* lws always polls the socket for reading */
}

static void ev_cleanup(void *data) {
    (void)data;
    if (st.wsi)
        lws_set_timeout(st.wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    st.wsi = NULL;
}

static void schedule_retry(void);

static void on_connect(const redisAsyncContext *ac, int status) {
    if (status != REDIS_OK) {
        log_warn("[store] cannot connect to Redis: %s", ac->errstr);
        st.ac = NULL; /* hiredis frees it after this call */
        schedule_retry();
        return;
    }
    st.connected = true;
    st.reconnects += st.ever_connected;
    st.ever_connected = true;
    st.backoff = 0;
    log_info("[store] connected to Redis");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    if (status != REDIS_OK)
        log_warn("[store] lost the Redis connection: %s", ac->errstr);
    st.ac = NULL;
    st.connected = false;
    schedule_retry();
}

static void on_reply(redisAsyncContext *ac, void *reply, void *data) {
    (void)ac;
    struct pending p = *(struct pending *)data;
    free(data);
    st.pending--;
    if (p.fn)
        p.fn(p.arg, reply);
}

/* ---- connecting ---- */

static int adopt(redisAsyncContext *ac) {
    int fd = dup(ac->c.fd);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    lws_sock_file_fd_type sfd = {.filefd = fd};
    st.wsi = lws_adopt_descriptor_vhost(st.vh, LWS_ADOPT_RAW_FILE_DESC, sfd, "roomd-redis", NULL);
    if (!st.wsi) {
        close(fd);
        return -1;
    }
    return 0;
}

static void select_db(void) {
    char db[16];
    snprintf(db, sizeof db, "%d", st.target.db);
    const char *argv[] = {"SELECT", db};
    if (st.target.db)
        store_command(NULL, NULL, 2, argv, NULL);
}

static int connect_now(void) {
    redisAsyncContext *ac = st.target.path[0] ? redisAsyncConnectUnix(st.target.path)
                                              : redisAsyncConnect(st.target.host, st.target.port);
    if (!ac || ac->err) {
        log_warn("[store] cannot connect to Redis: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return -1;
    }
    ac->ev.addRead = ac->ev.delRead = ac->ev.delWrite = ev_nothing;
    ac->ev.addWrite = ev_add_write;
    ac->ev.cleanup = ev_cleanup;
    if (adopt(ac) != 0) {
        redisAsyncFree(ac);
        return -1;
    }
    st.ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    lws_callback_on_writable(st.wsi); /* hiredis learns of the connect on the first write event */
    select_db();
    return 0;
}

static void retry(lws_sorted_usec_list_t *sul) {
    (void)sul;
    if (!st.ac && connect_now() != 0)
        schedule_retry();
}

static void schedule_retry(void) {
    if (st.stopping)
        return;
    st.backoff = st.backoff ? st.backoff * 2 : BACKOFF_MIN_US;
    if (st.backoff > BACKOFF_MAX_US)
        st.backoff = BACKOFF_MAX_US;
    lws_sul_schedule(st.context, 0, &st.retry, retry, st.backoff);
}

int store_start(struct lws_context *context, struct lws_vhost *vh, const struct store_target *t,
                char *err, size_t errlen) {
    st.context = context;
    st.vh = vh;
    st.target = *t;
    if (connect_now() != 0) {
        snprintf(err, errlen, "cannot connect to Redis at %s", t->path[0] ? t->path : t->host);
        return -1;
    }
    return 0;
}

bool store_started(void) {
    return st.vh != NULL;
}

bool store_connected(void) {
    return st.connected;
}

int store_socket(void) {
    return st.ac ? st.ac->c.fd : -1;
}

uint64_t store_reconnects(void) {
    return st.reconnects;
}

static size_t digits(size_t n) {
    size_t d = 1;
    while (n >= 10)
        n /= 10, d++;
    return d;
}

static char *put_count(char *p, char type, size_t n) {
    size_t d = digits(n);
    *p++ = type;
    for (size_t i = d; i > 0; i--, n /= 10)
        p[i - 1] = (char)('0' + n % 10);
    p += d;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* The command in Redis' protocol (an array of bulk strings), written here:
 * hiredis' own formatting goes through sdscatfmt and costs several times as
 * much per command. Small commands use buf; larger ones a malloc'ed buffer
 * the caller frees (*heap). NUL-terminated, as hiredis reads the command's
 * name with strchr. Returns the length, or 0 out of memory. */
static size_t format_command(char *buf, size_t cap, char **heap, int argc, const char **argv,
                             const size_t *lens) {
    size_t size = 1 + digits((size_t)argc) + 2;
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        size += 1 + digits(len) + 2 + len + 2;
    }
    *heap = NULL;
    char *out = buf;
    if (size + 1 > cap && !(out = *heap = malloc(size + 1)))
        return 0;
    char *p = put_count(out, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        p = put_count(p, '$', len);
        memcpy(p, argv[i], len);
        p += len;
        *p++ = '\r';
        *p++ = '\n';
    }
    *p = '\0';
    return (size_t)(p - out);
}

int store_command(store_reply_fn *fn, void *arg, int argc, const char **argv, const size_t *lens) {
    if (!st.ac || st.stopping)
        return -1;
    char buf[1024], *heap;
    size_t len = format_command(buf, sizeof buf, &heap, argc, argv, lens);
    struct pending *p = len ? malloc(sizeof *p) : NULL;
    if (!p) {
        free(heap);
        return -1;
    }
    p->fn = fn;
    p->arg = arg;
    int rc = redisAsyncFormattedCommand(st.ac, on_reply, p, heap ? heap : buf, len);
    free(heap);
    if (rc != REDIS_OK) {
        free(p);
        return -1;
    }
    st.pending++;
    return 0;
}

int store_pending(void) {
    return st.pending;
}

void store_request_write(void) {
    if (st.wsi && st.ac && st.ac->c.obuf && sdslen(st.ac->c.obuf) > 0)
        lws_callback_on_writable(st.wsi);
}

void store_stop(void) {
    st.stopping = true;
    lws_sul_cancel(&st.retry);
    if (st.ac)
        redisAsyncFree(st.ac); /* pending callbacks get NULL, then on_disconnect */
    st.ac = NULL;
    st.connected = false;
}

int store_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len) {
    (void)user, (void)in, (void)len;
    if (wsi != st.wsi || !st.ac)
        return 0;
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        redisAsyncHandleRead(st.ac);
    else if (reason == LWS_CALLBACK_RAW_WRITEABLE_FILE)
        redisAsyncHandleWrite(st.ac);
    else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE)
        st.wsi = NULL;
    return 0;
}
