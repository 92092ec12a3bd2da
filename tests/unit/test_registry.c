/* Unit tests for rooms/registry.c: a room is found by exactly its namespace and id bytes (ids
 * that differ after a NUL byte, by one byte at the end, or only in their namespace are other
 * rooms), limits.max_rooms refuses new rooms but not live ones, and every room stays findable
 * while the table grows past several doublings and after removals. */
#include "check.h"
#include "ns_internal.h"
#include "registry.h"
#include "room_internal.h"
#include "room_limits.h"

#include <stdio.h>
#include <string.h>

static struct limits limits = {.max_rooms = 20000, .vm_memory_bytes = 0, .json_depth = 64};

static struct ns *make_ns(const char *name) {
    char err[256], path[PATH_MAX];
    FILE *f = fopen(scratch_path(path, "r.lua"), "w");
    fputs("return {}\n", f);
    fclose(f);
    struct ns *ns = ns_new(name, path, NULL, "node", &limits, err, sizeof err);
    if (!ns)
        fprintf(stderr, "ns_new: %s\n", err);
    return ns;
}

static void test_identity(struct ns *a, struct ns *b) {
    struct room *r1 = registry_get(a, "x\0y", 3), *r2 = registry_get(a, "x\0z", 3);
    struct room *r3 = registry_get(a, "x", 1), *r4 = registry_get(b, "x", 1);
    CHECK(r1 && r2 && r3 && r4);
    CHECK(r1 != r2 && r1 != r3 && r3 != r4);
    CHECK(registry_get(a, "x\0y", 3) == r1);
    CHECK(registry_find(b, "x\0y", 3) == NULL);
    CHECK(registry_find(a, "x\0", 2) == NULL);
    CHECK_INT(registry_count(), 4);
    registry_remove(r2);
    room_free(r2);
    CHECK(registry_find(a, "x\0z", 3) == NULL);
    CHECK(registry_find(a, "x\0y", 3) == r1);
    CHECK_INT(registry_count(), 3);
}

static void test_growth_and_limit(struct ns *a) {
    char id[32];
    size_t before = registry_count();
    for (size_t i = before; i < limits.max_rooms; i++) {
        int n = snprintf(id, sizeof id, "room-%zu", i);
        if (!registry_get(a, id, (size_t)n))
            break;
    }
    CHECK_INT(registry_count(), limits.max_rooms);
    CHECK(registry_get(a, "one-too-many", 12) == NULL);
    CHECK(registry_get(a, "x", 1) != NULL); /* a live room is still had */
    int missing = 0;
    for (size_t i = before; i < limits.max_rooms; i++) {
        int n = snprintf(id, sizeof id, "room-%zu", i);
        struct room *r = registry_find(a, id, (size_t)n);
        missing += !r || r->id_len != (size_t)n || memcmp(r->id, id, (size_t)n) != 0;
    }
    CHECK_INT(missing, 0);
}

int main(void) {
    struct ns *a = make_ns("a"), *b = make_ns("b");
    CHECK(a && b);
    if (a && b) {
        test_identity(a, b);
        test_growth_and_limit(a);
    }
    registry_free_all();
    CHECK_INT(registry_count(), 0);
    ns_free(a);
    ns_free(b);
    scratch_remove();
    return check_summary("test_registry");
}
