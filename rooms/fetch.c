/* fetch: see fetch.h. A fetch lives from the script's call until its room is woken with the
 * result (or its turn is gone: then it is cut short). */
#include "fetch.h"

#include "clock.h"
#include "ljson.h"
#include "log.h"
#include "lvm.h"
#include "ns_internal.h"
#include "registry.h"
#include "room_internal.h"
#include "room_limits.h"

#include <ctype.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct buffer {
    char *data;
    size_t len;
};

struct fetch {
    struct ns *ns; /* the waiting room */
    char *room_id;
    size_t room_len;
    CURL *easy;
    struct curl_slist *headers;
    char *url; /* the one being fetched (normalised) */
    char method[8];
    char *body; /* malloc()ed, or NULL */
    size_t body_len;
    long long deadline_ms; /* monotonic */
    int redirects;
    struct buffer resp_body, resp_head; /* the last response's */
    long status;
    char error[256]; /* set: the fetch failed */
    bool in_multi;
    lws_sorted_usec_list_t wake_timer;
};

/* One of curl's sockets, adopted (a dup) into the loop. */
struct fsock {
    curl_socket_t s;
    struct lws *wsi;
    bool want_out;
    struct fsock *next;
};

static struct {
    CURLM *multi;
    struct lws_context *context;
    struct lws_vhost *vh;
    lws_sorted_usec_list_t timer;
    int active;
    struct fsock *socks;
    void (*fresh_socket)(int fd);
} fetcher;

static void fetch_free(struct fetch *f) {
    if (f->in_multi)
        curl_multi_remove_handle(fetcher.multi, f->easy);
    if (f->easy) {
        curl_easy_cleanup(f->easy);
        fetcher.active--;
    }
    lws_sul_cancel(&f->wake_timer);
    curl_slist_free_all(f->headers);
    free(f->room_id);
    free(f->url);
    free(f->body);
    free(f->resp_body.data);
    free(f->resp_head.data);
    free(f);
}

/* ---- URLs ---- */

/* url normalised by curl's parser (scheme and host lowercased, default port dropped, the path
 * resolved) into a malloc()ed string, relative to base when base is not NULL; NULL with why if
 * it is not an http or https URL. */
static char *normalise(const char *url, const char *base, const char **why) {
    CURLU *u = curl_url();
    char *out = NULL, *scheme = NULL;
    *why = "not a URL";
    if (u && (!base || curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK) &&
        curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
            *why = "only http and https URLs";
        else if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
            out = NULL;
    }
    char *copy = out ? strdup(out) : NULL;
    curl_free(out);
    curl_free(scheme);
    curl_url_cleanup(u);
    return copy;
}

static bool allowed(const struct ns *ns, const char *url) {
    for (int i = 0; i < ns->n_outbound; i++)
        if (strncmp(url, ns->outbound[i], strlen(ns->outbound[i])) == 0)
            return true;
    return false;
}

int fetch_allow(struct ns *ns, const char *const *prefixes, int n, char *err, size_t errlen) {
    char **list = n ? calloc((size_t)n, sizeof *list) : NULL;
    if (n && !list) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *why;
        if (!(list[i] = normalise(prefixes[i], NULL, &why))) {
            snprintf(err, errlen, "outbound URL '%s': %s", prefixes[i], why);
            for (int j = 0; j < i; j++)
                free(list[j]);
            free(list);
            return -1;
        }
    }
    for (int i = 0; i < ns->n_outbound; i++)
        free(ns->outbound[i]);
    free(ns->outbound);
    ns->outbound = list;
    ns->n_outbound = n;
    return 0;
}

/* ---- the multi handle on the loop ---- */

static void check_done(void);

static void socket_action(curl_socket_t s, int events) {
    int running;
    curl_multi_socket_action(fetcher.multi, s, events, &running);
    check_done();
}

static void on_timer(lws_sorted_usec_list_t *sul) {
    (void)sul;
    socket_action(CURL_SOCKET_TIMEOUT, 0);
}

