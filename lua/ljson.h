/* ljson: the bridge between JSON text and Lua values, and the `json` module room scripts see.
 *
 * A direct codec with no intermediate tree: decoding parses the text straight into Lua values,
 * encoding writes a Lua value straight into a malloc()ed buffer, each inside a protected call so
 * that a Lua error (out of memory) cannot leak. It accepts and writes what the Jansson-backed
 * codec it replaced did (see the top of ljson.c). Decoded arrays and objects carry one of two
 * shared marker metatables, so `[]` and `{}` survive a round trip; `json.null` is a light
 * userdata holding NULL. The mapping is documented in docs/lua-api.md, section "JSON". Tables are
 * read raw: metamethods are never called.
 *
 * ljson_open must run once on a lua_State before anything else here is used on it. */
#ifndef ROOMD_LJSON_H
#define ROOMD_LJSON_H

#include <lua.h>
#include <stddef.h>

/* The nesting limit json.encode and json.decode use until ljson_set_max_depth changes it. */
#define LJSON_DEFAULT_MAX_DEPTH 64

/* Registers the marker metatables and the `json.null` sentinel in L's registry and leaves the
 * `json` module table (null, encode, decode, array, object, is_array, is_object) on the stack.
 * Call once per lua_State, inside a protected call (it may raise on out-of-memory). A second
 * call reuses what the first registered and pushes a new module table. */
void ljson_open(lua_State *L);

/* Sets the nesting limit json.encode and json.decode use in L (all of its threads). Does nothing
 * if ljson_open was not called on L. Never raises. */
void ljson_set_max_depth(lua_State *L, int depth);

/* Bounds the encoder on L (all of its threads): every 256 tables it asks over(L), which must not
 * raise, whether to stop (then it fails with "CPU limit"), and it writes at most max_bytes of
 * text (0: no limit). A value that shares a table many times over encodes each use in full, so
 * a few kilobytes of Lua can ask for exabytes of JSON. Does nothing if ljson_open was not called
 * on L. Never raises. */
void ljson_set_budget(lua_State *L, int (*over)(lua_State *L), size_t max_bytes);

/* Parses `len` bytes of JSON text and pushes the Lua value. Returns 0 with one value pushed, or -1
 * with nothing pushed and a human-readable reason in err (invalid JSON, invalid UTF-8, nesting
 * deeper than max_depth, out of memory). Never raises: parsing runs inside a protected call, and
 * the scratch buffer it may malloc() is freed after that call, a raise or not. Any JSON
 * value is accepted at the top level (object, array, string, number, true, false, null). JSON
 * integers decode as lua_Number (rounded past 2^53; only numbers past the double range are
 * refused). Like the Jansson parser this replaced, it stops at 2048 levels whatever max_depth
 * says (a scalar inside 2048 arrays counts as level 2049), and refuses "\u0000" inside object
 * keys. Uses up to 3 free stack slots, and does not call lua_checkstack (which raises in our
 * LuaJIT). */
int ljson_decode(lua_State *L, const char *text, size_t len, int max_depth, char *err,
                 size_t errlen);

/* Encodes the Lua value at stack index idx as compact JSON. Returns a malloc()ed buffer (caller
 * frees with free(); it is also NUL-terminated) and its length in *len, or NULL with the reason
 * in err (a function, userdata other than json.null, a cycle or nesting deeper than max_depth,
 * NaN/inf, a non-UTF-8 string, a table key that is not a string or number, a mixed table). A
 * mixed table is one marked as an array whose keys are not exactly 1..n; an unmarked or
 * object-marked table may mix keys, but two of them must not write the same text (`1` and "1"),
 * and a key may not hold a NUL byte (it could not be decoded again). `nil` encodes as null. Never
 * raises. Leaves the stack as it found it; uses up to 3 free slots. */
char *ljson_encode(lua_State *L, int idx, int max_depth, size_t *len, char *err, size_t errlen);

enum ljson_mark {
    LJSON_ARRAY,  /* encodes as a JSON array; keys must be exactly 1..n */
    LJSON_OBJECT, /* encodes as a JSON object, even when empty or keyed 1..n */
};

/* Marks the table at idx as json.array / json.object do, replacing any metatable it had, for C
 * code building values that must encode a given way (an empty list of tags, say). Returns 0, or
 * -1 if the value is not a table or ljson_open was not called. Never raises. */
int ljson_mark(lua_State *L, int idx, enum ljson_mark mark);

#endif
