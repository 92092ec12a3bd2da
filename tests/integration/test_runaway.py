"""The CPU limit always wins (tests/lua/hostile.lua; docs/lua-api.md "Limits"): a turn that
runs past limits.turn_cpu_ms fails with 500, its in-memory state is gone, and the server goes
on, whatever the script hides behind:

- xpcall whose handler loops too (it ran with the hook off: roomd hung for good, SIGTERM
  ignored), pcall and xpcall nested in handlers, error objects whose __tostring loops;
- Lua patterns, which ran in C past the bound (("a"):rep(200):match((".-"):rep(4) .. "b") took
  13.7 s), in match, find, gsub and gmatch;
- table.sort of millions of elements, JSON encoding of a value sharing one table 2^60 times (in
  json.encode and room:broadcast), storage encoding of the same;
- init, and a script's top level at reload.

The log names the script's file:line for each, and a WebSocket whose message ran away gets
{"error": "room handler failed"}, as the docs promise."""

import os
import re
import shutil
import signal
import tempfile
import time
import unittest

from harness import (AsyncServerTestCase, LogOnFailure, Server, unique, ws_recv_json,
                     ws_send_json)

CPU_MS = 200
SCRIPT_LINE = r"hostile\.lua:\d+: "


class RunawayTest(AsyncServerTestCase):
    server_args = ("--set", "limits.turn_cpu_ms=%d" % CPU_MS)

    def assertStopped(self, what):
        room = "/hostile/" + unique()
        self.assertEqual(self.server.post(room).json, {"hits": 1})
        started = time.monotonic()
        res = self.server.post(room + "/runaway_" + what, timeout=20)
        elapsed = time.monotonic() - started
        self.assertEqual(res.status, 500, "%s: %r" % (what, res))
        self.assertEqual(res.json, {"error": "room handler failed"})
        self.assertLess(elapsed, 5.0, what)
        # the room restarted from storage: the failed turn's +1000 and the +1 before are gone
        self.assertEqual(self.server.get(room).json, {"hits": 0}, what)
        rid = room.rsplit("/", 1)[1]
        self.assertTrue(self.server.wait_for_log(
            lambda log: re.search(r"\[room hostile:%s\] request handler failed: .*%s.*CPU limit"
                                  % (rid, SCRIPT_LINE), log)),
            "%s: no CPU-limit error naming the script's line in the log" % what)

    async def test_handlers_cannot_escape(self):
        for what in ("xpcall_handler", "nested_pcall", "tostring_error"):
            self.assertStopped(what)

    async def test_patterns_are_bounded(self):
        for what in ("pattern", "pattern_pcall", "gsub", "gmatch"):
            self.assertStopped(what)

    async def test_c_functions_are_bounded(self):
        for what in ("sort", "json_encode", "send_encode"):
            self.assertStopped(what)

    async def test_storage_encoding_is_bounded(self):
        room = "/hostile/" + unique()
        started = time.monotonic()
        res = self.server.post(room + "/runaway_storage_encode", timeout=20)
        self.assertEqual(res.status, 500)
        self.assertLess(time.monotonic() - started, 5.0)

    async def test_error_object_is_not_converted(self):
        # Its __tostring loops: roomd must not call it, outside the turn's bound, to log it.
        room = unique()
        res = self.server.post("/hostile/%s/runaway_error_object" % room, timeout=20)
        self.assertEqual(res.status, 500)
        self.assertTrue(self.server.wait_for_log(
            lambda log: re.search(r"\[room hostile:%s\] request handler failed: .*%s\(error "
                                  r"object is a table value\)" % (room, SCRIPT_LINE), log)))

    async def test_runaway_message_sender_hears_of_it(self):
        room = unique()
        ws = await self.server.ws("/hostile/" + room)
        other = await self.server.ws("/hostile/" + room)
        try:
            await ws_send_json(ws, {"spin": True})
            self.assertEqual(await ws_recv_json(ws), {"error": "room handler failed"})
            await ws_send_json(ws, {"after": 1})
            self.assertEqual(await ws_recv_json(ws), {"echo": {"after": 1}, "room": room})
            await ws_send_json(other, {"other": 1})
            self.assertEqual(await ws_recv_json(other), {"echo": {"other": 1}, "room": room})
        finally:
            await ws.close()
            await other.close()

    async def test_runaway_init(self):
        room = "spin-init-" + unique()
        started = time.monotonic()
        res = self.server.post("/hostile/" + room, timeout=20)
        self.assertEqual(res.status, 500)
        self.assertLess(time.monotonic() - started, 5.0)
        self.assertTrue(self.server.wait_for_log(
            lambda log: re.search(r"\[room hostile:%s\] init handler failed: .*%sCPU limit"
                                  % (room, SCRIPT_LINE), log)))
        self.assertEqual(self.server.post("/hostile/" + unique()).json, {"hits": 1})


class RunawayLoadTest(LogOnFailure, unittest.TestCase):
    """A script whose top level loops is stopped at the CPU limit when it loads: a reload fails
    with the file:line and the old code keeps serving (the reload hung roomd for good)."""

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="roomd-runaway-")
        self.script = os.path.join(self.dir, "count.lua")
        with open(self.script, "w") as f:
            f.write("local C = {}\nfunction C.request() return {json = {v = 1}} end\nreturn C\n")
        conf = os.path.join(self.dir, "conf.lua")
        with open(conf, "w") as f:
            f.write('return { limits = { turn_cpu_ms = %d }, '
                    'namespaces = { count = { script = "count.lua" } } }\n' % CPU_MS)
        self.server = Server(conf=conf)
        self.server.start()

    def tearDown(self):
        server, self.server = self.server, None
        try:
            server.stop_clean()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def test_top_level_loop_at_reload(self):
        self.assertEqual(self.server.get("/count/a").json, {"v": 1})
        with open(self.script, "w") as f:
            f.write("local C = {}\nwhile true do end\nreturn C\n")
        self.server.send_signal(signal.SIGHUP)
        self.assertTrue(self.server.wait_for_log(
            lambda log: re.search(r"reload failed.*count\.lua:2: CPU limit", log), 10.0),
            "no reload failure naming count.lua:2")
        self.assertEqual(self.server.get("/count/b").json, {"v": 1})


if __name__ == "__main__":
    unittest.main()