static int timer_function(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi, (void)userp;
    if (timeout_ms < 0)
        lws_sul_cancel(&fetcher.timer);
    else
        lws_sul_schedule(fetcher.context, 0, &fetcher.timer, on_timer,
                         (lws_usec_t)(timeout_ms ? timeout_ms : 1) * LWS_US_PER_MS);
    return 0;
}

static void drop_sock(struct fsock *fs) {
    for (struct fsock **p = &fetcher.socks; *p; p = &(*p)->next)
        if (*p == fs) {
            *p = fs->next;
            break;
        }
    if (fs->wsi) {
        lws_set_opaque_user_data(fs->wsi, NULL);
        lws_set_timeout(fs->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    free(fs);
}

static int socket_function(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy, (void)userp;
    struct fsock *fs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (fs)
            drop_sock(fs);
        curl_multi_assign(fetcher.multi, s, NULL);
        return 0;
    }
    if (!fs) {
        int dup_fd = dup(s);
        fs = dup_fd >= 0 ? calloc(1, sizeof *fs) : NULL;
        lws_sock_file_fd_type fd = {.filefd = dup_fd};
        if (fs)
            fs->wsi = lws_adopt_descriptor_vhost(fetcher.vh, LWS_ADOPT_RAW_FILE_DESC, fd,
                                                 "roomd-fetch", NULL);
        if (!fs || !fs->wsi) {
            if (dup_fd >= 0)
                close(dup_fd);
            free(fs);
            return -1;
        }
        fs->s = s;
        fs->next = fetcher.socks;
        fetcher.socks = fs;
        lws_set_opaque_user_data(fs->wsi, fs);
        curl_multi_assign(fetcher.multi, s, fs);
    }
    fs->want_out = what == CURL_POLL_OUT || what == CURL_POLL_INOUT;
    return 0;
}

void fetch_request_writes(void) {
    for (struct fsock *fs = fetcher.socks; fs; fs = fs->next)
        if (fs->want_out)
            lws_callback_on_writable(fs->wsi);
}

int fetch_callback(struct lws *wsi, int reason, void *user, void *in, size_t len) {
    (void)user, (void)in, (void)len;
    struct fsock *fs = lws_get_opaque_user_data(wsi);
    if (!fs)
        return 0;
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        socket_action(fs->s, CURL_CSELECT_IN);
    else if (reason == LWS_CALLBACK_RAW_WRITEABLE_FILE)
        socket_action(fs->s, CURL_CSELECT_OUT);
    else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
        fs->wsi = NULL; /* lws closed the dup (a hang-up): curl finds out on its own socket */
        socket_action(fs->s, CURL_CSELECT_ERR);
    }
    return 0;
}

int fetch_start(struct lws_context *context, struct lws_vhost *vh, void (*fresh_socket)(int fd)) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(fetcher.multi = curl_multi_init()))
        return -1;
    fetcher.fresh_socket = fresh_socket;
    fetcher.context = context;
    fetcher.vh = vh;
    curl_multi_setopt(fetcher.multi, CURLMOPT_SOCKETFUNCTION, socket_function);
    curl_multi_setopt(fetcher.multi, CURLMOPT_TIMERFUNCTION, timer_function);
    return 0;
}

void fetch_stop(void) {
    if (!fetcher.multi)
        return;
    lws_sul_cancel(&fetcher.timer);
    while (fetcher.socks)
        drop_sock(fetcher.socks);
    curl_multi_cleanup(fetcher.multi);
    curl_global_cleanup();
    fetcher.multi = NULL;
    fetcher.context = NULL;
}

/* ---- one request ---- */

static size_t take_body(char *p, size_t size, size_t n, void *arg) {
    struct fetch *f = arg;
    size_t add = size * n;
    if (f->resp_body.len + add > FETCH_BODY_MAX) {
        snprintf(f->error, sizeof f->error, "the response is over %d bytes", FETCH_BODY_MAX);
        return 0; /* curl stops the transfer */
    }
    char *more = realloc(f->resp_body.data, f->resp_body.len + add + 1);
    if (!more)
        return 0;
    memcpy(more + f->resp_body.len, p, add);
    f->resp_body.data = more;
    f->resp_body.len += add;
    return add;
}

