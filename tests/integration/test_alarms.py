"""Room alarms (room.storage set_alarm/get_alarm/delete_alarm; rooms/alarm.h, rooms/room.c) and
the vote demo's expiry (docs/http-contract.md, "vote", Expiry), driven through the alarmy test room
(tests/lua/alarmy.lua):

- an alarm fires in a live room about N ms after it was set, never before its time, once;
- setting it again replaces the one before (later or earlier: it fires once, at the new time);
- delete_alarm and delete_all stop it;
- it fires for a room that was evicted in between (the eviction is in the log before the alarm
  time; the alarm alone starts the room again) and keeps its retry count across evictions;
- it fires after a restart: overdue at start-up, a later one at its time;
- a failing handler is retried after 1 s and 2 s with retry_count 0, 1, 2 (the stored fired
  count only counts the run that succeeded);
- vote expiry end to end with vote.ttl=1.5: votes are reset after the ttl, a vote in between
  pushes the expiry back, a WebSocket in the room gets the reset state.

Times are wall-clock milliseconds (the server's now_ms() and Python's time.time() read the
same clock); the alarm poll runs every 200 ms, so an alarm may fire a few hundred ms late:
the upper bounds here are generous (more so under ASan), the lower bounds exact."""

import asyncio
import time
import unittest

from harness import (AsyncServerTestCase, LogOnFailure, Server, async_wait_until, is_sanitized,
                     room_lines, unique, wait_until, within_budget, ws_recv_json)

SANITIZED = is_sanitized()
# How late an alarm may fire (poll every 200 ms, plus a loaded machine).
LATE_MS = 3000 if SANITIZED else 1500
VOTE_TTL = 1.5


def now_ms():
    return time.time() * 1000


def alarmy(server, rid, **body):
    """POSTs an op to /alarmy/<rid> (or GETs its state when no op is given); the JSON answer."""
    path = "/alarmy/" + rid
    res = server.post(path, body) if body else server.get(path)
    if res.status != 200:
        raise AssertionError("%s %s %r: status %s, body %r"
                             % ("POST" if body else "GET", path, body, res.status, res.body[:300]))
    return res.json


async def sleep_until_ms(when_ms):
    """Sleeps until the wall clock passes when_ms."""
    left = (when_ms - now_ms()) / 1000
    if left > 0:
        await asyncio.sleep(within_budget(left))


def sleep_until_ms_sync(when_ms):
    left = (when_ms - now_ms()) / 1000
    if left > 0:
        time.sleep(within_budget(left))


def fired_state(server, rid, count=1):
    """alarmy's state once its fired count reached count, else None."""
    state = alarmy(server, rid)
    return state if state["fired"] >= count else None


class AlarmAsserts:
    def assertFiredOnceAt(self, state, alarm_ms, what=""):
        """state shows exactly one successful run, not before alarm_ms and not much after."""
        self.assertEqual(state["fired"], 1, "%s: %r" % (what, state))
        self.assertEqual(state["retries"], [0], "%s: one run, retry_count 0: %r" % (what, state))
        ran = state["attempts_ms"][0]
        self.assertGreaterEqual(ran, alarm_ms, "%s: the alarm ran %d ms before its time"
                                % (what, alarm_ms - ran))
        self.assertLessEqual(ran - alarm_ms, LATE_MS, "%s: the alarm ran %d ms after its time"
                             % (what, ran - alarm_ms))
        self.assertIsNone(state["alarm"], "%s: a fired alarm is gone: %r" % (what, state))


