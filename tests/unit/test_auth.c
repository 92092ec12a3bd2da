/* Unit tests for server/auth.c: tokens made with libjwt's own encoder (HS256 with a secret,
 * RS256 and ES256 with the key pairs in tests/keys/) are accepted with their claims; refused
 * are a missing, malformed, truncated or re-signed token, one signed with another algorithm
 * (HS256 with the RS256 public key as its secret: the confusion attack; "none"), expired,
 * not yet valid (each at the leeway's edge), from another issuer or for another audience. */
#include "auth.h"
#include "check.h"

#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000000LL
#define SECRET "0123456789abcdef0123456789abcdef"

static char *read_key(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    static char buf[16384];
    *len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[*len] = '\0';
    return buf;
}

/* A token for claims (JSON), signed with alg and key. */
static char *token(jwt_alg_t alg, const char *key, size_t key_len, const char *claims) {
    jwt_t *jwt;
    jwt_new(&jwt);
    jwt_add_grants_json(jwt, claims);
    jwt_set_alg(jwt, alg, alg == JWT_ALG_NONE ? NULL : (const unsigned char *)key, (int)key_len);
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    return t;
}

static void expect(int line, const struct auth_config *a, const char *tok, const char *why_part) {
    char *claims = NULL, why[128] = "";
    struct auth_window w;
    int rc = auth_check(a, tok, tok ? strlen(tok) : 0, NOW, &claims, &w, why, sizeof why);
    if (!why_part)
        check_report(rc == 0 && claims, line, "auth_check", "refused: %s", why);
    else
        check_report(rc != 0 && strstr(why, why_part), line, "auth_check",
                     "rc %d, why '%s', want a refusal with '%s'", rc, why, why_part);
    free(claims);
}

static struct auth_config hs256(void) {
    struct auth_config a = {.required = true, .alg = JWT_ALG_HS256, .leeway_s = 30};
    setenv("ROOMD_TEST_SECRET", SECRET, 1);
    char err[128];
    CHECK_INT(auth_load_key(&a, "ROOMD_TEST_SECRET", NULL, err, sizeof err), 0);
    return a;
}

static void test_hs256(void) {
    struct auth_config a = hs256();
    char *ok = token(JWT_ALG_HS256, SECRET, strlen(SECRET), "{\"sub\":\"ada\",\"n\":[1,2]}");
    char *claims = NULL, why[128];
    struct auth_window w;
    CHECK_INT(auth_check(&a, ok, strlen(ok), NOW, &claims, &w, why, sizeof why), 0);
    CHECK_HAS(claims, "\"sub\":\"ada\"");
    CHECK(w.from < -1e299 && w.until > 1e299); /* neither exp nor nbf: always */
    free(claims);
    expect(__LINE__, &a, NULL, "missing");
    expect(__LINE__, &a, "not.a.token", "token");
    expect(__LINE__, &a, "abc", "token");
    ok[strlen(ok) - 2] ^= 1; /* a flipped bit in the signature */
    expect(__LINE__, &a, ok, "token");
    ok[strlen(ok) - 2] ^= 1;
    ok[strlen(ok) - 10] = '\0'; /* truncated */
    expect(__LINE__, &a, ok, "token");
    free(ok);
    char *other =
        token(JWT_ALG_HS256, "another secret of thirty-two bytes!", 35, "{\"sub\":\"x\"}");
    expect(__LINE__, &a, other, "token");
    free(other);
    char *none = token(JWT_ALG_NONE, NULL, 0, "{\"sub\":\"x\"}");
    expect(__LINE__, &a, none, "token");
    free(none);
    auth_config_free(&a);
}

