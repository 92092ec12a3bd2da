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

/* The watcher: the inotify descriptor adopted into the loop, and per namespace (in ns_at order)
 * the watch of its script's folder and whether it changed since the last reload. */
static struct {
    struct lws_context *context;
    struct lws *wsi;
    int fd;
    bool *pending;
    int *wds;
    lws_sorted_usec_list_t quiet; /* reloads wait for the folder to be quiet this long */
} watcher = {.fd = -1};

static void reload_pending(lws_sorted_usec_list_t *sul) {
    char err[2048]; /* logged by reload_namespace */
    (void)sul;
    for (size_t i = 0; i < ns_count(); i++) {
        if (!watcher.pending[i])
            continue;
        watcher.pending[i] = false;
        reload_namespace(ns_at(i), err, sizeof err);
    }
}

void watch_reload_all(void) {
    char err[2048]; /* logged by reload_namespace */
    log_info("reloading every namespace");
    for (size_t i = 0; i < ns_count(); i++)
        reload_namespace(ns_at(i), err, sizeof err);
}

/* Marks the namespaces whose script is `name` in the folder of watch wd. */
static void changed(int wd, const char *name) {
    for (size_t i = 0; i < ns_count(); i++) {
        const char *slash = strrchr(ns_script(ns_at(i)), '/');
        if (watcher.wds[i] == wd && slash && strcmp(slash + 1, name) == 0) {
            watcher.pending[i] = true;
            lws_sul_schedule(watcher.context, 0, &watcher.quiet, reload_pending, QUIET_US);
        }
    }
}

static void read_events(void) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(watcher.fd, buf, sizeof buf)) > 0) {
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
    if (wsi == watcher.wsi && reason == LWS_CALLBACK_RAW_RX_FILE)
        read_events();
    else if (wsi == watcher.wsi && reason == LWS_CALLBACK_RAW_CLOSE_FILE)
        watcher.wsi = NULL, watcher.fd = -1;
    return 0;
}

static int watch_folder(size_t i) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", ns_script(ns_at(i)));
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    watcher.wds[i] = inotify_add_watch(watcher.fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    return watcher.wds[i] < 0 ? -1 : 0;
}

int watch_start(struct lws_context *ctx, struct lws_vhost *vh) {
    watcher.context = ctx;
    watcher.pending = calloc(ns_count() + 1, sizeof *watcher.pending);
    watcher.wds = calloc(ns_count() + 1, sizeof *watcher.wds);
    watcher.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (!watcher.pending || !watcher.wds || watcher.fd < 0)
        goto fail;
    for (size_t i = 0; i < ns_count(); i++)
        if (watch_folder(i) != 0)
            goto fail;
    lws_sock_file_fd_type sfd = {.filefd = watcher.fd};
    watcher.wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, sfd, "roomd-watch", NULL);
    if (!watcher.wsi) {
        errno = ENOMEM;
        goto fail;
    }
    log_info("watching %zu room scripts for changes", ns_count());
    return 0;
fail:
    if (watcher.fd >= 0)
        close(watcher.fd);
    watcher.fd = -1;
    return -1;
}

void watch_stop(void) {
    if (watcher.context)
        lws_sul_cancel(&watcher.quiet);
    free(watcher.pending);
    free(watcher.wds);
    watcher.pending = NULL;
    watcher.wds = NULL;
    watcher.context = NULL;
}
