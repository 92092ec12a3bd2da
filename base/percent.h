/* percent: percent-encoding (RFC 3986): every byte but the unreserved ones
 * ([A-Za-z0-9._~-]) as %XX. One spelling for room ids in Redis keys and in
 * admin URLs, so no id can break either; and decoding, for request targets. */
#ifndef ROOMD_PERCENT_H
#define ROOMD_PERCENT_H

#include <stddef.h>

/* Appends s[0..len) encoded to out at out[n], within cap bytes (what does not fit is cut, the
 * text stays NUL-terminated); returns the new length. */
size_t percent_encode(const char *s, size_t len, char *out, size_t n, size_t cap);

/* Decodes s[0..len) into out (cap bytes, NUL-terminated): each %XX becomes its byte, every other
 * byte (a '+' included) stays. Returns the decoded length, or -1 when an escape is malformed or
 * the result does not fit. */
long percent_decode(const char *s, size_t len, char *out, size_t cap);

#endif
