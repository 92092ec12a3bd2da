/* Unit tests for server/route.c: how a decoded request path is classified (health check, room,
 * static file, bad room id), the namespace and room id rules, and that the ns, id and rest
 * pieces point exactly into the caller's path. */
#include "check.h"
#include "percent.h"
#include "route.h"

#include <string.h>

/* Parses the first len bytes of path and checks the kind. */
static struct route parse_len(int line, const char *path, size_t len, enum route_kind want) {
    struct route rt;
    route_parse(path, len, &rt);
    check_report(rt.kind == want, line, path, "kind %d, want %d", (int)rt.kind, (int)want);
    return rt;
}

static struct route parse(int line, const char *path, enum route_kind want) {
    return parse_len(line, path, strlen(path), want);
}

/* A room route whose pieces sit at the given offsets of path, with the given lengths. */
static void expect_room(int line, const char *path, size_t len, size_t ns_len, size_t id_off,
                        size_t id_len, size_t rest_off, size_t rest_len) {
    struct route rt = parse_len(line, path, len, ROUTE_ROOM);
    check_report(rt.ns == path + 1 && rt.ns_len == ns_len, line, path, "ns at %td len %zu",
                 rt.ns ? rt.ns - path : -1, rt.ns_len);
    check_report(rt.id == path + id_off && rt.id_len == id_len, line, path, "id at %td len %zu",
                 rt.id ? rt.id - path : -1, rt.id_len);
    check_report(rt.rest == path + rest_off && rt.rest_len == rest_len, line, path,
                 "rest at %td len %zu, want at %zu len %zu", rt.rest ? rt.rest - path : -1,
                 rt.rest_len, rest_off, rest_len);
    check_report(rt.error == NULL, line, path, "error '%s' on a room route", rt.error);
}

static void expect_static(int line, const char *path, size_t len) {
    struct route rt = parse_len(line, path, len, ROUTE_STATIC);
    check_report(!rt.ns && !rt.id && !rt.rest && !rt.error, line, path,
                 "a static route carries pieces");
}

static void expect_bad(int line, const char *path, size_t len, const char *why) {
    struct route rt = parse_len(line, path, len, ROUTE_BAD);
    check_report(rt.error && strstr(rt.error, why), line, path, "error '%s', want '%s'",
                 rt.error ? rt.error : "(null)", why);
}

static void test_health(void) {
    struct route rt = parse(__LINE__, "/healthz", ROUTE_HEALTH);
    CHECK(rt.ns == NULL && rt.id == NULL && rt.error == NULL);
    expect_static(__LINE__, "/healthzz", 9);
    expect_static(__LINE__, "/healthz", 7); /* "/health" */
    parse(__LINE__, "/health", ROUTE_STATIC);
}

static void test_rooms(void) {
    const char *p = "/vote/berlin";
    expect_room(__LINE__, p, strlen(p), 4, 6, 6, 12, 0);
    p = "/vote/berlin/";
    expect_room(__LINE__, p, strlen(p), 4, 6, 6, 13, 0);
    p = "/vote/berlin/results";
    expect_room(__LINE__, p, strlen(p), 4, 6, 6, 13, 7);
    p = "/vote/berlin/results/with/slashes/";
    expect_room(__LINE__, p, strlen(p), 4, 6, 6, 13, 21);
    p = "/a/b";
    expect_room(__LINE__, p, strlen(p), 1, 3, 1, 4, 0);
    /* only len bytes count: the path need not end there */
    p = "/vote/berlin/results";
    expect_room(__LINE__, p, 12, 4, 6, 6, 12, 0);
    expect_room(__LINE__, p, 14, 4, 6, 6, 13, 1);
    /* UTF-8 and spaces are fine in an id */
    p = "/chat/caf\xc3\xa9 au lait/x";
    expect_room(__LINE__, p, strlen(p), 4, 6, 13, 20, 1);
    p = "/chat/\xe2\x82\xac";
    expect_room(__LINE__, p, strlen(p), 4, 6, 3, 9, 0);
    /* the rest is not checked: any bytes after the id's slash */
    p = "/chat/room/\x01";
    expect_room(__LINE__, p, strlen(p), 4, 6, 4, 11, 1);
}

