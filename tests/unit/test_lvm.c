/* Unit tests for lua/lvm.c: the sandbox scripts run in, loading scripts (text only, errors with
 * file:line, a table of handlers or nothing), turns run through lvm_run with a turn struct of
 * our own, failed turns and the threads they kill, and the heap limit. */
#include "check.h"
#include "lvm.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#define ERR_MAX 4096
#define MAX_RESULTS 4

static char probe_path[PATH_MAX];

/* The script most tests run: one handler per thing to try. */
static const char probe_script[] =
    "local H = {}\n"
    "local n = 0\n"
    "local keep\n"
    "function H.add(a, b) return tonumber(a) + tonumber(b) end\n"
    "function H.multi() return 1, 'two', true, nil end\n"
    "function H.count() n = n + 1 return n end\n"
    "function H.fail(msg)\n"
    "  error(msg)\n" /* line 8 */
    "end\n"
    "function H.fail_table() error({}) end\n"
    "function H.assign() x = 1 end\n"
    "function H.typo() return undefined_thing end\n"
    "function H.os() return type(os.execute), type(os.getenv), type(os.exit), type(os.time) end\n"
    "function H.dump()\n"
    "  return type(string.dump), type(('x').dump), type(getmetatable('').__index.dump)\n"
    "end\n"
    "function H.json() return json.encode(json.decode('[1,{\"a\":null}]')) end\n"
    "function H.grow(k) local t = {} for i = 1, tonumber(k) do t[i] = {i} end keep = t end\n"
    "function H.drop() keep = nil end\n"
    "function H.hog() local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end end\n"
    "function H.lib() return type(string.format), type(table.concat), type(math.floor),\n"
    "  type(bit.band) end\n"
    "function H.wait(wait, x) local got = wait(x) return got * 2, x end\n"
    "H.not_a_function = 5\n"
    "return H\n";

/* A turn that calls handler with string arguments and keeps what it returned as text. */
struct call {
    struct lvm_turn base; /* first: lvm_run hands it back to call_build and call_finish */
    struct lvm *vm;
    const char *handler;
    const char *args[MAX_RESULTS];
    int nargs;
    bool raise_in_build, raise_in_finish;
    int finished; /* times call_finish ran */
    int nres;
    char res[MAX_RESULTS][128];
};

static void call_build(lua_State *co, struct lvm_turn *t) {
    struct call *c = (struct call *)t;
    if (c->raise_in_build)
        luaL_error(co, "build raised");
    if (!lvm_push_handler(c->vm, co, c->handler))
        return;
    for (int i = 0; i < c->nargs; i++)
        lua_pushstring(co, c->args[i]);
}

static void describe(lua_State *co, int idx, char *out, size_t len) {
    int type = lua_type(co, idx);
    if (type == LUA_TSTRING || type == LUA_TNUMBER)
        snprintf(out, len, "%s", lua_tostring(co, idx));
    else if (type == LUA_TBOOLEAN)
        snprintf(out, len, "%s", lua_toboolean(co, idx) ? "true" : "false");
    else
        snprintf(out, len, "%s", lua_typename(co, type));
}

static void call_finish(lua_State *co, struct lvm_turn *t, int nres) {
    struct call *c = (struct call *)t;
    c->finished++;
    c->nres = nres;
    if (c->raise_in_finish)
        luaL_error(co, "finish raised");
    int first = lua_gettop(co) - nres + 1;
    for (int i = 0; i < nres && i < MAX_RESULTS; i++)
        describe(co, first + i, c->res[i], sizeof c->res[i]);
}

static struct call new_call(struct lvm *vm, const char *handler) {
    struct call c = {.base = {call_build, call_finish, false}, .vm = vm, .handler = handler};
    return c;
}

/* Runs handler(args...) on thread co; err receives the failure, if any. */
static enum lvm_result run(struct lvm *vm, lua_State *co, struct call *c, char *err) {
    err[0] = '\0';
    return lvm_run(vm, co, &c->base, err, ERR_MAX);
}