class LiveAlarmTest(AlarmAsserts, AsyncServerTestCase):
    """Rooms that stay in memory (the default room_idle_ms of 30 s), on one server."""

    server_args = ("--set", "vote.ttl=%s" % VOTE_TTL)
    test_timeout = 20

    async def test_fires_in_a_live_room(self):
        rid = unique("live")
        before = now_ms()
        alarm = alarmy(self.server, rid, op="set", in_ms=1000)["alarm"]
        self.assertGreaterEqual(alarm, before + 1000 - 5, "set_alarm(now_ms() + 1000)")
        self.assertLessEqual(alarm, now_ms() + 1000 + 5, "set_alarm(now_ms() + 1000)")
        state = alarmy(self.server, rid)
        self.assertEqual((state["fired"], state["alarm"]), (0, alarm), state)
        self.assertEqual(alarmy(self.server, rid, op="get"), {"alarm": alarm})

        await sleep_until_ms(alarm - 300)
        state = alarmy(self.server, rid)
        self.assertEqual(state["fired"], 0, "fired 300 ms before its time: %r" % state)
        self.assertEqual(state["alarm"], alarm, state)

        state = await async_wait_until(lambda: fired_state(self.server, rid),
                                       (alarm - now_ms() + LATE_MS) / 1000 + 1)
        self.assertIsNotNone(state, "the alarm did not fire within %d ms of its time" % LATE_MS)
        self.assertFiredOnceAt(state, alarm)
        self.assertEqual(alarmy(self.server, rid, op="get"), {"alarm": None})
        self.assertEqual(state["activations"], 1, "the room stayed in memory: %r" % state)

        await asyncio.sleep(1.0)
        state = alarmy(self.server, rid)
        self.assertEqual(len(state["attempts_ms"]), 1, "the alarm ran again: %r" % state)

    async def test_setting_again_replaces_the_alarm(self):
        later, earlier = unique("later"), unique("earlier")
        first_later = alarmy(self.server, later, op="set", in_ms=600)["alarm"]
        first_earlier = alarmy(self.server, earlier, op="set", in_ms=3000)["alarm"]
        new_later = alarmy(self.server, later, op="set", in_ms=2000)["alarm"]
        new_earlier = alarmy(self.server, earlier, op="set", in_ms=500)["alarm"]
        self.assertGreater(new_later, first_later + 1000)
        self.assertLess(new_earlier, first_earlier - 2000)
        self.assertEqual(alarmy(self.server, later)["alarm"], new_later)
        self.assertEqual(alarmy(self.server, earlier)["alarm"], new_earlier)

        # The replaced, earlier time of `later` passes (with the poll's delay) and nothing fires.
        await sleep_until_ms(first_later + 700)
        self.assertEqual(alarmy(self.server, later)["fired"], 0,
                         "the replaced alarm fired at its old time")
        state = await async_wait_until(lambda: fired_state(self.server, earlier),
                                       (new_earlier - now_ms() + LATE_MS) / 1000 + 1)
        self.assertIsNotNone(state, "the alarm moved earlier did not fire at its new time")
        self.assertFiredOnceAt(state, new_earlier, "moved earlier")

        state = await async_wait_until(lambda: fired_state(self.server, later),
                                       (new_later - now_ms() + LATE_MS) / 1000 + 1)
        self.assertIsNotNone(state, "the alarm moved later did not fire at its new time")
        self.assertFiredOnceAt(state, new_later, "moved later")

        # The replaced, later time of `earlier` passes too: it does not fire again.
        await sleep_until_ms(first_earlier + 700)
        for rid in (later, earlier):
            state = alarmy(self.server, rid)
            self.assertEqual((state["fired"], len(state["attempts_ms"])), (1, 1),
                             "%s ran more than once: %r" % (rid, state))

    async def test_delete_and_delete_all_stop_it(self):
        control, deleted, cleared = unique("control"), unique("deleted"), unique("cleared")
        alarms = {rid: alarmy(self.server, rid, op="set", in_ms=600)["alarm"]
                  for rid in (control, deleted, cleared)}
        self.assertEqual(alarmy(self.server, deleted, op="delete"), {"alarm": None})
        self.assertEqual(alarmy(self.server, cleared, op="fail_times", n=0), {"fail_left": 0})
        self.assertEqual(alarmy(self.server, cleared, op="delete_all"), {"alarm": None})
        self.assertEqual(alarmy(self.server, deleted, op="get"), {"alarm": None})
        self.assertEqual(alarmy(self.server, cleared, op="get"), {"alarm": None})

        state = await async_wait_until(lambda: fired_state(self.server, control),
                                       (alarms[control] - now_ms() + LATE_MS) / 1000 + 1)
        self.assertIsNotNone(state, "the control room's alarm did not fire")
        self.assertFiredOnceAt(state, alarms[control], "control")
        await asyncio.sleep(0.6)  # two more polls
        for rid, how in ((deleted, "delete_alarm"), (cleared, "delete_all")):
            state = alarmy(self.server, rid)
            self.assertEqual((state["fired"], state["attempts_ms"], state["alarm"]), (0, [], None),
                             "the alarm ran after %s: %r" % (how, state))

    async def test_failing_handler_is_retried(self):
        rid = unique("retry")
        self.assertEqual(alarmy(self.server, rid, op="fail_times", n=2), {"fail_left": 2})
        alarm = alarmy(self.server, rid, op="set", in_ms=300)["alarm"]

        # The first run fails: no success yet, and the retry is the room's alarm now.
        def ran():
            state = alarmy(self.server, rid)
            return state if state["attempts_ms"] else None
        state = await async_wait_until(ran, (alarm - now_ms() + LATE_MS) / 1000 + 1)
        self.assertIsNotNone(state, "the alarm did not run")
        self.assertEqual(state["fired"], 0, state)
        self.assertEqual(state["retries"][:1], [0], state)

        budget = (alarm - now_ms() + 1000 + 2000 + 3 * LATE_MS) / 1000 + 1
        state = await async_wait_until(lambda: fired_state(self.server, rid), budget)
        self.assertIsNotNone(state, "the alarm did not succeed after two failures: %r"
                             % (alarmy(self.server, rid),))
        self.assertEqual(state["fired"], 1, state)
        self.assertEqual(state["retries"], [0, 1, 2],
                         "retry_count of each run (two failures, then success): %r" % state)
        t = state["attempts_ms"]
        self.assertGreaterEqual(t[0], alarm, state)
        self.assertLessEqual(t[0] - alarm, LATE_MS, state)
        self.assertGreaterEqual(t[1] - t[0], 1000, "first retry after 1 s: %r" % state)
        self.assertLessEqual(t[1] - t[0], 1000 + LATE_MS, "first retry after 1 s: %r" % state)
        self.assertGreaterEqual(t[2] - t[1], 2000, "second retry after 2 s: %r" % state)
        self.assertLessEqual(t[2] - t[1], 2000 + LATE_MS, "second retry after 2 s: %r" % state)
        self.assertIsNone(state["alarm"], state)
        failures = room_lines(self.server.log_text(), "alarmy", rid, "alarm handler failed")
        self.assertEqual(len(failures), 2, "two failures logged with the room's tag: %r" % failures)

        await asyncio.sleep(1.2)
        state = alarmy(self.server, rid)
        self.assertEqual(len(state["attempts_ms"]), 3, "ran again after succeeding: %r" % state)
        self.assertEqual(state["fired"], 1, state)
        self.assertEqual(state["activations"], 1, "the room stayed in memory: %r" % state)

    async def test_vote_expiry(self):
        rid = unique("expiry")
        path = "/vote/" + rid
        ws = await self.server.ws(path)
        try:
            self.assertEqual((await ws_recv_json(ws))["votes"], [0, 0])

            res = self.server.post(path, {"option": 0})
            self.assertEqual(res.status, 200, res.body[:300])
            first_vote = now_ms()
            self.assertEqual(res.json["votes"], [1, 0])
            self.assertEqual((await ws_recv_json(ws))["votes"], [1, 0])
            self.assertEqual(self.server.get(path).json["votes"], [1, 0])

            # A second vote before the first expires pushes the expiry back.
            await sleep_until_ms(first_vote + 900)
            second_vote = now_ms()
            res = self.server.post(path, {"option": 1})
            self.assertEqual(res.status, 200, res.body[:300])
            self.assertEqual(res.json["votes"], [1, 1])
            self.assertEqual((await ws_recv_json(ws))["votes"], [1, 1])

            # Well past the first vote's expiry (poll delay included), before the second's.
            await sleep_until_ms(first_vote + VOTE_TTL * 1000 + 450)
            self.assertLess(now_ms(), second_vote + VOTE_TTL * 1000,
                            "the machine is too slow for this timing")
            self.assertEqual(self.server.get(path).json["votes"], [1, 1],
                             "the votes expired %.1f s after the first vote although a second "
                             "vote came %.1f s after it" % (VOTE_TTL, (second_vote - first_vote)
                                                            / 1000))

            # The reset state reaches the WebSocket after the ttl from the second vote.
            reset = await ws_recv_json(ws, timeout=(VOTE_TTL * 1000 + LATE_MS) / 1000 + 1)
            arrived = now_ms()
            self.assertEqual(reset["votes"], [0, 0], reset)
            self.assertEqual(reset["room"], rid)
            self.assertGreaterEqual(arrived, second_vote + VOTE_TTL * 1000,
                                    "reset %.0f ms after the second vote, before the ttl"
                                    % (arrived - second_vote))
            self.assertLessEqual(arrived - second_vote, VOTE_TTL * 1000 + LATE_MS)
        finally:
            await ws.close()
        # ~2.5 s after the first vote: the votes are gone, for a fresh activation too.
        await sleep_until_ms(first_vote + 2500)
        self.assertEqual(self.server.get(path).json["votes"], [0, 0])
        res = self.server.post(path, {"option": 1})
        self.assertEqual(res.json["votes"], [0, 1], "votes start again from [0, 0]")


