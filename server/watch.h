/* watch: reloads room scripts when they change on disk (with `--watch`, or
 * `watch = true` in the config). An inotify descriptor, adopted into the
 * loop, watches the folder of each script (editors often save by renaming a
 * new file over the old one); a change is reloaded after a short quiet time
 * so a save in several writes loads once. SIGHUP reloads every namespace
 * whether or not watching is on. */
#ifndef ROOMD_WATCH_H
#define ROOMD_WATCH_H

#include <libwebsockets.h>

/* Starts watching the scripts of every namespace. Returns 0, or -1 with errno set. */
int watch_start(struct lws_context *context, struct lws_vhost *vh);

/* Reloads every namespace now (SIGHUP). */
void watch_reload_all(void);

void watch_stop(void);

/* The lws protocol callback of "roomd-watch". */
int watch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

#endif