/* Runs a one-result handler on co and expects LVM_DONE with that result. */
static void expect_result(int line, struct lvm *vm, lua_State *co, const char *handler,
                          const char *want) {
    char err[ERR_MAX];
    struct call c = new_call(vm, handler);
    enum lvm_result res = run(vm, co, &c, err);
    check_report(res == LVM_DONE && c.nres >= 1 && strcmp(c.res[0], want) == 0, line, handler,
                 "result %d, %d values, first '%s', want '%s' (%s)", (int)res, c.nres,
                 c.nres ? c.res[0] : "", want, err);
}

/* Runs handler on a thread of its own and expects LVM_FAILED with part in err. The thread is
 * dead afterwards and is dropped. */
static void expect_failure(int line, struct lvm *vm, struct call *c, const char *part) {
    char err[ERR_MAX];
    int ref;
    lua_State *co = lvm_new_thread(vm, &ref);
    enum lvm_result res = co ? run(vm, co, c, err) : LVM_DONE;
    check_report(res == LVM_FAILED && strstr(err, part), line, c->handler,
                 "result %d, err '%s', want a failure with '%s'", (int)res, err, part);
    if (co)
        lvm_release_thread(vm, ref);
}

static struct lvm *new_vm(size_t limit) {
    char err[ERR_MAX] = "";
    struct lvm *vm = lvm_new("test", limit, 64, err, sizeof err);
    if (!vm) {
        fprintf(stderr, "lvm_new: %s\n", err);
        exit(2);
    }
    return vm;
}

/* Writes text to <scratch>/<name> and loads it into vm; returns lvm_load's result. */
static int load_text(struct lvm *vm, const char *name, const char *text, size_t len, char *err,
                     char *path) {
    scratch_write_len(path, name, text, len);
    err[0] = '\0';
    return lvm_load(vm, path, err, ERR_MAX);
}

static void expect_load_error_len(int line, struct lvm *vm, const char *text, size_t len,
                                  const char *part) {
    char err[ERR_MAX], path[PATH_MAX];
    int rc = load_text(vm, "bad.lua", text, len, err, path);
    check_report(rc == -1 && strstr(err, part), line, text,
                 "got rc %d / '%s', want an error with '%s'", rc, err, part);
    check_report(lua_gettop(lvm_state(vm)) == 0, line, text, "stack %d after a failed load",
                 lua_gettop(lvm_state(vm)));
}

static void expect_load_error(int line, struct lvm *vm, const char *text, const char *part) {
    expect_load_error_len(line, vm, text, strlen(text), part);
}

/* -- the sandbox ---------------------------------------------------------------------------- */

static void test_sandbox_globals(struct lvm *vm) {
    static const char *const absent[] = {
        "io",      "require", "load",   "loadstring",     "loadfile", "dofile",   "debug",
        "ffi",     "jit",     "_G",     "coroutine",      "package",  "module",   "getfenv",
        "setfenv", "print",   "gcinfo", "collectgarbage", "newproxy", "_VERSION", NULL};
    char text[256];
    for (const char *const *name = absent; *name; name++) {
        char want[128];
        snprintf(text, sizeof text, "local x = %s\nreturn {}\n", *name);
        snprintf(want, sizeof want, ":1: undeclared global '%s'", *name);
        expect_load_error(__LINE__, vm, text, want);
    }
    static const char present[] =
        "local all = {assert, error, ipairs, next, pairs, pcall, select, tonumber, tostring,\n"
        "  type, unpack, xpcall, rawequal, rawget, rawset, setmetatable, getmetatable,\n"
        "  string, table, math, bit, os, json}\n"
        "assert(#all == 23, 'a global is missing')\n"
        "return {}\n";
    char err[ERR_MAX], path[PATH_MAX];
    CHECK_INT(load_text(vm, "present.lua", present, sizeof present - 1, err, path), 0);
    expect_load_error(__LINE__, vm, "y = 2\nreturn {}\n", ":1: assignment to global 'y'");
    expect_load_error(__LINE__, vm, "local t = {}\nfunction f() end\nreturn t\n",
                      ":2: assignment to global 'f'");
}

