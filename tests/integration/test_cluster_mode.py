"""Cluster mode (--cluster) without a load balancer: two roomd nodes on one Redis of the
test's own, driven directly, so each case is exact. The lease of a room is the key
rd:{<ns>:<id>}:lease = "<node> <epoch>"; a test that writes that key plays a node that is
not there (one that took the room while this one was paused, or one that died).

Cases: the fence (a checkpoint after the lease was taken is refused: 503, nothing stored,
the room dropped with 1012 closes), a lease lost between requests (renewal finds it, the
room is dropped without waiting for a request), a handover (a request at the other node
moves the room: the holder closes its sockets with 1012 and the asker serves it with the
state stored), the wait for a dead holder's lease to run out, the 503 + Retry-After when it
does not, and a graceful stop (leases released, sockets closed 1012)."""

import asyncio
import re
import struct
import time
import unittest

from harness import (AsyncServerTestCase, OwnRedis, Server, free_port, http_request, unique, wait_until,
                     ws_connect, ws_expect_close, ws_recv_json)

LEASE_MS = 600
VOTE_TTL = 2.5  # seconds: the vote room's alarm, for the alarm case


def lease_key(ns, room):
    return "rd:{%s:%s}:lease" % (ns, room)


def metric(server, name):
    text = http_request(server.admin_port, "GET", "/metrics").body.decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


