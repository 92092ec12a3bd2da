/* Unit tests for persistence/store.c's --redis URL parsing: every accepted form with what it
 * yields, and each refusal with a reason naming the URL. */
#include "check.h"
#include "store.h"

static void accepts(int line, const char *url, const char *host, int port, int db,
                    const char *path) {
    struct store_target t;
    char err[256] = "";
    int rc = store_parse_url(url, &t, err, sizeof err);
    check_report(rc == 0, line, url, "refused: %s", err);
    if (rc != 0)
        return;
    check_report(strcmp(t.host, host) == 0 && t.port == port && t.db == db &&
                     strcmp(t.path, path) == 0,
                 line, url, "got host '%s' port %d db %d path '%s'", t.host, t.port, t.db, t.path);
}

static void refuses(int line, const char *url) {
    struct store_target t;
    char err[256] = "";
    int rc = store_parse_url(url, &t, err, sizeof err);
    check_report(rc != 0, line, url, "accepted (host '%s' port %d)", t.host, t.port);
    check_report(rc == 0 || strstr(err, url) != NULL, line, url, "reason '%s' names no URL", err);
}

int main(void) {
    accepts(__LINE__, "redis://127.0.0.1:6380", "127.0.0.1", 6380, 0, "");
    accepts(__LINE__, "redis://localhost:6379/3", "localhost", 6379, 3, "");
    accepts(__LINE__, "redis://[::1]:7000", "::1", 7000, 0, "");
    accepts(__LINE__, "unix:///run/redis.sock", "", 0, 0, "/run/redis.sock");
    refuses(__LINE__, "http://127.0.0.1:6379");
    refuses(__LINE__, "redis://127.0.0.1:0");
    refuses(__LINE__, "redis://127.0.0.1:65536");
    refuses(__LINE__, "redis://127.0.0.1:12ab");
    refuses(__LINE__, "redis://127.0.0.1:6379/x");
    accepts(__LINE__, "redis://redis.internal", "redis.internal", 6379, 0, "");
    refuses(__LINE__, "unix://relative.sock");
    refuses(__LINE__, "redis://::1:7000"); /* IPv6 needs its brackets */
    refuses(__LINE__, "redis://[::1");
    refuses(__LINE__, "redis://[::1]x");
    refuses(__LINE__, "redis://host:");
    refuses(__LINE__, "redis://host/");
    refuses(__LINE__, "redis://:6379");
    return check_summary("test_store");
}