static void test_sandbox_turns(struct lvm *vm, lua_State *co) {
    char err[ERR_MAX];
    struct call c = new_call(vm, "os");
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    CHECK_INT(c.nres, 4);
    CHECK_STR(c.res[0], "nil");
    CHECK_STR(c.res[1], "nil");
    CHECK_STR(c.res[2], "nil");
    CHECK_STR(c.res[3], "function");
    c = new_call(vm, "dump");
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    CHECK_INT(c.nres, 3);
    CHECK_STR(c.res[0], "nil");
    CHECK_STR(c.res[1], "nil");
    CHECK_STR(c.res[2], "nil");
    c = new_call(vm, "lib");
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    CHECK(c.nres == 4 && strcmp(c.res[0], "function") == 0 && strcmp(c.res[3], "function") == 0);
    expect_result(__LINE__, vm, co, "json", "[1,{\"a\":null}]");
    CHECK_INT(lvm_json_depth(vm), 64);

    c = new_call(vm, "assign");
    expect_failure(__LINE__, vm, &c, "assignment to global 'x'");
    c = new_call(vm, "typo");
    expect_failure(__LINE__, vm, &c, "undeclared global 'undefined_thing'");
}

/* -- loading -------------------------------------------------------------------------------- */

struct dump_buf {
    char data[4096];
    size_t len;
};

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
    struct dump_buf *b = ud;
    (void)L;
    if (b->len + sz > sizeof b->data)
        return 1;
    memcpy(b->data + b->len, p, sz);
    b->len += sz;
    return 0;
}

static void test_load_refused(struct lvm *vm) {
    /* real LuaJIT bytecode of "return {}" */
    struct dump_buf buf = {.len = 0};
    lua_State *L = luaL_newstate();
    CHECK(L && luaL_loadstring(L, "return {}") == 0 && lua_dump(L, dump_writer, &buf) == 0);
    lua_close(L);
    CHECK(buf.len > 4 && buf.data[0] == '\x1b');
    /* refused by LuaJIT's loader, whose message does not name the file */
    expect_load_error_len(__LINE__, vm, buf.data, buf.len, "wrong mode");
    expect_load_error_len(__LINE__, vm, "\x1bLua\x51\x00\x01\x04", 8, "wrong mode");

    char path[PATH_MAX], want[2 * PATH_MAX];
    scratch_path(path, "bad.lua");
    snprintf(want, sizeof want, "%s:3:", path);
    expect_load_error(__LINE__, vm, "local H = {}\n\nH.x = = 1\nreturn H\n", want);
    snprintf(want, sizeof want, "%s:2: boom at load", path);
    expect_load_error(__LINE__, vm, "local H = {}\nerror('boom at load')\nreturn H\n", want);
    expect_load_error(__LINE__, vm, "return 42\n", "must return a table of handlers");
    expect_load_error(__LINE__, vm, "return 'x'\n", "must return a table of handlers");
    expect_load_error(__LINE__, vm, "local H = {}\n", "must return a table of handlers");
    expect_load_error(__LINE__, vm, "", "must return a table of handlers");

    char err[ERR_MAX];
    CHECK_INT(lvm_load(vm, scratch_path(path, "absent.lua"), err, sizeof err), -1);
    CHECK_HAS(err, "cannot read the script");
}

