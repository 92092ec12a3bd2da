"""room.storage as a room script sees it (docs/lua-api.md, rooms/storage.lua), driven through
the test room tests/lua/store.lua: POST /store/<id> {"op": ...} runs one storage call and
answers {"result": ...}, or 400 {"error": "<the call's error message>"}.

One test per rule: values round-trip, missing keys, many-key calls, delete results,
delete_all, list order and options, the limits (each a clear error naming the limit, and a
refused call changes nothing), storage surviving a restart, and isolation between rooms and
namespaces (ids that escape alike must not share a Redis hash)."""

import os
import unittest
import urllib.parse

from harness import ServerTestCase, redis_call, unique

MAX_KEY, MAX_VALUE, MAX_KEYS = 2048, 131072, 128


# ---------------------------------------------------------------- wire form of keys and values


def wire(value):
    """The JSON form store.lua reads: bytes (and strings holding NUL, which roomd's JSON
    refuses) as {"$bytes": hex}."""
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, str) and "\0" in value:
        return {"$bytes": value.encode().hex()}
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


def unwire(value):
    """A value store.lua answered, with {"$bytes": hex} back to bytes."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {k: unwire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwire(v) for v in value]
    return value


def norm(value):
    """For comparing: every string as bytes, numbers as floats."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {norm(k): norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [norm(v) for v in value]
    return value


def path(room_id, ns="store"):
    return "/%s/%s" % (ns, urllib.parse.quote(room_id, safe=""))


class StoreClient:
    """Calls on one server's store rooms."""

    def __init__(self, test, server):
        self.test = test
        self.server = server

    def call(self, room, body, timeout=10):
        return self.server.post(path(room), body, timeout=timeout)

    def ok(self, room, body):
        """The result of an op that must succeed."""
        res = self.call(room, body)
        self.test.assertEqual(res.status, 200, "%s: %r" % (body.get("op"), res.body[:300]))
        self.test.assertIsInstance(res.json, dict, res.body[:300])
        self.test.assertIn("result", res.json, res.body[:300])
        return unwire(res.json["result"])

    def err(self, room, body):
        """The error message of an op that must be refused with 400."""
        res = self.call(room, body)
        self.test.assertEqual(res.status, 400, "%s must be refused: %r"
                              % (body.get("op"), res.body[:300]))
        self.test.assertIsInstance(res.json, dict, res.body[:300])
        msg = res.json.get("error")
        self.test.assertIsInstance(msg, str, res.body[:300])
        return msg

    def put(self, room, key, value):
        return self.ok(room, {"op": "put", "key": wire(key), "value": wire(value)})

    def get(self, room, key):
        return self.ok(room, {"op": "get", "key": wire(key)})

    def listing(self, room, **opts):
        body = {"op": "list"}
        if opts:
            body["opts"] = {k: wire(v) for k, v in opts.items()}
        return self.ok(room, body)

    def keys(self, room, **opts):
        return [row["key"] for row in self.listing(room, **opts)]


def as_bytes(key):
    return key if isinstance(key, bytes) else key.encode()


