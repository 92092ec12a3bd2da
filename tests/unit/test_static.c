/* Unit tests for server/static.c: resolving request paths under a static root made in a scratch
 * folder (files, directories and their index.html, missing files, ".." and symlinks that leave
 * the root) and the content type by file extension. */
#include "check.h"
#include "static.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[PATH_MAX]; /* <scratch>/www, a real path */

static void must(int ok, const char *what) {
    if (!ok) {
        perror(what);
        exit(2);
    }
}

static void make_dir(const char *name) {
    char path[PATH_MAX];
    must(mkdir(scratch_path(path, name), 0755) == 0, name);
}

static void make_link(const char *target, const char *name) {
    char path[PATH_MAX];
    must(symlink(target, scratch_path(path, name)) == 0, name);
}

/*  <scratch>/
 *      www/            the root
 *          a.txt  index.html  app.js
 *          sub/index.html  sub/page.css
 *          empty/          no index.html
 *          good -> a.txt   inside, relative
 *          goodabs -> <scratch>/www/sub/page.css
 *          gooddir -> sub
 *          evil -> ../outside/secret.txt
 *          evilabs -> <scratch>/outside/secret.txt
 *          evildir -> ../outside
 *          twin -> ../www2/f.txt   a sibling whose name starts with the root's
 *          dangling -> nowhere
 *          leak/index.html -> ../../outside/secret.txt
 *      outside/secret.txt  outside/index.html
 *      www2/f.txt */
static void make_tree(void) {
    char path[PATH_MAX], target[PATH_MAX];
    scratch_path(root, "www");
    make_dir("www");
    make_dir("www/sub");
    make_dir("www/empty");
    make_dir("www/leak");
    make_dir("outside");
    make_dir("www2");
    scratch_write(path, "www/a.txt", "a");
    scratch_write(path, "www/index.html", "<p>root</p>");
    scratch_write(path, "www/app.js", "1");
    scratch_write(path, "www/sub/index.html", "<p>sub</p>");
    scratch_write(path, "www/sub/page.css", "p{}");
    scratch_write(path, "outside/secret.txt", "secret");
    scratch_write(path, "outside/index.html", "<p>outside</p>");
    scratch_write(path, "www2/f.txt", "twin");
    make_link("a.txt", "www/good");
    make_link(scratch_path(target, "www/sub/page.css"), "www/goodabs");
    make_link("sub", "www/gooddir");
    make_link("../outside/secret.txt", "www/evil");
    make_link(scratch_path(target, "outside/secret.txt"), "www/evilabs");
    make_link("../outside", "www/evildir");
    make_link("../www2/f.txt", "www/twin");
    make_link("nowhere", "www/dangling");
    make_link("../../outside/secret.txt", "www/leak/index.html");
}

static const char *result_name(enum static_result r) {
    return r == STATIC_FOUND ? "FOUND" : r == STATIC_MISSING ? "MISSING" : "FORBIDDEN";
}

/* Resolves path and expects want; for STATIC_FOUND also the file, relative to the root. */
static void expect(int line, const char *path, enum static_result want, const char *file) {
    char out[PATH_MAX] = "", full[2 * PATH_MAX] = "";
    enum static_result got = static_resolve(root, path, out, sizeof out);
    check_report(got == want, line, path, "got %s, want %s", result_name(got), result_name(want));
    if (want != STATIC_FOUND || got != STATIC_FOUND)
        return;
    snprintf(full, sizeof full, "%s/%s", root, file);
    check_report(strcmp(out, full) == 0, line, path, "file '%s', want '%s'", out, full);
}

static void test_found(void) {
    expect(__LINE__, "/a.txt", STATIC_FOUND, "a.txt");
    expect(__LINE__, "/app.js", STATIC_FOUND, "app.js");
    expect(__LINE__, "/sub/page.css", STATIC_FOUND, "sub/page.css");
    expect(__LINE__, "/index.html", STATIC_FOUND, "index.html");
}

static void test_directories(void) {
    expect(__LINE__, "/", STATIC_FOUND, "index.html");
    expect(__LINE__, "/sub", STATIC_FOUND, "sub/index.html");
    expect(__LINE__, "/sub/", STATIC_FOUND, "sub/index.html");
    expect(__LINE__, "/empty", STATIC_MISSING, NULL);
    expect(__LINE__, "/empty/", STATIC_MISSING, NULL);
}

static void test_missing(void) {
    expect(__LINE__, "/nope.html", STATIC_MISSING, NULL);
    expect(__LINE__, "/sub/nope.css", STATIC_MISSING, NULL);
    expect(__LINE__, "/nope/deeper.js", STATIC_MISSING, NULL);
    expect(__LINE__, "/a.txt/x", STATIC_MISSING, NULL);
    expect(__LINE__, "/dangling", STATIC_MISSING, NULL);
}

static void test_forbidden(void) {
    expect(__LINE__, "/../x", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/..", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/../outside/secret.txt", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/sub/../a.txt", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "a.txt", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "", STATIC_FORBIDDEN, NULL);
    char out[PATH_MAX];
    CHECK_INT(static_resolve(NULL, "/a.txt", out, sizeof out), STATIC_FORBIDDEN);
}

static void test_symlinks(void) {
    expect(__LINE__, "/good", STATIC_FOUND, "a.txt");
    expect(__LINE__, "/goodabs", STATIC_FOUND, "sub/page.css");
    expect(__LINE__, "/gooddir", STATIC_FOUND, "sub/index.html");
    expect(__LINE__, "/gooddir/page.css", STATIC_FOUND, "sub/page.css");
    expect(__LINE__, "/evil", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/evilabs", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/evildir", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/evildir/", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/evildir/secret.txt", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/twin", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/leak", STATIC_FORBIDDEN, NULL);
    expect(__LINE__, "/leak/index.html", STATIC_FORBIDDEN, NULL);
}

static void test_mime_types(void) {
    CHECK_STR(static_mime_type("/x/index.html"), "text/html; charset=utf-8");
    CHECK_STR(static_mime_type("app.js"), "text/javascript; charset=utf-8");
    CHECK_STR(static_mime_type("site.css"), "text/css; charset=utf-8");
    CHECK_STR(static_mime_type("logo.png"), "image/png");
    CHECK_STR(static_mime_type("data.json"), "application/json");
    CHECK_STR(static_mime_type("icon.svg"), "image/svg+xml");
    CHECK_STR(static_mime_type("archive.tar.gz"), "application/octet-stream");
    CHECK_STR(static_mime_type("README"), "application/octet-stream");
    CHECK_STR(static_mime_type("page.htm"), "application/octet-stream");
    CHECK_STR(static_mime_type("page.html.bak"), "application/octet-stream");
    CHECK_STR(static_mime_type(""), "application/octet-stream");
}

int main(void) {
    make_tree();
    test_found();
    test_directories();
    test_missing();
    test_forbidden();
    test_symlinks();
    test_mime_types();
    scratch_remove();
    return check_summary("static");
}
