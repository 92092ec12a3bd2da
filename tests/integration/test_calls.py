"""Rooms calling rooms (rooms/call.h; tests/lua/calls.lua serves "calls" and "calls2"):
rooms.call returns what the target's call handler returns and tells it who called; an error in
the target comes back as a Lua error with its message; a target that does not answer in time
fails the call with a timeout; a call that would close a cycle of waiting rooms fails at once;
chains deeper than 8 fail; a WebSocket message handler may call; rooms.send reaches its target
with the rest of the sender's turn's output, and not at all when nothing of that turn stays (it
ran past the CPU limit); the caller's other events wait for its call."""

import asyncio
import threading
import time
import unittest

from harness import AsyncServerTestCase, unique, ws_recv_json, ws_send_json


class CallsTest(AsyncServerTestCase):
    test_timeout = 40

    def call(self, rid, **query):
        q = "&".join("%s=%s" % kv for kv in query.items())
        res = self.server.get("/calls/%s?%s" % (rid, q))
        self.assertEqual(res.status, 200, res.body)
        return res.json

    async def test_a_call_returns_the_answer_and_names_the_caller(self):
        caller, target = unique("a"), unique("b")
        out = self.call(caller, to=target, x=21)
        self.assertEqual(out, {"ok": True, "res": {"doubled": 42, "got": 1,
                                                   "from": {"ns": "calls", "id": caller}}})
        self.assertEqual(self.call(caller, to=target, x=1)["res"]["got"], 2)  # the same room

    async def test_an_error_in_the_target_is_an_error_in_the_caller(self):
        out = self.call(unique("a"), to=unique("b"), fail=1)
        self.assertFalse(out["ok"])
        self.assertIn("the callee refuses", out["res"])
        self.assertIn("calls.lua", out["res"])  # the target's file:line

    async def test_a_target_that_does_not_answer_in_time(self):
        started = time.monotonic()
        out = self.call(unique("a"), to=unique("b"), slow=1, timeout=100)
        self.assertEqual(out["ok"], False)
        self.assertRegex(out["res"], r"rooms.call to calls2/\S+ timed out after 100 ms")
        self.assertLess(time.monotonic() - started, 2)
        out = self.call(unique("a"), to=unique("b"), slow=1, timeout=5000)
        self.assertEqual(out, {"ok": True, "res": "late"})

    async def test_a_cycle_fails_at_once(self):
        started = time.monotonic()
        res = self.server.get("/calls/%s/cycle" % unique("a"))
        self.assertJsonError(res, 500)  # the caller's handler did not catch it
        self.assertLess(time.monotonic() - started, 1.5, "a cycle must not wait for a timeout")
        self.assertIn("call cycle", self.server.log_text())

    async def test_calls_nest_eight_deep_and_no_deeper(self):
        self.assertEqual(self.server.get("/calls/%s/deep?n=8" % unique("a")).json, {"res": 8})
        self.assertJsonError(self.server.get("/calls/%s/deep?n=9" % unique("a")), 500)
        self.assertIn("calls nested deeper than 8", self.server.log_text())

    async def test_a_message_handler_may_call(self):
        ws = await self.server.ws("/calls/" + unique("w"))
        target = unique("b")
        await ws_send_json(ws, {"to": target, "x": 5})
        answer = await ws_recv_json(ws)
        self.assertEqual((answer["ok"], answer["res"]["doubled"]), (True, 10))
        await ws.close()

    async def test_send_goes_out_with_the_turn_and_not_without_it(self):
        before = self.server.get("/calls2/sink/count").json["n"]
        rid = unique("s")
        self.assertEqual(self.server.get("/calls/%s/send" % rid).json, {"sent": True})
        self.assertJsonError(self.server.get("/calls/%s/send?spin=1" % rid), 500)
        deadline = time.monotonic() + 5
        while self.server.get("/calls2/sink/count").json["n"] < before + 1:
            self.assertLess(time.monotonic(), deadline, "the send never arrived")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        self.assertEqual(self.server.get("/calls2/sink/count").json["n"], before + 1)

    async def test_the_callers_other_events_wait_for_its_call(self):
        caller = unique("a")
        results = {}

        def slow():
            results["slow"] = (self.call(caller, to=unique("b"), slow=1, timeout=5000),
                               time.monotonic())

        t = threading.Thread(target=slow)
        t.start()
        await asyncio.sleep(0.05)
        count = self.server.get("/calls/%s/count" % caller)  # queued behind the waiting turn
        done = time.monotonic()
        t.join()
        self.assertEqual(count.status, 200)
        self.assertEqual(results["slow"][0], {"ok": True, "res": "late"})
        self.assertGreaterEqual(done, results["slow"][1] - 0.05)


if __name__ == "__main__":
    unittest.main()
