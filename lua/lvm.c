/* lvm: a LuaJIT VM per namespace, its sandbox and its heap limit.
 *
 * The sandbox is an allow-list: the script's environment table holds copies
 * of the safe globals and libraries and nothing else, and its metatable
 * refuses both reading and creating unknown globals. Scripts load as text
 * only. Every step that may raise (set-up, loading, tracebacks) runs inside
 * lua_cpcall, so an error is a status and never a panic. */
#include "lvm.h"

#include "clock.h"
#include "lbound.h"
#include "ljson.h"
#include "lsort.h"
#include "lstr.h"

#include <ctype.h>
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Idle threads kept for reuse: turns run one at a time, so a few suffice. */
#define THREAD_POOL 4

/* The C stack a turn may use below the point where it was resumed: at most a quarter of the
 * process's stack limit, and at most this. */
#define C_STACK_MAX (2u << 20)

struct lvm {
    lua_State *L;
    lua_Alloc base_alloc; /* LuaJIT's own allocator, which lvm_alloc counts and bounds */
    void *base_ud;
    size_t used, limit;
    int json_depth;
    int handlers_ref;      /* table the script returned, LUA_NOREF before the first load */
    int env_ref;           /* the sandbox environment */
    int turn_ref;          /* the trampoline every turn starts in */
    struct lvm_turn *turn; /* the turn being run or resumed: what build and finish act for */
    int cpu_ms;            /* CPU bound per turn, 0: none */
    long long deadline_ns; /* the running turn's, 0 between turns */
    char *stack_base;      /* the C stack where the running turn (or load) began, or NULL */
    size_t stack_max;      /* how deep below stack_base C code may go */
    bool cpu_limit_hit;
    bool memory_limit_hit;
    bool collect_due;    /* a turn failed near the limit: collect when its thread is dropped */
    size_t collected_at; /* heap size after the last collection collect_near_limit ran */
    struct pooled_thread {
        lua_State *co;
        int ref;
    } pool[THREAD_POOL]; /* threads whose turn completed, for the next turn of any room */
    int n_pool;
};

/* The VM a lua_State belongs to: the allocator's user data. */
static struct lvm *vm_of(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* Every CPU_HOOK_COUNT instructions of a bounded VM: past the deadline, raise. */
#define CPU_HOOK_COUNT 10000

/* The innermost frame of a room script (a chunk loaded from a file, with a current line) on
 * co's stack, in *ar; false when there is none. */
static bool script_frame(lua_State *co, lua_Debug *ar) {
    for (int level = 0; lua_getstack(co, level, ar); level++)
        if (lua_getinfo(co, "Sl", ar) && ar->source[0] == '@' && ar->currentline > 0)
            return true;
    return false;
}

/* Pushes "file:line: " of the script's innermost frame, or "" when there is none: errors name
 * the script's line, not one of roomd's own chunks. [-0, +1] */
static void push_script_where(lua_State *L) {
    lua_Debug ar;
    if (script_frame(L, &ar))
        lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    else
        lua_pushliteral(L, "");
}

int lvm_error(lua_State *L, const char *fmt, ...) {
    va_list ap;
    push_script_where(L);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

static void cpu_hook(lua_State *L, lua_Debug *ar);

/* Marks the turn as over its time: from now on the hook raises at every instruction, so an
 * error caught by a pcall is raised again at the first instruction outside it, until the turn
 * ends. */
static void mark_hit(struct lvm *vm) {
    if (!vm->cpu_limit_hit)
        lua_sethook(vm->L, cpu_hook, LUA_MASKCOUNT, 1);
    vm->cpu_limit_hit = true;
}

/* Whether the running turn is past its deadline (or was already); marks it so. */
static bool past_deadline(struct lvm *vm) {
    if (vm->cpu_limit_hit)
        return true;
    if (!vm->deadline_ns || clock_ns() < vm->deadline_ns)
        return false;
    mark_hit(vm);
    return true;
}

static int raise_cpu_limit(lua_State *L, struct lvm *vm) {
    return lvm_error(L, "CPU limit: the turn ran past %d ms", vm->cpu_ms);
}

static void cpu_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    struct lvm *vm = vm_of(L);
    if (past_deadline(vm))
        raise_cpu_limit(L, vm);
}

/* lbound's check_time: for C functions that may run long without returning to Lua. */
static void check_time(lua_State *L) {
    struct lvm *vm = vm_of(L);
    if (past_deadline(vm))
        raise_cpu_limit(L, vm);
}

/* lbound's check_stack: for C functions about to call back into Lua. The stack grows down. */
static void check_stack(lua_State *L) {
    struct lvm *vm = vm_of(L);
    char *here = __builtin_frame_address(0);
    if (vm->stack_base && here < vm->stack_base && (size_t)(vm->stack_base - here) > vm->stack_max)
        lvm_error(L, "C stack overflow (Lua calling C calling Lua, too deeply nested)");
}

static const struct lbound bound = {check_time, check_stack};

/* The JSON encoder's budget: whether to stop (it reports "CPU limit" itself). */
static int json_over(lua_State *L) {
    return past_deadline(vm_of(L));
}

/* The stack a turn may use: a quarter of the process's limit, at most C_STACK_MAX. */
static size_t stack_allowance(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur / 4 > C_STACK_MAX)
        return C_STACK_MAX;
    return rl.rlim_cur / 4;
}

