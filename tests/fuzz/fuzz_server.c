/* fuzz_server: libFuzzer over roomd's whole request path. The server's own source is compiled
 * in (its protocol callback, namespace loading and loop state, unchanged), its libwebsockets
 * context is made once without a listening socket, and each input is written into one end of a
 * socketpair whose other end is adopted into the context as the listener adopts an accepted
 * socket (fuzz_adopt: the one call to switch if the server gains its own accept path). The loop
 * is serviced a bounded number of times between pieces and after the client end closes, so
 * HTTP parsing, routing, WebSocket framing, the rooms' turns and the answers all run. Rooms
 * live in memory only: without store_start no Redis is asked (room_store_enabled is false).
 *
 * Input format: the bytes the client sends, cut into separate writes at each SPLIT marker
 * (tests/fuzz/fuzz_server.dict lists it with HTTP and WebSocket tokens). The config is
 * tests/fuzz/fuzz_server.lua, or $ROOMD_FUZZ_CONF. */
#include "server.c"

#include <limits.h>
#include <sys/socket.h>

#define SPLIT "\xfe\xfd\xfc"
#define SPLIT_LEN 3
#define STEPS_PER_PIECE 8
#define STEPS_AFTER_CLOSE 16
#define MAX_PIECES 64

static struct config fuzz_cfg;
static struct lws_vhost *fuzz_vh;

/* Hands fd to roomd as an accepted connection (lws's listener adopts this way). */
static int fuzz_adopt(int fd) {
    wire_expect_request(
        fd); /* what roomd's listener does on LWS_CALLBACK_FILTER_NETWORK_CONNECTION */
    return lws_adopt_socket_vhost(fuzz_vh, fd) ? 0 : -1;
}

/* One iteration of run_loop, without waiting for events. */
static void fuzz_step(void) {
    loop_once(-1);
}

static void fuzz_drain(int fd) {
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

static void fuzz_steps(int fd, int n) {
    for (int i = 0; i < n; i++) {
        fuzz_step();
        if (fd >= 0)
            fuzz_drain(fd);
    }
}

static void fuzz_conf_path(char *out, size_t len) {
    char exe[PATH_MAX];
    const char *env = getenv("ROOMD_FUZZ_CONF");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (env) {
        snprintf(out, len, "%s", env);
        return;
    }
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%s/../fuzz_server.lua", n > 0 ? exe : ".");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char path[PATH_MAX + 32], err[2048];
    fuzz_conf_path(path, sizeof path);
    if (config_load(&fuzz_cfg, path, NULL, 0, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_server: %s\n", err);
        exit(1);
    }
    log_set_level((enum log_level)fuzz_cfg.log_level);
    server.cfg = &fuzz_cfg;
    signal(SIGPIPE, SIG_IGN);
    if (load_namespaces(&fuzz_cfg) != 0)
        exit(1);
    struct lws_context_creation_info info = {.port = CONTEXT_PORT_NO_LISTEN_SERVER,
                                             .vhost_name = "roomd",
                                             .protocols = protocols,
                                             .options = LWS_SERVER_OPTION_VALIDATE_UTF8,
                                             .timeout_secs = 30};
    lws_set_log_level(0, NULL);
    loop.context = lws_create_context(&info);
    fuzz_vh = loop.context ? lws_get_vhost_by_name(loop.context, "roomd") : NULL;
    if (!fuzz_vh) {
        fprintf(stderr, "fuzz_server: no libwebsockets context\n");
        exit(1);
    }
    evict_start(loop.context, fuzz_cfg.limits.room_idle_ms, fuzz_cfg.limits.hibernate_ms);
    return 0;
}

/* Writes what the peer takes of piece (a full socket buffer is the server's problem to drain:
 * the loop runs between attempts). */
static void fuzz_write(int fd, const uint8_t *p, size_t n) {
    for (int tries = 0; n > 0 && tries < 64; tries++) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            return; /* the server closed its end */
        }
        fuzz_steps(fd, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return 0;
    if (fuzz_adopt(sv[0]) != 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    const uint8_t *p = data, *end = data + size;
    for (int pieces = 0; p < end && pieces < MAX_PIECES; pieces++) {
        const uint8_t *cut = memmem(p, (size_t)(end - p), SPLIT, SPLIT_LEN);
        const uint8_t *stop = cut ? cut : end;
        fuzz_write(sv[1], p, (size_t)(stop - p));
        fuzz_steps(sv[1], STEPS_PER_PIECE);
        p = cut ? cut + SPLIT_LEN : end;
    }
    fuzz_steps(sv[1], STEPS_PER_PIECE);
    close(sv[1]);
    fuzz_steps(-1, STEPS_AFTER_CLOSE);
    return 0;
}
