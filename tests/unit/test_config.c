/* Unit tests for server/config.c: config files written to a scratch folder and loaded with and
 * without `--set` overrides: defaults, unknown keys, missing scripts, syntax errors with
 * file:line, paths relative to the config file's folder, range checks, and config_free after
 * success and failure (the sanitizer build reports any leak). */
#include "check.h"
#include "config.h"
#include "limit_spec.h"
#include "log.h"

#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR_MAX 512

static char script_path[PATH_MAX]; /* <scratch>/conf/room.lua, a real path */

/* Writes the config text to <scratch>/conf/<name> and loads it with the overrides. Returns
 * config_load's result; err holds the reason on failure. */
static int load(struct config *cfg, const char *name, const char *text, char *const *sets,
                int n_sets, char *err) {
    char path[PATH_MAX], rel[PATH_MAX];
    snprintf(rel, sizeof rel, "conf/%s", name);
    scratch_write(path, rel, text);
    err[0] = '\0';
    return config_load(cfg, path, sets, n_sets, err, ERR_MAX);
}

/* Loads text and expects success; the config is left for the caller to check and free. */
static int load_ok(int line, struct config *cfg, const char *text, char *const *sets, int n_sets) {
    char err[ERR_MAX];
    int rc = load(cfg, "ok.lua", text, sets, n_sets, err);
    check_report(rc == 0, line, text, "config_load failed: %s", err);
    return rc;
}

/* Loads text, expects failure with an error containing part, and frees the config. */
static void expect_error(int line, const char *text, char *const *sets, int n_sets,
                         const char *part) {
    struct config cfg;
    char err[ERR_MAX];
    int rc = load(&cfg, "bad.lua", text, sets, n_sets, err);
    check_report(rc == -1 && strstr(err, part), line, text,
                 "got rc %d / '%s', want an error with '%s'", rc, err, part);
    config_free(&cfg);
}

static const struct ns_config *find_ns(const struct config *cfg, const char *name) {
    for (int i = 0; i < cfg->n_namespaces; i++)
        if (strcmp(cfg->namespaces[i].name, name) == 0)
            return &cfg->namespaces[i];
    return NULL;
}

/* Every config but one names a static_root: leaving it out is tested on its own (see
 * test_no_static_root). */
#define ROOT "static_root = '../www', "
#define MINIMAL "return { " ROOT "namespaces = { room = { script = 'room.lua' } } }\n"

static void test_defaults(void) {
    struct config cfg;
    if (load_ok(__LINE__, &cfg, MINIMAL, NULL, 0) == 0) {
        char host[256] = "roomd", www[PATH_MAX];
        gethostname(host, sizeof host - 1);
        CHECK_STR(cfg.host, "127.0.0.1");
        CHECK_INT(cfg.port, 8080);
        CHECK_STR(cfg.node, host);
        CHECK_INT(cfg.log_level, LOG_INFO);
        CHECK_STR(cfg.static_root, scratch_path(www, "www"));
        CHECK_INT(cfg.limits.message_bytes, 1 << 20);
        CHECK_INT(cfg.limits.body_bytes, 1 << 20);
        CHECK_INT(cfg.limits.connections_per_room, 32768);
        CHECK_INT(cfg.limits.send_queue_bytes, 1 << 20);
        CHECK_INT(cfg.limits.send_queue_messages, 4096);
        CHECK_INT(cfg.limits.room_queue, 4096);
        CHECK_INT(cfg.limits.json_depth, 64);
        CHECK_INT(cfg.limits.attachment_bytes, 2048);
        CHECK_INT(cfg.limits.vm_memory_bytes, 128 << 20);
        CHECK_INT(cfg.n_namespaces, 1);
        const struct ns_config *ns = find_ns(&cfg, "room");
        CHECK(ns != NULL);
        if (ns) {
            CHECK_STR(ns->script, script_path);
            CHECK_STR(ns->settings, "{}");
        }
    }
    config_free(&cfg);
}

/* conf/default.lua sets every limit (it is where a user finds them) to its default in
 * server/limit_spec.c: one fact, written twice, checked here. */
static void test_shipped_defaults(void) {
    struct config cfg;
    char err[ERR_MAX];
    struct limits want;
    limit_spec_defaults(&want);
    unsetenv("ROOMD_CHAT_SECRET");
    CHECK_INT(config_load(&cfg, "conf/default.lua", NULL, 0, err, sizeof err), 0);
    for (const struct limit_spec *s = limit_specs; s->name; s++)
        check_report(limit_spec_get(&cfg.limits, s) == s->def, __LINE__, s->name,
                     "conf/default.lua says %.0f, limit_spec.c %.0f",
                     limit_spec_get(&cfg.limits, s), s->def);
    for (const struct limit_spec *s = limit_specs; s->name; s++)
        check_report(limit_spec_get(&want, s) == s->def, __LINE__, s->name, "default not set");
    config_free(&cfg);
}

