"""Named alarms (room.storage set_alarm(name, time_ms, payload, {every_ms}), get_alarm(name),
delete_alarm(name), list_alarms(); docs/lua-api.md, rooms/storage.lua, rooms/room_store.h),
driven through the alarms test room (tests/lua/alarms.lua):

- set/get/delete/list: payloads come back, list is in time order, the unnamed calls are the
  alarm "" beside the named ones, bad arguments are Lua errors that say why;
- the limit: 1,000 alarms a room, the next one is an error, replacing one at the limit is not;
- a repeating alarm fires several times, one period apart, and stops when deleted;
- a failing alarm is retried after 1 s and 2 s (retry_count 0, 1, 2) while the room's other
  alarms still fire on time;
- 100 alarms of one room, set in shuffled order, fire in time order after a restart, each once;
- the layout in Redis: one rd:alarms member per room, scored by its earliest alarm;
- an alarm stored before named alarms (the meta hash's "alarm", with its rd:alarms member)
  still fires, and moves to the new layout with the room's next checkpoint.

The single-alarm behaviour itself is test_alarms.py's, unchanged."""

import asyncio
import os
import random
import time
import unittest

from harness import (AsyncServerTestCase, LogOnFailure, Server, async_wait_until, is_sanitized,
                     redis_call, unique, wait_until, within_budget)

SANITIZED = is_sanitized()
LATE_MS = 3000 if SANITIZED else 1500  # poll every 200 ms, on a loaded machine


def now_ms():
    return time.time() * 1000


def call(server, rid, **body):
    res = server.post("/alarms/" + rid, body)
    if res.status != 200:
        raise AssertionError("POST /alarms/%s %r: status %s, body %r"
                             % (rid, body, res.status, res.body[:300]))
    return res.json


def ok(server, rid, **body):
    got = call(server, rid, **body)
    if not got.get("ok"):
        raise AssertionError("%r: %r" % (body, got))
    return got


def runs(server, rid):
    return server.get("/alarms/" + rid).json["runs"]


def redis(server, *args):
    return redis_call(server.redis_sock, *args)


def room_key(rid, what):
    return "rd:{alarms:%s}:%s" % (rid, what)