static void test_ns_syntax(void) {
    char path[64];
    memset(path, 0, sizeof path);
    path[0] = '/';
    memset(path + 1, 'a', 32);
    memcpy(path + 33, "/id", 3);
    expect_room(__LINE__, path, 36, 32, 34, 2, 36, 0);
    path[0] = '/';
    memset(path + 1, 'b', 33);
    memcpy(path + 34, "/id", 4);
    expect_static(__LINE__, path, 37);
    CHECK(route_ns_valid("abcdefghijklmnopqrstuvwxyz012345", 32));
    CHECK(!route_ns_valid("abcdefghijklmnopqrstuvwxyz0123456", 33));

    static const char *const good[] = {"a", "z", "vote", "a-b_c9", "x0", "a--", "q_", NULL};
    for (const char *const *g = good; *g; g++)
        check_report(route_ns_valid(*g, strlen(*g)), __LINE__, *g, "want a valid ns");
    static const char *const bad[] = {"",    "Vote", "vOte",     "1vote", "-a",    "_a",
                                      "a.b", "a b",  "\xc3\xa9", "a/b",   "a\x01", NULL};
    for (const char *const *b = bad; *b; b++)
        check_report(!route_ns_valid(*b, strlen(*b)), __LINE__, *b, "want an invalid ns");
    CHECK(!route_ns_valid("a\0b", 3));
    CHECK(route_ns_valid("ab!", 2)); /* only len bytes count */

    expect_static(__LINE__, "/Vote/x", 7);
    expect_static(__LINE__, "/1vote/x", 8);
    expect_static(__LINE__, "/a.b/c", 6);
    expect_static(__LINE__, "/-a/c", 5);
    expect_static(__LINE__, "//c", 3);
}

static void test_id_rules(void) {
    char path[400];
    memcpy(path, "/ns/", 4);
    memset(path + 4, 'i', 257);
    expect_room(__LINE__, path, 4 + 256, 2, 4, 256, 260, 0);
    path[260] = '/';
    path[261] = 'r';
    expect_room(__LINE__, path, 262, 2, 4, 256, 261, 1);
    memset(path + 4, 'i', 257);
    expect_bad(__LINE__, path, 4 + 257, "256");
    path[261] = '/';
    expect_bad(__LINE__, path, 262, "256");

    expect_bad(__LINE__, "/ns/", 4, "empty");
    expect_bad(__LINE__, "/ns//rest", 9, "empty");
    expect_bad(__LINE__, "/ns/a\x01z", 7, "control");
    expect_bad(__LINE__, "/ns/\x1f", 5, "control");
    expect_bad(__LINE__, "/ns/a\x7f", 6, "control");
    expect_bad(__LINE__, "/ns/\x7f/rest", 10, "control");
    expect_bad(__LINE__, "/ns/a\0b", 7, "control");
    expect_bad(__LINE__, "/ns/a\tb", 7, "control");
    /* a bad route still says where its pieces are */
    struct route rt = parse_len(__LINE__, "/ns/a\x01z/more", 12, ROUTE_BAD);
    CHECK(rt.id_len == 3 && rt.rest_len == 4);

    const char *why = NULL;
    CHECK(route_id_valid(" ", 1, &why));
    CHECK(route_id_valid("\x80\xff", 2, &why)); /* bytes, not checked as UTF-8 */
    CHECK(route_id_valid("~!@#$%^&*()", 11, &why));
    CHECK(!route_id_valid("a/b", 3, &why));
    CHECK(why != NULL);
    why = NULL;
    CHECK(!route_id_valid("", 0, &why));
    CHECK_HAS(why, "empty");
}

static void test_static_paths(void) {
    expect_static(__LINE__, "/", 1);
    expect_static(__LINE__, "", 0);
    expect_static(__LINE__, "/index.html", 11);
    expect_static(__LINE__, "/app.js", 7);
    expect_static(__LINE__, "/vote", 5);
    expect_static(__LINE__, "/a.b/c", 6);
    struct route rt; /* a valid ns and id make a room, even when it looks like a file */
    route_parse("/css/site.css", 13, &rt);
    CHECK_INT(rt.kind, ROUTE_ROOM);
    expect_static(__LINE__, "vote/berlin", 11); /* no leading slash */
    expect_static(__LINE__, "x", 1);
}

