/* server: the process's one event loop: the libwebsockets context serving
 * HTTP and WebSocket on one port, the namespaces, signals, and the graceful
 * stop. Everything runs on this one thread; nothing on it blocks. */
#ifndef ROOMD_SERVER_H
#define ROOMD_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct config;

struct server_state {
    const struct config *cfg;
    bool stopping;    /* a stop signal came: refuse new work, close sockets */
    bool done;        /* leave the loop */
    int ws_open;      /* WebSockets established and not yet closed */
    int http_pending; /* HTTP requests handed to rooms and not yet answered */
};

extern struct server_state server;

/* Runs the server until it is stopped. Returns the process exit status; on a failure to
 * start it prints a one-line reason on stderr first. */
int server_run(const struct config *cfg);

#endif
