/* metrics: the process's figures in the Prometheus text format (version
 * 0.0.4), served by the admin API as GET /metrics; and the one count the
 * server itself keeps, HTTP answers by status class.
 *
 * Every figure is read when a scrape asks: the layers keep plain counters
 * where their events happen (rooms/counters.h per namespace, store.h for
 * Redis), and this file only reads them and writes text. Names are roomd_*
 * and the standard process_*; a label is a namespace, a class or a kind,
 * never a room id (rooms are unbounded). docs/operations.md lists them. */
#ifndef ROOMD_METRICS_H
#define ROOMD_METRICS_H

#include <stddef.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Counts one answer of the room listener with this HTTP status. */
void metrics_count_http(int status);

/* Every metric as text, malloc()ed, its length in *len; NULL on out-of-memory. */
char *metrics_render(size_t *len);

#endif