# Values of every kind storage takes (rooms/storage.lua: tables, strings, numbers, booleans).
VALUES = {
    "nested": {"a": {"b": [1, 2, {"c": "d", "e": [True, False]}], "f": {}}, "g": "h"},
    "array": [1, "two", 3.5, True, False, [4, [5, [6]]]],
    "array_of_objects": [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": ["z"]}],
    "numeric_string_keys": {"1": "one", "2": "two", "10": "ten"},
    "empty_string": "",
    "unicode": "h\u00e9llo \u2713 \U0001F600",
    "nul": "a\0b\0",
    "only_nul": "\0",
    "binary": b"\xff\xfe\x00\x80\x7f\xc3",
    "all_bytes": bytes(range(256)),
    "binary_in_table": {"raw": b"\x00\xff", "list": [b"\x80", "ok"]},
    "zero": 0,
    "int": 42,
    "negative": -7,
    "float": 3.5,
    "negative_float": -0.125,
    "tenth": 0.1,
    "third": 1 / 3,
    "huge": 1e300,
    "tiny_negative": -1e-300,
    "two_53": 2 ** 53,
    "minus_two_53": -(2 ** 53),
    "true": True,
    "false": False,
    "long_string": "xyz" * 20000,
}


class StorageApiTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.store = StoreClient(self, self.server)

    # -- values --

    def test_values_round_trip(self):
        room = unique("values")
        for key, value in VALUES.items():
            self.assertIsNone(self.store.put(room, key, value), key)
        for key, value in VALUES.items():
            self.assertEqual(norm(self.store.get(room, key)), norm(value), "value of %r" % key)
        # Read in another turn by a GET (no writes), and listed.
        res = self.server.get(path(room))
        self.assertEqual(res.status, 200, res.body[:200])
        listed = {row["key"]: row["value"] for row in unwire(res.json["result"])}
        self.assertEqual(norm(listed), norm(VALUES))

    def test_an_answer_roomd_cannot_make_stores_nothing(self):
        # issue case: a 500 must mean nothing was stored (the answer fails after the put)
        room = unique("bad-answer")
        self.store.put(room, "kept", 1)
        res = self.store.call(room, {"op": "put_bad_answer", "key": "lost", "value": 2})
        self.assertJsonError(res, 500)
        self.assertIsNone(self.store.get(room, "lost"))
        self.assertEqual(self.store.get(room, "kept"), 1)
        self.assertIn("reset to its stored state", self.server.log_text())

    def test_put_overwrites(self):
        room = unique("overwrite")
        self.store.put(room, "k", {"v": 1})
        self.store.put(room, "k", "second")
        self.assertEqual(self.store.get(room, "k"), "second")
        self.store.put(room, "k", [1, 2])
        self.assertEqual(self.store.get(room, "k"), [1, 2])

    def test_get_returns_a_copy(self):
        room = unique("copy")
        self.store.put(room, "t", {"a": 1})
        self.store.put(room, "l", [1, 2])
        self.assertEqual(self.store.ok(room, {"op": "mutate_copy", "key": "t"}), {"a": 1})
        self.assertEqual(self.store.ok(room, {"op": "mutate_copy", "key": "l"}), [1, 2])
        self.assertEqual(self.store.get(room, "t"), {"a": 1}, "a changed copy is not stored")
        self.assertEqual(self.store.get(room, "l"), [1, 2])

    def test_binary_keys(self):
        room = unique("binkeys")
        keys = [b"\x00", b"a\x00b", b"\xff\xfe", "\u00e9", "a b/c?d"]
        for i, key in enumerate(keys):
            self.store.put(room, key, i)
        for i, key in enumerate(keys):
            self.assertEqual(self.store.get(room, key), i, key)
        self.assertEqual([as_bytes(k) for k in self.store.keys(room)],
                         sorted(as_bytes(k) for k in keys))

    # -- reads --

    def test_get_of_a_missing_key_is_nil(self):
        room = unique("missing")
        self.assertIsNone(self.store.get(room, "nothing"), "new room")
        self.store.put(room, "there", 1)
        self.assertIsNone(self.store.get(room, "nothing"), "room with other keys")
        self.assertIsNone(self.store.get(room, "ther"), "a prefix of a key")
        self.assertEqual(self.store.ok(room, {"op": "get_many", "keys": ["nothing", "else"]}), {})
        self.assertEqual(self.store.ok(room, {"op": "get_many", "keys": []}), {})

    # -- many-key calls --

    def test_many_key_get_put_delete(self):
        room = unique("many")
        entries = {"a": 1, "b": {"x": [1, 2]}, "c": "three", "d": False}
        self.assertIsNone(self.store.ok(room, {"op": "put_many", "entries": entries}))
        got = self.store.ok(room, {"op": "get_many", "keys": ["a", "b", "c", "d", "zz"]})
        self.assertEqual(got, entries, "missing keys are absent, others all there")
        got = self.store.ok(room, {"op": "get_many", "keys": ["c", "a"]})
        self.assertEqual(got, {"a": 1, "c": "three"})
        n = self.store.ok(room, {"op": "delete_many", "keys": ["a", "zz", "c", "yy"]})
        self.assertEqual(n, 2, "delete of many keys counts those that existed")
        self.assertEqual(self.store.keys(room), ["b", "d"])
        # A key false is stored (not a deletion).
        self.assertIs(self.store.get(room, "d"), False)

    def test_exactly_128_keys_in_one_call(self):
        room = unique("max")
        gen = {"$keys": MAX_KEYS, "prefix": "k"}
        self.assertIsNone(self.store.ok(room, {"op": "put_many", "entries": gen}))
        got = self.store.ok(room, {"op": "get_many", "keys": gen})
        self.assertEqual(len(got), MAX_KEYS)
        self.assertEqual(got["k128"], 128)
        self.assertEqual(self.store.ok(room, {"op": "delete_many", "keys": gen}), MAX_KEYS)
        self.assertEqual(self.store.listing(room), [])

    # -- deletes --

    def test_delete_returns_whether_the_key_existed(self):
        room = unique("delete")
        self.assertIs(self.store.ok(room, {"op": "delete", "key": "k"}), False, "new room")
        self.store.put(room, "k", "v")
        self.store.put(room, "other", "w")
        self.assertIs(self.store.ok(room, {"op": "delete", "key": "k"}), True)
        self.assertIs(self.store.ok(room, {"op": "delete", "key": "k"}), False, "deleted twice")
        self.assertIsNone(self.store.get(room, "k"))
        self.assertEqual(self.store.get(room, "other"), "w", "a delete touches only its key")
        self.store.put(room, "k", "again")
        self.assertEqual(self.store.get(room, "k"), "again", "a deleted key can be put again")
        self.assertEqual(self.store.ok(room, {"op": "delete_many", "keys": ["nope", "nada"]}), 0)

    def test_delete_and_put_in_one_turn(self):
        room = unique("turn")
        self.store.put(room, "k", 1)
        res = self.store.ok(room, {"op": "batch", "ops": [
            {"op": "delete", "key": "k"},
            {"op": "get", "key": "k"},
            {"op": "put", "key": "k", "value": 2},
            {"op": "get", "key": "k"},
        ]})
        self.assertEqual(res, [{"result": True}, {"result": None}, {"result": None}, {"result": 2}])
        self.assertEqual(self.store.get(room, "k"), 2)

    def test_delete_all(self):
        room = unique("all")
        other = unique("all-other")
        self.store.ok(room, {"op": "put_many", "entries": {"a": 1, "b": 2, "c": 3}})
        self.store.put(other, "a", "kept")
        self.assertIsNone(self.store.ok(room, {"op": "delete_all"}))
        self.assertEqual(self.store.listing(room), [])
        self.assertIsNone(self.store.get(room, "a"))
        self.assertEqual(self.store.get(other, "a"), "kept", "delete_all is per room")
        # Puts after delete_all in the same turn stay; earlier ones go.
        res = self.store.ok(room, {"op": "batch", "ops": [
            {"op": "put", "key": "old", "value": 1},
            {"op": "delete_all"},
            {"op": "put", "key": "new", "value": 2},
            {"op": "list"},
        ]})
        self.assertEqual(res[-1], {"result": [{"key": "new", "value": 2}]})
        self.assertEqual(self.store.listing(room), [{"key": "new", "value": 2}])
        self.assertIsNone(self.store.ok(room, {"op": "delete_all"}), "on an empty room too")

    # -- list --

    LIST_KEYS = ["a", "a/1", "a/10", "a/2", "ab", "b", "B", "_", "~", "\u00e9", "\u00e9t\u00e9",
                 b"\x01", b"\x7f", b"\xff", b"\xff\x00", "z"]

    def list_room(self):
        room = unique("list")
        for i, key in enumerate(self.LIST_KEYS):
            self.store.put(room, key, {"n": i})
        order = sorted(as_bytes(k) for k in self.LIST_KEYS)
        return room, order

    def keys_of(self, room, **opts):
        return [as_bytes(k) for k in self.store.keys(room, **opts)]

    def test_list_is_in_byte_order_with_values(self):
        room, order = self.list_room()
        rows = self.store.listing(room)
        self.assertEqual([as_bytes(r["key"]) for r in rows], order, "list() in byte order")
        by_key = {as_bytes(k): i for i, k in enumerate(self.LIST_KEYS)}
        for row in rows:
            self.assertEqual(row["value"], {"n": by_key[as_bytes(row["key"])]})
        self.assertEqual(self.store.listing(unique("empty")), [], "an empty room lists nothing")

    def test_list_prefix(self):
        room, order = self.list_room()
        self.assertEqual(self.keys_of(room, prefix="a/"), [b"a/1", b"a/10", b"a/2"])
        self.assertEqual(self.keys_of(room, prefix="a"), [b"a", b"a/1", b"a/10", b"a/2", b"ab"])
        self.assertEqual(self.keys_of(room, prefix=b"\xff"), [b"\xff", b"\xff\x00"])
        self.assertEqual(self.keys_of(room, prefix="\u00e9"),
                         ["\u00e9".encode(), "\u00e9t\u00e9".encode()])
        self.assertEqual(self.keys_of(room, prefix="nothing"), [])
        self.assertEqual(self.keys_of(room, prefix=""), order, "an empty prefix matches all")

    def test_list_start_inclusive_end_exclusive(self):
        room, order = self.list_room()
        self.assertEqual(self.keys_of(room, start="a/10"), [k for k in order if k >= b"a/10"])
        self.assertEqual(self.keys_of(room, start="a/10")[0], b"a/10", "start is inclusive")
        self.assertEqual(self.keys_of(room, end="a/2"), [k for k in order if k < b"a/2"])
        self.assertNotIn(b"a/2", self.keys_of(room, end="a/2"), "end is exclusive")
        self.assertEqual(self.keys_of(room, start="a/1", end="b"), [b"a/1", b"a/10", b"a/2", b"ab"])
        self.assertEqual(self.keys_of(room, start="a/0", end="a/3"), [b"a/1", b"a/10", b"a/2"],
                         "bounds need not be keys")
        self.assertEqual(self.keys_of(room, start="b", end="b"), [], "start == end")
        self.assertEqual(self.keys_of(room, start="z", end="a"), [], "start after end")
        self.assertEqual(self.keys_of(room, start=b"\x7f"),
                         [b"\x7f", "\u00e9".encode(), "\u00e9t\u00e9".encode(), b"\xff",
                          b"\xff\x00"],
                         "bytes over 0x7f sort after ASCII (unsigned byte order)")
        self.assertEqual(self.keys_of(room, prefix="a", start="a/10", end="ab"), [b"a/10", b"a/2"])

    def test_list_limit_and_reverse(self):
        room, order = self.list_room()
        self.assertEqual(self.keys_of(room, limit=3), order[:3])
        self.assertEqual(self.keys_of(room, limit=0), [])
        self.assertEqual(self.keys_of(room, limit=1000), order)
        self.assertEqual(self.keys_of(room, reverse=True), order[::-1])
        self.assertEqual(self.keys_of(room, reverse=False), order)
        self.assertEqual(self.keys_of(room, reverse=True, limit=2), order[::-1][:2],
                         "reverse with limit gives the last keys")
        self.assertEqual(self.keys_of(room, prefix="a/", reverse=True), [b"a/2", b"a/10", b"a/1"])
        self.assertEqual(self.keys_of(room, start="a", end="b", reverse=True, limit=2),
                         [b"ab", b"a/2"])
        self.assertEqual(self.keys_of(room, prefix="a/", limit=2), [b"a/1", b"a/10"])

    def test_list_sees_the_turns_own_writes(self):
        room = unique("listturn")
        self.store.ok(room, {"op": "put_many", "entries": {"b": 1, "d": 2}})
        res = self.store.ok(room, {"op": "batch", "ops": [
            {"op": "put", "key": "c", "value": 3},
            {"op": "delete", "key": "d"},
            {"op": "list"},
        ]})
        self.assertEqual([r["key"] for r in res[-1]["result"]], ["b", "c"])
        self.assertEqual(self.store.keys(room), ["b", "c"])

    # -- limits --

    def assertNames(self, msg, *words):
        for word in words:
            self.assertIn(word, msg, "the error should name %r: %r" % (word, msg))

    def test_key_length_limit(self):
        room = unique("keylen")
        long_key, max_key = "k" * (MAX_KEY + 1), "k" * MAX_KEY
        self.store.put(room, max_key, "at the limit")
        self.assertEqual(self.store.get(room, max_key), "at the limit", "a 2048-byte key works")
        for op in ({"op": "put", "key": long_key, "value": 1}, {"op": "get", "key": long_key},
                   {"op": "delete", "key": long_key},
                   {"op": "get_many", "keys": ["ok", long_key]},
                   {"op": "delete_many", "keys": ["ok", long_key]},
                   {"op": "put_many", "entries": {"ok": 1, long_key: 2}}):
            msg = self.store.err(room, op)
            self.assertNames(msg, str(MAX_KEY + 1), str(MAX_KEY))
        # Multi-byte characters count as bytes.
        msg = self.store.err(room, {"op": "put", "key": "\u00e9" * 1025, "value": 1})
        self.assertNames(msg, "2050", str(MAX_KEY))
        self.assertEqual(self.store.keys(room), [max_key], "refused calls stored nothing")

    def test_empty_key(self):
        room = unique("emptykey")
        for op in ({"op": "put", "key": "", "value": 1}, {"op": "get", "key": ""},
                   {"op": "delete", "key": ""}, {"op": "put_many", "entries": {"": 1}},
                   {"op": "get_many", "keys": [""]}):
            msg = self.store.err(room, op)
            self.assertNames(msg, "0 bytes", "1 to %d" % MAX_KEY)
        self.assertEqual(self.store.listing(room), [])

    def test_non_string_key(self):
        room = unique("keytype")
        for key, kind in ((5, "number"), (True, "boolean"), (2.5, "number")):
            for op in ({"op": "put", "key": key, "value": 1}, {"op": "get", "key": key},
                       {"op": "delete", "key": key}, {"op": "get_many", "keys": ["ok", key]},
                       {"op": "delete_many", "keys": [key]}):
                msg = self.store.err(room, op)
                self.assertNames(msg, "strings", kind)
        msg = self.store.err(room, {"op": "put_many", "entries": [["ok", 1], [7, 2]]})
        self.assertNames(msg, "strings", "number")
        self.assertEqual(self.store.listing(room), [], "a refused put_many stores none of its keys")

    def test_value_size_limit(self):
        room = unique("valsize")
        msg = self.store.err(room, {"op": "put", "key": "big",
                                    "value": {"$repeat": "x", "n": MAX_VALUE}})
        self.assertNames(msg, str(MAX_VALUE), "encoded")
        # The message gives the encoded size: the string whose encoding is exactly the limit fits.
        encoded = int(msg.split("value is ")[1].split()[0])
        self.assertGreater(encoded, MAX_VALUE)
        fits = MAX_VALUE - (encoded - MAX_VALUE)
        self.assertIsNone(self.store.ok(room, {"op": "put", "key": "big",
                                               "value": {"$repeat": "y", "n": fits}}))
        got = self.store.get(room, "big")
        self.assertEqual((len(got), set(got)), (fits, {"y"}), "the largest value round-trips")
        msg = self.store.err(room, {"op": "put", "key": "big2",
                                    "value": {"$repeat": "y", "n": fits + 1}})
        self.assertNames(msg, "%d bytes encoded" % (MAX_VALUE + 1), str(MAX_VALUE))
        # Also inside a table, and in a many-key put (which then stores none of its keys).
        msg = self.store.err(room, {"op": "put", "key": "t",
                                    "value": {"a": {"$repeat": "ab", "n": 70000}, "b": "c"}})
        self.assertNames(msg, str(MAX_VALUE))
        msg = self.store.err(room, {"op": "put_many", "entries": {
            "small": 1, "large": {"$repeat": "z", "n": MAX_VALUE + 10}}})
        self.assertNames(msg, str(MAX_VALUE))
        self.assertEqual(self.store.keys(room), ["big"])
        self.assertEqual(len(self.store.get(room, "big")), fits, "the refused puts left it alone")

    def test_too_many_keys_in_one_call(self):
        room = unique("count")
        self.store.put(room, "k1", "kept")
        gen = {"$keys": MAX_KEYS + 1, "prefix": "k"}
        for op in ({"op": "get_many", "keys": gen}, {"op": "delete_many", "keys": gen},
                   {"op": "put_many", "entries": gen}):
            msg = self.store.err(room, op)
            self.assertNames(msg, "keys in one storage call", str(MAX_KEYS))
        self.assertEqual(self.store.listing(room), [{"key": "k1", "value": "kept"}],
                         "refused many-key calls change nothing")

    def test_function_value(self):
        room = unique("fn")
        msg = self.store.err(room, {"op": "put", "key": "f", "value": {"$function": True}})
        self.assertNames(msg, "cannot be stored", "function")
        msg = self.store.err(room, {"op": "put", "key": "f",
                                    "value": {"inner": [1, {"$function": True}]}})
        self.assertNames(msg, "cannot be stored", "function")
        msg = self.store.err(room, {"op": "put_many",
                                    "entries": {"a": 1, "f": {"$function": True}}})
        self.assertNames(msg, "function")
        self.assertEqual(self.store.listing(room), [])

    def test_cyclic_table(self):
        room = unique("cycle")
        msg = self.store.err(room, {"op": "put", "key": "c", "value": {"$cycle": True}})
        self.assertNames(msg, "cannot be stored", "cycle")
        self.assertEqual(self.store.listing(room), [])

    def test_nil_value(self):
        room = unique("nil")
        msg = self.store.err(room, {"op": "put", "key": "k"})
        self.assertNames(msg, "nil", "delete")

    def test_errors_leave_the_room_working(self):
        room = unique("after")
        self.store.put(room, "a", 1)
        res = self.store.ok(room, {"op": "batch", "ops": [
            {"op": "put", "key": "b", "value": 2},
            {"op": "put", "key": "", "value": 3},
            {"op": "put", "key": "c", "value": {"$function": True}},
            {"op": "put", "key": "d", "value": 4},
        ]})
        self.assertEqual([sorted(r) for r in res], [["result"], ["error"], ["error"], ["result"]])
        self.assertEqual(self.store.keys(room), ["a", "b", "d"])
        self.store.put(room, "e", 5)
        self.assertEqual(self.store.get(room, "e"), 5)

    # -- isolation --

    # Ids that an escaping mistake would make share a hash, or break its {hash tag}.
    TRICKY_IDS = ["a:b", "a%3Ab", "a%253Ab", "a%3ab", "x}", "x", "{x", "{x}", "x}y", "x%7Dy",
                  "%", "%25", "a b", "a+b", "a%20b", "\u00e9", "%C3%A9", "}:kv", "store:a:b",
                  "a.b", "a_b", "a~b", "a-b", "A-B"]

    def test_rooms_are_isolated(self):
        run = unique("iso")
        ids = [run + "-" + i for i in self.TRICKY_IDS] + self.TRICKY_IDS
        # The bare ids may hold data from an earlier run on the same storage: clear them first.
        for room in ids:
            self.store.ok(room, {"op": "delete_all"})
        for room in ids:
            self.store.put(room, "who", room)
            self.store.put(room, room[-2048:], "own key")
        for room in ids:
            rows = self.store.listing(room)
            self.assertEqual(sorted(r["key"] for r in rows), sorted({"who", room}),
                             "room %r sees only its own keys" % room)
            self.assertEqual(self.store.get(room, "who"), room)
        self.store.ok(ids[0], {"op": "delete_all"})
        self.assertEqual(self.store.get(ids[1], "who"), ids[1], "delete_all is per room")

    def test_namespaces_are_isolated(self):
        room = unique("ns")
        self.store.put(room, "value", 99)
        self.store.put(room, "votes", [7, 7])
        self.assertEqual(self.server.get(path(room, "counter")).json, {"value": 0})
        self.assertEqual(self.server.post(path(room, "counter")).json, {"value": 1})
        self.assertEqual(self.server.get(path(room, "vote")).json["votes"], [0, 0])
        self.assertEqual(self.server.post(path(room, "vote"), {"option": 0}).json["votes"], [1, 0])
        self.assertEqual(self.store.get(room, "value"), 99)
        self.assertEqual(self.store.get(room, "votes"), [7, 7])
        self.assertEqual(self.store.keys(room), ["value", "votes"])

    def test_redis_layout(self):
        """room_store.h: rd:{<ns>:<escaped id>}:kv, escaping bytes other than [A-Za-z0-9._~-]."""
        sock = self.server.redis_sock
        run = unique("lay")
        cases = {run + "a:b": run + "a%3Ab", run + "a%3Ab": run + "a%253Ab",
                 run + "{x}": run + "%7Bx%7D", run + "\u00e9 ~._-": run + "%C3%A9%20~._-"}
        for room in cases:
            self.store.put(room, "field", 1)
        for room, escaped in cases.items():
            key = "rd:{store:%s}:kv" % escaped
            self.assertEqual(redis_call(sock, "HKEYS", key), [b"field"], "hash of %r" % room)


class StorageRestartTest(ServerTestCase):
    """Storage outlives the server: SIGTERM, then a new roomd on the same --data."""

    def test_storage_survives_restart(self):
        store = StoreClient(self, self.server)
        rooms = {unique("keep-a"): dict(VALUES), unique("keep-b"): {"only": "b", "n": -1.5},
                 "r:%s}" % unique(): {"tricky": b"\x00\xff"}}
        for room, values in rooms.items():
            for key, value in values.items():
                store.put(room, key, value)
        cleared = unique("cleared")
        store.ok(cleared, {"op": "put_many", "entries": {"a": 1, "b": 2}})
        store.ok(cleared, {"op": "batch", "ops": [{"op": "delete_all"},
                                                 {"op": "put", "key": "c", "value": 3}]})
        deleted = unique("deleted")
        store.ok(deleted, {"op": "put_many", "entries": {"a": 1, "b": 2}})
        store.ok(deleted, {"op": "delete", "key": "a"})

        self.server.stop_clean()
        self.server.start()

        for room, values in rooms.items():
            listed = {row["key"]: row["value"] for row in store.listing(room)}
            self.assertEqual(norm(listed), norm(values), "room %r after restart" % room)
        self.assertEqual(store.listing(cleared), [{"key": "c", "value": 3}],
                         "delete_all then put, after restart")
        self.assertEqual(store.listing(deleted), [{"key": "b", "value": 2}],
                         "delete, after restart")
        self.assertEqual(store.listing(unique("fresh")), [])


if __name__ == "__main__":
    unittest.main()
