/* ns: a namespace, the first segment of a room URL: one room script running
 * in one Lua VM, shared by every room of the namespace, with the settings
 * the config gives it. */
#ifndef ROOMD_NS_H
#define ROOMD_NS_H

#include <stdbool.h>
#include <stddef.h>

struct ns;
struct lvm;
struct limits;

/* Creates the VM, the room bindings and room.settings (decoded from settings_json), and loads
 * the script. NULL with a one-line reason in err when any of that fails. */
struct ns *ns_new(const char *name, const char *script, const char *settings_json, const char *node,
                  const struct limits *limits, char *err, size_t errlen);

/* Builds a fresh VM from the script as it is now and makes it the namespace's. Returns the old
 * VM (the caller detaches every room from it, then frees it), or NULL with "file:line:
 * message" in err, the namespace unchanged. */
struct lvm *ns_reload(struct ns *ns, char *err, size_t errlen);

/* How many namespaces exist (created and not freed), and the i-th of them (0 <= i < count; the
 * order stays while none is created or freed). This module is the one list of namespaces. */
size_t ns_count(void);
struct ns *ns_at(size_t i);

/* The namespace called name[0..len), among those created and not freed, or NULL. */
struct ns *ns_find(const char *name, size_t len);

/* The namespace's name, and the path of its room script. */
const char *ns_name(const struct ns *ns);
const char *ns_script(const struct ns *ns);

/* Bytes of Lua heap in use, over every namespace's VM. */
size_t ns_lua_bytes(void);

/* Bytes of Lua heap in use in the namespace's VM. */
size_t ns_heap_bytes(const struct ns *ns);

/* Makes ping (exact text) answered with pong by roomd itself. Returns 0 or -1 (out of memory). */
int ns_set_auto_reply(struct ns *ns, const char *ping, const char *pong);

/* The namespace's own CPU budget per room per minute (0: none), over the global limit's; -1
 * goes back to limits.room_cpu_ms_per_minute. */
void ns_set_cpu_budget(struct ns *ns, long ms);

/* jit = true: the namespace's scripts run compiled, with no per-turn CPU bound; a turn that
 * runs past limits.jit_watchdog_ms ends the process (rooms/watchdog.h). */
void ns_set_jit(struct ns *ns, bool jit);

/* Asks for one whole garbage collection cycle in every namespace's VM (rooms left memory: give
 * back what they held; LuaJIT would wait for new allocations), run by ns_collect_step. */
void ns_collect_soon(void);

/* Advances the cycles ns_collect_soon asked for, for about budget_ms at most, so a large heap
 * is collected over several calls instead of in one long pause. */
void ns_collect_step(long budget_ms);

/* Frees the namespace and its VM. Every room of it must be gone. Accepts NULL. */
void ns_free(struct ns *ns);

#endif
