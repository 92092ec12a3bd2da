/* room_lua: what room scripts see of the runtime: the `room` table's
 * fields and methods, `conn` objects, and the `req` table.
 *
 * A room's table and each conn object point at their C object through a
 * box that is cleared when the C object goes, so a script that keeps one
 * past its life gets an error, never a dangling pointer. Functions marked
 * "may raise" run only inside a turn (lvm_run) or a protected call. */
#ifndef ROOMD_ROOM_LUA_H
#define ROOMD_ROOM_LUA_H

#include <lua.h>

struct ns;
struct room;
struct conn;
struct request;

/* Registers the metatables of rooms and conns in L. May raise. */
void room_lua_open(lua_State *L);

/* Creates the room's table (r->self_ref). Returns 0, or -1 on out-of-memory. Never raises. */
int room_lua_new_self(lua_State *L, struct room *r);

/* Cuts the room's table off from r and drops the reference. Never raises. */
void room_lua_forget_room(lua_State *L, struct room *r);

/* Pushes c's Lua object, creating it on first use. May raise. */
void room_lua_push_conn(lua_State *L, struct conn *c);

/* Cuts c's Lua object off from c and drops the reference. Never raises. L NULL: the VM was
 * replaced (a reload), so only c's side is cleared. */
void room_lua_forget_conn(lua_State *L, struct conn *c);

/* Pushes the `req` table for req. May raise. */
void room_lua_push_request(lua_State *L, struct request *req, int json_depth);

/* Reads a request handler's nres results from the top of L's stack into req's response.
 * May raise (a malformed response is the handler's error). */
void room_lua_take_response(lua_State *L, struct request *req, int nres, int json_depth);

#endif