static void test_full_file(void) {
    struct config cfg;
    const char *text = "return {\n"
                       "  host = '0.0.0.0', port = 9001, node = 'n1', log_level = 'debug',\n"
                       "  static_root = '../www',\n"
                       "  limits = { message_bytes = 100, json_depth = 8, room_queue = 3 },\n"
                       "  namespaces = {\n"
                       "    a = { script = 'room.lua', settings = { x = 1, list = {1, 2} } },\n"
                       "    ['b-2'] = { script = '../conf/./room.lua' },\n"
                       "  },\n"
                       "}\n";
    if (load_ok(__LINE__, &cfg, text, NULL, 0) == 0) {
        char www[PATH_MAX];
        CHECK_STR(cfg.host, "0.0.0.0");
        CHECK_INT(cfg.port, 9001);
        CHECK_STR(cfg.node, "n1");
        CHECK_INT(cfg.log_level, LOG_DEBUG);
        CHECK_STR(cfg.static_root, scratch_path(www, "www"));
        CHECK_INT(cfg.limits.message_bytes, 100);
        CHECK_INT(cfg.limits.json_depth, 8);
        CHECK_INT(cfg.limits.room_queue, 3);
        CHECK_INT(cfg.limits.body_bytes, 1 << 20); /* the others keep their defaults */
        CHECK_INT(cfg.n_namespaces, 2);
        const struct ns_config *a = find_ns(&cfg, "a"), *b = find_ns(&cfg, "b-2");
        CHECK(a && b);
        if (a && b) {
            CHECK_STR(a->script, script_path);
            CHECK_STR(b->script, script_path);
            CHECK_STR(b->settings, "{}");
            json_error_t jerr;
            json_t *s = json_loads(a->settings, 0, &jerr);
            CHECK(s && json_integer_value(json_object_get(s, "x")) == 1);
            CHECK(s && json_array_size(json_object_get(s, "list")) == 2);
            json_decref(s);
        }
    }
    config_free(&cfg);
}

/* Paths in the file are relative to its folder, not to the working directory. */
static void test_relative_paths(void) {
    char cwd[PATH_MAX], decoy[PATH_MAX], conf[PATH_MAX], err[ERR_MAX];
    if (!getcwd(cwd, sizeof cwd) || chdir(scratch_dir()) != 0) {
        check_report(0, __LINE__, "chdir", "cannot enter the scratch folder");
        return;
    }
    scratch_write(decoy, "room.lua", "return {}\n"); /* <scratch>/room.lua: the wrong one */
    scratch_write(conf, "conf/rel.lua", MINIMAL);
    struct config cfg;
    int rc = config_load(&cfg, "conf/rel.lua", NULL, 0, err, sizeof err);
    CHECK_INT(rc, 0);
    if (rc == 0 && cfg.n_namespaces == 1)
        CHECK_STR(cfg.namespaces[0].script, script_path);
    config_free(&cfg);
    rc = config_load(&cfg, "./conf/../conf/rel.lua", NULL, 0, err, sizeof err);
    CHECK_INT(rc, 0);
    if (rc == 0 && cfg.n_namespaces == 1)
        CHECK_STR(cfg.namespaces[0].script, script_path);
    config_free(&cfg);
    CHECK(chdir(cwd) == 0);
    /* an absolute script path is kept as it is */
    char text[PATH_MAX + 100];
    snprintf(text, sizeof text, "return { " ROOT "namespaces = { r = { script = '%s' } } }\n",
             decoy);
    if (load_ok(__LINE__, &cfg, text, NULL, 0) == 0 && cfg.n_namespaces == 1)
        CHECK_STR(cfg.namespaces[0].script, decoy);
    config_free(&cfg);
}

static void test_unknown_keys(void) {
    expect_error(__LINE__, "return { " ROOT "prot = 1, namespaces = {} }", NULL, 0, "'prot'");
    expect_error(__LINE__, "return { " ROOT "limits = { message_byte = 5 }, namespaces = {} }",
                 NULL, 0, "'message_byte'");
    expect_error(__LINE__,
                 "return { " ROOT "namespaces = { r = { script = 'room.lua', setting = {} } } }",
                 NULL, 0, "'setting'");
    expect_error(__LINE__, "return { " ROOT "namespaces = {}, [1] = 2 }", NULL, 0,
                 "unknown setting");
}

