/* main: the command line (docs/cli-contract.md), then the server.
 * Flags become config overrides, so "--port 9000" and "--set port=9000"
 * are one thing. */
#include "config.h"
#include "limit_spec.h"
#include "log.h"
#include "server.h"
#include "spec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SETS 256

static const char usage[] =
    "usage: roomd [--conf FILE] [--host ADDR] [--port N] [--node NAME]\n"
    "             [--data DIR] [--redis URL] [--watch] [--admin-port N]\n"
    "             [--log-format text|json] [--cluster] [--set NAME=VALUE]...\n"
    "       roomd --limits   (prints every limit, its default and its effect)\n"
    "       roomd test [--conf FILE] [--redis URL] [--set NAME=VALUE]... SPEC.lua...\n"
    "                        (runs room-script specs: docs/testing-rooms.md)\n";

/* The default config: conf/default.lua beside the binary's build folder, else under the
 * working directory. */
static void default_conf(char *out, size_t len) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int n = snprintf(out, len, "%s/../conf/default.lua", exe);
            if (n > 0 && (size_t)n < len && access(out, R_OK) == 0)
                return;
        }
    }
    snprintf(out, len, "conf/default.lua");
}

struct args {
    const char *conf;
    char *sets[MAX_SETS];
    int n_sets;
};

static int add_set(struct args *a, const char *name, const char *value) {
    if (a->n_sets == MAX_SETS)
        return -1;
    size_t n = strlen(name) + strlen(value) + 2;
    if (!(a->sets[a->n_sets] = malloc(n)))
        return -1;
    snprintf(a->sets[a->n_sets++], n, "%s=%s", name, value);
    return 0;
}

/* A --data folder is relative to the working directory, not to the config file. */
static const char *absolute(const char *dir, char *out, size_t len) {
    char cwd[PATH_MAX];
    if (dir[0] == '/' || !getcwd(cwd, sizeof cwd) ||
        snprintf(out, len, "%s/%s", cwd, dir) >= (int)len)
        return dir;
    return out;
}

static int parse_args(int argc, char **argv, struct args *a) {
    char path[PATH_MAX * 2];
    static const char *const flag_sets[][2] = {{"--host", "host"},
                                               {"--port", "port"},
                                               {"--node", "node"},
                                               {"--admin-port", "admin.port"},
                                               {"--log-format", "log_format"}};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strcmp(flag, "--limits") == 0) { /* the table docs/lua-api.md holds */
            limit_spec_print_markdown(stdout);
            exit(0);
        }
        if (strcmp(flag, "--watch") == 0 || strcmp(flag, "--cluster") == 0) { /* no value */
            if (add_set(a, flag[2] == 'w' ? "watch" : "cluster.enabled", "true") != 0)
                return -1;
            continue;
        }
        if (!value) {
            fprintf(stderr, "roomd: %s needs a value\n%s", flag, usage);
            return -1;
        }
        i++;
        int rc = 1;
        for (size_t k = 0; k < sizeof flag_sets / sizeof *flag_sets; k++)
            if (strcmp(flag, flag_sets[k][0]) == 0)
                rc = add_set(a, flag_sets[k][1], value);
        if (rc == 1 && strcmp(flag, "--conf") == 0)
            a->conf = value, rc = 0;
        else if (rc == 1 && strcmp(flag, "--set") == 0)
            rc = a->n_sets < MAX_SETS && (a->sets[a->n_sets] = strdup(value)) ? (a->n_sets++, 0)
                                                                              : -1;
        else if (rc == 1 && strcmp(flag, "--data") == 0)
            rc = add_set(a, "data_dir", absolute(value, path, sizeof path));
        else if (rc == 1 && strcmp(flag, "--redis") == 0)
            rc = add_set(a, "redis", value);
        if (rc != 0) {
            fprintf(stderr, "roomd: %s: %s\n%s", flag, rc > 0 ? "unknown flag" : "too many", usage);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    struct args a = {0};
    char conf[PATH_MAX], err[2048];
    struct config cfg;
    int status = 1;
    if (argc > 1 && strcmp(argv[1], "test") == 0) {
        default_conf(conf, sizeof conf);
        return spec_main(argc - 1, argv + 1, conf);
    }
    if (parse_args(argc, argv, &a) != 0)
        goto out;
    if (!a.conf)
        default_conf(conf, sizeof conf), a.conf = conf;
    if (config_load(&cfg, a.conf, a.sets, a.n_sets, err, sizeof err) != 0) {
        fprintf(stderr, "roomd: %s\n", err);
        config_free(&cfg);
        goto out;
    }
    log_set_level((enum log_level)cfg.log_level);
    log_set_format((enum log_format)cfg.log_format);
    status = server_run(&cfg);
    config_free(&cfg);
out:
    for (int i = 0; i < a.n_sets; i++)
        free(a.sets[i]);
    return status;
}