static size_t take_header(char *p, size_t size, size_t n, void *arg) {
    struct fetch *f = arg;
    size_t add = size * n;
    if (add >= 5 && strncmp(p, "HTTP/", 5) == 0)
        f->resp_head.len = 0; /* a new response (after a 100 Continue, say): only its own */
    if (f->resp_head.len + add > 64 * 1024)
        return 0;
    char *more = realloc(f->resp_head.data, f->resp_head.len + add + 1);
    if (!more)
        return 0;
    memcpy(more + f->resp_head.len, p, add);
    f->resp_head.data = more;
    f->resp_head.len += add;
    more[f->resp_head.len] = '\0';
    return add;
}

/* curl's sockets are made here so that the server hears of each (fresh_socket). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a) {
    (void)arg, (void)purpose;
    curl_socket_t s = socket(a->family, a->socktype, a->protocol);
    if (s != CURL_SOCKET_BAD && fetcher.fresh_socket)
        fetcher.fresh_socket(s);
    return s;
}

/* Sets up f->easy for f->url and puts it in the multi handle. */
static int send_request(struct fetch *f) {
    long left = (long)(f->deadline_ms - clock_ms());
    if (left <= 0) {
        snprintf(f->error, sizeof f->error, "timed out");
        return -1;
    }
    CURL *e = f->easy;
    curl_easy_reset(e);
    f->resp_body.len = f->resp_head.len = 0;
    curl_easy_setopt(e, CURLOPT_URL, f->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, take_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, take_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    if (strcmp(f->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(f->method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, f->method);
    if (f->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)f->body_len);
    }
    if (curl_multi_add_handle(fetcher.multi, e) != CURLM_OK) {
        snprintf(f->error, sizeof f->error, "cannot start the request");
        return -1;
    }
    f->in_multi = true;
    return 0;
}

/* The value of header name (lowercase) in f's response head, copied into out; NULL if none. */
static const char *header(const struct fetch *f, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = f->resp_head.data; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = (size_t)(p + len - v);
            while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
                vlen--;
            snprintf(out, cap, "%.*s", (int)vlen, v);
            return out;
        }
        p = eol ? eol + 1 : p + len;
    }
    return NULL;
}

/* A 3xx with a Location: fetches the next URL (checked against the namespace's list) and
 * returns true while that is under way; false when f is over (its answer, or f->error). */
static bool follow(struct fetch *f) {
    char location[4096];
    if (f->status < 300 || f->status > 399 || f->status == 304 ||
        !header(f, "location", location, sizeof location))
        return false;
    if (++f->redirects > FETCH_REDIRECTS) {
        snprintf(f->error, sizeof f->error, "more than %d redirects", FETCH_REDIRECTS);
        return false;
    }
    const char *why;
    char *next = normalise(location, f->url, &why);
    if (!next || !allowed(f->ns, next)) {
        snprintf(f->error, sizeof f->error, "redirected to a URL not allowed (%.200s)",
                 next ? next : why);
        free(next);
        return false;
    }
    free(f->url);
    f->url = next;
    if (f->status == 301 || f->status == 302 || f->status == 303) { /* as browsers do */
        snprintf(f->method, sizeof f->method, "GET");
        free(f->body);
        f->body = NULL;
    }
    curl_multi_remove_handle(fetcher.multi, f->easy);
    f->in_multi = false;
    return send_request(f) == 0;
}

static void wake(lws_sorted_usec_list_t *sul);

static void finished(struct fetch *f, CURLcode rc) {
    if (rc == CURLE_OK) {
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->status);
        if (follow(f))
            return; /* redirected: under way again */
    } else if (!f->error[0]) {
        snprintf(f->error, sizeof f->error, "%s",
                 rc == CURLE_OPERATION_TIMEDOUT ? "timed out" : curl_easy_strerror(rc));
    }
    if (f->in_multi) {
        curl_multi_remove_handle(fetcher.multi, f->easy);
        f->in_multi = false;
    }
    lws_sul_schedule(fetcher.context, 0, &f->wake_timer, wake, 1); /* from the loop, not here */
}

