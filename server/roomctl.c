/* roomctl: the operator's command line for roomd's admin API (docs/operations.md).
 *
 * One HTTP call per command (rooms pages through the listing; top repeats once
 * a second), libcurl for the transport and Jansson for the JSON. The admin
 * URL comes from --url or ROOMD_ADMIN_URL, the token from ROOMD_ADMIN_TOKEN.
 * Output is a table on a terminal, the server's JSON with --json or when
 * piped; export always writes the JSON document. Exit status: 0 done, 1 the
 * server said no or could not be reached (its message on stderr), 2 usage. */
#include "percent.h"

#include <curl/curl.h>
#include <jansson.h>
#include <jwt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (256u << 20) /* the largest answer or import document handled */

static const char *usage_text =
    "usage: roomctl [--url URL] [--json] COMMAND [ARGS]\n"
    "\n"
    "  rooms [--ns NS] [--prefix P]   rooms in storage and in memory\n"
    "  show NS/ID                     one room and its connections\n"
    "  export NS/ID > FILE            the room's storage as a JSON document\n"
    "  import NS/ID < FILE            replaces the room's storage with an export\n"
    "  delete NS/ID [--close-only]    closes its sockets, deletes it and its storage\n"
    "  reload [NS]                    reloads room scripts (all, or one namespace)\n"
    "  top                            live rooms by connections, once a second\n"
    "  top --by WHAT [--ns NS] [--day YYYY-MM-DD] [--limit N]\n"
    "                                 rooms by a day's usage: cpu_us, requests, messages,\n"
    "                                 bytes_out (default: every namespace, today, 10)\n"
    "  usage NS/ID [--from DAY] [--to DAY]\n"
    "                                 what one room used, day by day (default: today)\n"
    "  token --secret-env VAR [--sub S] [--name N] [--ttl SECONDS] [--claim K=V]...\n"
    "                                 prints an HS256 test token signed with $VAR\n"
    "\n"
    "The admin URL is --url or $ROOMD_ADMIN_URL (default http://127.0.0.1:8081),\n"
    "the token $ROOMD_ADMIN_TOKEN. Exit status: 0 ok, 1 refused or unreachable, 2 usage.\n";

static struct {
    const char *url;
    bool json; /* print the server's JSON, not a table */
} opt;

struct buffer {
    char *data;
    size_t len;
};

static int usage(void) {
    fputs(usage_text, stderr);
    return 2;
}

static size_t collect(char *p, size_t size, size_t n, void *arg) {
    struct buffer *b = arg;
    size_t add = size * n;
    if (b->len + add > BODY_MAX)
        return 0;
    char *more = realloc(b->data, b->len + add + 1);
    if (!more)
        return 0;
    memcpy(more + b->len, p, add);
    b->data = more;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* Makes one admin call; returns its answer parsed (NULL and a message on stderr when it could
 * not be made or did not answer 2xx with JSON). */
static json_t *call(const char *method, const char *path, const char *body, size_t body_len) {
    char url[4096], auth[1024];
    snprintf(url, sizeof url, "%s%s", opt.url, path);
    const char *token = getenv("ROOMD_ADMIN_TOKEN");
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    struct buffer answer = {NULL, 0};
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    if (body && body_len) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    json_t *doc = answer.data ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
    if (rc != CURLE_OK)
        fprintf(stderr, "roomctl: %s: %s\n", url, curl_easy_strerror(rc));
    else if (status < 200 || status > 299 || !doc)
        fprintf(stderr, "roomctl: %s %s: %ld %s\n", method, path, status,
                json_string_value(json_object_get(doc, "error"))
                    ? json_string_value(json_object_get(doc, "error"))
                    : "(no JSON answer)");
    free(answer.data);
    if (rc == CURLE_OK && status >= 200 && status <= 299 && doc)
        return doc;
    json_decref(doc);
    return NULL;
}

/* "/rooms/<ns>/<id>" + suffix for NS/ID (the id is everything after the first '/'). */
static bool room_path(const char *arg, const char *suffix, char *out, size_t cap) {
    const char *slash = strchr(arg, '/');
    if (!slash || slash == arg || !slash[1]) {
        fprintf(stderr, "roomctl: '%s': expected NS/ID\n", arg);
        return false;
    }
    snprintf(out, cap, "/rooms/");
    percent_encode(arg, (size_t)(slash - arg), out, strlen(out), cap);
    snprintf(out + strlen(out), cap - strlen(out), "/");
    percent_encode(slash + 1, strlen(slash + 1), out, strlen(out), cap);
    snprintf(out + strlen(out), cap - strlen(out), "%s", suffix);
    return true;
}

static void print_json(json_t *doc) {
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text)
        puts(text);
    free(text);
}

