/* Unit tests for base/base64.c: RFC 4648's test vectors both ways, every byte value through a
 * round trip, and refusals of text that is not base64 (bad length, bad character, padding in
 * the middle). */
#include "base64.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static void vector(int line, const char *plain, const char *coded) {
    char *enc = base64_encode(plain, strlen(plain));
    size_t n = 0;
    char *dec = base64_decode(coded, strlen(coded), &n);
    check_report(enc && strcmp(enc, coded) == 0, line, plain, "encoded '%s', want '%s'",
                 enc ? enc : "(null)", coded);
    check_report(dec && n == strlen(plain) && memcmp(dec, plain, n) == 0, line, coded,
                 "decoded %zu bytes", n);
    free(enc);
    free(dec);
}

int main(void) {
    vector(__LINE__, "", "");
    vector(__LINE__, "f", "Zg==");
    vector(__LINE__, "fo", "Zm8=");
    vector(__LINE__, "foo", "Zm9v");
    vector(__LINE__, "foob", "Zm9vYg==");
    vector(__LINE__, "fooba", "Zm9vYmE=");
    vector(__LINE__, "foobar", "Zm9vYmFy");
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *enc = base64_encode(all, sizeof all);
    size_t n;
    char *dec = base64_decode(enc, strlen(enc), &n);
    CHECK(dec && n == 256 && memcmp(dec, all, 256) == 0);
    free(enc);
    free(dec);
    CHECK(base64_decode("Zg=", 3, &n) == NULL);
    CHECK(base64_decode("Zg!=", 4, &n) == NULL);
    CHECK(base64_decode("Z=g=", 4, &n) == NULL);
    CHECK(base64_decode("Zm9v\n", 5, &n) == NULL);
    return check_summary("test_base64");
}
