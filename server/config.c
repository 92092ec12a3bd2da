/* config: the Lua config file, its overrides, and their checks.
 *
 * Loading runs inside one lua_cpcall (like lua.c's pmain), so any error,
 * ours or the file's, comes back as a message and never as a panic. */
#include "config.h"

#include "limit_spec.h"
#include "ljson.h"
#include "log.h"
#include "route.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct load {
    struct config *cfg;
    const char *path;
    char *const *sets;
    int n_sets;
    char dir[PATH_MAX];
};

/* "dir/rel" made absolute (rel may already be); raises if it does not exist. */
static char *resolve(lua_State *L, struct load *ld, const char *rel, const char *what) {
    char joined[PATH_MAX * 2], real[PATH_MAX];
    snprintf(joined, sizeof joined, "%s%s%s", rel[0] == '/' ? "" : ld->dir,
             rel[0] == '/' ? "" : "/", rel);
    if (!realpath(joined, real))
        luaL_error(L, "%s: %s not found", what, joined);
    char *s = strdup(real);
    if (!s)
        luaL_error(L, "out of memory");
    return s;
}

/* "dir/rel" made absolute without requiring that it exists. */
static char *join(lua_State *L, struct load *ld, const char *rel) {
    char joined[PATH_MAX * 2];
    snprintf(joined, sizeof joined, "%s%s%s", rel[0] == '/' ? "" : ld->dir,
             rel[0] == '/' ? "" : "/", rel);
    char *s = strdup(joined);
    if (!s)
        luaL_error(L, "out of memory");
    return s;
}

/* Parses an override value: a number, true/false, or else a string. [-0, +1] */
static void push_value(lua_State *L, const char *v) {
    char *end;
    double d = strtod(v, &end);
    if (*v && !*end)
        lua_pushnumber(L, d);
    else if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        lua_pushboolean(L, v[0] == 't');
    else
        lua_pushstring(L, v);
}

/* Pushes the table a "<ns>.x=..." override writes into (namespaces.<ns>.settings, created if
 * absent) and advances *part past "<ns>.", or pushes the config table itself. [-0, +1] */
static void push_set_target(lua_State *L, int cfg, const char *set, const char *eq,
                            const char **part) {
    int base = lua_gettop(L);
    const char *dot = memchr(set, '.', (size_t)(eq - set));
    lua_getfield(L, cfg, "namespaces");
    if (dot && lua_istable(L, -1)) {
        lua_pushlstring(L, set, (size_t)(dot - set));
        lua_rawget(L, -2);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "settings");
            if (!lua_istable(L, -1)) {
                lua_pop(L, 1);
                lua_newtable(L);
                lua_pushvalue(L, -1);
                lua_setfield(L, -3, "settings");
            }
            *part = dot + 1;
            lua_replace(L, base + 1);
            lua_settop(L, base + 1);
            return;
        }
    }
    lua_settop(L, base);
    lua_pushvalue(L, cfg);
}

/* Applies one "a.b.c=value" override, creating tables on the way. [-0, +0] */
static void apply_set(lua_State *L, int cfg, const char *set) {
    const char *eq = strchr(set, '=');
    if (!eq || eq == set)
        luaL_error(L, "--set %s: expected NAME=VALUE", set);
    const char *part = set;
    push_set_target(L, cfg, set, eq, &part);
    for (const char *p; (p = memchr(part, '.', (size_t)(eq - part))); part = p + 1) {
        lua_pushlstring(L, part, (size_t)(p - part));
        lua_rawget(L, -2);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushlstring(L, part, (size_t)(p - part));
            lua_pushvalue(L, -2);
            lua_rawset(L, -4);
        } else if (!lua_istable(L, -1)) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(p - part), part);
            luaL_error(L, "--set %s: '%s' is not a table", set, name);
        }
    }
    lua_pushlstring(L, part, (size_t)(eq - part));
    push_value(L, eq + 1);
    lua_rawset(L, -3);
    lua_settop(L, cfg);
}

static const char *opt_string(lua_State *L, int t, const char *key, const char *def) {
    lua_getfield(L, t, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    const char *s = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
    if (!s)
        luaL_error(L, "config: '%s' must be a string", key);
    lua_pop(L, 1); /* the string stays alive in the config table */
    return s;
}

static double opt_number(lua_State *L, int t, const char *key, double def, double lo, double hi) {
    lua_getfield(L, t, key);
    double d = lua_isnil(L, -1) ? def : lua_tonumber(L, -1);
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "config: '%s' must be a number", key);
    if (!(d >= lo && d <= hi) || d != (double)(long long)d)
        luaL_error(L, "config: '%s' must be a whole number from %.0f to %.0f", key, lo, hi);
    lua_pop(L, 1);
    return d;
}

