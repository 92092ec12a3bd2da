/* static: maps a request path to a file under the static root, safely.
 * The resolved file must be a regular file whose real path (all symlinks
 * followed) lies inside the root's real path; a directory maps to its
 * index.html. */
#ifndef ROOMD_STATIC_H
#define ROOMD_STATIC_H

#include <stddef.h>

enum static_result { STATIC_FOUND, STATIC_MISSING, STATIC_FORBIDDEN };

/* Resolves path (decoded, starting with '/') under root into out. */
enum static_result static_resolve(const char *root, const char *path, char *out, size_t outlen);

/* The content type to send for file name, by its extension. */
const char *static_mime_type(const char *name);

#endif