class ClusterModeTest(AsyncServerTestCase):
    test_timeout = 40

    @classmethod
    def setUpClass(cls):
        super(AsyncServerTestCase, cls).setUpClass()
        cls.redis = OwnRedis().start()
        cls.nodes = []
        try:
            for name in ("n1", "n2"):
                admin = free_port()
                node = Server(node=name, args=["--cluster", "--redis", cls.redis.url,
                                               "--set", "cluster.lease_ms=%d" % LEASE_MS,
                                               "--set", "vote.ttl=%g" % VOTE_TTL,
                                               "--admin-port", str(admin)])
                node.admin_port = admin
                node.start()
                cls.nodes.append(node)
        except BaseException:
            cls.tearDownClass()
            raise
        cls.server = cls.nodes[0]

    @classmethod
    def tearDownClass(cls):
        for node in getattr(cls, "nodes", []):
            if node.proc is not None and node.proc.poll() is None:
                node.stop_clean()
            node.cleanup()
        cls.redis.cleanup()
        cls.server = None

    def stored_value(self, room):
        """The counter's stored value (the storage codec: a number is 0x07 and a double)."""
        raw = self.redis.call("HGET", "rd:{counter:%s}:kv" % room, "value")
        if raw is None:
            return None
        self.assertEqual((raw[0], len(raw)), (7, 9), raw)
        return int(struct.unpack("<d", raw[1:])[0])

    async def test_fence_refuses_a_stale_checkpoint(self):
        n1 = self.nodes[0]
        room = unique("fence")
        for want in (1, 2):
            self.assertEqual(n1.post("/counter/" + room).json, {"value": want})
        ws = await ws_connect(n1.port, "/counter/" + room)
        fenced = metric(n1, "roomd_lease_fenced_total")
        # Another node took the room while n1 was not looking (n1's renewal has not run yet).
        self.redis.call("SET", lease_key("counter", room), "intruder 99", "PX", "60000")
        res = n1.post("/counter/" + room)
        self.assertJsonError(res, 503)
        self.assertIn("nothing was stored", res.json["error"])
        self.assertEqual(res.headers.get("retry-after"), "1")
        self.assertEqual(self.stored_value(room), 2, "the refused checkpoint stored nothing")
        code, _ = await ws_expect_close(ws)
        self.assertEqual(code, 1012)
        self.assertEqual(metric(n1, "roomd_lease_fenced_total"), fenced + 1)
        self.assertTrue(wait_until(lambda: "checkpoint refused" in n1.log_text(), 5))
        # The intruder goes: n1 takes the room again, from what is stored.
        self.redis.call("DEL", lease_key("counter", room))
        self.assertEqual(n1.post("/counter/" + room).json, {"value": 3})
        self.assertEqual(self.stored_value(room), 3)

    async def test_large_fenced_checkpoint(self):
        """One turn writing 2,500 keys goes through the fence in pieces (Redis' Lua unpacks at
        most ~8,000 values at once); delete_all clears the room in a fenced call too."""
        n1 = self.nodes[0]
        room = unique("large")
        ops = [{"op": "put_many", "entries": {"k%d" % i: i for i in range(j, j + 100)}}
               for j in range(0, 2500, 100)]
        res = n1.post("/store/" + room, {"op": "batch", "ops": ops})
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(self.redis.call("HLEN", "rd:{store:%s}:kv" % room), 2500)
        res = n1.post("/store/" + room, {"op": "delete_all"})
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(self.redis.call("EXISTS", "rd:{store:%s}:kv" % room), 0)

    async def test_functions_lost_by_redis_are_loaded_again(self):
        n1 = self.nodes[0]
        room = unique("flush")
        self.assertEqual(n1.post("/counter/" + room).json, {"value": 1})
        self.redis.call("FUNCTION", "FLUSH")
        statuses = []
        for _ in range(20):
            res = n1.post("/counter/" + room)
            statuses.append(res.status)
            if res.status == 200:
                break
            time.sleep(0.1)
        self.assertEqual(statuses[-1], 200, statuses)
        self.assertTrue(set(statuses) <= {200, 503}, statuses)
        self.assertEqual(self.stored_value(room), 1 + statuses.count(200))
        self.assertTrue(wait_until(lambda: "loading them again" in n1.log_text(), 5))

    async def test_admin_writes_refused_while_another_node_holds_the_room(self):
        n1, n2 = self.nodes
        room = unique("admin")
        self.assertEqual(n1.post("/counter/" + room).json, {"value": 1})
        path = "/rooms/counter/" + room
        res = http_request(n2.admin_port, "DELETE", path)
        self.assertJsonError(res, 409)
        self.assertEqual(self.stored_value(room), 1)
        res = http_request(n2.admin_port, "PUT", path + "/storage",
                           body={"format": "roomd-storage/1", "entries": [], "alarm": None})
        self.assertJsonError(res, 409)
        self.assertEqual(self.stored_value(room), 1)
        # At the holder, the room leaves memory, its lease goes, and the delete is stored.
        res = http_request(n1.admin_port, "DELETE", path)
        self.assertEqual(res.status, 200, res.body)
        self.assertIsNone(self.stored_value(room))
        self.assertIsNone(self.redis.call("GET", lease_key("counter", room)))

    async def test_lost_lease_drops_the_room(self):
        n1 = self.nodes[0]
        room = unique("lost")
        self.assertEqual(n1.post("/counter/" + room).json, {"value": 1})
        ws = await ws_connect(n1.port, "/counter/" + room)
        lost = metric(n1, "roomd_lease_lost_total")
        self.redis.call("SET", lease_key("counter", room), "intruder 7", "PX", "60000")
        started = time.monotonic()
        code, _ = await ws_expect_close(ws, timeout=LEASE_MS / 1000 * 3)
        self.assertEqual(code, 1012)
        self.assertLess(time.monotonic() - started, LEASE_MS / 1000 + 1)
        self.assertEqual(metric(n1, "roomd_lease_lost_total"), lost + 1)
        self.assertEqual(self.redis.call("GET", lease_key("counter", room)), b"intruder 7")
        self.redis.call("DEL", lease_key("counter", room))

    async def test_handover_moves_the_room_with_its_state(self):
        n1, n2 = self.nodes
        room = unique("move")
        for _ in range(3):
            res = n1.post("/vote/" + room, {"option": 1})
            self.assertEqual(res.status, 200, res.body)
        self.assertEqual(res.json["node"], "n1")
        ws = await ws_connect(n1.port, "/vote/" + room)
        self.assertEqual((await ws_recv_json(ws))["votes"], [0, 3])
        handovers = metric(n1, "roomd_lease_handovers_total")
        started = time.monotonic()
        res = n2.post("/vote/" + room, {"option": 0})
        moved_in = time.monotonic() - started
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual((res.json["node"], res.json["votes"]), ("n2", [1, 3]))
        self.assertLess(moved_in, LEASE_MS / 1000, "a live holder hands over before its lease ends")
        code, _ = await ws_expect_close(ws)
        self.assertEqual(code, 1012)
        self.assertEqual(metric(n1, "roomd_lease_handovers_total"), handovers + 1)
        self.assertTrue(self.redis.call("GET", lease_key("vote", room)).startswith(b"n2 "))
        # The clients reconnect (here, to n2) and see the state the room moved with.
        ws = await ws_connect(n2.port, "/vote/" + room)
        self.assertEqual((await ws_recv_json(ws))["votes"], [1, 3])
        await ws.close()

    async def test_dead_holders_lease_runs_out_then_the_room_is_served(self):
        n1 = self.nodes[0]
        room = unique("dead")
        # A holder that stored with epoch 4, then died: its lease runs out by itself.
        self.redis.call("HSET", "rd:{counter:%s}:meta" % room, "epoch", "4")
        self.redis.call("SET", lease_key("counter", room), "ghost 4", "PX", str(LEASE_MS))
        started = time.monotonic()
        res = n1.post("/counter/" + room)
        waited = time.monotonic() - started
        self.assertEqual(res.json, {"value": 1})
        self.assertGreater(waited, LEASE_MS / 1000 * 0.5)
        self.assertLess(waited, LEASE_MS / 1000 + 1)
        self.assertEqual(self.redis.call("GET", lease_key("counter", room)), b"n1 5",
                         "the epoch rises past the last holder's")
        # The ghost was asked to hand over (nobody listens on its list).
        self.assertEqual(self.redis.call("LRANGE", "rd:node:{ghost}:handover", 0, -1),
                         [("counter:" + room).encode()])

    async def test_a_lease_that_never_comes_gives_503_with_retry_after(self):
        n1 = self.nodes[0]
        room = unique("stuck")
        self.redis.call("SET", lease_key("counter", room), "ghost-b 1", "PX", "60000")
        started = time.monotonic()
        res = n1.post("/counter/" + room)
        waited = time.monotonic() - started
        self.assertJsonError(res, 503)
        self.assertEqual(res.headers.get("retry-after"), "1")
        self.assertGreater(waited, LEASE_MS / 1000 + 0.9)
        self.assertIsNone(self.stored_value(room))
        self.redis.call("DEL", lease_key("counter", room))

    async def test_an_alarm_fires_once_on_the_holder(self):
        n1, n2 = self.nodes
        room = unique("alarm")
        fired = [metric(n, 'roomd_alarms_fired_total{ns="vote"}') for n in self.nodes]
        self.assertEqual(n1.post("/vote/" + room, {"option": 0}).json["votes"], [1, 0])
        # Both nodes poll the alarm index; only the holder may run the alarm's turn.
        self.assertTrue(wait_until(
            lambda: self.redis.call("EXISTS", "rd:{vote:%s}:kv" % room) == 0, VOTE_TTL + 3))
        time.sleep(0.5)  # a second firing, if there were one, would have come by now
        after = [metric(n, 'roomd_alarms_fired_total{ns="vote"}') for n in self.nodes]
        self.assertEqual((after[0] - fired[0], after[1] - fired[1]), (1, 0))
        self.assertTrue(self.redis.call("GET", lease_key("vote", room)).startswith(b"n1 "))
        self.assertEqual(n1.get("/vote/" + room).json["votes"], [0, 0])

    async def test_eviction_releases_the_lease(self):
        # A lease of a minute: gone within seconds, it was released, not left to run out.
        n3 = Server(node="n3", args=["--cluster", "--redis", self.redis.url,
                                     "--set", "cluster.lease_ms=60000",
                                     "--set", "limits.room_idle_ms=300"])
        n3.start()
        try:
            room = unique("evict")
            self.assertEqual(n3.post("/counter/" + room).json, {"value": 1})
            self.assertTrue(self.redis.call("GET", lease_key("counter", room)).startswith(b"n3 "))
            self.assertTrue(wait_until(
                lambda: self.redis.call("GET", lease_key("counter", room)) is None, 5))
            self.assertEqual(self.nodes[0].post("/counter/" + room).json, {"value": 2})
        finally:
            n3.stop_clean()
            n3.cleanup()

    async def test_zz_graceful_stop_releases_leases(self):
        n2 = self.nodes[1]
        room = unique("stop")
        self.assertEqual(n2.post("/counter/" + room).json, {"value": 1})
        ws = await ws_connect(n2.port, "/counter/" + room)
        self.assertTrue(self.redis.call("GET", lease_key("counter", room)).startswith(b"n2 "))
        n2.proc.send_signal(15)
        code, _ = await ws_expect_close(ws)
        self.assertEqual(code, 1012)
        self.assertEqual(await asyncio.to_thread(n2.proc.wait, 15), 0)
        self.assertIsNone(self.redis.call("GET", lease_key("counter", room)))
        # Its rooms are served at once by another node, from storage.
        self.assertEqual(self.nodes[0].post("/counter/" + room).json, {"value": 2})


if __name__ == "__main__":
    unittest.main()
