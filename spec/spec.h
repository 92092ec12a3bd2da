/* spec: `roomd test`, the test runner for room scripts (docs/testing-rooms.md).
 * It loads the config's namespaces on the harness (harness.h), runs each
 * spec file in a Lua state of its own with spec/prelude.lua's describe, it
 * and expect, and prints one line per test and then "N passed, N failed". */
#ifndef ROOMD_SPEC_H
#define ROOMD_SPEC_H

/* Runs `roomd test [--conf FILE] [--redis URL] [--set NAME=VALUE]... SPEC.lua...`: argv[0] is
 * "test"; default_conf is the config used without --conf. Returns the exit status: 0 when
 * every test passed, 1 when one failed or the run could not start, 2 for a usage error. */
int spec_main(int argc, char **argv, const char *default_conf);

#endif