static void test_times(void) {
    struct auth_config a = hs256();
    char claims[128];
    static const struct {
        const char *fmt;
        long long at;
        const char *why;
    } cases[] = {
        {"{\"exp\":%lld}", NOW - 30, NULL},      /* expired, within the leeway */
        {"{\"exp\":%lld}", NOW - 31, "expired"}, /* past it */
        {"{\"nbf\":%lld}", NOW + 30, NULL},      /* not yet, within the leeway */
        {"{\"nbf\":%lld}", NOW + 31, "not valid yet"},
        {"{\"exp\":\"%lld\"}", NOW + 100, "expired"}, /* exp must be a number */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(claims, sizeof claims, cases[i].fmt, cases[i].at);
        char *t = token(JWT_ALG_HS256, SECRET, strlen(SECRET), claims);
        expect(__LINE__ * 1000 + (int)i, &a, t, cases[i].why);
        free(t);
    }
    auth_config_free(&a);
}

static void test_issuer_audience(void) {
    struct auth_config a = hs256();
    a.issuer = strdup("https://id.example");
    a.audience = strdup("roomd");
    static const struct {
        const char *claims, *why;
    } cases[] = {
        {"{\"iss\":\"https://id.example\",\"aud\":\"roomd\"}", NULL},
        {"{\"iss\":\"https://id.example\",\"aud\":[\"x\",\"roomd\"]}", NULL},
        {"{\"iss\":\"https://evil.example\",\"aud\":\"roomd\"}", "issuer"},
        {"{\"aud\":\"roomd\"}", "issuer"},
        {"{\"iss\":\"https://id.example\",\"aud\":\"other\"}", "audience"},
        {"{\"iss\":\"https://id.example\",\"aud\":[\"other\"]}", "audience"},
        {"{\"iss\":\"https://id.example\"}", "audience"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = token(JWT_ALG_HS256, SECRET, strlen(SECRET), cases[i].claims);
        expect(__LINE__ * 1000 + (int)i, &a, t, cases[i].why);
        free(t);
    }
    auth_config_free(&a);
}

static void test_public_keys(const char *name, jwt_alg_t alg) {
    char path[256], err[128];
    size_t len;
    struct auth_config a = {.required = true, .alg = (int)alg};
    snprintf(path, sizeof path, "tests/keys/%s.pub", name);
    CHECK_INT(auth_load_key(&a, NULL, path, err, sizeof err), 0);
    snprintf(path, sizeof path, "tests/keys/%s.key", name);
    const char *priv = read_key(path, &len);
    char *ok = token(alg, priv, len, "{\"sub\":\"pk\"}");
    expect(__LINE__, &a, ok, NULL);
    free(ok);
    /* the confusion attack: HS256 with the public key as the HMAC secret */
    char *forged = token(JWT_ALG_HS256, a.key, a.key_len, "{\"sub\":\"mallory\"}");
    expect(__LINE__, &a, forged, "algorithm");
    free(forged);
    auth_config_free(&a);
}

static void test_config_errors(void) {
    char err[128];
    struct auth_config a = {.alg = JWT_ALG_HS256};
    unsetenv("ROOMD_TEST_UNSET");
    CHECK_INT(auth_load_key(&a, "ROOMD_TEST_UNSET", NULL, err, sizeof err), -1);
    CHECK_HAS(err, "not set");
    setenv("ROOMD_TEST_SHORT", "short", 1);
    CHECK_INT(auth_load_key(&a, "ROOMD_TEST_SHORT", NULL, err, sizeof err), -1);
    CHECK_HAS(err, "32 bytes");
    CHECK_INT(auth_load_key(&a, NULL, NULL, err, sizeof err), -1);
    a.alg = JWT_ALG_RS256;
    CHECK_INT(auth_load_key(&a, NULL, "tests/keys/absent.pub", err, sizeof err), -1);
    CHECK_HAS(err, "cannot read");
    CHECK_INT(auth_alg_parse("none"), 0);
    CHECK_INT(auth_alg_parse("HS256"), JWT_ALG_HS256);
    auth_config_free(&a);
}

int main(void) {
    test_hs256();
    test_times();
    test_issuer_audience();
    test_public_keys("rs256", JWT_ALG_RS256);
    test_public_keys("es256", JWT_ALG_ES256);
    test_config_errors();
    return check_summary("test_auth");
}
