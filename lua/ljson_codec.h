/* ljson_codec: what the three files of the JSON bridge share, and nothing else may use.
 *
 * ljson.c owns the per-state data, the registry and the protected calls; ljson_decode.c and
 * ljson_encode.c each hold one direction of the codec and run inside ljson__run_protected.
 * Functions here are internal (the double underscore); the API is ljson.h. */
#ifndef ROOMD_LJSON_CODEC_H
#define ROOMD_LJSON_CODEC_H

#include <lua.h>
#include <stddef.h>

#define LJSON__MAX_EXACT_INTEGER 9007199254740992.0 /* 2^53 */

/* Per-lua_State data: a userdata anchored in the registry and shared by all threads of L. */
struct ljson_state {
    int max_depth;             /* the limit of json.encode and json.decode */
    const void *array_mt;      /* identities of the marker metatables, for cheap comparison */
    const void *object_mt;     /* (tables do not move in LuaJIT, and the registry anchors them) */
    void *call;                /* the arguments of the worker or string push in progress */
    int (*over)(lua_State *L); /* the encoder's budget (ljson_set_budget), or NULL */
    size_t max_bytes;          /* the longest text the encoder writes, 0: no limit */
};

/* Where a failing call writes its reason; only the first reason is kept. */
struct errbuf {
    char *buf;
    size_t len;
    int set;
};

enum ljson__worker { LJSON__DECODE, LJSON__ENCODE };

/* Records the reason (printf-style) unless one is already set. Returns -1. */
int ljson__fail(struct errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Calls the decode or encode worker with L's state as argument 1 (its `call` set to call) and,
 * when arg_idx is not 0, the value at arg_idx (absolute) as argument 2. Returns 0 with nres
 * results pushed, or -1 with nothing pushed and the reason in e (the worker's own reason, or the
 * Lua error). [-0, +nres|0] */
int ljson__run_protected(lua_State *L, enum ljson__worker which, void *call, struct errbuf *e,
                         int arg_idx, int nres);

/* Whether the 8 bytes at s are all printable ASCII other than '"' and '\\': string content that
 * needs no escape either way. */
int ljson__plain8(const unsigned char *s);

/* The protected workers (ljson_decode.c, ljson_encode.c), registered by ljson_open. May raise. */
int ljson__decode_worker(lua_State *L);
int ljson__encode_worker(lua_State *L);

#endif