void lvm_set_cpu_limit(struct lvm *vm, int ms) {
    vm->cpu_ms = ms;
    if (ms <= 0) {
        lua_sethook(vm->L, NULL, 0, 0);
        luaJIT_setmode(vm->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_ON);
        return;
    }
    luaJIT_setmode(vm->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    lua_sethook(vm->L, cpu_hook, LUA_MASKCOUNT, CPU_HOOK_COUNT);
}

/* Starts the bounds of a turn (or a load) whose C stack begins at base. */
static void begin_bounds(struct lvm *vm, char *base) {
    vm->deadline_ns = vm->cpu_ms ? clock_ns() + (long long)vm->cpu_ms * 1000000 : 0;
    vm->stack_base = base;
}

static void end_bounds(struct lvm *vm) {
    vm->deadline_ns = 0;
    vm->stack_base = NULL;
    if (vm->cpu_limit_hit)
        lua_sethook(vm->L, cpu_hook, LUA_MASKCOUNT, CPU_HOOK_COUNT);
}

bool lvm_take_cpu_limit_hit(struct lvm *vm) {
    bool hit = vm->cpu_limit_hit;
    vm->cpu_limit_hit = false;
    return hit;
}

bool lvm_take_memory_limit_hit(struct lvm *vm) {
    bool hit = vm->memory_limit_hit;
    vm->memory_limit_hit = false;
    return hit;
}

/* The trampoline: build the handler's call, make it from Lua (so the handler may yield), hand
 * the results to finish. build and finish are the C dispatchers below; they act for the VM's
 * current turn (vm->turn), not one the trampoline holds, so a turn that waited (a call to
 * another room) may be resumed from a copy of its struct kept elsewhere. */
static const char trampoline[] = "local build, finish = ...\n"
                                 "local function run(handler, ...)\n"
                                 "  if handler then return finish(handler(...)) end\n"
                                 "  return finish()\n"
                                 "end\n"
                                 "return function() return run(build()) end\n";

static int dispatch_build(lua_State *L) {
    struct lvm_turn *t = vm_of(L)->turn;
    int base = lua_gettop(L);
    t->build(L, t);
    t->handled = lua_gettop(L) > base;
    return lua_gettop(L) - base;
}

static int dispatch_finish(lua_State *L) {
    struct lvm_turn *t = vm_of(L)->turn;
    t->finish(L, t, lua_gettop(L));
    return 0;
}

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer, Lua's memory comes from libc, where misuse of it is caught. */
static void *libc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud, (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}
#endif

static void *lvm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct lvm *vm = ud;
    if (nsize == 0) {
        vm->base_alloc(vm->base_ud, ptr, osize, 0);
        vm->used -= osize;
        return NULL;
    }
    if (vm->limit && nsize > osize && vm->used + (nsize - osize) > vm->limit)
        return NULL;
    void *p = vm->base_alloc(vm->base_ud, ptr, osize, nsize);
    if (p)
        vm->used = vm->used - osize + nsize;
    return p;
}

static const char *const safe_globals[] = {
    "assert",   "error",    "ipairs",   "next",         "pairs",        "pcall",
    "select",   "tonumber", "tostring", "type",         "unpack",       "xpcall",
    "rawequal", "rawget",   "rawset",   "setmetatable", "getmetatable", NULL,
};
static const char *const safe_libs[] = {"string", "table", "math", "bit", NULL};
static const char *const safe_os[] = {"time", "clock", "date", NULL};

