/* spec: the `roomd test` command; see spec.h.
 *
 * The spec files run in one plain LuaJIT state (all of Lua's libraries: a
 * spec is trusted code, like a Makefile), beside the namespaces' sandboxed
 * VMs and never inside them: a spec reaches a room only as a client would,
 * and through its storage. All of it runs in one protected call (pmain, as
 * in lua.c), so an error while starting is a message, not a panic. */
#include "spec.h"

#include "config.h"
#include "harness.h"
#include "harness_lua.h"
#include "ljson.h"
#include "log.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_prelude_text.h"

#define MAX_SETS 256

static const char usage[] =
    "usage: roomd test [--conf FILE] [--redis URL] [--set NAME=VALUE]... SPEC.lua...\n";

struct spec_args {
    const char *conf;
    char *sets[MAX_SETS];
    int n_sets;
    char **files;
    int n_files;
};

/* Adds the override "<prefix><value>" (config_load's NAME=VALUE). */
static int add_set(struct spec_args *a, const char *prefix, const char *value) {
    size_t n = strlen(prefix) + strlen(value) + 1;
    if (a->n_sets == MAX_SETS || !(a->sets[a->n_sets] = malloc(n)))
        return -1;
    snprintf(a->sets[a->n_sets++], n, "%s%s", prefix, value);
    return 0;
}

static int parse_args(int argc, char **argv, struct spec_args *a) {
    a->files = argv + 1;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(flag, "--", 2) != 0) {
            a->files[a->n_files++] = argv[i];
            continue;
        }
        if (!value) {
            fprintf(stderr, "roomd test: %s needs a value\n%s", flag, usage);
            return -1;
        }
        i++;
        int rc = -1;
        if (strcmp(flag, "--conf") == 0)
            a->conf = value, rc = 0;
        else if (strcmp(flag, "--redis") == 0)
            rc = add_set(a, "redis=", value);
        else if (strcmp(flag, "--set") == 0)
            rc = add_set(a, "", value);
        if (rc != 0) {
            fprintf(stderr, "roomd test: %s: unknown flag\n%s", flag, usage);
            return -1;
        }
    }
    if (a->n_files == 0) {
        fprintf(stderr, "roomd test: no spec files\n%s", usage);
        return -1;
    }
    return 0;
}

/* What pmain hands back. */
struct run {
    struct spec_args *args;
    int json_depth;
    int passed, failed;
};

/* Runs every file through the prelude's run_file. Stack: the run, as a light userdata. */
static int pmain(lua_State *L) {
    struct run *run = lua_touserdata(L, 1);
    luaL_openlibs(L);
    ljson_open(L);
    ljson_set_max_depth(L, run->json_depth);
    lua_setglobal(L, "json");
    if (luaL_loadbuffer(L, spec_prelude_text, sizeof spec_prelude_text - 1, "=spec/prelude.lua"))
        return lua_error(L);
    harness_lua_push(L);
    lua_getglobal(L, "json");
    lua_call(L, 2, 1); /* run_file */
    for (int i = 0; i < run->args->n_files; i++) {
        lua_pushvalue(L, -1);
        lua_pushstring(L, run->args->files[i]);
        lua_call(L, 1, 2);
        run->passed += (int)lua_tointeger(L, -2);
        run->failed += (int)lua_tointeger(L, -1);
        lua_pop(L, 2);
    }
    return 0;
}

static int run_specs(struct run *run) {
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "roomd test: out of memory\n");
        return -1;
    }
    int rc = lua_cpcall(L, pmain, run);
    if (rc != 0)
        fprintf(stderr, "roomd test: %s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
    lua_close(L);
    return rc == 0 ? 0 : -1;
}

int spec_main(int argc, char **argv, const char *default_conf) {
    struct spec_args a = {0};
    struct config cfg;
    char err[2048];
    int status = 2;
    if (parse_args(argc, argv, &a) != 0)
        goto out;
    status = 1;
    if (config_load(&cfg, a.conf ? a.conf : default_conf, a.sets, a.n_sets, err, sizeof err)) {
        fprintf(stderr, "roomd test: %s\n", err);
        config_free(&cfg);
        goto out;
    }
    /* Room errors and warnings (stderr) show beside the test that caused them, also when both
     * streams go to one pipe; info would drown them. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_set_level(cfg.log_level < LOG_WARN ? (enum log_level)cfg.log_level : LOG_WARN);
    struct run run = {&a, cfg.limits.json_depth, 0, 0};
    if (harness_start(&cfg, err, sizeof err) != 0)
        fprintf(stderr, "roomd test: %s\n", err);
    else if (run_specs(&run) == 0)
        status = run.failed > 0;
    harness_stop();
    config_free(&cfg);
    printf("%d passed, %d failed\n", run.passed, run.failed + (status && !run.failed));
out:
    for (int i = 0; i < a.n_sets; i++)
        free(a.sets[i]);
    return status;
}