class EvictedAlarmTest(AlarmAsserts, AsyncServerTestCase):
    """Rooms leave memory 300 ms after their last event: alarms still fire, from Redis."""

    server_args = ("--set", "limits.room_idle_ms=300", "--set", "log_level=debug")
    test_timeout = 20

    def lines(self, rid, what):
        return room_lines(self.server.log_text(), "alarmy", rid, what)

    async def test_fires_in_an_evicted_room(self):
        rid = unique("evicted")
        alarm = alarmy(self.server, rid, op="set", in_ms=3000)["alarm"]
        evicted = await async_wait_until(lambda: self.lines(rid, "evicted"),
                                         (alarm - now_ms()) / 1000 - 0.1)
        self.assertTrue(evicted, "the room was not evicted before its alarm time")
        self.assertLess(now_ms(), alarm, "the eviction came after the alarm time")
        self.assertEqual(len(self.lines(rid, "started")), 1, "started once so far")

        # No request from here on until the alarm alone started the room again.
        started = await async_wait_until(lambda: len(self.lines(rid, "started")) >= 2,
                                         (alarm - now_ms() + LATE_MS) / 1000 + 1)
        self.assertTrue(started, "the alarm did not start the evicted room again")
        state = await async_wait_until(lambda: fired_state(self.server, rid), 3)
        self.assertIsNotNone(state, "the alarm of the evicted room did not run")
        self.assertFiredOnceAt(state, alarm, "evicted room")
        self.assertIn(state["activations"], (2, 3), "set, alarm (and maybe this GET): %r" % state)

    async def test_retry_count_survives_eviction(self):
        # Retries come after 1 s and 2 s, by when a room idle for 300 ms has been evicted;
        # the alarm that woke it again is still a retry: retry_count 1, then 2.
        rid = unique("retry-evicted")
        alarmy(self.server, rid, op="fail_times", n=2)
        alarm = alarmy(self.server, rid, op="set", in_ms=200)["alarm"]
        # No requests while it runs (they would keep the room in memory): the log tells.
        failed = await async_wait_until(lambda: len(self.lines(rid, "alarm handler failed")) >= 2,
                                        (alarm - now_ms() + 1000 + 2 * LATE_MS) / 1000 + 1)
        self.assertTrue(failed, "the alarm did not fail twice: %r"
                        % (self.lines(rid, "alarm handler failed"),))
        await asyncio.sleep(within_budget((2000 + LATE_MS) / 1000))  # the second retry's due
        state = alarmy(self.server, rid)
        self.assertEqual(state["fired"], 1, "the alarm did not succeed after two failures: %r"
                         % (state,))
        evictions = len(self.lines(rid, "evicted"))
        self.assertGreaterEqual(evictions, 1, "the room was evicted between the runs")
        t = state["attempts_ms"]
        self.assertEqual(state["retries"], [0, 1, 2],
                         "retry_count of the runs of an alarm that failed twice, the room evicted "
                         "%d times in between (runs %d ms and %d ms apart, expected about 1000 and "
                         "2000): %r" % (evictions, t[1] - t[0], t[2] - t[1], state))
        self.assertGreaterEqual(t[2] - t[1], 2000, "second retry after 2 s: %r" % state)