/* Copies t[name] for each name into the table at the stack top. [-0, +0] */
static void copy_fields(lua_State *L, int from, const char *const *names) {
    for (; *names; names++) {
        lua_getfield(L, from, *names);
        lua_setfield(L, -2, *names);
    }
}

/* Pushes a shallow copy of the table at idx (an absolute index). [-0, +1] */
static void push_copy(lua_State *L, int idx) {
    lua_newtable(L);
    for (lua_pushnil(L); lua_next(L, idx);) { /* copy, key, value */
        lua_pushvalue(L, -2);                 /* copy, key, value, key */
        lua_insert(L, -2);                    /* copy, key, key, value */
        lua_rawset(L, -4);                    /* copy, key */
    }
}

/* now_ms(): the wall-clock time in milliseconds since the epoch (alarms take such times). */
static int now_ms(lua_State *L) {
    lua_pushnumber(L, (lua_Number)clock_wall_ms()); /* base/clock.c: `roomd test` can fake it */
    return 1;
}

static int env_undeclared(lua_State *L) {
    return luaL_error(L, "undeclared global '%s'", lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

static int env_assign(lua_State *L) {
    return luaL_error(L, "assignment to global '%s' (room scripts have no globals; use local)",
                      lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

/* Pushes the sandbox environment. [-0, +1], raises on out-of-memory. */
static void push_env(lua_State *L, int json_depth) {
    lua_newtable(L);
    copy_fields(L, LUA_GLOBALSINDEX, safe_globals);
    for (const char *const *lib = safe_libs; *lib; lib++) {
        lua_getglobal(L, *lib);
        push_copy(L, lua_gettop(L));
        lua_setfield(L, -3, *lib);
        lua_pop(L, 1);
    }
    lua_newtable(L);
    lua_getglobal(L, "os");
    lua_insert(L, -2);
    copy_fields(L, -2, safe_os);
    lua_setfield(L, -3, "os");
    lua_pop(L, 1);
    ljson_open(L);
    ljson_set_max_depth(L, json_depth);
    lua_setfield(L, -2, "json");
    lua_pushcfunction(L, now_ms);
    lua_setfield(L, -2, "now_ms");
    lua_newtable(L); /* the environment's metatable */
    lua_pushcfunction(L, env_undeclared);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_assign);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* Wrappers in Lua around library functions of the sandbox, run once at set-up with the
 * originals and two C helpers. xpcall's message handler does not run once the turn is over its
 * CPU limit (a handler called for the limit's own error would run with the hook off, as hooks
 * are while one runs, and could loop for good). string.format (through __tostring) and os.time
 * (through __index) call back into Lua from C: the wrappers check the C stack first. They
 * tail-call the original, so its errors still name the script's line and the function. */
static const char wrappers[] = "local xpcall, format, time, over, guard = ...\n"
                               "local function bounded_xpcall(f, handler, ...)\n"
                               "  return xpcall(f, function(e)\n"
                               "    if over() then return e end\n"
                               "    return handler(e)\n"
                               "  end, ...)\n"
                               "end\n"
                               "local function bounded_format(...)\n"
                               "  guard()\n"
                               "  return format(...)\n"
                               "end\n"
                               "local function bounded_time(...)\n"
                               "  guard()\n"
                               "  return time(...)\n"
                               "end\n"
                               "return bounded_xpcall, bounded_format, bounded_time\n";

static int l_over(lua_State *L) {
    lua_pushboolean(L, vm_of(L)->cpu_limit_hit);
    return 1;
}

static int l_guard(lua_State *L) {
    check_stack(L);
    return 0;
}

/* Replaces the library functions that can run long or call back into Lua, in the libraries
 * themselves (the sandbox copies them next, and the string metatable's __index is `string`). */
static void bound_libraries(lua_State *L) {
    lua_getglobal(L, "string");
    lua_pushnil(L); /* string.dump stays reachable through the string metatable: remove it */
    lua_setfield(L, -2, "dump");
    lstr_open(L, &bound);
    lua_getglobal(L, "table");
    lsort_open(L, &bound);
    lua_getglobal(L, "os");
    if (luaL_loadbufferx(L, wrappers, sizeof wrappers - 1, "=sandbox", "t") != 0)
        lua_error(L);
    lua_getglobal(L, "xpcall");
    lua_getfield(L, -5, "format");
    lua_getfield(L, -4, "time");
    lua_pushcfunction(L, l_over);
    lua_pushcfunction(L, l_guard);
    lua_call(L, 5, 3);             /* string, table, os, xpcall', format', time' */
    lua_setfield(L, -4, "time");   /* string, table, os, xpcall', format' */
    lua_setfield(L, -5, "format"); /* string, table, os, xpcall' */
    lua_setglobal(L, "xpcall");
    lua_pop(L, 3);
}

static int setup(lua_State *L) {
    struct lvm *vm = lua_touserdata(L, 1);
    luaL_openlibs(L);
    bound_libraries(L);
    push_env(L, vm->json_depth);
    vm->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (luaL_loadbufferx(L, trampoline, sizeof trampoline - 1, "=turn", "t") != 0)
        return lua_error(L);
    lua_pushcfunction(L, dispatch_build);
    lua_pushcfunction(L, dispatch_finish);
    lua_call(L, 2, 1);
    vm->turn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

struct lvm *lvm_new(const char *name, size_t mem_limit, int json_depth, char *err, size_t errlen) {
    struct lvm *vm = calloc(1, sizeof *vm);
    if (!vm)
        goto fail;
    vm->json_depth = json_depth;
    vm->handlers_ref = LUA_NOREF;
    vm->stack_max = stack_allowance();
#if defined(__SANITIZE_ADDRESS__)
    vm->base_alloc = libc_alloc;
    vm->L = lua_newstate(lvm_alloc, vm);
    if (!vm->L)
        goto fail;
#else
    /* LuaJIT's own allocator (one arena per state) is several times cheaper per
     * allocation than libc's; lvm_alloc sits in front of it to count and bound. */
    vm->L = luaL_newstate();
    if (!vm->L)
        goto fail;
    vm->base_alloc = lua_getallocf(vm->L, &vm->base_ud);
    vm->used =
        (size_t)lua_gc(vm->L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(vm->L, LUA_GCCOUNTB, 0);
    lua_setallocf(vm->L, lvm_alloc, vm);
#endif
    if (lua_cpcall(vm->L, setup, vm) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(vm->L, -1));
        lvm_free(vm);
        return NULL;
    }
    /* Only now: set-up itself may use more than a tiny limit. */
    vm->limit = mem_limit;
    ljson_set_budget(vm->L, json_over, mem_limit); /* a text no string of the VM could hold */
    return vm;
fail:
    snprintf(err, errlen, "out of memory creating the VM for '%s'", name);
    lvm_free(vm);
    return NULL;
}

struct load_args {
    struct lvm *vm;
    const char *path, *text;
    size_t len;
};

static int load_script(lua_State *L) {
    struct load_args *a = lua_touserdata(L, 1);
    char chunk[1024];
    snprintf(chunk, sizeof chunk, "@%s", a->path);
    if (luaL_loadbufferx(L, a->text, a->len, chunk, "t") != 0)
        return lua_error(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->vm->env_ref);
    lua_setfenv(L, -2);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "%s: the script must return a table of handlers", a->path);
    luaL_unref(L, LUA_REGISTRYINDEX, a->vm->handlers_ref);
    a->vm->handlers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            *len = fread(buf, 1, (size_t)n, f);
            buf[*len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

int lvm_load(struct lvm *vm, const char *path, char *err, size_t errlen) {
    struct load_args a = {.vm = vm, .path = path};
    a.text = read_file(path, &a.len);
    if (!a.text) {
        snprintf(err, errlen, "%s: cannot read the script", path);
        return -1;
    }
    begin_bounds(vm, __builtin_frame_address(0)); /* the script's top level is a turn too */
    int rc = lua_cpcall(vm->L, load_script, &a);
    end_bounds(vm);
    vm->cpu_limit_hit = false;
    free((char *)a.text);
    if (rc != 0) {
        const char *msg = lua_tostring(vm->L, -1);
        bool named = msg && strncmp(msg, path, strlen(path)) == 0;
        snprintf(err, errlen, "%s%s%s", named ? "" : path, named ? "" : ": ", msg ? msg : "?");
        lua_pop(vm->L, 1);
        return -1;
    }
    return 0;
}

struct prelude_args {
    const char *name, *text;
    size_t len;
    int ref;
};

static int run_prelude(lua_State *L) {
    struct prelude_args *a = lua_touserdata(L, 1);
    if (luaL_loadbufferx(L, a->text, a->len, a->name, "t") != 0)
        return lua_error(L);
    lua_call(L, 0, 1);
    a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int lvm_run_prelude(struct lvm *vm, const char *name, const char *text, size_t len, int *ref,
                    char *err, size_t errlen) {
    struct prelude_args a = {name, text, len, LUA_NOREF};
    if (lua_cpcall(vm->L, run_prelude, &a) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(vm->L, -1));
        lua_pop(vm->L, 1);
        return -1;
    }
    *ref = a.ref;
    return 0;
}

lua_State *lvm_state(struct lvm *vm) {
    return vm->L;
}

bool lvm_push_handler(struct lvm *vm, lua_State *co, const char *name) {
    lua_rawgeti(co, LUA_REGISTRYINDEX, vm->handlers_ref);
    lua_getfield(co, -1, name);
    lua_remove(co, -2);
    if (lua_isfunction(co, -1))
        return true;
    lua_pop(co, 1);
    return false;
}

struct trace_args {
    lua_State *co;
    char *err;
    size_t errlen;
};

/* Whether the traceback line at s (after its tab) is a frame of roomd's own Lua chunks. */
static bool internal_frame(const char *s) {
    return strncmp(s, "turn:", 5) == 0 || strncmp(s, "sandbox:", 8) == 0;
}

/* Copies the traceback src to dst, leaving out the " at 0x..." addresses of C functions (logs
 * show no pointers) and the frames of roomd's own chunks. */
static void copy_trace(char *dst, size_t len, const char *src) {
    size_t n = 0;
    while (*src && n + 1 < len) {
        if (strncmp(src, " at 0x", 6) == 0) {
            for (src += 6; isxdigit((unsigned char)*src); src++)
                ;
            continue;
        }
        if (src[0] == '\n' && src[1] == '\t' && internal_frame(src + 2)) {
            const char *next = strchr(src + 1, '\n');
            src = next ? next : src + strlen(src);
            continue;
        }
        dst[n++] = *src++;
    }
    dst[n] = '\0';
}

/* Writes the failed turn's message, named by the script's file:line, and its traceback. The
 * error value is read without metamethods: no script code runs here, outside the turn's bound. */
static int trace(lua_State *L) {
    struct trace_args *a = lua_touserdata(L, 1);
    int type = lua_type(a->co, -1);
    const char *msg =
        type == LUA_TSTRING || type == LUA_TNUMBER
            ? lua_tostring(a->co, -1)
            : lua_pushfstring(L, "(error object is a %s value)", lua_typename(L, type));
    lua_Debug ar;
    if (script_frame(a->co, &ar)) {
        size_t n = strlen(ar.short_src);
        if (strncmp(msg, ar.short_src, n) != 0 || msg[n] != ':')
            msg = lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
    }
    luaL_traceback(L, a->co, msg, 0);
    copy_trace(a->err, a->errlen, lua_tostring(L, -1));
    return 0;
}

enum lvm_result lvm_resume(struct lvm *vm, lua_State *co, struct lvm_turn *t, int nargs, char *err,
                           size_t errlen) {
    struct lvm_turn *outer = vm->turn; /* a turn of another room may be resumed from within one */
    vm->turn = t;
    begin_bounds(vm, __builtin_frame_address(0));
    int status = lua_resume(co, nargs);
    end_bounds(vm);
    vm->turn = outer;
    if (status == 0)
        return LVM_DONE;
    if (status == LUA_YIELD)
        return LVM_YIELDED;
    vm->memory_limit_hit = status == LUA_ERRMEM;
    struct trace_args a = {co, err, errlen};
    /* Lift the limit while tracing: an out-of-memory error needs memory to be reported. */
    size_t limit = vm->limit;
    vm->limit = 0;
    if (lua_cpcall(vm->L, trace, &a) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(co, -1) ? lua_tostring(co, -1) : "error");
        lua_pop(vm->L, 1);
    }
    vm->limit = limit;
    vm->collect_due = limit && vm->used > limit / 4 * 3;
    return LVM_FAILED;
}

/* Past 3/4 of the limit, collects before a turn rather than let it fail on garbage (LuaJIT has
 * no emergency collection); at most once per limit/16 bytes allocated since the last time, so
 * a heap that is truly full does not collect before every turn. */
static void collect_near_limit(struct lvm *vm) {
    if (!vm->limit || vm->used < vm->limit / 4 * 3 || vm->used < vm->collected_at + vm->limit / 16)
        return;
    lua_gc(vm->L, LUA_GCCOLLECT, 0);
    vm->collected_at = vm->used;
}

enum lvm_result lvm_run(struct lvm *vm, lua_State *co, struct lvm_turn *t, char *err,
                        size_t errlen) {
    collect_near_limit(vm);
    lua_settop(co, 0);
    lua_rawgeti(co, LUA_REGISTRYINDEX, vm->turn_ref);
    t->handled = false;
    return lvm_resume(vm, co, t, 0, err, errlen);
}

struct new_thread_args {
    lua_State *co;
    int ref;
};

static int new_thread(lua_State *L) {
    struct new_thread_args *a = lua_touserdata(L, 1);
    a->co = lua_newthread(L);
    a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

lua_State *lvm_new_thread(struct lvm *vm, int *ref) {
    if (vm->n_pool > 0) {
        struct pooled_thread *p = &vm->pool[--vm->n_pool];
        *ref = p->ref;
        return p->co;
    }
    struct new_thread_args a = {NULL, LUA_NOREF};
    for (int attempt = 0; lua_cpcall(vm->L, new_thread, &a) != 0; attempt++) {
        lua_pop(vm->L, 1);
        if (attempt == 1)
            return NULL;
        lua_gc(vm->L, LUA_GCCOLLECT, 0);
    }
    *ref = a.ref;
    return a.co;
}

void lvm_release_thread(struct lvm *vm, int ref) {
    luaL_unref(vm->L, LUA_REGISTRYINDEX, ref);
    /* Only after a failure: collecting for every thread dropped near the limit made evicting
     * many rooms one full collection each, blocking the loop for minutes. */
    if (vm->collect_due) {
        vm->collect_due = false;
        lua_gc(vm->L, LUA_GCCOLLECT, 0);
    }
}

void lvm_return_thread(struct lvm *vm, lua_State *co, int ref) {
    if (vm->n_pool == THREAD_POOL) {
        lvm_release_thread(vm, ref);
        return;
    }
    lua_settop(co, 0);
    vm->pool[vm->n_pool++] = (struct pooled_thread){co, ref};
}

size_t lvm_memory(const struct lvm *vm) {
    return vm->used;
}

struct set_global_args {
    struct lvm *vm;
    const char *name;
};

static int set_global(lua_State *L) {
    struct set_global_args *a = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->vm->env_ref);
    lua_pushstring(L, a->name);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    return 0;
}

int lvm_set_global(struct lvm *vm, const char *name) {
    lua_State *L = vm->L;
    struct set_global_args a = {vm, name};
    lua_pushcfunction(L, set_global);
    lua_insert(L, -2); /* set_global, value */
    lua_pushlightuserdata(L, &a);
    lua_insert(L, -2); /* set_global, &a, value */
    int rc = lua_pcall(L, 2, 0, 0);
    if (rc != 0)
        lua_pop(L, 1);
    return rc == 0 ? 0 : -1;
}

struct module_args {
    int factory_ref, module_ref;
    void (*push_args)(lua_State *L);
};

static int open_module(lua_State *L) {
    struct module_args *a = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->factory_ref);
    int base = lua_gettop(L);
    a->push_args(L);
    lua_call(L, lua_gettop(L) - base, 1);
    a->module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int lvm_open_module(struct lvm *vm, const char *name, const char *text, size_t len,
                    void (*push_args)(lua_State *L), char *err, size_t errlen) {
    char chunk[64];
    snprintf(chunk, sizeof chunk, "=%s", name);
    struct module_args a = {LUA_NOREF, LUA_NOREF, push_args};
    if (lvm_run_prelude(vm, chunk, text, len, &a.factory_ref, err, errlen) != 0)
        return -1;
    lua_State *L = vm->L;
    int rc = lua_cpcall(L, open_module, &a);
    luaL_unref(L, LUA_REGISTRYINDEX, a.factory_ref);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", name, lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, a.module_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, a.module_ref);
    if (lvm_set_global(vm, name) != 0) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    return 0;
}

int lvm_json_depth(const struct lvm *vm) {
    return vm->json_depth;
}

void lvm_free(struct lvm *vm) {
    if (!vm)
        return;
    if (vm->L) {
        lua_setallocf(vm->L, vm->base_alloc, vm->base_ud); /* so closing frees its arena whole */
        lua_close(vm->L);
    }
    free(vm);
}
