/* Unit tests for rooms/room_store.c: the Redis key of a room's storage, and that no room id
 * can name another room's key or break out of the hash tag. */
#include "room_store.h"

#include "check.h"

static void key_of(const char *ns, const char *id, size_t len, char *out, size_t outlen) {
    room_store_key(ns, id, len, out, outlen);
}

int main(void) {
    const char *ns = "vote";
    char a[1024], b[1024];
    key_of(ns, "berlin", 6, a, sizeof a);
    CHECK_STR(a, "rd:{vote:berlin}:kv");
    key_of(ns, "a:b", 3, a, sizeof a);
    CHECK_STR(a, "rd:{vote:a%3Ab}:kv");
    key_of(ns, "a%3Ab", 5, b, sizeof b);
    CHECK_STR(b, "rd:{vote:a%253Ab}:kv");
    key_of(ns, "x}:kv", 5, a, sizeof a);
    CHECK_STR(a, "rd:{vote:x%7D%3Akv}:kv");
    key_of(ns, "{y}", 3, a, sizeof a);
    CHECK_STR(a, "rd:{vote:%7By%7D}:kv");
    key_of(ns, "a b\xff", 4, a, sizeof a);
    CHECK_STR(a, "rd:{vote:a%20b%FF}:kv");
    key_of(ns, "Az09._~-", 8, a, sizeof a);
    CHECK_STR(a, "rd:{vote:Az09._~-}:kv");
    char id[256];
    memset(id, 0xfe, sizeof id);
    key_of(ns, id, sizeof id, a, sizeof a);
    CHECK_INT(strlen(a), strlen("rd:{vote:}:kv") + 3 * sizeof id);
    key_of("counter", "berlin", 6, a, sizeof a);
    CHECK_STR(a, "rd:{counter:berlin}:kv");
    return check_summary("room_store");
}