/* A field of a room as table text: numbers as integers, null as "-". */
static const char *cell(json_t *obj, const char *key, char *buf, size_t cap) {
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, cap, "%.0f", json_real_value(v));
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else
        snprintf(buf, cap, "-");
    return buf;
}

static void print_room_row(json_t *room) {
    char a[64], b[300], c[32], d[32], e[32], f[32], g[32];
    printf("%-12s %-32s %-10s %6s %6s %10s %s\n", cell(room, "ns", a, sizeof a),
           cell(room, "id", b, sizeof b), cell(room, "state", c, sizeof c),
           cell(room, "connections", d, sizeof d), cell(room, "keys", e, sizeof e),
           cell(room, "bytes", f, sizeof f), cell(room, "alarm", g, sizeof g));
}

static void print_room_header(void) {
    printf("%-12s %-32s %-10s %6s %6s %10s %s\n", "NS", "ID", "STATE", "CONNS", "KEYS", "BYTES",
           "ALARM");
}

static int cmd_rooms(int argc, char **argv) {
    char query[1024] = "", cursor[256] = "0", path[2048];
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "--ns") == 0 || strcmp(argv[i], "--prefix") == 0) && i + 1 < argc) {
            snprintf(query + strlen(query), sizeof query - strlen(query), "&%s=", argv[i] + 2);
            percent_encode(argv[i + 1], strlen(argv[i + 1]), query, strlen(query), sizeof query);
            i++;
        } else {
            return usage();
        }
    }
    json_t *all = json_array();
    do {
        snprintf(path, sizeof path, "/rooms?cursor=%s%s", cursor, query);
        json_t *page = call("GET", path, NULL, 0);
        if (!page) {
            json_decref(all);
            return 1;
        }
        json_array_extend(all, json_object_get(page, "rooms"));
        json_t *next = json_object_get(page, "cursor");
        snprintf(cursor, sizeof cursor, "%s", json_is_string(next) ? json_string_value(next) : "");
        json_decref(page);
    } while (cursor[0]);
    if (opt.json) {
        json_t *doc = json_pack("{s:o}", "rooms", all);
        print_json(doc);
        json_decref(doc);
        return 0;
    }
    print_room_header();
    size_t i;
    json_t *room;
    json_array_foreach(all, i, room) print_room_row(room);
    json_decref(all);
    return 0;
}

/* Makes one call and prints its answer as JSON (always, or only with --json); 0 or 1. */
static int call_and_print(const char *method, const char *path, const char *body, size_t len,
                          bool always) {
    json_t *doc = call(method, path, body, len);
    if (!doc)
        return 1;
    if (always || opt.json)
        print_json(doc);
    json_decref(doc);
    return 0;
}

static int cmd_show(int argc, char **argv) {
    char path[4096];
    if (argc != 1 || !room_path(argv[0], "", path, sizeof path))
        return 2;
    json_t *room = call("GET", path, NULL, 0);
    if (!room)
        return 1;
    if (opt.json) {
        print_json(room);
    } else {
        print_room_header();
        print_room_row(room);
        printf("\n%-8s %-24s %10s %s\n", "CONN", "SUBJECT", "QUEUED", "TAGS");
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(room, "conns"), i, c) {
            char id[32], sub[128], q[32];
            char *tags = json_dumps(json_object_get(c, "tags"), JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%-8s %-24s %10s %s\n", cell(c, "id", id, sizeof id),
                   cell(c, "subject", sub, sizeof sub), cell(c, "queued_bytes", q, sizeof q),
                   tags ? tags : "[]");
            free(tags);
        }
    }
    json_decref(room);
    return 0;
}

static int cmd_export(int argc, char **argv) {
    char path[4096];
    if (argc != 1 || !room_path(argv[0], "/storage", path, sizeof path))
        return 2;
    return call_and_print("GET", path, NULL, 0, true);
}