/* Raises on any key of table t that is not in names. */
static void check_keys(lua_State *L, int t, const char *const *names, const char *where) {
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        const char *const *n = names;
        while (k && *n && strcmp(*n, k) != 0)
            n++;
        if (!k || !*n)
            luaL_error(L, "config: unknown setting '%s' in %s", k ? k : "?", where);
    }
}

/* limits = {...}: every name in limit_specs (limits.h), each within its bounds. */
static void read_limits(lua_State *L, int t, struct limits *lim) {
    const char *names[LIMIT_SPEC_MAX + 1];
    size_t n = 0;
    for (const struct limit_spec *s = limit_specs; s->name; s++)
        names[n++] = s->name;
    names[n] = NULL;
    if (lua_isnil(L, t)) {
        lua_newtable(L);
        lua_replace(L, t);
    }
    luaL_checktype(L, t, LUA_TTABLE);
    check_keys(L, t, names, "limits");
    for (const struct limit_spec *s = limit_specs; s->name; s++)
        limit_spec_set(lim, s, opt_number(L, t, s->name, s->def, s->min, s->max));
}

/* auto_reply = {ping = "<text>", pong = "<text>"}: a message equal to ping is answered with
 * pong by roomd itself, without a turn (a hibernated room stays asleep). */
static void read_auto_reply(lua_State *L, int t, struct ns_config *nc) {
    static const char *const names[] = {"ping", "pong", NULL};
    lua_getfield(L, t, "auto_reply");
    int a = lua_gettop(L);
    if (!lua_isnil(L, a)) {
        if (!lua_istable(L, a))
            luaL_error(L, "config: auto_reply of '%s' must be {ping = ..., pong = ...}", nc->name);
        check_keys(L, a, names, "auto_reply");
        const char *ping = opt_string(L, a, "ping", NULL), *pong = opt_string(L, a, "pong", NULL);
        if (!ping || !pong)
            luaL_error(L, "config: auto_reply of '%s' needs both ping and pong", nc->name);
        if (!(nc->ping = strdup(ping)) || !(nc->pong = strdup(pong)))
            luaL_error(L, "out of memory");
    }
    lua_pop(L, 1);
}

/* auth.jwt = {alg =, secret_env = | public_key =, issuer =, audience =, leeway_s =}. */
static void read_jwt(lua_State *L, struct load *ld, int t, struct ns_config *nc) {
    static const char *const names[] = {"alg",      "secret_env", "public_key", "issuer",
                                        "audience", "leeway_s",   NULL};
    struct auth_config *a = &nc->auth;
    char err[256];
    check_keys(L, t, names, "auth.jwt");
    const char *alg = opt_string(L, t, "alg", "HS256");
    if (!(a->alg = auth_alg_parse(alg)))
        luaL_error(L, "config: auth.jwt.alg of '%s' is '%s': HS256, RS256 or ES256", nc->name, alg);
    const char *issuer = opt_string(L, t, "issuer", NULL),
               *aud = opt_string(L, t, "audience", NULL);
    if ((issuer && !(a->issuer = strdup(issuer))) || (aud && !(a->audience = strdup(aud))))
        luaL_error(L, "out of memory");
    a->leeway_s = (int)opt_number(L, t, "leeway_s", 30, 0, 3600);
    const char *pem = opt_string(L, t, "public_key", NULL);
    char *path = pem ? resolve(L, ld, pem, "auth.jwt.public_key") : NULL;
    int rc = auth_load_key(a, opt_string(L, t, "secret_env", NULL), path, err, sizeof err);
    free(path);
    if (rc != 0)
        luaL_error(L, "config: namespace '%s': %s", nc->name, err);
}

