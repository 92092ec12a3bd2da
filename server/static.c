/* static: safe resolution of static file paths; see static.h. */
#include "static.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum static_result check_inside(const char *root, const char *joined, char *out,
                                       size_t outlen) {
    char real[PATH_MAX], real_root[PATH_MAX];
    if (!realpath(root, real_root))
        return STATIC_MISSING;
    if (!realpath(joined, real))
        return STATIC_MISSING;
    size_t n = strlen(real_root);
    if (strncmp(real, real_root, n) != 0 || (real[n] != '/' && real[n] != '\0'))
        return STATIC_FORBIDDEN;
    if (snprintf(out, outlen, "%s", real) >= (int)outlen)
        return STATIC_FORBIDDEN;
    return STATIC_FOUND;
}

enum static_result static_resolve(const char *root, const char *path, char *out, size_t outlen) {
    char joined[PATH_MAX];
    if (!root || path[0] != '/' || strstr(path, "/..") ||
        snprintf(joined, sizeof joined, "%s%s", root, path) >= (int)sizeof joined)
        return STATIC_FORBIDDEN;
    enum static_result res = check_inside(root, joined, out, outlen);
    struct stat st;
    if (res != STATIC_FOUND || stat(out, &st) != 0)
        return res == STATIC_FOUND ? STATIC_MISSING : res;
    if (S_ISDIR(st.st_mode)) {
        if (snprintf(joined, sizeof joined, "%s/index.html", out) >= (int)sizeof joined)
            return STATIC_FORBIDDEN;
        if ((res = check_inside(root, joined, out, outlen)) != STATIC_FOUND)
            return res;
        if (stat(out, &st) != 0)
            return STATIC_MISSING;
    }
    return S_ISREG(st.st_mode) ? STATIC_FOUND : STATIC_MISSING;
}

const char *static_mime_type(const char *name) {
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}
