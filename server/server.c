/* server: the event loop, the protocol callback, signals and the stop.
 *
 * One thread runs lws's own poll loop. Each iteration first asks lws for
 * WRITEABLE on every socket that got frames during the last one (once per
 * socket, however many frames), then polls. Signals arrive on a signalfd
 * adopted into the loop, so a stop is just another event. */
#include "server.h"

#include "admin.h"
#include "alarm.h"
#include "call.h"
#include "config.h"
#include "conn.h"
#include "door.h"
#include "evict.h"
#include "fetch.h"
#include "keepalive.h"
#include "lease.h"
#include "log.h"
#include "ns.h"
#include "pipeline.h"
#include "redis_child.h"
#include "registry.h"
#include "session.h"
#include "store.h"
#include "token.h"
#include "usage_store.h"
#include "watch.h"
#include "watchdog.h"
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define STOP_GRACE_US (5 * LWS_US_PER_SEC)
/* lws gives every WebSocket an rx buffer of this size (plus LWS_PRE) for its whole life, and
 * reads at most that much from a socket per poll. At 4096 it was two thirds of an idle
 * connection's memory (6 KiB in all); at 2048 an idle connection costs about 3.7 KiB.
 * Smaller would save more but costs throughput: the messages one read brings in are what a
 * loop iteration turns into coalesced writes, and at 1024 a sender with 16 small messages in
 * flight (tests/bench relay W=16) got 25% fewer deliveries per server CPU-second. Messages of
 * any size up to limits.message_bytes still arrive, in pieces that conn_receive puts
 * together; a large one takes one poll per 2 KiB. Control frames (at most 125 bytes) must
 * fit whole. */
#define RX_BUFFER 2048
#define TX_PACKET 65536

struct server_state server;

/* What the loop owns besides server: the context, the embedded redis-server (if roomd runs one)
 * and the timers of the graceful stop and of the child's watch. */
static struct {
    struct lws_context *context;
    struct redis_child *child;
    lws_sorted_usec_list_t stop_timer, child_timer;
} loop;

/* ---- the protocol callback ---- */

static int on_roomd(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: /* accepted: its first bytes start a request */
        wire_expect_request((int)(intptr_t)in);
        return 0;
    case LWS_CALLBACK_HTTP:
        keepalive_busy(&s->idle);
        return http_on_request(wsi, s, in);
    case LWS_CALLBACK_HTTP_BODY:
        return http_on_body(s, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return http_on_body_done(s);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_on_writable(s);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return http_on_file_done(s);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            keepalive_busy(&s->idle);
            http_on_closed(s);
        }
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* lws frees s next (and makes a new one per request) */
        if (s)
            keepalive_busy(&s->idle);
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (s)
            keepalive_busy(&s->idle);
        return ws_confirm_upgrade(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_on_established(wsi, s);
    case LWS_CALLBACK_RECEIVE:
        return ws_on_receive(s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_on_writable(s);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return ws_on_peer_close(wsi, s, in, len);
    case LWS_CALLBACK_CLOSED:
        ws_on_closed(s);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (s && lws_get_protocol(wsi) && lws_get_protocol(wsi)->callback == on_roomd) {
            pipeline_idle(&s->pipeline_slot); /* in case lws closed it without CLOSED_HTTP */
            keepalive_busy(&s->idle);
        }
        ws_on_destroy(wsi);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int fetch_protocol_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                                   void *in, size_t len) {
    return fetch_callback(wsi, (int)reason, user, in, len);
}

/* ---- signals and the stop ---- */

static void stop_deadline(lws_sorted_usec_list_t *sul) {
    (void)sul;
    log_warn("stop: %d WebSockets and %d requests still open after the grace time; exiting",
             server.ws_open, server.http_pending);
    server.done = true;
}

static void begin_stop(int signo) {
    if (server.stopping) {
        log_warn("second %s: exiting now", strsignal(signo));
        server.done = true;
        return;
    }
    log_info("%s: stopping (%d WebSockets open)", strsignal(signo), server.ws_open);
    server.stopping = true;
    if (lease_enabled()) /* the rooms go on at other nodes: reconnect (docs/cluster.md) */
        door_close_all(1012, "node stopping: reconnect");
    else
        door_close_all(1001, "server shutting down");
    lws_sul_schedule(loop.context, 0, &loop.stop_timer, stop_deadline, STOP_GRACE_US);
}

static int on_signal(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    (void)user, (void)in, (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    struct signalfd_siginfo si;
    if (read(lws_get_socket_fd(wsi), &si, sizeof si) != (ssize_t)sizeof si)
        return 0;
    if (si.ssi_signo == SIGHUP)
        watch_reload_all();
    else
        begin_stop((int)si.ssi_signo);
    return 0;
}

static int watch_signals(struct lws_vhost *vh) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        return -1;
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -1;
    lws_sock_file_fd_type sfd = {.filefd = fd};
    if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, sfd, "roomd-signals", NULL)) {
        close(fd);
        return -1;
    }
    return 0;
}