static void check_done(void) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(fetcher.multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            struct fetch *f;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            finished(f, m->data.result);
        }
}

/* ---- the waiting turn ---- */

static const struct await_ops fetch_ops;

/* http.fetch's C half's results: true, status, body, headers; or false, the error. */
static int push_result(lua_State *L, void *arg) {
    struct fetch *f = arg;
    if (f->error[0]) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, f->error);
        return 0;
    }
    lua_pushboolean(L, 1);
    lua_pushinteger(L, (lua_Integer)f->status);
    lua_pushlstring(L, f->resp_body.data ? f->resp_body.data : "", f->resp_body.len);
    lua_newtable(L);
    for (const char *p = f->resp_head.data; p && *p;) {
        const char *eol = strchr(p, '\n'), *colon = strchr(p, ':');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (colon && colon < p + len && strncmp(p, "HTTP/", 5) != 0) {
            char name[256];
            size_t n =
                (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
            for (size_t i = 0; i < n; i++)
                name[i] = (char)tolower((unsigned char)p[i]);
            name[n] = '\0';
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = (size_t)(p + len - v);
            while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
                vlen--;
            lua_pushlstring(L, v, vlen);
            lua_setfield(L, -2, name);
        }
        p = eol ? eol + 1 : p + len;
    }
    return 0;
}

static void wake(lws_sorted_usec_list_t *sul) {
    struct fetch *f = lws_container_of(sul, struct fetch, wake_timer);
    struct room *r = registry_find(f->ns, f->room_id, f->room_len);
    if (r && room_awaited(r, &fetch_ops) == f)
        room_resume(r, push_result, f);
    fetch_free(f);
}

static void begin_awaited(void *what) {
    struct fetch *f = what;
    if (send_request(f) != 0)
        lws_sul_schedule(fetcher.context, 0, &f->wake_timer, wake, 1);
}

static void forget_awaited(void *what) {
    fetch_free(what); /* the turn is gone: the request is cut short */
}

static const struct await_ops fetch_ops = {begin_awaited, forget_awaited};

/* ---- the Lua side ---- */

static const char http_lua[] =
    "return function(fetch_c, decode, pcall)\n"
    "  return {\n"
    "    fetch = function(url, opts)\n"
    "      local ok, status, body, headers = fetch_c(url, opts)\n"
    "      if not ok then return nil, status end\n"
    "      local res = {status = status, body = body, headers = headers}\n"
    "      if (headers['content-type'] or ''):find('json', 1, true) then\n"
    "        local good, value = pcall(decode, body)\n"
    "        if good then res.json = value end\n"
    "      end\n"
    "      return res\n"
    "    end,\n"
    "  }\n"
    "end\n";

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", NULL};

/* What a script asked for, checked before anything is allocated that a raise would lose. */
struct request_opts {
    const char *method;
    long timeout_ms;
    bool has_headers;
};

/* Checks opts (at 2); raises on bad ones. */
static void check_opts(lua_State *L, struct request_opts *o) {
    o->method = "GET";
    o->timeout_ms = FETCH_TIMEOUT_MS;
    o->has_headers = false;
    if (lua_isnoneornil(L, 2))
        return;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "method");
    if (!lua_isnil(L, -1)) {
        const char *m = lua_tostring(L, -1);
        int i = 0;
        while (methods[i] && (!m || strcmp(m, methods[i]) != 0))
            i++;
        if (!methods[i])
            lvm_error(L, "http.fetch: method is GET, POST, PUT, PATCH, DELETE or HEAD");
        o->method = methods[i];
    }
    lua_getfield(L, 2, "timeout_ms");
    if (!lua_isnil(L, -1)) {
        lua_Number ms = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || ms < 1 || ms > FETCH_TIMEOUT_MAX_MS)
            lvm_error(L, "http.fetch: timeout_ms is 1 to %d", FETCH_TIMEOUT_MAX_MS);
        o->timeout_ms = (long)ms;
    }
    lua_getfield(L, 2, "headers");
    if (lua_istable(L, -1)) {
        o->has_headers = true;
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            if (!k || !v || !*k || strpbrk(k, ":\r\n \t") || strpbrk(v, "\r\n") ||
                strlen(k) + strlen(v) > 1000)
                lvm_error(L, "http.fetch: headers are {name = \"value\"} strings, one line each");
        }
    } else if (!lua_isnil(L, -1)) {
        lvm_error(L, "http.fetch: headers is a table");
    }
    lua_getfield(L, 2, "body");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        lvm_error(L, "http.fetch: body is a string (or use json =)");
    lua_pop(L, 4);
}

