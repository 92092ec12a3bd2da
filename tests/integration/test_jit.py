"""Namespaces with jit = true (rooms/watchdog.h): their scripts run compiled with no per-turn
CPU bound; a turn that runs past limits.jit_watchdog_ms cannot be stopped from inside, so the
watchdog ends the process with exit status 70 and says why; started again, every acknowledged
write is there. A namespace without jit keeps its per-turn bound in the same process."""

import os
import tempfile
import time
import unittest

from harness import ROOT, LogOnFailure, Server, unique


def conf(path):
    with open(path, "w") as f:
        f.write("return { limits = { turn_cpu_ms = 200, jit_watchdog_ms = 300 }, namespaces = {\n"
                "  fast = { script = %r, jit = true },\n"
                "  bounded = { script = %r },\n"
                "  counter = { script = %r },\n} }\n"
                % (os.path.join(ROOT, "tests/lua/runaway.lua"),
                   os.path.join(ROOT, "tests/lua/runaway.lua"),
                   os.path.join(ROOT, "demos/counter/counter.lua")))


class JitTest(LogOnFailure, unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="roomd-jit-")
        conf(os.path.join(self.dir, "jit.lua"))
        self.server = Server(conf=os.path.join(self.dir, "jit.lua")).start()

    def tearDown(self):
        self.server.cleanup()

    def test_a_runaway_compiled_turn_ends_the_process_and_nothing_is_lost(self):
        rid = unique()
        for _ in range(3):
            self.assertEqual(self.server.post("/counter/" + rid).status, 200)
        self.assertEqual(self.server.post("/fast/%s/hit" % unique()).status, 200)  # compiled
        self.assertEqual(self.server.post("/bounded/%s/spin" % unique()).status, 500)  # bounded
        started = time.monotonic()
        try:
            self.server.post("/fast/%s/spin" % unique(), timeout=5)
        except (AssertionError, OSError):
            pass  # the process is gone before it answers
        rc = self.server.wait_exit(5)
        self.assertEqual(rc, 70, self.server.log_tail())
        self.assertLess(time.monotonic() - started, 3)
        self.assertIn("watchdog: a turn of room fast:", self.server.log_text())
        self.server.start()
        self.assertEqual(self.server.get("/counter/" + rid).json, {"value": 3})


if __name__ == "__main__":
    unittest.main()
