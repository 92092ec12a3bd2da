/* base64: the standard alphabet with padding (RFC 4648), for bytes that travel in JSON. */
#ifndef ROOMD_BASE64_H
#define ROOMD_BASE64_H

#include <stddef.h>

/* in[0..len) as base64 text (malloc()ed, NUL-terminated), or NULL on out-of-memory. */
char *base64_encode(const void *in, size_t len);

/* The bytes base64 text in[0..len) stands for (malloc()ed), their count in *out_len; NULL when
 * the text is not base64 (or on out-of-memory). */
char *base64_decode(const char *in, size_t len, size_t *out_len);

#endif
