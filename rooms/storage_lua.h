/* storage_lua: `room.storage` in the namespace VM (rooms/storage.lua, built
 * into the binary), and the hand-over of a room's stored entries to it and
 * of a turn's writes from it. */
#ifndef ROOMD_STORAGE_LUA_H
#define ROOMD_STORAGE_LUA_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

struct lvm;
struct room;

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

/* Loads storage.lua into the VM and keeps its constructor (*ctor_ref). 0 or -1 with err. */
int storage_lua_open(struct lvm *vm, int *ctor_ref, char *err, size_t errlen);

/* Gives r its storage over entries[0..n) and its alarm (0: none). Returns 0, or -1 on
 * out-of-memory. Never raises. */
int storage_lua_new(struct lvm *vm, int ctor_ref, struct room *r, const struct storage_entry *e,
                    int n, double alarm);

/* Sets r's alarm to when (ms since the epoch), as storage:set_alarm would, outside a turn: the
 * next checkpoint stores it. Returns 0 or -1 on out-of-memory. Never raises. */
int storage_lua_set_alarm(struct lvm *vm, struct room *r, double when);

/* Pushes r's storage object. */
void storage_lua_push(lua_State *L, const struct room *r);

/* Moves the writes made since the last call into w (empty when none). Returns 0, or -1 on
 * out-of-memory (the writes stay). Never raises. */
int storage_lua_take_writes(struct lvm *vm, struct room *r, struct storage_writes *w);

void storage_writes_free(struct storage_writes *w);

/* Drops r's storage object. Never raises. */
void storage_lua_forget(struct lvm *vm, struct room *r);

#endif
