/* storage_lua: `room.storage` in the namespace VM (its methods in
 * rooms/storage.lua, built into the binary; its state hidden from scripts),
 * and the hand-over of a room's stored entries to it and of a turn's writes
 * from it. A storage object works only in its own room's turns. */
#ifndef ROOMD_STORAGE_LUA_H
#define ROOMD_STORAGE_LUA_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lvm;
struct room;

/* The limits of storage calls (docs/lua-api.md): storage.lua raises on them at the call, and the
 * turn's writes are checked against them once more when they are taken. */
#define STORAGE_KEY_MAX 2048
#define STORAGE_VALUE_MAX 131072
#define STORAGE_KEYS_PER_CALL 128

/* One stored entry, or one write of a turn (value NULL: a deletion). */
struct storage_entry {
    const char *key, *value;
    size_t key_len, value_len;
};

/* The writes of one turn, copied out of Lua. */
struct storage_writes {
    bool cleared;       /* delete_all: everything stored goes first */
    bool alarm_changed; /* the alarm was set or deleted */
    double alarm;       /* its new time in ms since the epoch, 0 when deleted */
    int n;
    struct storage_entry *entries; /* keys and values are malloc()ed */
};

/* Loads storage.lua into the VM and keeps the storage objects' metatable (*ctor_ref). 0 or -1
 * with err. */
int storage_lua_open(struct lvm *vm, int *ctor_ref, char *err, size_t errlen);

/* Gives r its storage over entries[0..n) and its alarm (0: none). Returns 0, or -1 on
 * out-of-memory. Never raises. */
int storage_lua_new(struct lvm *vm, int ctor_ref, struct room *r, const struct storage_entry *e,
                    int n, double alarm);

/* Sets r's alarm to when (ms since the epoch), as storage:set_alarm would, outside a turn: the
 * next checkpoint stores it. Returns 0 or -1 on out-of-memory. Never raises. */
int storage_lua_set_alarm(struct lvm *vm, struct room *r, double when);

/* r's alarm time (ms since the epoch), or 0 when it has none. Never raises. */
double storage_lua_alarm(lua_State *L, const struct room *r);

/* Deletes r's alarm, as storage:delete_alarm would (the next checkpoint stores that). Never
 * raises. */
void storage_lua_clear_alarm(lua_State *L, struct room *r);

/* Pushes r's storage object. */
void storage_lua_push(lua_State *L, const struct room *r);

/* Moves the writes made since the last call into w (empty when none). Returns 0, or -1 (logged)
 * on out-of-memory or when a write breaks a limit (then nothing of the turn may be stored).
 * Never raises. */
int storage_lua_take_writes(struct lvm *vm, struct room *r, struct storage_writes *w);

void storage_writes_free(struct storage_writes *w);

/* Adds the keys r's scripts read since the last call to *reads (and starts again from zero), and
 * sets *bytes to what its storage holds (keys and values). Does nothing if r has no storage. */
void storage_lua_take_usage(struct lvm *vm, const struct room *r, uint64_t *reads, int64_t *bytes);

/* The stored value bytes[0..len) as JSON text (malloc()ed, its length in *out_len), or NULL when
 * JSON cannot carry it (then only its bytes can be exported) or it is not a value the codec
 * wrote (*decodable false). Never raises. */
char *storage_lua_value_json(struct lvm *vm, const char *bytes, size_t len, size_t *out_len,
                             bool *decodable);

/* The stored bytes (malloc()ed) of the value that JSON text json[0..len) describes, as a put of
 * it would store them; NULL with the reason in err. Never raises. */
char *storage_lua_value_bytes(struct lvm *vm, const char *json, size_t len, size_t *out_len,
                              char *err, size_t errlen);

/* Drops r's storage object; a script that kept it gets an error using it. Never raises. */
void storage_lua_forget(struct lvm *vm, struct room *r);

#endif