/* After any number of failed loads, the handlers of the last good one are still there. */
static void test_load_keeps_handlers(struct lvm *vm, lua_State *co) {
    expect_result(__LINE__, vm, co, "count", "1");
    char err[ERR_MAX], path[PATH_MAX];
    static const char other[] = "return { count = function() return 'other' end }\n";
    CHECK_INT(load_text(vm, "other.lua", other, sizeof other - 1, err, path), 0);
    expect_result(__LINE__, vm, co, "count", "other");
    /* a new load starts the script afresh: its module-level state too */
    CHECK_INT(lvm_load(vm, probe_path, err, sizeof err), 0);
    expect_result(__LINE__, vm, co, "count", "1");
}

static void test_push_handler(struct lvm *vm, lua_State *co) {
    lua_settop(co, 0);
    CHECK(lvm_push_handler(vm, co, "add"));
    CHECK_INT(lua_gettop(co), 1);
    CHECK(lua_isfunction(co, -1));
    CHECK(!lvm_push_handler(vm, co, "nope"));
    CHECK_INT(lua_gettop(co), 1);
    CHECK(!lvm_push_handler(vm, co, "not_a_function"));
    CHECK_INT(lua_gettop(co), 1);
    lua_settop(co, 0);
}

/* -- turns ---------------------------------------------------------------------------------- */

static void test_turns(struct lvm *vm, lua_State *co) {
    char err[ERR_MAX];
    struct call c = new_call(vm, "add");
    c.args[0] = "2";
    c.args[1] = "3";
    c.nargs = 2;
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    CHECK(c.base.handled);
    CHECK_INT(c.finished, 1);
    CHECK_INT(c.nres, 1);
    CHECK_STR(c.res[0], "5");

    c = new_call(vm, "multi");
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    CHECK_INT(c.nres, 4);
    CHECK(strcmp(c.res[0], "1") == 0 && strcmp(c.res[1], "two") == 0);
    CHECK(strcmp(c.res[2], "true") == 0 && strcmp(c.res[3], "nil") == 0);

    /* no such handler: finish still runs, with nothing */
    c = new_call(vm, "absent");
    c.base.handled = true;
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    CHECK(!c.base.handled);
    CHECK_INT(c.finished, 1);
    CHECK_INT(c.nres, 0);
}

static void test_failed_turns(struct lvm *vm) {
    char path_line[2 * PATH_MAX];
    struct call c = new_call(vm, "fail");
    c.args[0] = "kaboom";
    c.nargs = 1;
    snprintf(path_line, sizeof path_line, "%s:8: kaboom", probe_path);
    expect_failure(__LINE__, vm, &c, path_line);
    CHECK_INT(c.finished, 0);
    c.finished = 0;
    expect_failure(__LINE__, vm, &c, "stack traceback");
    expect_failure(__LINE__, vm, &c, "probe.lua:8: in function");
    c = new_call(vm, "fail_table");
    expect_failure(__LINE__, vm, &c, "probe.lua:10: (error object is a table value)");

    /* build and finish run inside the turn: their errors fail it the same way */
    c = new_call(vm, "add");
    c.raise_in_build = true;
    expect_failure(__LINE__, vm, &c, "build raised");
    CHECK_INT(c.finished, 0);
    c = new_call(vm, "add");
    c.args[0] = c.args[1] = "1";
    c.nargs = 2;
    c.raise_in_finish = true;
    expect_failure(__LINE__, vm, &c, "finish raised");
    CHECK_INT(c.finished, 1);

    /* the VM goes on, on a new thread */
    int ref;
    lua_State *co = lvm_new_thread(vm, &ref);
    CHECK(co != NULL);
    if (co) {
        expect_result(__LINE__, vm, co, "json", "[1,{\"a\":null}]");
        lvm_release_thread(vm, ref);
    }
}

