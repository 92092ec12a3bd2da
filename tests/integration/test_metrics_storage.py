"""GET /metrics (server/metrics.h) where storage and the room lifecycle move it. Against a
redis-server of the test's own: killing Redis drops roomd_redis_connected to 0, a write then
counts a commit failure, and Redis back raises roomd_redis_reconnects_total; requests past
limits.room_queue count as queue-full drops, one per 503; a reload of a broken script counts an
error, of a good one an ok. With short idle times: an idle room with a socket counts a
hibernation and shows as hibernated, an idle room without one an eviction."""

import http.client
import os
import shutil
import tempfile
import unittest

from harness import (AsyncServerTestCase, LogOnFailure, ROOT, Server, async_wait_until, bounded,
                     free_port, http_request, quiet_loop, unique, wait_until, within_budget)
from metrics_page import scrape, settled
from test_durability import OwnRedis

TOKEN = "metrics-storage-token-0123456789"
os.environ["ROOMD_ADMIN_TOKEN"] = TOKEN
QUEUE = 2  # limits.room_queue
IDLE_MS = 300  # limits.room_idle_ms and limits.hibernate_ms of the lifecycle test's server


class MetricsStorageTest(LogOnFailure, unittest.IsolatedAsyncioTestCase):
    redis = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="roomd-metrics-")
        cls.script = os.path.join(cls.dir, "counter.lua")
        shutil.copy(os.path.join(ROOT, "demos", "counter", "counter.lua"), cls.script)
        conf = os.path.join(cls.dir, "conf.lua")
        with open(conf, "w") as f:
            f.write('return { namespaces = { counter = { script = "counter.lua" }, '
                    'gate = { script = "%s" } } }\n'
                    % os.path.join(ROOT, "tests", "lua", "gate.lua"))
        cls.redis = OwnRedis().start()
        cls.admin_port = free_port()
        cls.server = Server(conf=conf, args=(
            "--redis", cls.redis.url, "--admin-port", str(cls.admin_port),
            "--set", "limits.room_queue=%d" % QUEUE))
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            cls.redis.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop_clean()
        finally:
            cls.server.cleanup()
            cls.redis.cleanup()
            shutil.rmtree(cls.dir, ignore_errors=True)
            super().tearDownClass()

    async def asyncSetUp(self):
        await super().asyncSetUp()
        quiet_loop()

    def page(self):
        return scrape(self.admin_port, TOKEN)[1]

    def settled(self):
        return settled(self.admin_port, TOKEN)

    async def until(self, check, what, timeout=10):
        """Scrapes until check(page) is true."""
        if not await async_wait_until(lambda: check(self.page()), timeout):
            self.fail("metrics never showed %s within %ss" % (what, timeout))

    def admin(self, method, path):
        return http_request(self.admin_port, method, path,
                            headers={"Authorization": "Bearer " + TOKEN})

    @bounded(30)
    async def test_redis_kill_and_return(self):
        room = "/counter/" + unique()
        self.assertEqual(self.server.post(room).json, {"value": 1})  # loaded, ready to write
        before = self.settled()
        self.assertEqual(before.get("roomd_redis_connected"), 1)
        self.redis.kill()
        await self.until(lambda p: p.get("roomd_redis_connected") == 0, "redis_connected 0")
        self.assertEqual(self.server.post(room).status, 503)
        down = self.page()
        self.assertEqual(down.get("roomd_redis_reconnects_total"),
                         before.get("roomd_redis_reconnects_total"))
        for name, n in (("roomd_storage_commits_total", 1),
                        ("roomd_storage_commit_failures_total", 1)):
            self.assertEqual(down.get(name, ns="counter") - before.get(name, ns="counter"), n,
                             name)
        self.redis.start()
        await self.until(lambda p: p.get("roomd_redis_connected") == 1 and
                         p.get("roomd_redis_reconnects_total") ==
                         before.get("roomd_redis_reconnects_total") + 1, "a reconnect")
        self.assertTrue(wait_until(lambda: self.server.post(room).status == 200, 10))

    def burst(self, path, n):
        """n POSTs to path at once, on n connections; their statuses and bodies."""
        conns = [http.client.HTTPConnection("127.0.0.1", self.server.port,
                                            timeout=within_budget(10)) for _ in range(n)]
        try:
            for c in conns:
                c.connect()
            for c in conns:
                c.request("POST", path, headers={"Content-Length": "0"})
            answers = []
            for c in conns:
                res = c.getresponse()
                answers.append((res.status, res.read()))
            return answers
        finally:
            for c in conns:
                c.close()

    def test_queue_full_drops(self):
        path = "/counter/" + unique()
        self.assertEqual(self.server.post(path).status, 200)
        busy = 0
        for _ in range(10):  # a round whose requests arrive together overflows the queue
            before = self.settled()
            answers = self.burst(path, 16)
            busy = sum(1 for status, body in answers
                       if status == 503 and b"room is busy" in body)
            self.assertEqual(sum(1 for status, _ in answers if status == 200) + busy, 16, answers)
            after = self.page()
            self.assertEqual(after.get("roomd_queue_full_drops_total", ns="counter") -
                             before.get("roomd_queue_full_drops_total", ns="counter"), busy)
            if busy:
                break
        self.assertGreater(busy, 0, "no burst of 16 overflowed a queue of %d" % QUEUE)

    def test_reload_counts_errors(self):
        with open(self.script) as f:
            good = f.read()
        before = self.settled()
        try:
            with open(self.script, "w") as f:
                f.write("return {\n")
            self.assertEqual(self.admin("POST", "/reload?ns=counter").json["ok"], False)
        finally:
            with open(self.script, "w") as f:
                f.write(good)
        self.assertEqual(self.admin("POST", "/reload?ns=counter").json["ok"], True)
        after = self.page()
        for result in ("error", "ok"):
            self.assertEqual(after.get("roomd_reloads_total", ns="counter", result=result) -
                             before.get("roomd_reloads_total", ns="counter", result=result), 1,
                             result)


class MetricsLifecycleTest(AsyncServerTestCase):
    """Rooms idle for IDLE_MS hibernate (with a socket) or leave memory (without)."""

    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.server_args = ("--admin-port", str(cls.admin_port),
                           "--set", "limits.room_idle_ms=%d" % IDLE_MS,
                           "--set", "limits.hibernate_ms=%d" % IDLE_MS)
        super().setUpClass()

    page = MetricsStorageTest.page
    settled = MetricsStorageTest.settled
    until = MetricsStorageTest.until

    async def test_idle_rooms_hibernate_and_leave(self):
        before = self.settled()
        path = "/gate/" + unique()
        ws = await self.server.ws(path)
        self.assertEqual(self.server.get("/counter/" + unique()).status, 200)
        await self.until(
            lambda p: p.get("roomd_rooms_hibernated_total", ns="gate") -
            before.get("roomd_rooms_hibernated_total", ns="gate") == 1 and
            p.get("roomd_rooms", ns="gate", state="hibernated") == 1 and
            p.get("roomd_rooms_evicted_total", ns="counter") -
            before.get("roomd_rooms_evicted_total", ns="counter") == 1, "a hibernation")
        await ws.close()
        await self.until(
            lambda p: p.get("roomd_rooms", ns="gate", state="hibernated") == 0 and
            p.get("roomd_rooms", ns="gate", state="memory") == 0 and
            p.get("roomd_rooms_evicted_total", ns="gate") -
            before.get("roomd_rooms_evicted_total", ns="gate") == 1, "the gate room evicted")


if __name__ == "__main__":
    unittest.main()