class LiveNamedAlarmTest(AsyncServerTestCase):
    test_timeout = 30

    async def wait_runs(self, rid, count, within_ms):
        got = await async_wait_until(lambda: len(runs(self.server, rid)) >= count or None,
                                     within_ms / 1000 + 1)
        done = runs(self.server, rid)
        self.assertTrue(got, "%d runs expected, got %r" % (count, done))
        return done

    async def test_set_get_delete_list(self):
        rid = unique("crud")
        base = int(now_ms()) + 60000
        ok(self.server, rid, op="set", name="b", at=base + 2000, payload={"x": [1, "two"]})
        ok(self.server, rid, op="set", name="a", at=base + 3000, payload="hello",
           every_ms=5000)
        ok(self.server, rid, op="set", at=base + 1000)  # the unnamed alarm: ""
        ok(self.server, rid, op="set", name="c", at=base + 2000)
        self.assertEqual(call(self.server, rid, op="get", name="b"),
                         {"ok": True, "time": base + 2000, "payload": {"x": [1, "two"]}})
        self.assertEqual(call(self.server, rid, op="get"),
                         {"ok": True, "time": base + 1000, "payload": None})
        listed = call(self.server, rid, op="list")["alarms"]
        self.assertEqual([(a["name"], a["time_ms"], a["payload"], a["every_ms"]) for a in listed],
                         [("", base + 1000, None, None), ("b", base + 2000, {"x": [1, "two"]}, None),
                          ("c", base + 2000, None, None), ("a", base + 3000, "hello", 5000)])

        # Replacing keeps one alarm of that name; deleting says whether it existed.
        ok(self.server, rid, op="set", name="b", at=base + 4000)
        self.assertEqual(call(self.server, rid, op="get", name="b")["payload"], None)
        self.assertEqual(call(self.server, rid, op="delete", name="c")["existed"], True)
        self.assertEqual(call(self.server, rid, op="delete", name="c")["existed"], False)
        self.assertEqual(call(self.server, rid, op="get", name="c")["time"], None)
        self.assertEqual([a["name"] for a in call(self.server, rid, op="list")["alarms"]],
                         ["", "a", "b"])

        # Stored: the room's alarm set and extras, its one index member at its earliest alarm.
        self.assertEqual(redis(self.server, "ZRANGE", room_key(rid, "alarms"), 0, -1,
                               "WITHSCORES"),
                         [b"", str(base + 1000).encode(), b"a", str(base + 3000).encode(),
                          b"b", str(base + 4000).encode()])
        self.assertEqual(redis(self.server, "ZSCORE", "rd:alarms", "alarms:" + rid),
                         str(base + 1000).encode())
        self.assertEqual(sorted(redis(self.server, "HKEYS", room_key(rid, "alarm_data"))), [b"a"])
        ok(self.server, rid, op="delete")
        self.assertEqual(redis(self.server, "ZSCORE", "rd:alarms", "alarms:" + rid),
                         str(base + 3000).encode())

        bad = [({"name": 5, "at": base}, "alarm names are strings"),
               ({"name": "x" * 257, "at": base}, "a name is at most 256"),
               ({"name": "x", "at": -1}, "time in milliseconds"),
               ({"name": "x", "at": base, "payload": "p" * 5000}, "over the limit of 4096"),
               ({"name": "x", "at": base, "every_ms": 0}, "every_ms is a period")]
        for body, why in bad:
            got = call(self.server, rid, op="set", **body)
            self.assertIn(why, got.get("error", ""), "%r: %r" % (body, got))
        self.assertEqual(len(call(self.server, rid, op="list")["alarms"]), 2, "nothing was set")

    async def test_limit(self):
        rid = unique("limit")
        base = int(now_ms()) + 600000
        ok(self.server, rid, op="set_many", prefix="n", n=1000, at=base, step_ms=1)
        self.assertEqual(len(call(self.server, rid, op="list")["alarms"]), 1000)
        got = call(self.server, rid, op="set", name="one-more", at=base)
        self.assertIn("the room has 1000 alarms, the limit", got.get("error", ""), got)
        ok(self.server, rid, op="set", name="n7", at=base + 5)  # replacing one is not a new one
        ok(self.server, rid, op="delete", name="n8")
        ok(self.server, rid, op="set", name="one-more", at=base)
        self.assertEqual(redis(self.server, "ZCARD", room_key(rid, "alarms")), 1000)
        self.assertEqual(redis(self.server, "ZSCORE", "rd:alarms", "alarms:" + rid),
                         str(base).encode())

    async def test_repeating_alarm(self):
        rid = unique("every")
        first = int(now_ms()) + 500
        ok(self.server, rid, op="set", name="tick", at=first, every_ms=700, payload="t")
        done = await self.wait_runs(rid, 3, 2 * 700 + 500 + LATE_MS * 2)
        ok(self.server, rid, op="delete", name="tick")
        at = [r["at_ms"] for r in done[:3]]
        self.assertEqual([(r["name"], r["payload"], r["retry_count"]) for r in done[:3]],
                         [("tick", "t", 0)] * 3)
        for i, t in enumerate(at):  # each run at or after its period's time
            self.assertGreaterEqual(t, first + i * 700, "run %d: %r" % (i, at))
        self.assertGreaterEqual(at[2] - at[0], 700, at)
        count = len(runs(self.server, rid))
        await asyncio.sleep(within_budget(1.2))
        self.assertEqual(len(runs(self.server, rid)), count, "fired after it was deleted")
        self.assertEqual(call(self.server, rid, op="list")["alarms"], [])

    async def test_repeating_alarm_skips_missed_periods(self):
        rid = unique("skip")
        start = int(now_ms()) - 10500  # ten and a half periods ago
        ok(self.server, rid, op="set", name="p", at=start, every_ms=1000)
        done = await self.wait_runs(rid, 1, LATE_MS)
        ran = done[0]["at_ms"]
        nxt = call(self.server, rid, op="get", name="p")["time"]
        self.assertEqual((nxt - start) % 1000, 0, "on the period's grid")
        self.assertGreater(nxt, ran, "never in the past")
        self.assertLessEqual(nxt, ran + 1000, "missed periods skipped, not run")
        self.assertEqual(len(runs(self.server, rid)), 1, "one run for the missed periods")

    async def test_failing_alarm_retries_while_others_fire(self):
        rid = unique("fail")
        ok(self.server, rid, op="fail", name="bad", n=2)
        base = int(now_ms()) + 400
        ok(self.server, rid, op="set", name="bad", at=base, payload=1)
        ok(self.server, rid, op="set", name="good1", at=base + 10)
        ok(self.server, rid, op="set", name="good2", at=base + 600)
        done = await self.wait_runs(rid, 5, 600 + 1000 + 2000 + 3 * LATE_MS)
        names = [(r["name"], r["retry_count"], r["ok"]) for r in done]
        self.assertEqual(names[:2], [("bad", 0, False), ("good1", 0, True)], done)
        self.assertEqual(sorted(names), sorted([("bad", 0, False), ("good1", 0, True),
                                                ("good2", 0, True), ("bad", 1, False),
                                                ("bad", 2, True)]), done)
        bad = [r["at_ms"] for r in done if r["name"] == "bad"]
        good2 = [r["at_ms"] for r in done if r["name"] == "good2"][0]
        self.assertLess(good2, bad[1], "good2 fired on time, before bad's first retry: %r" % done)
        self.assertGreaterEqual(bad[1] - bad[0], 1000, bad)
        self.assertGreaterEqual(bad[2] - bad[1], 2000, bad)
        self.assertTrue(all(r["payload"] == 1 for r in done if r["name"] == "bad"), done)
        self.assertEqual(call(self.server, rid, op="list")["alarms"], [])


