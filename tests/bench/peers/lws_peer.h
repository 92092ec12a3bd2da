/* lws_peer.h: the main loop the C peers share (bare_lws, raw_lws): --port N
 * (default 8080), 127.0.0.1 only, errors and warnings logged, served until
 * SIGINT or SIGTERM. Header-only: each peer is one file built on its own. */
#ifndef LWS_PEER_H
#define LWS_PEER_H

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t lws_peer_interrupted;

static void lws_peer_on_signal(int sig) {
    (void)sig;
    lws_peer_interrupted = 1;
}

/* Serves protocols with the vhost options until a signal; what it serves is
 * named on stderr. Returns main's exit status. */
static int lws_peer_run(int argc, char **argv, const char *name, const char *serves,
                        const struct lws_protocols *protocols, uint64_t options) {
    struct lws_context_creation_info info;
    int port = 8080;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
    signal(SIGINT, lws_peer_on_signal);
    signal(SIGTERM, lws_peer_on_signal);
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = options;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "%s: cannot start on port %d\n", name, port);
        return 1;
    }
    fprintf(stderr, "%s: serving %s on 127.0.0.1:%d\n", name, serves, port);
    while (!lws_peer_interrupted && lws_service(ctx, 0) >= 0)
        ;
    lws_context_destroy(ctx);
    return 0;
}

#endif
