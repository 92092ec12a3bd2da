"""Limits that contain a bad room: a handler that never returns (a plain loop, one inside
pcall, a numeric loop LuaJIT would compile) is stopped at limits.turn_cpu_ms, its turn fails
with 500, the room restarts from storage, and the server serves other rooms and the same room
again; a memory bomb fails its turn at limits.vm_memory_bytes and the namespace goes on."""

import time
import unittest

from harness import ServerTestCase, unique

CPU_MS = 200


class ContainmentTest(ServerTestCase):
    server_args = ("--set", "limits.turn_cpu_ms=%d" % CPU_MS,
                   "--set", "limits.vm_memory_bytes=67108864")

    def runaway(self, what):
        room = "/runaway/" + unique()
        self.assertEqual(self.server.post(room).json, {"hits": 1})
        started = time.monotonic()
        res = self.server.post(room + "/" + what, timeout=30)
        elapsed = time.monotonic() - started
        self.assertEqual(res.status, 500, "%s: %r" % (what, res))
        self.assertEqual(res.json, {"error": "room handler failed"})
        return room, elapsed

    def check_contained(self, what, limit_text):
        room, elapsed = self.runaway(what)
        self.assertEqual(self.server.get("/counter/" + unique()).status, 200)
        # in-memory state restarts (nothing was stored): the +1000 of the failed turn is gone
        self.assertEqual(self.server.get(room).json, {"hits": 0})
        self.assertEqual(self.server.post(room).json, {"hits": 1})
        self.assertIn(limit_text, self.server.log_text())
        return elapsed

    def test_plain_loop_is_stopped(self):
        elapsed = self.check_contained("spin", "CPU limit")
        self.assertLess(elapsed, 5.0)

    def test_loop_inside_pcall_is_stopped(self):
        elapsed = self.check_contained("spin_pcall", "CPU limit")
        self.assertLess(elapsed, 5.0)

    def test_numeric_loop_is_stopped(self):
        elapsed = self.check_contained("math", "CPU limit")
        self.assertLess(elapsed, 5.0)

    def test_memory_bomb_is_contained(self):
        room, _ = self.runaway("bomb")
        self.assertIn("not enough memory", self.server.log_text())
        self.assertEqual(self.server.post("/counter/" + unique()).status, 200)
        self.assertEqual(self.server.post(room).status, 200)


if __name__ == "__main__":
    unittest.main()