/* A raw target's room: its decoded ns, id and rest. */
static void expect_target(int line, const char *target, const char *ns, const char *id,
                          const char *rest) {
    char path[ROUTE_PATH_MAX];
    struct route rt;
    route_parse_target(target, strlen(target), path, &rt);
    bool ok = rt.kind == ROUTE_ROOM && rt.ns_len == strlen(ns) && !memcmp(rt.ns, ns, rt.ns_len) &&
              rt.id_len == strlen(id) && !memcmp(rt.id, id, rt.id_len) &&
              rt.rest_len == strlen(rest) && !memcmp(rt.rest, rest, rt.rest_len);
    check_report(ok, line, target, "kind %d, ns '%.*s' id '%.*s' rest '%.*s'", rt.kind,
                 (int)rt.ns_len, rt.ns ? rt.ns : "", (int)rt.id_len, rt.id ? rt.id : "",
                 (int)rt.rest_len, rt.rest ? rt.rest : "");
}

static void expect_target_kind(int line, const char *target, enum route_kind kind) {
    char path[ROUTE_PATH_MAX];
    struct route rt;
    route_parse_target(target, strlen(target), path, &rt);
    check_report(rt.kind == kind, line, target, "kind %d, want %d", rt.kind, kind);
}

static void test_raw_targets(void) {
    expect_target(__LINE__, "/vote/berlin", "vote", "berlin", "");
    expect_target(__LINE__, "/vote/berlin?x=1", "vote", "berlin", "");
    expect_target(__LINE__, "/vote/a;b/c", "vote", "a;b", "c"); /* ';' is a byte of the id */
    expect_target(__LINE__, "/vote/pl+x", "vote", "pl+x", "");  /* '+' is a plus */
    expect_target(__LINE__, "/vote/a%20b/x%2Fy", "vote", "a b", "x/y");
    expect_target(__LINE__, "/vote/x/../canary", "vote", "x", "../canary"); /* nothing folds */
    expect_target(__LINE__, "/vote/%2E%2E", "vote", "..", "");
    expect_target(__LINE__, "/%76ote/a", "vote", "a", "");
    expect_target(__LINE__, "/vote/a/", "vote", "a", "");
    expect_target_kind(__LINE__, "/vote/a%2Fb", ROUTE_BAD);
    expect_target_kind(__LINE__, "/vote/a%0Ab", ROUTE_BAD);
    expect_target_kind(__LINE__, "/vote/a/b%0D", ROUTE_BAD); /* control bytes in the rest too */
    expect_target_kind(__LINE__, "/vote//canary", ROUTE_BAD);
    expect_target_kind(__LINE__, "/vote/a%zz", ROUTE_BAD);
    expect_target_kind(__LINE__, "/vote/a%4", ROUTE_BAD);
    expect_target_kind(__LINE__, "//vote/canary", ROUTE_STATIC);
    expect_target_kind(__LINE__, "/Vote/a", ROUTE_STATIC);
    expect_target_kind(__LINE__, "http://h/vote/a", ROUTE_STATIC);
    expect_target_kind(__LINE__, "/healthz?x", ROUTE_HEALTH);
    expect_target_kind(__LINE__, "/healthz/", ROUTE_BAD); /* an empty id: 404 if no such ns */
}

static void test_percent_decode(void) {
    char out[8];
    CHECK_INT(percent_decode("a%41+", 5, out, sizeof out), 3);
    CHECK_STR(out, "aA+");
    CHECK_INT(percent_decode("%4", 2, out, sizeof out), -1);
    CHECK_INT(percent_decode("%g0", 3, out, sizeof out), -1);
    CHECK_INT(percent_decode("12345678", 8, out, sizeof out), -1); /* no room for the NUL */
    CHECK_INT(percent_decode("%00", 3, out, sizeof out), 1);
    CHECK_INT(out[0], 0);
}

int main(void) {
    test_raw_targets();
    test_percent_decode();
    test_health();
    test_rooms();
    test_ns_syntax();
    test_id_rules();
    test_static_paths();
    return check_summary("route");
}
