/* percent: see percent.h. */
#include "percent.h"

size_t percent_encode(const char *s, size_t len, char *out, size_t n, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '~' || c == '-') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    if (n < cap)
        out[n] = '\0';
    return n;
}