class RestartNamedAlarmTest(LogOnFailure, unittest.TestCase):
    """100 alarms of one room are stored: after SIGTERM and a start on the same --data they all
    fire, in time order, each once."""

    def setUp(self):
        super().setUp()
        self.server = Server()
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def test_hundred_alarms_fire_in_order_after_a_restart(self):
        rid = unique("hundred")
        base = int(now_ms()) + 1500
        order = list(range(1, 101))
        random.shuffle(order)
        ok(self.server, rid, op="set_many", prefix="a", n=100, at=base, step_ms=10, order=order)
        self.assertEqual(redis(self.server, "ZCARD", room_key(rid, "alarms")), 100)
        self.assertEqual(redis(self.server, "ZSCORE", "rd:alarms", "alarms:" + rid),
                         str(base + 10).encode())
        self.server.stop_clean()
        self.assertLess(now_ms(), base, "stopping took too long for this timing")
        time.sleep(within_budget(max(0, (base + 1000 + 500 - now_ms()) / 1000)))

        self.server.start()
        got = wait_until(lambda: len(runs(self.server, rid)) >= 100 or None, LATE_MS / 1000 + 10)
        done = runs(self.server, rid)
        self.assertTrue(got, "%d of 100 alarms ran after the restart" % len(done))
        self.assertEqual([r["name"] for r in done], ["a%d" % i for i in range(1, 101)],
                         "in time order, each once")
        self.assertEqual([r["payload"] for r in done], list(range(1, 101)))
        self.assertEqual(call(self.server, rid, op="list")["alarms"], [])
        self.assertEqual(redis(self.server, "EXISTS", room_key(rid, "alarms")), 0)
        self.assertIsNone(redis(self.server, "ZSCORE", "rd:alarms", "alarms:" + rid))
        time.sleep(0.5)
        self.assertEqual(len(runs(self.server, rid)), 100, "nothing ran twice")
        self.server.stop_clean()


class LegacyAlarmTest(AsyncServerTestCase):
    """Data from before named alarms: a room's one alarm in its meta hash ("alarm", "retries")
    and its rd:alarms member."""

    def write_legacy(self, rid, when, retries=0):
        redis(self.server, "HSET", room_key(rid, "meta"), "alarm", str(when), "retries",
              str(retries), "epoch", "1")
        redis(self.server, "ZADD", "rd:alarms", str(when), "alarms:" + rid)

    async def test_old_alarm_fires(self):
        rid = unique("legacy")
        when = int(now_ms()) + 500
        self.write_legacy(rid, when, retries=1)
        got = await async_wait_until(lambda: runs(self.server, rid) or None,
                                     (when - now_ms() + LATE_MS) / 1000 + 1)
        self.assertTrue(got, "the alarm stored before named alarms did not fire")
        done = runs(self.server, rid)
        self.assertEqual([(r["name"], r["retry_count"]) for r in done], [("", 1)], done)
        self.assertGreaterEqual(done[0]["at_ms"], when)
        self.assertEqual(redis(self.server, "HMGET", room_key(rid, "meta"), "alarm", "retries"),
                         [None, None], "moved out of the meta hash")
        self.assertIsNone(redis(self.server, "ZSCORE", "rd:alarms", "alarms:" + rid))

    async def test_old_alarm_moves_with_the_next_checkpoint(self):
        rid = unique("legacy-move")
        when = int(now_ms()) + 1500
        self.write_legacy(rid, when)
        self.assertEqual(call(self.server, rid, op="get"), {"ok": True, "time": when,
                                                            "payload": None})
        ok(self.server, rid, op="set", name="later", at=when + 300)
        self.assertEqual(redis(self.server, "HGET", room_key(rid, "meta"), "alarm"), None)
        self.assertEqual(redis(self.server, "ZRANGE", room_key(rid, "alarms"), 0, -1),
                         [b"", b"later"])
        self.assertEqual(redis(self.server, "ZSCORE", "rd:alarms", "alarms:" + rid),
                         str(when).encode())
        got = await async_wait_until(lambda: len(runs(self.server, rid)) >= 2 or None,
                                     (when + 300 - now_ms() + LATE_MS) / 1000 + 1)
        self.assertTrue(got, runs(self.server, rid))
        self.assertEqual([r["name"] for r in runs(self.server, rid)], ["", "later"])


if __name__ == "__main__":
    unittest.main()
