/* limit_spec: the one table of roomd's limits (struct limits, rooms/room_limits.h): each one's
 * config name, default, bounds and what happens when it is hit. config.c reads the config's
 * `limits` through it, `roomd --limits` prints it as the Markdown table docs/lua-api.md holds
 * (a test checks they agree), and a unit test checks conf/default.lua against its defaults. */
#ifndef ROOMD_LIMIT_SPEC_H
#define ROOMD_LIMIT_SPEC_H

#include "room_limits.h"

#include <stddef.h>
#include <stdio.h>

enum limit_type { LIMIT_SIZE, LIMIT_INT, LIMIT_LONG };

struct limit_spec {
    const char *name;
    size_t offset; /* in struct limits */
    enum limit_type type;
    double def, min, max;
    const char *effect; /* what happens when it is hit, for the docs */
};

#define LIMIT_SPEC_MAX 32 /* entries limit_specs may hold */

/* Every limit, ended by an entry whose name is NULL. */
extern const struct limit_spec limit_specs[];

/* Sets field spec in lim to v (already within its bounds). */
void limit_spec_set(struct limits *lim, const struct limit_spec *spec, double v);

/* The value of field spec in lim. */
double limit_spec_get(const struct limits *lim, const struct limit_spec *spec);

/* Every limit at its default. */
void limit_spec_defaults(struct limits *lim);

/* The table as Markdown: name, default, what happens when it is hit. */
void limit_spec_print_markdown(FILE *out);

#endif