/* The body (opts.json encoded, or opts.body copied) into f, and its headers; raises (after
 * freeing f) when it cannot be made. */
static void take_opts(lua_State *L, struct room *r, struct fetch *f, const struct request_opts *o) {
    char err[160];
    const char *why = NULL;
    snprintf(f->method, sizeof f->method, "%s", o->method);
    f->deadline_ms = clock_ms() + o->timeout_ms;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "headers");
        for (lua_pushnil(L); o->has_headers && !why && lua_next(L, -2); lua_pop(L, 1)) {
            char line[1024];
            snprintf(line, sizeof line, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
            struct curl_slist *more = curl_slist_append(f->headers, line);
            if (!more)
                why = "out of memory";
            else
                f->headers = more;
        }
        lua_getfield(L, 2, "json");
        lua_getfield(L, 2, "body");
        if (!why && !lua_isnil(L, -2)) {
            struct curl_slist *more =
                curl_slist_append(f->headers, "Content-Type: application/json");
            if (more)
                f->headers = more;
            if (!more)
                why = "out of memory";
            else if (!(f->body = ljson_encode(L, -2, r->ns->limits->json_depth, &f->body_len, err,
                                              sizeof err)))
                why = err;
        } else if (!why && lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *b = lua_tolstring(L, -1, &len);
            if ((f->body = malloc(len + 1))) {
                memcpy(f->body, b, len);
                f->body_len = len;
            } else {
                why = "out of memory";
            }
        }
    }
    if (!why && f->body && f->body_len > r->ns->limits->body_bytes)
        why = "the body is over limits.body_bytes";
    if (why) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", why);
        fetch_free(f);
        lvm_error(L, "http.fetch: %s", msg);
    }
}

static int fetch_c(lua_State *L) {
    struct room *r = room_turn_on(L);
    if (!r || !fetcher.multi)
        return lvm_error(L, "http.fetch works only in a room's handlers (not in init, nor in a "
                            "coroutine of the script's own)");
    const char *url = luaL_checkstring(L, 1), *why;
    struct request_opts o;
    check_opts(L, &o);
    if (fetcher.active >= FETCH_MAX_ACTIVE)
        return lvm_error(L, "http.fetch: %d requests under way in this process: try later",
                         FETCH_MAX_ACTIVE);
    char *normal = normalise(url, NULL, &why);
    if (!normal)
        return lvm_error(L, "http.fetch: '%s': %s", url, why);
    if (!allowed(r->ns, normal)) {
        free(normal);
        return lvm_error(L, "outbound URL not allowed: %s (the namespace's outbound list)", url);
    }
    struct fetch *f = calloc(1, sizeof *f);
    if (f && (f->easy = curl_easy_init()))
        fetcher.active++;
    if (f)
        f->url = normal;
    else
        free(normal);
    if (f && (f->room_id = malloc(r->id_len + 1))) {
        memcpy(f->room_id, r->id, r->id_len);
        f->room_id[r->id_len] = '\0';
    }
    if (!f || !f->easy || !f->room_id) {
        if (f)
            fetch_free(f);
        return lvm_error(L, "http.fetch: out of memory");
    }
    f->ns = r->ns;
    f->room_len = r->id_len;
    take_opts(L, r, f, &o);
    room_await(r, &fetch_ops, f);
    return lua_yield(L, 0);
}

static void push_http_args(lua_State *L) {
    lua_pushcfunction(L, fetch_c);
    ljson_open(L);
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    lua_getglobal(L, "pcall");
}

int fetch_open(struct lvm *vm, char *err, size_t errlen) {
    return lvm_open_module(vm, "http", http_lua, sizeof http_lua - 1, push_http_args, err, errlen);
}
