/* watch: inotify on the room scripts' folders; see watch.h. */
#include "watch.h"

#include "log.h"
#include "ns.h"
#include "reload.h"
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define QUIET_US (100 * LWS_US_PER_MS)

static struct lws_context *context;
static struct lws *watcher;
static int fd = -1;
static bool *pending; /* per namespace in server.ns: changed since the last reload */
static int *wds;      /* the watch of each namespace's folder */
static lws_sorted_usec_list_t quiet;

static void reload_pending(lws_sorted_usec_list_t *sul) {
    char err[2048]; /* logged by reload_namespace */
    (void)sul;
    for (int i = 0; i < server.n_ns; i++) {
        if (!pending[i])
            continue;
        pending[i] = false;
        reload_namespace(server.ns[i], err, sizeof err);
    }
}

void watch_reload_all(void) {
    char err[2048]; /* logged by reload_namespace */
    log_info("reloading every namespace");
    for (int i = 0; i < server.n_ns; i++)
        reload_namespace(server.ns[i], err, sizeof err);
}

/* Marks the namespaces whose script is `name` in the folder of watch wd. */
static void changed(int wd, const char *name) {
    for (int i = 0; i < server.n_ns; i++) {
        const char *slash = strrchr(ns_script(server.ns[i]), '/');
        if (wds[i] == wd && slash && strcmp(slash + 1, name) == 0) {
            pending[i] = true;
            lws_sul_schedule(context, 0, &quiet, reload_pending, QUIET_US);
        }
    }
}

static void read_events(void) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len)
                changed(ev->wd, ev->name);
            p += sizeof *ev + ev->len;
        }
    }
}

int watch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len) {
    (void)user, (void)in, (void)len;
    if (wsi == watcher && reason == LWS_CALLBACK_RAW_RX_FILE)
        read_events();
    else if (wsi == watcher && reason == LWS_CALLBACK_RAW_CLOSE_FILE)
        watcher = NULL, fd = -1;
    return 0;
}

static int watch_folder(int i) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", ns_script(server.ns[i]));
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    wds[i] = inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    return wds[i] < 0 ? -1 : 0;
}

int watch_start(struct lws_context *ctx, struct lws_vhost *vh) {
    context = ctx;
    pending = calloc((size_t)server.n_ns + 1, sizeof *pending);
    wds = calloc((size_t)server.n_ns + 1, sizeof *wds);
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (!pending || !wds || fd < 0)
        goto fail;
    for (int i = 0; i < server.n_ns; i++)
        if (watch_folder(i) != 0)
            goto fail;
    lws_sock_file_fd_type sfd = {.filefd = fd};
    watcher = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, sfd, "roomd-watch", NULL);
    if (!watcher) {
        errno = ENOMEM;
        goto fail;
    }
    log_info("watching %d room scripts for changes", server.n_ns);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    fd = -1;
    return -1;
}

void watch_stop(void) {
    if (context)
        lws_sul_cancel(&quiet);
    free(pending);
    free(wds);
    pending = NULL;
    wds = NULL;
    context = NULL;
}