static void test_many_turns(struct lvm *vm) {
    int ref, done = 0, max_top = 0;
    char err[ERR_MAX], want[16];
    CHECK_INT(lvm_load(vm, probe_path, err, sizeof err), 0); /* count starts again */
    lua_State *co = lvm_new_thread(vm, &ref);
    CHECK(co != NULL);
    if (!co)
        return;
    struct call c;
    for (int i = 1; i <= 100; i++) {
        c = new_call(vm, "count");
        snprintf(want, sizeof want, "%d", i);
        done += run(vm, co, &c, err) == LVM_DONE && c.nres == 1 && strcmp(c.res[0], want) == 0;
        if (lua_gettop(co) > max_top)
            max_top = lua_gettop(co);
    }
    CHECK_INT(done, 100);
    CHECK(max_top <= 2); /* the stack does not grow turn after turn */
    lvm_release_thread(vm, ref);
}

/* A thread given back after a completed turn is handed out again, and runs turns as before. */
static void test_thread_pool(struct lvm *vm) {
    int ref, again_ref;
    lua_State *co = lvm_new_thread(vm, &ref);
    CHECK(co != NULL);
    if (!co)
        return;
    expect_result(__LINE__, vm, co, "json", "[1,{\"a\":null}]");
    lvm_return_thread(vm, co, ref);
    lua_State *again = lvm_new_thread(vm, &again_ref);
    CHECK(again == co);
    CHECK_INT(again_ref, ref);
    CHECK_INT(lua_gettop(again), 0);
    expect_result(__LINE__, vm, again, "json", "[1,{\"a\":null}]");
    lvm_release_thread(vm, again_ref);
}

/* -- memory --------------------------------------------------------------------------------- */

/* The C function a handler waits on: yields its argument, as a roomd call that waits (a call to
 * another room, an HTTP fetch) will yield its request. */
static int wait_c(lua_State *L) {
    return lua_yield(L, 1);
}

static void wait_build(lua_State *co, struct lvm_turn *t) {
    struct call *c = (struct call *)t;
    if (!lvm_push_handler(c->vm, co, "wait"))
        return;
    lua_pushcfunction(co, wait_c);
    lua_pushstring(co, "request");
}

/* The yield path rooms will use for operations that wait: a handler calls a C function that
 * yields, lvm_run returns LVM_YIELDED with the yielded value on the thread, lvm_resume hands the
 * answer back and the handler finishes with it. A thread left suspended can be dropped. */
static void test_yield(struct lvm *vm) {
    char err[ERR_MAX];
    int ref;
    lua_State *co = lvm_new_thread(vm, &ref);
    struct call c = new_call(vm, "wait");
    c.base.build = wait_build;
    CHECK_INT(lvm_run(vm, co, &c.base, err, sizeof err), LVM_YIELDED);
    CHECK_INT(c.finished, 0);
    CHECK_INT(lua_gettop(co), 1);
    CHECK_STR(lua_tostring(co, -1), "request");
    lua_settop(co, 0);
    lua_pushinteger(co, 21);
    CHECK_INT(lvm_resume(vm, co, &c.base, 1, err, sizeof err), LVM_DONE);
    CHECK_INT(c.finished, 1);
    CHECK_INT(c.nres, 2);
    CHECK_STR(c.res[0], "42");
    CHECK_STR(c.res[1], "request");
    lvm_return_thread(vm, co, ref);

    co = lvm_new_thread(vm, &ref); /* a waiting turn whose room goes away */
    c = new_call(vm, "wait");
    c.base.build = wait_build;
    CHECK_INT(lvm_run(vm, co, &c.base, err, sizeof err), LVM_YIELDED);
    lvm_release_thread(vm, ref);
    CHECK_INT(c.finished, 0);
}

