/* utf8: validating UTF-8 text. */
#ifndef ROOMD_UTF8_H
#define ROOMD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (2..4) of the valid multi-byte sequence at s[0..n), or 0 when s[0] does not start
 * one (an ASCII byte included). */
size_t utf8_sequence(const unsigned char *s, size_t n);

/* Whether s[0..len) is valid UTF-8 throughout. */
bool utf8_valid(const char *s, size_t len);

#endif
