/* script_log: the `log` module room scripts see: log.info(...), log.warn(...), log.error(...).
 * A line carries the room's namespace and id and the script's file:line as fields (in either
 * log format); the script's text goes into the message only, so it cannot forge fields or break
 * its line. Each room may log SCRIPT_LOG_LINES lines per second; the rest are dropped, counted,
 * and the count told with the room's next line. */
#ifndef ROOMD_SCRIPT_LOG_H
#define ROOMD_SCRIPT_LOG_H

#include <stddef.h>

struct lvm;

#define SCRIPT_LOG_LINES 50

/* Sets the `log` global of vm's sandbox. 0, or -1 with err. */
int script_log_open(struct lvm *vm, char *err, size_t errlen);

#endif
