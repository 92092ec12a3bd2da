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
#define STORAGE_ALARMS_MAX 1000        /* alarms a room holds at once */
#define STORAGE_ALARM_NAME_MAX 256     /* bytes of an alarm's name ("" is the unnamed alarm) */
#define STORAGE_ALARM_PAYLOAD_MAX 4096 /* bytes of an alarm's payload, encoded */

/* One stored entry, or one write of a turn (value NULL: a deletion). */
struct storage_entry {
    const char *key, *value;
    size_t key_len, value_len;
};

/* One alarm of a turn's writes: its name, its time (ms since the epoch; 0: deleted) and its
 * encoded extras (payload, period, retries; NULL: none). */
struct storage_alarm {
    const char *name, *data;
    size_t name_len, data_len;
    double time;
};

/* A room's alarms as loaded: each alarm's time (key: its name, value: the time as decimal text),
 * the extras of those that have any (key: name, value: encoded), and an alarm stored before
 * named alarms in the meta hash (legacy: its time, 0 when none). */
struct storage_alarms {
    const struct storage_entry *times, *data;
    int n_times, n_data;
    double legacy;
    int legacy_retries;
};

/* The writes of one turn, copied out of Lua. */
struct storage_writes {
    bool cleared;        /* delete_all: everything stored goes first */
    bool alarms_changed; /* an alarm was set or deleted: alarms[0..n_alarms) and next_alarm */
    bool legacy_alarm;   /* the meta hash's alarm (stored before named alarms) is removed */
    double next_alarm;   /* the room's earliest alarm after the turn, 0 when none */
    int n, n_alarms;
    struct storage_entry *entries; /* keys and values are malloc()ed */
    struct storage_alarm *alarms;  /* names and extras are malloc()ed */
};

/* How an alarm turn ended for its alarm (storage_lua_alarm_done). */
enum storage_alarm_end {
    STORAGE_ALARM_NONE,    /* no alarm ran */
    STORAGE_ALARM_DONE,    /* it ran (a repeating one is armed again) */
    STORAGE_ALARM_RETRIED, /* it failed and runs again later (alarm_retry_at) */
    STORAGE_ALARM_DROPPED, /* it failed once too often */
};

/* Loads storage.lua into the VM and keeps the storage objects' metatable (*ctor_ref). 0 or -1
 * with err. */
int storage_lua_open(struct lvm *vm, int *ctor_ref, char *err, size_t errlen);

/* Gives r its storage over entries[0..n) and alarms (NULL: none). Returns 0, or -1 on
 * out-of-memory. Never raises. */
int storage_lua_new(struct lvm *vm, int ctor_ref, struct room *r, const struct storage_entry *e,
                    int n, const struct storage_alarms *alarms);

/* Takes r's first alarm due by now_ms (deleted from storage with the turn's checkpoint) and
 * pushes the alarm handler's info {name =, payload =, retry_count =}; pushes nothing and
 * returns false when none is due. Runs in r's turn: MAY RAISE (out of memory). */
bool storage_lua_take_due_alarm(lua_State *co, struct room *r, double now_ms);

/* After r's alarm turn (ok: its handler did not raise): the alarm it ran is retried, dropped or,
 * when repeating, armed again, all stored with the turn's checkpoint; *more_due says whether
 * another alarm is due already. Never raises. */
enum storage_alarm_end storage_lua_alarm_done(struct lvm *vm, struct room *r, bool ok,
                                              bool *more_due);

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