/* ---- start-up ---- */

static void lws_log(int level, const char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    /* a client can make libwebsockets complain once per connection: at most a line a second */
    if (level == LLL_ERR)
        log_limited(LOG_ERROR, "lws: %.*s", (int)n, line);
    else
        log_limited(LOG_WARN, "lws: %.*s", (int)n, line);
}

/* Binds host:port once to learn, in one line, why lws could not. */
static void explain_listen_failure(const char *host, int port) {
    char service[16];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "roomd: cannot listen on %s:%d: %s\n", host, port, gai_strerror(rc));
        return;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int err = fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ? errno : 0;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    fprintf(stderr, "roomd: cannot listen on %s:%d: %s\n", host, port,
            err ? strerror(err) : "the WebSocket library refused to start");
}

static const struct lws_protocols protocols[] = {
    {"roomd", on_roomd, sizeof(struct session), RX_BUFFER, 0, NULL, TX_PACKET},
    {"roomd-signals", on_signal, 0, 0, 0, NULL, 0},
    {"roomd-redis", store_callback, 0, 0, 0, NULL, 0},
    {"roomd-watch", watch_callback, 0, 0, 0, NULL, 0},
    {"roomd-fetch", fetch_protocol_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Files roomd keeps open outside libwebsockets' table (stdio, hiredis' own socket, Redis' and
 * the static files', the logs) and the headroom for them. */
#define FD_RESERVE 64

/* libwebsockets sizes its table of sockets from the open-file limit when the context is made,
 * and stops accepting (rather than spinning on a failing accept) only once that table is full.
 * Made under a limit lowered by FD_RESERVE, the table fills while the process still has
 * FD_RESERVE files to spare; the limit is put back at once. */
static struct lws_context *create_context_reserving_fds(struct lws_context_creation_info *info) {
    struct rlimit was, lowered;
    bool lower = getrlimit(RLIMIT_NOFILE, &was) == 0 && was.rlim_cur != RLIM_INFINITY &&
                 was.rlim_cur > 4 * FD_RESERVE;
    lowered = was;
    lowered.rlim_cur = lower ? was.rlim_cur - FD_RESERVE : was.rlim_cur;
    if (lower)
        setrlimit(RLIMIT_NOFILE, &lowered);
    struct lws_context *ctx = lws_create_context(info);
    if (lower)
        setrlimit(RLIMIT_NOFILE, &was);
    return ctx;
}

static struct lws_context *create_context(const struct config *cfg) {
    struct lws_context_creation_info info = {.port = cfg->port,
                                             .iface = cfg->host,
                                             .vhost_name = "roomd",
                                             .protocols = protocols,
                                             .options = LWS_SERVER_OPTION_VALIDATE_UTF8,
                                             .timeout_secs = 30};
    /* Quiet while starting: a failure is explained in one line by explain_listen_failure. */
    lws_set_log_level(0, lws_log);
    struct lws_context *ctx = create_context_reserving_fds(&info);
    lws_set_log_level(LLL_ERR, lws_log);
    return ctx;
}

static void free_namespaces(void) {
    for (struct ns *ns; (ns = ns_at(0));)
        ns_free(ns);
}

/* Creates every namespace of the config (rooms/ns.c keeps the list). */
static int load_namespaces(const struct config *cfg) {
    for (int i = 0; i < cfg->n_namespaces; i++) {
        const struct ns_config *nc = &cfg->namespaces[i];
        char err[2048];
        struct ns *ns =
            ns_new(nc->name, nc->script, nc->settings, cfg->node, &cfg->limits, err, sizeof err);
        if (ns && fetch_allow(ns, (const char *const *)nc->outbound, nc->n_outbound, err,
                              sizeof err) != 0) {
            fprintf(stderr, "roomd: namespace '%s': %s\n", nc->name, err);
            ns_free(ns);
            return -1;
        }
        if (ns) {
            ns_set_cpu_budget(ns, nc->cpu_budget_ms);
            ns_set_jit(ns, nc->jit);
        }
        if (!ns || (nc->ping && ns_set_auto_reply(ns, nc->ping, nc->pong) != 0)) {
            fprintf(stderr, "roomd: namespace '%s': %s\n", nc->name, ns ? "out of memory" : err);
            ns_free(ns);
            return -1;
        }
    }
    return 0;
}

/* One turn of the loop: writes asked for, then lws' events (waiting up to timeout_ms, as
 * lws_service takes it), then what they left for roomd to look at. */
static int loop_once(int timeout_ms) {
    conn_request_writes();
    store_request_write();
    fetch_request_writes();
    if (lws_service(loop.context, timeout_ms) < 0)
        return -1;
    pipeline_check(loop.context);
    return 0;
}

static void run_loop(void) {
    bool usage_flushed = false;
    while (!server.done) {
        if (loop_once(0) != 0)
            break;
        /* Stopped once nothing is owed: no socket, no unanswered request, no unstored write
         * (the rooms' last usage included). */
        if (!server.stopping || server.ws_open != 0 || server.http_pending != 0)
            continue;
        if (!usage_flushed) {
            usage_store_flush_all();
            lease_release_all(); /* after every checkpoint already sent: Redis keeps the order */
            usage_flushed = true;
        }
        if (store_pending() == 0)
            server.done = true;
    }
}

/* Once a second: an embedded redis-server that died is started again. */
static void watch_child(lws_sorted_usec_list_t *sul) {
    (void)sul;
    int rc = redis_child_check(loop.child);
    if (rc > 0)
        log_error("[store] the embedded redis-server exited: started it again");
    else if (rc < 0)
        log_error("[store] the embedded redis-server exited and cannot be started again");
    lws_sul_schedule(loop.context, 0, &loop.child_timer, watch_child, LWS_US_PER_SEC);
}

/* The embedded redis-server, or the --redis URL. Returns 0, or -1 after printing why. */
static int start_storage(const struct config *cfg, struct lws_vhost *vh) {
    char err[512];
    struct store_target t;
    if (cfg->redis) {
        if (store_parse_url(cfg->redis, &t, err, sizeof err) != 0 ||
            store_ping(&t, 2000, err, sizeof err) != 0 ||
            (cfg->cluster.enabled &&
             lease_setup(cfg->node, cfg->cluster.lease_ms, &t, err, sizeof err) != 0))
            goto fail;
    } else {
        enum redis_child_mode mode = cfg->fsync_always ? REDIS_CHILD_ALWAYS : REDIS_CHILD_EVERYSEC;
        if (!(loop.child = redis_child_start(cfg->data_dir, mode, err, sizeof err)))
            goto fail;
        memset(&t, 0, sizeof t);
        snprintf(t.path, sizeof t.path, "%s", redis_child_socket(loop.child));
        lws_sul_schedule(loop.context, 0, &loop.child_timer, watch_child, LWS_US_PER_SEC);
    }
    if (store_start(loop.context, vh, &t, err, sizeof err) == 0) {
        alarm_start(loop.context);
        lease_start(loop.context);
        evict_start(loop.context, cfg->limits.room_idle_ms, cfg->limits.hibernate_ms);
        usage_store_start(loop.context);
        call_start(loop.context);
        if (fetch_start(loop.context, vh, wire_forget) != 0) /* curl's reads are curl's own */
            log_error("libcurl cannot start: http.fetch is not available");
        return 0;
    }
fail:
    fprintf(stderr, "roomd: storage: %s\n", err);
    return -1;
}

int server_run(const struct config *cfg) {
    server.cfg = cfg;
    signal(SIGPIPE, SIG_IGN);
    if (load_namespaces(cfg) != 0) {
        free_namespaces();
        return 1;
    }
    bool any_jit = false;
    for (int i = 0; i < cfg->n_namespaces; i++)
        any_jit |= cfg->namespaces[i].jit;
    if (any_jit && watchdog_start(cfg->limits.jit_watchdog_ms) != 0) {
        fprintf(stderr, "roomd: cannot start the watchdog of jit namespaces\n");
        free_namespaces();
        return 1;
    }
    loop.context = create_context(cfg);
    struct lws_vhost *vh = loop.context ? lws_get_vhost_by_name(loop.context, "roomd") : NULL;
    if (!vh) {
        explain_listen_failure(cfg->host, cfg->port);
        if (loop.context)
            lws_context_destroy(loop.context);
        free_namespaces();
        return 1;
    }
    int started = watch_signals(vh);
    if (started != 0)
        fprintf(stderr, "roomd: cannot watch signals: %s\n", strerror(errno));
    else if ((started = admin_start(loop.context, &cfg->admin)) == 0)
        started = start_storage(cfg, vh);
    if (started != 0) {
        lws_context_destroy(loop.context);
        redis_child_stop(loop.child);
        loop.child = NULL;
        free_namespaces();
        return 1;
    }
    keepalive_start(loop.context);
    if (cfg->watch && watch_start(loop.context, vh) != 0)
        log_error("cannot watch the room scripts (%s): they reload on SIGHUP only",
                  strerror(errno));
    log_info("roomd serving %zu namespaces on http://%s:%d/ as node '%s'%s", ns_count(), cfg->host,
             cfg->port, cfg->node, lease_enabled() ? " (cluster mode)" : "");
    run_loop();
    lws_sul_cancel(&loop.stop_timer);
    lws_sul_cancel(&loop.child_timer);
    watch_stop();
    keepalive_stop();
    alarm_stop();
    lease_stop();
    evict_stop();
    watchdog_stop();
    usage_store_stop();
    call_stop();
    fetch_stop();
    store_stop();
    lws_context_destroy(loop.context);
    loop.context = NULL;
    registry_free_all();
    token_cache_clear();
    free_namespaces();
    redis_child_stop(loop.child);
    loop.child = NULL;
    log_info("stopped");
    return 0;
}
