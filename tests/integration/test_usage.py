"""Per-room usage metering (rooms/usage.h, rooms/usage_store.h, server/usage_api.h): a known
workload (N requests, M messages) shows up exactly in GET /rooms/<ns>/<id>/usage, across the
room's eviction and a server restart; rooms that did nothing have no usage; GET /usage/top
ranks rooms; roomctl usage and roomctl top print the same; bad arguments get 400; and
limits.room_cpu_ms_per_minute refuses a room's requests (429), messages (an error) and joins
(1013) once its turns used the minute's budget, while other rooms go on; a namespace's own
budget (budget = {cpu_ms_per_minute =}) takes the place of the global one."""

import json
import os
import subprocess
import unittest

from harness import (BIN, AsyncServerTestCase, async_wait_until, free_port, http_request,
                     unique, ws_expect_close, ws_recv_json, ws_send_json)

TOKEN = "usage-test-token-0123456789"
os.environ["ROOMD_ADMIN_TOKEN"] = TOKEN
ROOMCTL = os.path.join(os.path.dirname(BIN), "roomctl")
IDLE_MS = 300
BUDGET_MS = 150


class UsageTest(AsyncServerTestCase):
    test_timeout = 60

    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.server_args = ("--admin-port", str(cls.admin_port),
                           "--set", "limits.room_idle_ms=%d" % IDLE_MS,
                           "--set", "limits.hibernate_ms=60000",
                           "--set", "limits.room_cpu_ms_per_minute=%d" % BUDGET_MS)
        super().setUpClass()

    def admin(self, path):
        return http_request(self.admin_port, "GET", path,
                            headers={"Authorization": "Bearer " + TOKEN}, timeout=10)

    def usage(self, ns, rid):
        res = self.admin("/rooms/%s/%s/usage" % (ns, rid))
        self.assertEqual(res.status, 200, res.body)
        return res.json["total"]

    def roomctl(self, *args):
        env = dict(os.environ, ROOMD_ADMIN_URL="http://127.0.0.1:%d" % self.admin_port)
        return subprocess.run([ROOMCTL, *args], env=env, capture_output=True, text=True,
                              timeout=30)

    async def test_a_known_workload_counts_exactly(self):
        rid = unique()
        for _ in range(7):
            self.assertEqual(self.server.post("/counter/" + rid).status, 200)
        total = self.usage("counter", rid)
        self.assertEqual(total["requests"], 7)
        self.assertEqual(total["writes"], 7)
        self.assertEqual(total["turns"], 8)  # init, then the seven requests
        self.assertGreater(total["cpu_us"], 0)
        self.assertGreater(total["stored_bytes"], 0)
        self.assertNotIn("messages_in", total)  # nothing counted is not stored

        ws = await self.server.ws("/echo/" + rid)
        for i in range(5):
            await ws_send_json(ws, {"i": i})
            self.assertEqual(await ws_recv_json(ws), {"i": i})
        await ws.close()
        await async_wait_until(lambda: self.usage("echo", rid).get("turns") == 8, 5)
        total = self.usage("echo", rid)
        self.assertEqual((total["messages_in"], total["messages_out"]), (5, 5))
        self.assertEqual(total["turns"], 8)  # init, join, five messages, leave
        self.assertGreater(total["bytes_out"], 5 * len('{"i":0}'))
        self.assertGreater(total["conn_ms"], 0)

    async def test_totals_survive_eviction_and_a_restart(self):
        rid = unique()
        for _ in range(3):
            self.server.post("/counter/" + rid)
        # the room leaves memory after IDLE_MS idle: its usage is flushed then
        self.assertTrue(await async_wait_until(
            lambda: self.admin("/rooms/counter/" + rid).json["state"] == "stored",
            10))
        for _ in range(4):
            self.server.post("/counter/" + rid)
        self.server.stop_clean()  # a clean stop flushes what every room counted
        self.server.start()
        for _ in range(2):
            self.server.post("/counter/" + rid)
        total = self.usage("counter", rid)
        self.assertEqual(total["requests"], 9)
        self.assertEqual(total["writes"], 9)
        self.assertGreater(total["memory_ms"], 0)

    async def test_a_room_that_does_nothing_has_no_usage(self):
        res = self.admin("/rooms/counter/%s/usage" % unique())
        self.assertEqual((res.status, res.json["days"], res.json["total"]), (200, [], {}))

    async def test_top_ranks_rooms_and_roomctl_prints_them(self):
        ns = "counter"
        busy, quiet = unique("busy"), unique("quiet")
        for _ in range(6):
            self.server.get("/%s/%s" % (ns, busy))
        self.server.get("/%s/%s" % (ns, quiet))
        res = self.admin("/usage/top?by=requests&ns=%s&limit=1000" % ns)
        self.assertEqual(res.status, 200, res.body)
        ours = [(r["id"], r["value"]) for r in res.json["rooms"] if r["id"] in (busy, quiet)]
        self.assertEqual(ours, [(busy, 6), (quiet, 1)])
        values = [r["value"] for r in res.json["rooms"]]
        self.assertEqual(values, sorted(values, reverse=True))
        out = self.roomctl("top", "--by", "requests", "--ns", ns, "--limit", "1000")  # piped: JSON
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["rooms"], res.json["rooms"])
        out = self.roomctl("usage", "%s/%s" % (ns, busy))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["total"]["requests"], 6)
        self.assertEqual(self.roomctl("top", "--by").returncode, 2)
        self.assertEqual(self.roomctl("usage", "no-slash").returncode, 2)

    async def test_bad_arguments_get_400(self):
        for path in ("/usage/top?by=nope", "/usage/top?day=yesterday", "/usage/top?limit=0",
                     "/usage/top?limit=5000", "/rooms/counter/x/usage?from=2026-13-01",
                     "/rooms/counter/x/usage?from=2026-02-02&to=2026-02-01",
                     "/rooms/counter/x/usage?from=2020-01-01&to=2026-01-01"):
            self.assertJsonError(self.admin(path), 400, path)
        self.assertJsonError(self.admin("/usage/top?ns=nope"), 404)

    async def test_a_room_over_its_cpu_budget_is_refused(self):
        rid, other = unique("hot"), unique("cool")
        ws = await self.server.ws("/echo/" + rid)
        statuses = [self.server.get("/echo/%s?burn_ms=60" % rid).status for _ in range(4)]
        self.assertEqual(statuses[:3], [200, 200, 200])  # 180 ms used: over the 150 ms budget
        self.assertEqual(statuses[3], 429)
        res = self.server.get("/echo/" + rid)
        self.assertJsonError(res, 429)
        self.assertIn("budget", res.json["error"])
        await ws_send_json(ws, {"hello": 1})
        self.assertIn("budget", (await ws_recv_json(ws))["error"])
        late = await self.server.ws("/echo/" + rid)
        code, _ = await ws_expect_close(late)
        self.assertEqual(code, 1013)
        self.assertEqual(self.server.get("/echo/" + other).status, 200)  # other rooms go on
        await ws.close()

    async def test_a_namespace_may_have_its_own_budget(self):
        rid = unique("own")  # conf/test.lua: budget = {cpu_ms_per_minute = 100}, under the 150
        statuses = [self.server.get("/budgeted/%s?burn_ms=60" % rid).status for _ in range(3)]
        self.assertEqual(statuses, [200, 200, 429])


if __name__ == "__main__":
    unittest.main()