/* auth = {required = true|false, jwt = {...}}: tokens checked before a room is touched. */
static void read_auth(lua_State *L, struct load *ld, int t, struct ns_config *nc) {
    static const char *const names[] = {"required", "jwt", NULL};
    lua_getfield(L, t, "auth");
    int a = lua_gettop(L);
    if (!lua_isnil(L, a)) {
        if (!lua_istable(L, a))
            luaL_error(L, "config: auth of '%s' must be {required = ..., jwt = {...}}", nc->name);
        check_keys(L, a, names, "auth");
        lua_getfield(L, a, "required");
        nc->auth.required = lua_toboolean(L, -1);
        lua_getfield(L, a, "jwt");
        if (lua_istable(L, -1))
            read_jwt(L, ld, lua_gettop(L), nc);
        else if (!lua_isnil(L, -1) || nc->auth.required)
            luaL_error(L, "config: auth of '%s' needs jwt = {alg = ..., secret_env = ...}",
                       nc->name);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/* outbound = {"https://api.example.com/", ...}: the URL prefixes http.fetch may reach. */
static void read_outbound(lua_State *L, int t, struct ns_config *nc) {
    lua_getfield(L, t, "outbound");
    int o = lua_gettop(L);
    if (!lua_isnil(L, o)) {
        int n = lua_istable(L, o) ? (int)lua_objlen(L, o) : -1;
        if (n < 0 || n > 256)
            luaL_error(L, "config: outbound of '%s' must be a list of at most 256 URL prefixes",
                       nc->name);
        if (n && !(nc->outbound = calloc((size_t)n, sizeof *nc->outbound)))
            luaL_error(L, "out of memory");
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, o, i);
            const char *url = lua_tostring(L, -1);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "config: outbound[%d] of '%s' is not a string", i, nc->name);
            if (!(nc->outbound[nc->n_outbound++] = strdup(url)))
                luaL_error(L, "out of memory");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void read_namespace(lua_State *L, struct load *ld, struct ns_config *nc) {
    static const char *const names[] = {"script", "page",   "settings", "auto_reply", "outbound",
                                        "auth",   "budget", "jit",      NULL};
    int t = lua_gettop(L);
    if (!lua_istable(L, t))
        luaL_error(L, "config: namespace '%s' must be a table", nc->name);
    check_keys(L, t, names, nc->name);
    read_auto_reply(L, t, nc);
    read_outbound(L, t, nc);
    /* budget = {cpu_ms_per_minute = N}: the namespace's own limits.room_cpu_ms_per_minute */
    lua_getfield(L, t, "jit");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "config: jit of '%s' must be true or false", nc->name);
    nc->jit = lua_toboolean(L, -1);
    lua_pop(L, 1);
    nc->cpu_budget_ms = -1;
    lua_getfield(L, t, "budget");
    if (lua_istable(L, -1)) {
        static const char *const budget_names[] = {"cpu_ms_per_minute", NULL};
        check_keys(L, lua_gettop(L), budget_names, "budget");
        nc->cpu_budget_ms = (long)opt_number(L, lua_gettop(L), "cpu_ms_per_minute", -1, 0, 60000);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "config: budget of '%s' must be {cpu_ms_per_minute = N}", nc->name);
    }
    lua_pop(L, 1);
    read_auth(L, ld, t, nc);
    const char *script = opt_string(L, t, "script", NULL);
    if (!script)
        luaL_error(L, "config: namespace '%s' has no script", nc->name);
    nc->script = resolve(L, ld, script, nc->name);
    const char *page = opt_string(L, t, "page", NULL);
    if (page)
        nc->page = resolve(L, ld, page, nc->name);
    lua_getfield(L, t, "settings");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    char err[160];
    size_t len;
    nc->settings = ljson_encode(L, -1, 64, &len, err, sizeof err);
    if (!nc->settings)
        luaL_error(L, "config: settings of '%s': %s", nc->name, err);
    lua_pop(L, 1);
}

static void read_namespaces(lua_State *L, struct load *ld, int t) {
    struct config *cfg = ld->cfg;
    if (!lua_istable(L, t))
        luaL_error(L, "config: 'namespaces' must be a table of name = {script = ...}");
    int n = 0;
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1))
        n++;
    cfg->namespaces = calloc((size_t)n + 1, sizeof *cfg->namespaces);
    if (!cfg->namespaces)
        luaL_error(L, "out of memory");
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
        size_t len;
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (!name || !route_ns_valid(name, len))
            luaL_error(L, "config: namespace name '%s' is not [a-z][a-z0-9_-]{0,31}",
                       name ? name : "?");
        struct ns_config *nc = &cfg->namespaces[cfg->n_namespaces++];
        if (!(nc->name = strdup(name)))
            luaL_error(L, "out of memory");
        read_namespace(L, ld, nc);
    }
}