class RestartAlarmTest(AlarmAsserts, LogOnFailure, unittest.TestCase):
    """Alarms are stored: after SIGTERM and a start on the same --data, an alarm that fell due
    while roomd was down fires at start-up, a later one at its time."""

    def setUp(self):
        super().setUp()
        self.server = Server(args=("--set", "log_level=debug"))
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def test_fires_after_a_restart(self):
        overdue, future = unique("overdue"), unique("future")
        due = alarmy(self.server, overdue, op="set", in_ms=1500)["alarm"]
        later = alarmy(self.server, future, op="set", in_ms=4500)["alarm"]
        self.server.stop_clean()
        self.assertLess(now_ms(), due, "stopping took too long for this timing")

        sleep_until_ms_sync(due + 500)
        restarted = now_ms()
        self.server.start()
        started = wait_until(lambda: room_lines(self.server.log_text(), "alarmy", overdue,
                                                "started"), LATE_MS / 1000 + 2)
        self.assertTrue(started, "the overdue alarm did not start its room after the restart")
        state = fired_state(self.server, overdue)
        self.assertIsNotNone(state, "the overdue alarm did not run")
        self.assertEqual((state["fired"], state["retries"], state["alarm"]), (1, [0], None), state)
        self.assertGreaterEqual(state["attempts_ms"][0], restarted)
        self.assertLessEqual(state["attempts_ms"][0] - restarted, LATE_MS + 1000,
                             "the overdue alarm ran long after the start")

        self.assertLess(now_ms(), later - 300, "the restart took too long for this timing")
        self.assertFalse(room_lines(self.server.log_text(), "alarmy", future, "started"),
                         "the room whose alarm is not due was started")
        state = wait_until(lambda: fired_state(self.server, future),
                           (later - now_ms() + LATE_MS) / 1000 + 1)
        self.assertIsNotNone(state, "the later alarm did not fire after the restart")
        self.assertFiredOnceAt(state, later, "after the restart")
        self.server.stop_clean()


if __name__ == "__main__":
    unittest.main()