static void test_bad_namespaces(void) {
    expect_error(__LINE__, "return { " ROOT "namespaces = { r = { script = 'nope.lua' } } }", NULL,
                 0, "nope.lua not found");
    expect_error(__LINE__, "return { " ROOT "namespaces = { r = { script = 'nope.lua' } } }", NULL,
                 0, "r: ");
    /* config.c means to say "namespace 'r' has no script" but says "'script' must be a
     * string" (see test_no_static_root): both name the key */
    expect_error(__LINE__, "return { " ROOT "namespaces = { r = {} } }", NULL, 0, "script");
    expect_error(__LINE__, "return { " ROOT "namespaces = { r = 'room.lua' } }", NULL, 0,
                 "must be a table");
    expect_error(__LINE__, "return { " ROOT "namespaces = { Bad = { script = 'room.lua' } } }",
                 NULL, 0, "'Bad'");
    expect_error(__LINE__, "return { " ROOT "namespaces = 5 }", NULL, 0,
                 "'namespaces' must be a table");
    expect_error(__LINE__,
                 "return { " ROOT
                 "namespaces = { r = { script = 'room.lua', settings = {f = print} } } }",
                 NULL, 0, "settings of 'r'");
    expect_error(__LINE__, "return { static_root = 'no-such-dir', namespaces = {} }", NULL, 0,
                 "static_root");
}

static void test_bad_files(void) {
    char path[PATH_MAX], want[2 * PATH_MAX], err[ERR_MAX];
    struct config cfg;
    int rc = load(&cfg, "syntax.lua", "return {\n  port = 1,\n  host = ,\n}\n", NULL, 0, err);
    snprintf(want, sizeof want, "%s:3:", scratch_path(path, "conf/syntax.lua"));
    CHECK_INT(rc, -1);
    CHECK_HAS(err, want);
    config_free(&cfg);

    rc = load(&cfg, "raises.lua", "local x = 1\nerror('no config today')\n", NULL, 0, err);
    snprintf(want, sizeof want, "%s:2: no config today", scratch_path(path, "conf/raises.lua"));
    CHECK_INT(rc, -1);
    CHECK_HAS(err, want);
    config_free(&cfg);

    expect_error(__LINE__, "return 42", NULL, 0, "must return a table");
    expect_error(__LINE__, "", NULL, 0, "must return a table");
    rc = config_load(&cfg, scratch_path(path, "conf/absent.lua"), NULL, 0, err, sizeof err);
    CHECK_INT(rc, -1);
    CHECK_HAS(err, "not found");
    config_free(&cfg);
}

static void test_ranges(void) {
    struct config cfg;
    if (load_ok(__LINE__, &cfg, "return { " ROOT "port = 65535, namespaces = {} }", NULL, 0) == 0)
        CHECK_INT(cfg.port, 65535);
    config_free(&cfg);
    if (load_ok(__LINE__, &cfg, "return { " ROOT "port = 0, namespaces = {} }", NULL, 0) == 0)
        CHECK_INT(cfg.port, 0);
    config_free(&cfg);
    expect_error(__LINE__, "return { " ROOT "port = 65536, namespaces = {} }", NULL, 0,
                 "'port' must be a whole number from 0 to 65535");
    expect_error(__LINE__, "return { " ROOT "port = -1, namespaces = {} }", NULL, 0, "'port'");
    expect_error(__LINE__, "return { " ROOT "port = 80.5, namespaces = {} }", NULL, 0, "'port'");
    expect_error(__LINE__, "return { " ROOT "port = 1e300, namespaces = {} }", NULL, 0, "'port'");
    expect_error(__LINE__, "return { " ROOT "port = '80', namespaces = {} }", NULL, 0,
                 "'port' must be a number");
    expect_error(__LINE__, "return { " ROOT "host = {}, namespaces = {} }", NULL, 0,
                 "'host' must be a string");
    expect_error(__LINE__, "return { " ROOT "log_level = 'loud', namespaces = {} }", NULL, 0,
                 "log_level 'loud'");
    expect_error(__LINE__, "return { " ROOT "limits = { json_depth = 0 }, namespaces = {} }", NULL,
                 0, "'json_depth'");
    expect_error(__LINE__, "return { " ROOT "limits = { message_bytes = 15 }, namespaces = {} }",
                 NULL, 0, "'message_bytes'");
    expect_error(__LINE__, "return { " ROOT "limits = 5, namespaces = {} }", NULL, 0, "table");
}