#define MAX_CUSTOM_HEADERS 32

/* custom_headers = {"x-api-key", ...}: kept as "x-api-key:", the form lws looks them up by. */
static void read_custom_headers(lua_State *L, struct config *cfg, int t) {
    if (lua_isnil(L, t))
        return;
    int n = lua_istable(L, t) ? (int)lua_objlen(L, t) : -1;
    if (n < 0 || n > MAX_CUSTOM_HEADERS)
        luaL_error(L, "config: 'custom_headers' must be a list of at most %d header names",
                   MAX_CUSTOM_HEADERS);
    if (!(cfg->custom_headers = calloc((size_t)n + 1, sizeof *cfg->custom_headers)))
        luaL_error(L, "out of memory");
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        size_t len = 0;
        const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!name || len == 0 || len > 64 || strpbrk(name, ": \t\r\n"))
            luaL_error(L, "config: custom_headers[%d] is not a header name", i);
        char *h = malloc(len + 2);
        if (!h)
            luaL_error(L, "out of memory");
        for (size_t k = 0; k < len; k++)
            h[k] = (char)tolower((unsigned char)name[k]);
        memcpy(h + len, ":", 2);
        cfg->custom_headers[cfg->n_custom_headers++] = h;
        lua_pop(L, 1);
    }
}

/* Whether host names this machine only (then the admin API may go without a token). */
static bool loopback(const char *host) {
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

/* admin = {host = "127.0.0.1", port = 0 (off), token_env = "ROOMD_ADMIN_TOKEN"}. */
static void read_admin(lua_State *L, int t, struct admin_config *a) {
    static const char *const names[] = {"host", "port", "token_env", NULL};
    if (!lua_isnil(L, t) && !lua_istable(L, t))
        luaL_error(L, "config: 'admin' must be {host = ..., port = ..., token_env = ...}");
    if (lua_isnil(L, t)) {
        lua_newtable(L);
        lua_replace(L, t);
    }
    check_keys(L, t, names, "admin");
    a->port = (int)opt_number(L, t, "port", 0, 0, 65535);
    if (!(a->host = strdup(opt_string(L, t, "host", "127.0.0.1"))))
        luaL_error(L, "out of memory");
    const char *env = opt_string(L, t, "token_env", "ROOMD_ADMIN_TOKEN"), *token = getenv(env);
    if (token && *token && !(a->token = strdup(token)))
        luaL_error(L, "out of memory");
    if (a->port && !a->token && !loopback(a->host))
        luaL_error(L, "config: the admin API on %s (not loopback) needs a token: set $%s", a->host,
                   env);
}

static void read_cluster(lua_State *L, int t, struct cluster_config *c) {
    static const char *const names[] = {"enabled", "lease_ms", NULL};
    if (!lua_isnil(L, t) && !lua_istable(L, t))
        luaL_error(L, "config: 'cluster' must be {enabled = ..., lease_ms = ...}");
    if (lua_isnil(L, t))
        return;
    check_keys(L, t, names, "cluster");
    lua_getfield(L, t, "enabled");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "config: 'cluster.enabled' must be true or false");
    c->enabled = lua_toboolean(L, -1);
    lua_pop(L, 1);
    c->lease_ms = (long)opt_number(L, t, "lease_ms", 3000, 300, 600000);
}

