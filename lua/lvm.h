/* lvm: one LuaJIT VM per namespace, with the sandbox room scripts run in.
 *
 * A VM holds one loaded script (its table of handlers), the sandbox
 * environment the script sees, and a heap capped at a byte limit. It knows
 * nothing of rooms: callers run handlers on threads of the VM through
 * lvm_resume, the only function that resumes coroutines. */
#ifndef ROOMD_LVM_H
#define ROOMD_LVM_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

struct lvm;

enum lvm_result {
    LVM_DONE,    /* the handler returned; its results are on the thread's stack */
    LVM_YIELDED, /* the handler waits on an operation (a call to another room); resume it later */
    LVM_FAILED,  /* the handler raised; the thread is dead, err holds message and traceback */
};

/* A VM named `name` (for its error messages) whose heap may not pass mem_limit bytes (0: no limit),
 * with the sandbox and the json module set up. Returns NULL with the reason in err. */
struct lvm *lvm_new(const char *name, size_t mem_limit, int json_depth, char *err, size_t errlen);

/* Bounds the CPU time of every turn (and of a script's top level as it loads) to ms
 * milliseconds (0: no bound). A turn past it raises "CPU limit" (again and again, so a pcall
 * cannot swallow it for good, and xpcall's handler no longer runs). The sandbox's C functions
 * that could run long (pattern matching, sort, JSON encoding) look at the same deadline. LuaJIT
 * does not run hooks inside compiled code, so a bounded VM runs in its interpreter: the
 * trade-off, measured in docs/lua-api.md. Whatever the bound, C calling back into Lua may nest
 * only as deep as a quarter of the process's stack limit (at most 2 MiB) below the turn's start:
 * deeper raises "C stack overflow". */
void lvm_set_cpu_limit(struct lvm *vm, int ms);

/* Whether the last failed turn failed on the CPU limit (and clears it). */
bool lvm_take_cpu_limit_hit(struct lvm *vm);

/* Whether the last failed turn failed for want of memory (its heap limit, and clears it). */
bool lvm_take_memory_limit_hit(struct lvm *vm);

/* Loads the script at path as text in the sandbox and keeps the table it returns as the
 * handlers. Returns 0, or -1 with "file:line: message" in err and the VM unchanged. */
int lvm_load(struct lvm *vm, const char *path, char *err, size_t errlen);

lua_State *lvm_state(struct lvm *vm);

/* Runs trusted code of roomd's own (not a room script): text[0..len) in the VM's full global
 * environment, keeping the value it returns in the registry (*ref). Returns 0 or -1 with err. */
int lvm_run_prelude(struct lvm *vm, const char *name, const char *text, size_t len, int *ref,
                    char *err, size_t errlen);

/* A turn: the caller embeds this at the start of its own struct. Both callbacks run inside
 * the coroutine, so they may raise: an error in either fails the turn like one in the handler. */
struct lvm_turn {
    /* Pushes the handler and its arguments, or nothing when there is no handler. */
    void (*build)(lua_State *co, struct lvm_turn *t);
    /* Reads the handler's nres results from the top of co's stack (nres is 0 when the script
     * has no handler: then `handled` is false). */
    void (*finish)(lua_State *co, struct lvm_turn *t, int nres);
    bool handled;
};

/* Starts a turn on thread co (created with lvm_new_thread, not running): build, handler,
 * finish. On LVM_FAILED the message and a traceback are in err. Never raises. */
enum lvm_result lvm_run(struct lvm *vm, lua_State *co, struct lvm_turn *t, char *err,
                        size_t errlen);

/* A new thread anchored in the registry; *ref receives the anchor. NULL on out-of-memory. */
lua_State *lvm_new_thread(struct lvm *vm, int *ref);

/* Drops a thread taken with lvm_new_thread. After a turn failed with the heap near its limit (a
 * turn that ran out of memory leaves garbage behind, and LuaJIT has no emergency collection) it
 * also runs one full collection. Never raises. */
void lvm_release_thread(struct lvm *vm, int ref);

/* Gives back a thread whose turn completed (neither yielded nor failed: a failed one goes to
 * lvm_release_thread). A later lvm_new_thread may hand it out again, so rooms between turns
 * need not hold a thread (about 0.5 KB each). Never raises. */
void lvm_return_thread(struct lvm *vm, lua_State *co, int ref);

/* Pushes the handler `name` onto thread co and returns true, or pushes nothing and returns
 * false when the script has no such handler. */
bool lvm_push_handler(struct lvm *vm, lua_State *co, const char *name);

/* Resumes co, suspended in turn t (the struct build and finish act for from now on: it may be a
 * copy of the one the turn started with), with nargs values on its stack. On LVM_FAILED the
 * message and a traceback are in err. Never raises. The one function that resumes coroutines. */
enum lvm_result lvm_resume(struct lvm *vm, lua_State *co, struct lvm_turn *t, int nargs, char *err,
                           size_t errlen);

/* Sets the sandbox's global name to the value on top of the VM's main stack (popped). 0, or -1
 * on out-of-memory. */
int lvm_set_global(struct lvm *vm, const char *name);

/* A module of roomd's own for room scripts: text (a chunk of roomd's, run in the full global
 * environment) returns a function; it is called with the values push_args leaves on the stack
 * (run protected), and what it returns becomes the sandbox's global name. 0, or -1 with err. */
int lvm_open_module(struct lvm *vm, const char *name, const char *text, size_t len,
                    void (*push_args)(lua_State *L), char *err, size_t errlen);

/* Raises the Lua error fmt... (lua_pushfstring's formats), prefixed with "file:line: " of the
 * innermost frame of the room script on L's stack: unlike luaL_error's level 1, right also when
 * the script reached the C function through a tail call or one of roomd's own chunks. */
int lvm_error(lua_State *L, const char *fmt, ...);

/* Bytes the VM's heap holds now. */
size_t lvm_memory(const struct lvm *vm);

int lvm_json_depth(const struct lvm *vm);

/* Frees the VM and everything in it. Accepts NULL. */
void lvm_free(struct lvm *vm);

#endif