static void test_overrides(void) {
    char *sets[] = {"port=9000",          "limits.message_bytes=100", "vote.ttl=1.5", "node=123",
                    "counter.fresh=true", "log_level=warn",           "host=::1"};
    const char *text =
        "return {\n"
        "  port = 1234, node = 'file-node', " ROOT "\n"
        "  namespaces = {\n"
        "    vote = { script = 'room.lua', settings = { ttl = 604800, name = 'v' } },\n"
        "    counter = { script = 'room.lua' },\n"
        "  },\n"
        "}\n";
    struct config cfg;
    if (load_ok(__LINE__, &cfg, text, sets, (int)(sizeof sets / sizeof sets[0])) == 0) {
        CHECK_INT(cfg.port, 9000);
        CHECK_INT(cfg.limits.message_bytes, 100);
        CHECK_INT(cfg.limits.body_bytes, 1 << 20);
        CHECK_STR(cfg.node, "123");
        CHECK_INT(cfg.log_level, LOG_WARN);
        CHECK_STR(cfg.host, "::1");
        const struct ns_config *vote = find_ns(&cfg, "vote"), *counter = find_ns(&cfg, "counter");
        json_error_t jerr;
        json_t *s = vote ? json_loads(vote->settings, 0, &jerr) : NULL;
        json_t *ttl = json_object_get(s, "ttl");
        CHECK(json_is_real(ttl) && json_real_value(ttl) == 1.5);
        CHECK_STR(json_string_value(json_object_get(s, "name")), "v");
        json_decref(s);
        s = counter ? json_loads(counter->settings, 0, &jerr) : NULL;
        CHECK(json_is_true(json_object_get(s, "fresh")));
        json_decref(s);
    }
    config_free(&cfg);

    /* the override wins over the file and is checked like it */
    char *bad_port[] = {"port=65536"};
    expect_error(__LINE__, MINIMAL, bad_port, 1, "'port'");
    /* NaN passes both range comparisons in opt_number and reaches its (long long) cast, which
     * is undefined behaviour (clang's -fsanitize=float-cast-overflow stops there; GCC's
     * -fsanitize=undefined does not include that check) */
    char *nan_port[] = {"port=nan"};
    expect_error(__LINE__, MINIMAL, nan_port, 1, "'port'");
    char *word_port[] = {"port=eighty"};
    expect_error(__LINE__, MINIMAL, word_port, 1, "'port' must be a number");
    char *typo[] = {"prot=1"};
    expect_error(__LINE__, MINIMAL, typo, 1, "'prot'");
    char *no_eq[] = {"port"};
    expect_error(__LINE__, MINIMAL, no_eq, 1, "expected NAME=VALUE");
    char *no_name[] = {"=5"};
    expect_error(__LINE__, MINIMAL, no_name, 1, "expected NAME=VALUE");
    char *into_string[] = {"host.x=1"};
    expect_error(__LINE__, "return { host = 'h', " ROOT "namespaces = {} }", into_string, 1,
                 "--set host.x=1: ");
    /* the message names the part that is not a table (lua_pushfstring knows no "%.*s") */
    expect_error(__LINE__, "return { host = 'h', " ROOT "namespaces = {} }", into_string, 1,
                 "--set host.x=1: 'host' is not a table");
    expect_error(__LINE__, MINIMAL, into_string, 1, "'host' must be a string");
    char *bad_limit[] = {"limits.nope=1"};
    expect_error(__LINE__, MINIMAL, bad_limit, 1, "'nope'");

    /* limits absent from the file: the override makes the table */
    char *limit[] = {"limits.room_queue=7", "limits.json_depth=9"};
    if (load_ok(__LINE__, &cfg, MINIMAL, limit, 2) == 0) {
        CHECK_INT(cfg.limits.room_queue, 7);
        CHECK_INT(cfg.limits.json_depth, 9);
    }
    config_free(&cfg);
}

/* static_root may be left out (config.h: "NULL when there is none"), like every other key but
 * namespaces. */
static void test_no_static_root(void) {
    struct config cfg;
    const char *text = "return { namespaces = { room = { script = 'room.lua' } } }\n";
    if (load_ok(__LINE__, &cfg, text, NULL, 0) == 0)
        CHECK(cfg.static_root == NULL);
    config_free(&cfg);
}

/* config_free on a config that was never filled, and twice. */
static void test_free(void) {
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    config_free(&cfg);
    config_free(&cfg);
    CHECK(cfg.host == NULL && cfg.namespaces == NULL);
}

int main(void) {
    char path[PATH_MAX];
    scratch_path(path, "conf");
    if (mkdir(path, 0755) != 0 || mkdir(scratch_path(path, "www"), 0755) != 0) {
        perror("mkdir");
        return 2;
    }
    scratch_write(script_path, "conf/room.lua", "return {}\n");
    test_defaults();
    test_shipped_defaults();
    test_full_file();
    test_relative_paths();
    test_unknown_keys();
    test_bad_namespaces();
    test_bad_files();
    test_ranges();
    test_overrides();
    test_no_static_root();
    test_free();
    scratch_remove();
    return check_summary("config");
}
