"""Nodes joining and leaving under load, through HAProxy. Three nodes serve counter, ledger
and vote rooms (writers POST through HAProxy, WebSocket clients sit in the vote rooms and
reconnect whenever they are closed). Then:

- a node is added: n4 starts and its HAProxy server is set ready, so the rooms that now hash
  to it move there (n4 asks their holders; they close their sockets with 1012);
- a node is removed gracefully: its HAProxy server is set to maint, then it gets SIGTERM
  (it finishes its turns, closes its sockets with 1012, releases its leases, exits 0).

Checked: no acknowledged write is lost and none acknowledged twice; every WebSocket close
is a 1012 and every client gets back; rooms really moved to n4 and off the removed node;
the ledger rooms' epochs rise with every new owner (cluster.check_ledger)."""

import asyncio
import collections
import json
import threading
import unittest

import websockets

from cluster import SLOW, ClusterTestCase, check_ledger, harness, ledger_entries, unique

COUNTERS = 60
LEDGERS = 20
VOTES = 32  # P(none hashes to n4) = 0.75^32, 1e-4
WRITERS = 3


class Writers:
    def __init__(self, cluster, paths, seed):
        self.cluster, self.paths = cluster, paths
        self.acked = collections.defaultdict(list)
        self.failures = collections.Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.rng = harness.random.Random(seed)
        self.threads = [threading.Thread(target=self.run, args=(self.rng.random(),), daemon=True)
                        for _ in range(WRITERS)]

    def run(self, seed):
        rng = harness.random.Random(seed)
        while not self.stopping.is_set():
            path = rng.choice(self.paths)
            try:
                res = self.cluster.post(path, timeout=20 * SLOW)
            except (AssertionError, OSError) as e:
                with self.lock:
                    self.failures[type(e).__name__] += 1
                continue
            with self.lock:
                if res.status == 200:
                    self.acked[path].append(res.json)
                else:
                    self.failures[res.status] += 1

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60 * SLOW)


class Member:
    """A WebSocket client of one vote room through HAProxy that reconnects when closed;
    records the node of each connection and the close code that ended it."""

    def __init__(self, cluster, room):
        self.cluster, self.room = cluster, room
        self.history = []  # [node, close code or None]
        self.stopping = False
        self.ws = None

    async def run(self):
        while not self.stopping:
            try:
                self.ws = await self.cluster.ws("/vote/" + self.room, open_timeout=20 * SLOW)
                state = json.loads(await asyncio.wait_for(self.ws.recv(), 20 * SLOW))
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
                await asyncio.sleep(0.1)
                continue
            self.history.append([state["node"], None])
            try:
                while True:
                    await self.ws.recv()
            except websockets.ConnectionClosed:
                self.history[-1][1] = self.ws.close_code
            await asyncio.sleep(0.05)

    def node(self):
        return self.history[-1][0] if self.history else None


class ClusterMembershipTest(ClusterTestCase):
    nodes = 3
    spare = 1
    lease_ms = 2000
    test_timeout = 200

    async def test_add_and_remove_a_node(self):
        c = self.cluster
        counters = [unique("mc") for _ in range(COUNTERS)]
        ledgers = [unique("ml") for _ in range(LEDGERS)]
        votes = [unique("mv") for _ in range(VOTES)]
        writers = Writers(c, ["/counter/" + r for r in counters] +
                          ["/ledger/" + r for r in ledgers], harness.rng.random())
        writers.start()
        members = [Member(c, r) for r in votes]
        tasks = [asyncio.ensure_future(m.run()) for m in members]
        await asyncio.sleep(2)
        before = {r: c.lease("counter", r)[0] for r in counters}

        # Add n4.
        c.start_node("n4")
        c.set_server_state("n4", "ready")
        c.proxy.wait_status("n4", "UP")
        # A WebSocket stays on the node it joined: a vote room moves once a request for it
        # reaches n4 (then its old holder closes the sockets with 1012, and they reconnect).
        loop = asyncio.get_running_loop()
        for r in votes:
            res = await loop.run_in_executor(None, lambda: c.get("/vote/" + r, timeout=20 * SLOW))
            self.assertEqual(res.status, 200, r)
        await asyncio.sleep(3 * SLOW)
        after_add = {r: (c.lease("counter", r) or ("-",))[0] for r in counters}
        to_n4 = [r for r in counters if after_add[r] == "n4"]
        moved_votes = [m for m in members if m.node() == "n4"]
        print("after adding n4: %d of %d counter rooms on n4; %d vote rooms' clients now on n4"
              % (len(to_n4), len(counters), len(moved_votes)))
        self.assertGreater(len(to_n4), 0, "no room moved to n4")
        self.assertGreater(len(moved_votes), 0, "no vote room moved to n4")
        for r in to_n4:
            self.assertNotEqual(before[r], "n4")
        for m in moved_votes:
            self.assertEqual([h[1] for h in m.history[:-1]], [1012] * (len(m.history) - 1),
                             m.room)

        # Remove n2 gracefully: maint, then SIGTERM.
        c.set_server_state("n2", "maint")
        c.proxy.wait_status("n2", "MAINT")
        on_n2 = [m for m in members if m.node() == "n2"]
        node2 = c.node("n2")
        rc = c.sigterm("n2")
        node2.assert_clean_exit(rc)
        await asyncio.sleep(3 * SLOW)
        writers.stop()
        for m in members:
            m.stopping = True
            if m.ws is not None:
                await m.ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)

        leases = collections.Counter((c.lease("counter", r) or ("-",))[0] for r in counters)
        print("after removing n2: counter rooms per node %s; %d vote rooms' clients were on n2"
              % (dict(leases), len(on_n2)))
        self.assertNotIn("n2", leases)
        for m in on_n2:
            self.assertNotEqual(m.node(), "n2", m.room)

        # Every close was a move (1012), and every client got back.
        codes = collections.Counter(h[1] for m in members for h in m.history[:-1])
        print("WebSocket closes: %s; writes: %d acknowledged, failures %s" % (
            dict(codes), sum(len(v) for v in writers.acked.values()), dict(writers.failures)))
        self.assertEqual(set(codes) - {1012}, set(), "closes other than 1012")
        for m in members:
            self.assertTrue(m.history, m.room)

        # No acknowledged write lost or acknowledged twice.
        for r in counters:
            acked = [j["value"] for j in writers.acked.get("/counter/" + r, [])]
            self.assertEqual(len(acked), len(set(acked)), r)
            if acked:
                self.assertGreaterEqual(c.stored_counter(r), max(acked), r)
        owners = collections.Counter()
        for r in ledgers:
            entries = ledger_entries(c, r)
            self.assertEqual(check_ledger(entries), [], r)
            stored = {(e["seq"], e["node"], e["epoch"]) for e in entries}
            for j in writers.acked.get("/ledger/" + r, []):
                self.assertIn((j["seq"], j["node"], j["epoch"]), stored, r)
            owners[len({e["epoch"] for e in entries})] += 1
        print("ledger rooms by number of epochs: %s" % dict(sorted(owners.items())))


if __name__ == "__main__":
    unittest.main()