static void read_config(lua_State *L, struct load *ld, int t) {
    static const char *const names[] = {"host",       "port",       "node",           "log_level",
                                        "log_format", "access_log", "limits",         "static_root",
                                        "namespaces", "admin",      "custom_headers", "data_dir",
                                        "redis",      "watch",      "durability",     "cluster",
                                        NULL};
    struct config *cfg = ld->cfg;
    check_keys(L, t, names, "the config");
    cfg->host = strdup(opt_string(L, t, "host", "127.0.0.1"));
    cfg->port = (int)opt_number(L, t, "port", 8080, 0, 65535);
    char host[256] = "roomd";
    gethostname(host, sizeof host - 1);
    cfg->node = strdup(opt_string(L, t, "node", host));
    const char *level = opt_string(L, t, "log_level", "info");
    if ((cfg->log_level = log_level_parse(level)) < 0)
        luaL_error(L, "config: log_level '%s' is not error, warn, info or debug", level);
    const char *format = opt_string(L, t, "log_format", "text");
    if ((cfg->log_format = log_format_parse(format)) < 0)
        luaL_error(L, "config: log_format '%s' is not text or json", format);
    lua_getfield(L, t, "access_log");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "config: 'access_log' must be true or false");
    cfg->access_log = lua_toboolean(L, -1);
    lua_pop(L, 1);
    const char *root = opt_string(L, t, "static_root", NULL);
    if (root)
        cfg->static_root = resolve(L, ld, root, "static_root");
    cfg->data_dir = join(L, ld, opt_string(L, t, "data_dir", "../data"));
    lua_getfield(L, t, "watch");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "config: 'watch' must be true or false");
    cfg->watch = lua_toboolean(L, -1);
    lua_pop(L, 1);
    const char *durability = opt_string(L, t, "durability", "everysec");
    if (strcmp(durability, "everysec") != 0 && strcmp(durability, "always") != 0)
        luaL_error(L, "config: durability '%s' is not everysec or always", durability);
    cfg->fsync_always = durability[0] == 'a';
    const char *redis = opt_string(L, t, "redis", NULL);
    if (redis && !(cfg->redis = strdup(redis)))
        luaL_error(L, "out of memory");
    if (!cfg->host || !cfg->node)
        luaL_error(L, "out of memory");
    lua_getfield(L, t, "limits");
    read_limits(L, lua_gettop(L), &cfg->limits);
    lua_getfield(L, t, "admin");
    read_admin(L, lua_gettop(L), &cfg->admin);
    cfg->cluster.lease_ms = 3000;
    lua_getfield(L, t, "cluster");
    read_cluster(L, lua_gettop(L), &cfg->cluster);
    if (cfg->cluster.enabled && !cfg->redis)
        luaL_error(L, "config: cluster mode needs a shared Redis: give --redis URL");
    lua_getfield(L, t, "custom_headers");
    read_custom_headers(L, cfg, lua_gettop(L));
    lua_getfield(L, t, "namespaces");
    read_namespaces(L, ld, lua_gettop(L));
}

static int load(lua_State *L) {
    struct load *ld = lua_touserdata(L, 1);
    luaL_openlibs(L);
    ljson_open(L);
    lua_pop(L, 1);
    if (luaL_loadfile(L, ld->path) != 0)
        return lua_error(L);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "%s: the config must return a table", ld->path);
    int cfg = lua_gettop(L);
    for (int i = 0; i < ld->n_sets; i++)
        apply_set(L, cfg, ld->sets[i]);
    read_config(L, ld, cfg);
    return 0;
}

int config_load(struct config *cfg, const char *path, char *const *sets, int n_sets, char *err,
                size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    struct load ld = {.cfg = cfg, .path = path, .sets = sets, .n_sets = n_sets};
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(err, errlen, "config file %s not found", path);
        return -1;
    }
    snprintf(ld.dir, sizeof ld.dir, "%s", real);
    *strrchr(ld.dir, '/') = '\0';
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = lua_cpcall(L, load, &ld);
    if (rc != 0)
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_close(L);
    return rc == 0 ? 0 : -1;
}

void config_free(struct config *cfg) {
    for (int i = 0; i < cfg->n_namespaces; i++) {
        free(cfg->namespaces[i].name);
        free(cfg->namespaces[i].script);
        free(cfg->namespaces[i].page);
        free(cfg->namespaces[i].settings);
        free(cfg->namespaces[i].ping);
        free(cfg->namespaces[i].pong);
        auth_config_free(&cfg->namespaces[i].auth);
        for (int j = 0; j < cfg->namespaces[i].n_outbound; j++)
            free(cfg->namespaces[i].outbound[j]);
        free(cfg->namespaces[i].outbound);
    }
    free(cfg->namespaces);
    for (int i = 0; i < cfg->n_custom_headers; i++)
        free(cfg->custom_headers[i]);
    free(cfg->custom_headers);
    free(cfg->host);
    free(cfg->node);
    free(cfg->static_root);
    free(cfg->data_dir);
    free(cfg->redis);
    free(cfg->admin.host);
    free(cfg->admin.token);
    memset(cfg, 0, sizeof *cfg);
}

const struct ns_config *config_namespace(const struct config *cfg, const char *name) {
    for (int i = 0; i < cfg->n_namespaces; i++)
        if (strcmp(cfg->namespaces[i].name, name) == 0)
            return &cfg->namespaces[i];
    return NULL;
}
