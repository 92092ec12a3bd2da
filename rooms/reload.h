/* reload: puts a namespace on its script as it is on disk now, without
 * dropping a socket or a stored byte. A fresh VM loads the script; if that
 * fails (syntax error, error at load), the old code keeps running and the
 * error is logged with file and line. Otherwise every live room of the
 * namespace lets go of the old VM and starts again from storage under the
 * new code at its next event (init runs, then the event); its connections,
 * their tags and attachments stay. In-memory fields reset, as on a restart. */
#ifndef ROOMD_RELOAD_H
#define ROOMD_RELOAD_H

#include <stddef.h>

struct ns;

/* Returns 0 when the new code runs, -1 when the old one stays (logged, and "file:line: message"
 * in err). */
int reload_namespace(struct ns *ns, char *err, size_t errlen);

#endif
