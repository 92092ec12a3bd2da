"""The embedded redis-server (no --redis): roomd runs it in its --data folder and, if it dies
while roomd runs, starts it again by itself; stored values come back from its append-only file
and new writes succeed within seconds, without restarting roomd."""

import os
import signal
import time
import unittest

from harness import ServerTestCase, unique, wait_until


class EmbeddedRedisTest(ServerTestCase):

    def redis_pid(self):
        with open(os.path.join(self.server.data, "redis.pid")) as f:
            return int(f.read().strip())

    def post_until_ok(self, path, timeout):
        statuses = []

        def ok():
            res = self.server.post(path)
            statuses.append(res.status)
            self.assertIn(res.status, (200, 503), "while storage is down: %r" % (res,))
            return res if res.status == 200 else None
        res = wait_until(ok, timeout)
        if res is None:
            self.fail("no 200 within %ss: %r" % (timeout, statuses[-10:]))
        return res, statuses

    def test_redis_killed_is_started_again(self):
        room = "/counter/" + unique()
        for want in (1, 2, 3):
            self.assertEqual(self.server.post(room).json, {"value": want})
        time.sleep(1.2)  # appendfsync everysec: let the three reach the disk
        old = self.redis_pid()
        os.kill(old, signal.SIGKILL)
        res, _ = self.post_until_ok(room, 10)
        self.assertEqual(res.json, {"value": 4}, "the stored 3 came back from the AOF")
        self.assertNotEqual(self.redis_pid(), old, "a new redis-server runs")
        self.assertEqual(self.server.get("/healthz").status, 200)
        self.assertIn("started it again", self.server.log_text())


if __name__ == "__main__":
    unittest.main()