static void test_memory_limit(void) {
    const size_t limit = 4 << 20;
    struct lvm *vm = new_vm(limit);
    char err[ERR_MAX];
    CHECK_INT(lvm_load(vm, probe_path, err, sizeof err), 0);
    lua_State *L = lvm_state(vm);
    lua_gc(L, LUA_GCCOLLECT, 0);
    size_t base = lvm_memory(vm);
    CHECK(base > 0 && base < limit);

    int ref;
    lua_State *co = lvm_new_thread(vm, &ref);
    struct call c = new_call(vm, "grow");
    c.args[0] = "10000";
    c.nargs = 1;
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    lua_gc(L, LUA_GCCOLLECT, 0);
    size_t grown = lvm_memory(vm);
    check_report(grown > base + 10000 * 32, __LINE__, "lvm_memory after grow", "%zu bytes, was %zu",
                 grown, base);
    c = new_call(vm, "drop");
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    lua_gc(L, LUA_GCCOLLECT, 0);
    size_t shrunk = lvm_memory(vm);
    check_report(shrunk < grown - 10000 * 32, __LINE__, "lvm_memory after drop",
                 "%zu bytes, was %zu", shrunk, grown);

    c = new_call(vm, "hog");
    expect_failure(__LINE__, vm, &c, "not enough memory");
    /* the traceback is made with the limit lifted, so the heap may pass it by that much */
    check_report(lvm_memory(vm) <= limit + 16 * 1024, __LINE__, "lvm_memory after the failure",
                 "%zu bytes, limit %zu", lvm_memory(vm), limit);
    /* A room goes on with a new thread at once after a failed turn, so the VM must make one,
     * although the dead turn's garbage is still there: LuaJIT has no emergency collection, so
     * lvm_new_thread collects and tries again. */
    int fresh_ref;
    lua_State *fresh = lvm_new_thread(vm, &fresh_ref);
    check_report(fresh != NULL, __LINE__, "lvm_new_thread after an out-of-memory turn",
                 "NULL with the heap at %zu of %zu bytes", lvm_memory(vm), limit);
    if (fresh)
        lvm_release_thread(vm, fresh_ref);
    lua_gc(L, LUA_GCCOLLECT, 0);
    check_report(lvm_memory(vm) < shrunk + 64 * 1024, __LINE__, "lvm_memory after a collection",
                 "%zu bytes, was %zu", lvm_memory(vm), shrunk);
    c = new_call(vm, "hog");
    expect_failure(__LINE__, vm, &c, "stack traceback");
    lua_gc(L, LUA_GCCOLLECT, 0);

    /* the VM goes on: the old thread and a new one */
    expect_result(__LINE__, vm, co, "count", "1");
    lvm_release_thread(vm, ref);
    co = lvm_new_thread(vm, &ref);
    c = new_call(vm, "grow");
    c.args[0] = "100";
    c.nargs = 1;
    CHECK_INT(run(vm, co, &c, err), LVM_DONE);
    expect_result(__LINE__, vm, co, "count", "2");
    lvm_release_thread(vm, ref);
    lvm_free(vm);

    /* a limit set-up fits in but a script does not: loading fails, nothing breaks */
    vm = new_vm(1);
    CHECK_INT(lvm_load(vm, probe_path, err, sizeof err), -1);
    CHECK_HAS(err, "not enough memory");
    lvm_free(vm);
}

int main(void) {
    scratch_write_len(probe_path, "probe.lua", probe_script, sizeof probe_script - 1);
    lvm_free(NULL);
    struct lvm *vm = new_vm(0);
    test_sandbox_globals(vm);
    char err[ERR_MAX];
    CHECK_INT(lvm_load(vm, probe_path, err, sizeof err), 0);
    int ref;
    lua_State *co = lvm_new_thread(vm, &ref);
    if (!co) {
        fprintf(stderr, "lvm_new_thread failed\n");
        return 2;
    }
    test_sandbox_turns(vm, co);
    test_load_refused(vm);
    test_load_keeps_handlers(vm, co);
    test_push_handler(vm, co);
    test_turns(vm, co);
    test_failed_turns(vm);
    test_many_turns(vm);
    test_thread_pool(vm);
    test_yield(vm);
    lvm_release_thread(vm, ref);
    CHECK_INT(lua_gettop(lvm_state(vm)), 0);
    lvm_free(vm);
    test_memory_limit();
    scratch_remove();
    return check_summary("lvm");
}
