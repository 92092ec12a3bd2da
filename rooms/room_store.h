/* room_store: a room's storage in Redis. Layout (all keys of a room share a
 * hash tag, so Redis Cluster keeps them in one slot):
 *
 *     rd:{<ns>:<escaped id>}:kv          hash: storage key -> encoded value
 *     rd:{<ns>:<escaped id>}:meta        hash: "epoch" -> activations so far (before named
 *                                        alarms also "alarm" -> the one alarm's time and
 *                                        "retries"; a room still holding those moves them
 *                                        into its alarm set with its next checkpoint)
 *     rd:{<ns>:<escaped id>}:alarms      sorted set: alarm name -> its next time (ms since
 *                                        the epoch); "" is the unnamed alarm
 *     rd:{<ns>:<escaped id>}:alarm_data  hash: alarm name -> its extras (payload, every_ms,
 *                                        failed runs, the period a retry belongs to), encoded
 *                                        like storage values; absent when it has none
 *     rd:alarms                          sorted set: "<ns>:<escaped id>" by the room's
 *                                        EARLIEST alarm: one member per room, however many
 *                                        alarms it has, so the poller's cost does not grow
 *                                        with them
 *
 * A room's alarms are loaded with it and kept in memory (storage_lua.h); each checkpoint that
 * changes them writes the changed names and the room's member in rd:alarms in its MULTI/EXEC.
 * The id is escaped (bytes other than [A-Za-z0-9._~-] as %XX), so no id can
 * name another room's keys or break the hash tag. Replies come back to the
 * room through a ticket holding its namespace, id and generation, never a
 * pointer to it: a room evicted or restarted meanwhile is not touched.
 * Each activation takes the next epoch (the stored one + 1), written by its
 * first checkpoint; loading writes nothing, so a room that never stores
 * leaves nothing in Redis.
 *
 * In cluster mode (lease.h) a load is one roomd_acquire call, which takes the
 * room's lease (rd:{<ns>:<escaped id>}:lease, and :want) and reads the room,
 * and every checkpoint is one roomd_commit call (rooms/lease.lua): the same
 * commands, refused as a whole unless the lease still holds the activation's
 * "<node> <epoch>". */
#ifndef ROOMD_ROOM_STORE_H
#define ROOMD_ROOM_STORE_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>

struct room;
struct storage_entry;
struct storage_writes;

/* Whether rooms are stored at all (false: memory only, e.g. in unit tests). */
bool room_store_enabled(void);

/* Writes the Redis key of the storage hash of room <ns, id> into out. */
void room_store_key(const char *ns, const char *id, size_t id_len, char *out, size_t len);

/* Writes the room's other key rd:{<ns>:<escaped id>}:<suffix> ("meta", "lease", ...) into out. */
void room_store_sibling(const char *ns, const char *id, size_t id_len, const char *suffix,
                        char *out, size_t len);

/* The key of the sorted set of every room's alarm. */
#define ROOM_STORE_ALARMS "rd:alarms"

/* Writes "<ns>:<escaped id>", the room's member in ROOM_STORE_ALARMS, into out. */
void room_store_member(const char *ns, const char *id, size_t id_len, char *out, size_t len);

/* Splits a member back into its namespace name and (unescaped) id. Returns 0, or -1 when it is
 * not one room_store_member makes. */
int room_store_parse_member(const char *member, size_t len, char *ns, size_t ns_cap, char *id,
                            size_t *id_len, size_t id_cap);

/* Splits a key room_store_key made (a room's kv or meta key) into namespace and id. Returns 0,
 * or -1 when it is not one. */
int room_store_parse_key(const char *key, size_t len, char *ns, size_t ns_cap, char *id,
                         size_t *id_len, size_t id_cap);

/* The admin API's reads and deletes (server/admin.c). Each sends its commands at once and
 * hands fn the reply (NULL: no storage); 0, or -1 when nothing could be sent.
 *   room_store_scan: one SCAN step over rooms' meta keys (every room that ever stored has one)
 *     of namespace ns (NULL: all) whose id starts with prefix[0..prefix_len).
 *   room_store_stats: MULTI, then per room HLEN kv, MEMORY USAGE kv, ZSCORE rd:alarms (its
 *     earliest alarm), EXISTS meta; EXEC: 4 replies a room.
 *   room_store_delete: the room's keys and its alarms, in one transaction.
 *   room_store_export: MULTI, HGETALL kv, ZSCORE alarms "" (the unnamed alarm), HGET meta alarm
 *     (the same, stored before named alarms), EXEC.
 *   room_store_import: the room's storage replaced by entries[0..n) and all its alarms by the
 *     unnamed alarm at alarm (0: none), in one transaction (MULTI, DEL, HSET, the alarm's
 *     writes, EXEC).
 * In cluster mode delete and import are one roomd_commit call instead, refused (see
 * room_store_refused) while any node holds the room's lease; its reply is the array of every
 * command's reply (delete: DEL of each of the 4 keys, then ZREM). */
struct store_room {
    const char *ns, *id;
    size_t id_len;
};
int room_store_scan(const char *cursor, const char *ns, const char *prefix, size_t prefix_len,
                    int count, store_reply_fn *fn, void *arg);
int room_store_stats(const struct store_room *rooms, int n, store_reply_fn *fn, void *arg);
int room_store_delete(const char *ns, const char *id, size_t id_len, store_reply_fn *fn, void *arg);
int room_store_export(const char *ns, const char *id, size_t id_len, store_reply_fn *fn, void *arg);
int room_store_import(const char *ns, const char *id, size_t id_len,
                      const struct storage_entry *entries, int n, long long alarm,
                      store_reply_fn *fn, void *arg);

/* Whether reply is the fence's refusal: another activation (or, for the admin's writes, any
 * node) holds the room's lease. */
bool room_store_refused(const redisReply *reply);

/* Loads r's stored entries; room_loaded(r, ok) follows (later, or at once when storage is
 * unavailable). */
void room_store_load(struct room *r);

/* Writes w atomically: one HSET or HDEL alone, or MULTI/EXEC around several; room_committed(r, ok)
 * follows (later, or at once when storage is unavailable). */
void room_store_commit(struct room *r, const struct storage_writes *w);

#endif