static int cmd_import(int argc, char **argv) {
    char path[4096];
    if (argc != 1 || !room_path(argv[0], "/storage", path, sizeof path))
        return 2;
    struct buffer in = {NULL, 0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (collect(chunk, 1, n, &in) != n) {
            fprintf(stderr, "roomctl: import: the document is over %u bytes\n", BODY_MAX);
            free(in.data);
            return 1;
        }
    int rc = call_and_print("PUT", path, in.data ? in.data : "", in.len, false);
    free(in.data);
    return rc;
}

static int cmd_delete(int argc, char **argv) {
    char path[4096];
    bool close_only = argc == 2 && strcmp(argv[1], "--close-only") == 0;
    if ((argc != 1 && !close_only) ||
        !room_path(argv[0], close_only ? "?close_only=1" : "", path, sizeof path))
        return 2;
    return call_and_print("DELETE", path, NULL, 0, false);
}

static int cmd_reload(int argc, char **argv) {
    char path[256] = "/reload";
    if (argc > 1)
        return usage();
    if (argc == 1) {
        strcat(path, "?ns=");
        percent_encode(argv[0], strlen(argv[0]), path, strlen(path), sizeof path);
    }
    json_t *done = call("POST", path, "", 0);
    if (!done)
        return 1;
    int rc = json_is_true(json_object_get(done, "ok")) ? 0 : 1;
    size_t i;
    json_t *ns;
    if (opt.json)
        print_json(done);
    else
        json_array_foreach(json_object_get(done, "namespaces"), i, ns) {
            char name[64], err[1024];
            printf("%-12s %s\n", cell(ns, "ns", name, sizeof name),
                   json_is_true(json_object_get(ns, "ok")) ? "reloaded"
                                                           : cell(ns, "error", err, sizeof err));
        }
    json_decref(done);
    return rc;
}

static int by_connections(const void *a, const void *b) {
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "connections"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "connections"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Appends "&name=value" (value escaped) to the query in path. */
static void add_arg(char *path, size_t cap, const char *name, const char *value) {
    snprintf(path + strlen(path), cap - strlen(path), "%s%s=", strchr(path, '?') ? "&" : "?", name);
    percent_encode(value, strlen(value), path, strlen(path), cap);
}

/* Takes --NAME VALUE pairs (NAME one of names) into the query of path; false on anything else. */
static bool take_args(int argc, char **argv, const char *const *names, char *path, size_t cap) {
    for (int i = 0; i < argc; i += 2) {
        bool known = false;
        for (const char *const *n = names; *n && !known; n++)
            known = strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, *n) == 0;
        if (!known || i + 1 >= argc)
            return false;
        add_arg(path, cap, argv[i] + 2, argv[i + 1]);
    }
    return true;
}

/* One room's usage: the totals, then one line a day. */
static int cmd_usage(int argc, char **argv) {
    static const char *const names[] = {"from", "to", NULL};
    char path[4096];
    if (argc < 1 || !room_path(argv[0], "/usage", path, sizeof path) ||
        !take_args(argc - 1, argv + 1, names, path, sizeof path))
        return usage();
    json_t *doc = call("GET", path, NULL, 0);
    if (!doc)
        return 1;
    if (opt.json) {
        print_json(doc);
    } else {
        char from[16], to[16], v[32];
        printf("%s, %s to %s\n\n", argv[0], cell(doc, "from", from, sizeof from),
               cell(doc, "to", to, sizeof to));
        const char *key;
        json_t *value;
        json_object_foreach(json_object_get(doc, "total"), key, value) {
            printf("%-14s %s\n", key, cell(json_object_get(doc, "total"), key, v, sizeof v));
        }
    }
    json_decref(doc);
    return 0;
}

/* The rooms that used the most of one thing on one day. */
static int top_by_usage(int argc, char **argv) {
    static const char *const names[] = {"by", "ns", "day", "limit", NULL};
    char path[1024] = "/usage/top";
    if (!take_args(argc, argv, names, path, sizeof path))
        return usage();
    json_t *doc = call("GET", path, NULL, 0);
    if (!doc)
        return 1;
    if (opt.json) {
        print_json(doc);
    } else {
        char day[16], by[16], ns[64], id[1024], v[32];
        printf("%-40s %s (%s)\n", "ROOM", cell(doc, "by", by, sizeof by),
               cell(doc, "day", day, sizeof day));
        size_t i;
        json_t *room;
        json_array_foreach(json_object_get(doc, "rooms"), i, room) {
            char name[1100];
            snprintf(name, sizeof name, "%s/%s", cell(room, "ns", ns, sizeof ns),
                     cell(room, "id", id, sizeof id));
            printf("%-40s %s\n", name, cell(room, "value", v, sizeof v));
        }
    }
    json_decref(doc);
    return 0;
}

/* Live rooms, most connections first, the screen redrawn once a second (TOP_ROUNDS times, or
 * until interrupted); with --by, the rooms by a day's usage instead. */
static int cmd_top(int argc, char **argv) {
    if (argc)
        return top_by_usage(argc, argv);
    const char *rounds_env = getenv("ROOMCTL_TOP_ROUNDS");
    long rounds = rounds_env ? strtol(rounds_env, NULL, 10) : -1;
    for (long r = 0; rounds < 0 || r < rounds; r++) {
        json_t *page = call("GET", "/rooms?state=memory&limit=1000", NULL, 0);
        if (!page)
            return 1;
        json_t *rooms = json_object_get(page, "rooms");
        size_t n = json_array_size(rooms);
        json_t **sorted = calloc(n + 1, sizeof *sorted);
        for (size_t i = 0; i < n; i++)
            sorted[i] = json_array_get(rooms, i);
        qsort(sorted, n, sizeof *sorted, by_connections);
        if (isatty(STDOUT_FILENO))
            printf("\033[H\033[2J");
        printf("roomd %s: %zu rooms in memory\n\n", opt.url, n);
        print_room_header();
        for (size_t i = 0; i < n && i < 40; i++)
            print_room_row(sorted[i]);
        fflush(stdout);
        free(sorted);
        json_decref(page);
        if (rounds < 0 || r + 1 < rounds)
            sleep(1);
    }
    return 0;
}

/* Adds claim K=V (V a number when it reads as one, else a string). */
static int add_claim(jwt_t *jwt, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return -1;
    char key[256], *end;
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    long v = strtol(eq + 1, &end, 10);
    return eq[1] && !*end ? jwt_add_grant_int(jwt, key, v) : jwt_add_grant(jwt, key, eq + 1);
}

static int cmd_token(int argc, char **argv) {
    const char *secret_env = NULL;
    long ttl = 3600;
    jwt_t *jwt;
    if (jwt_new(&jwt) != 0)
        return 1;
    int bad = 0;
    for (int i = 0; i + 1 < argc && !bad; i += 2) {
        if (strcmp(argv[i], "--secret-env") == 0)
            secret_env = argv[i + 1];
        else if (strcmp(argv[i], "--ttl") == 0)
            ttl = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--sub") == 0 || strcmp(argv[i], "--name") == 0)
            bad = jwt_add_grant(jwt, argv[i] + 2, argv[i + 1]) != 0;
        else if (strcmp(argv[i], "--claim") == 0)
            bad = add_claim(jwt, argv[i + 1]) != 0;
        else
            bad = 1;
    }
    const char *secret = secret_env ? getenv(secret_env) : NULL;
    if (bad || argc % 2 || !secret_env) {
        jwt_free(jwt);
        return usage();
    }
    if (!secret) {
        fprintf(stderr, "roomctl: token: $%s is not set\n", secret_env);
        jwt_free(jwt);
        return 1;
    }
    long now = (long)time(NULL);
    jwt_add_grant_int(jwt, "iat", now);
    jwt_add_grant_int(jwt, "exp", now + ttl);
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
    char *text = jwt_encode_str(jwt);
    jwt_free(jwt);
    if (!text)
        return 1;
    puts(text);
    free(text);
    return 0;
}

int main(int argc, char **argv) {
    opt.url = getenv("ROOMD_ADMIN_URL") ? getenv("ROOMD_ADMIN_URL") : "http://127.0.0.1:8081";
    opt.json = !isatty(STDOUT_FILENO);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            opt.url = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            opt.json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return fputs(usage_text, stdout) < 0;
        else
            return usage();
    }
    if (i == argc)
        return usage();
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {{"rooms", cmd_rooms},   {"show", cmd_show},     {"export", cmd_export},
                    {"import", cmd_import}, {"delete", cmd_delete}, {"reload", cmd_reload},
                    {"top", cmd_top},       {"token", cmd_token},   {"usage", cmd_usage}};
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(argv[i], commands[k].name) != 0)
            continue;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = commands[k].run(argc - i - 1, argv + i + 1);
        curl_global_cleanup();
        return rc;
    }
    return usage();
}
