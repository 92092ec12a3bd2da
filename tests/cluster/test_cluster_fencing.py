"""A node frozen (SIGSTOP) past its lease while another node takes its rooms, then thawed
(SIGCONT). Node n1 holds counter, ledger and vote rooms (requests sent to it directly) and
has WebSocket clients in the vote rooms; writers keep POSTing to it directly, so requests
are in flight when it freezes. After lease_ms, n2 is asked for every room (directly) and
HAProxy for some (it marks n1 down by then). Then n1 resumes. Checked:

- no stale answer: every value any node acknowledged for a counter room is acknowledged
  once (a frozen node that served a turn on what it held would repeat a value n2 gave),
  and the stored value is at least the highest acknowledged; n1's answers after it resumed
  are 503 or come from a new activation (the room handed back, from storage);
- nothing n1 wrote after losing the lease is stored: the ledger rooms' epochs never fall in
  seq order and each epoch has one node (cluster.check_ledger), and every entry n2
  acknowledged is in the ledger;
- n1 drops the rooms: its WebSockets close with 1012, its metrics count the leases lost
  (roomd_lease_lost_total) or checkpoints refused (roomd_lease_fenced_total), and its log
  says so.
A second case gives the lease of rooms a node holds to a phantom node and checks that the
node's next commit is refused by the fence (503, nothing stored)."""

import asyncio
import collections
import threading
import time
import unittest

from cluster import (SLOW, ClusterTestCase, check_ledger, harness, ledger_entries, unique,
                     ws_recv_json)

LEASE_MS = 1500
COUNTERS = 10
LEDGERS = 10
VOTES = 4


class Writer:
    """POSTs straight to one node in a thread, round robin over paths, recording
    (path, status, json, sent, answered) for every answer."""

    def __init__(self, cluster, via, paths):
        self.cluster, self.via, self.paths = cluster, via, paths
        self.answers = []
        self.errors = collections.Counter()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        while not self.stopping.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            sent = time.monotonic()
            try:
                res = self.cluster.post(path, via=self.via, timeout=30 * SLOW)
            except (AssertionError, OSError) as e:
                self.errors[type(e).__name__] += 1
                time.sleep(0.05)
                continue
            self.answers.append((path, res.status, res.json, sent, time.monotonic()))


class ClusterFencingTest(ClusterTestCase):
    nodes = 3
    lease_ms = LEASE_MS
    test_timeout = 150

    async def test_frozen_node_is_fenced(self):
        c = self.cluster
        a, b = "n1", "n2"
        counters = [unique("fc") for _ in range(COUNTERS)]
        ledgers = [unique("fl") for _ in range(LEDGERS)]
        votes = [unique("fv") for _ in range(VOTES)]
        paths = ["/counter/" + r for r in counters] + ["/ledger/" + r for r in ledgers]
        for p in paths + ["/vote/" + r for r in votes]:
            body = {"option": 0} if p.startswith("/vote/") else None
            self.assertEqual(c.post(p, body, via=a).status, 200, p)
        for r in counters:
            self.assertEqual(c.lease("counter", r)[0], a)
        sockets = [await c.ws("/vote/" + r, via=a) for r in votes]
        for ws in sockets:
            self.assertEqual((await ws_recv_json(ws))["node"], a)

        writers = [Writer(c, a, paths[i::2]) for i in range(2)]
        for w in writers:
            w.thread.start()
        await asyncio.sleep(0.7)
        t_stop = time.monotonic()
        c.sigstop(a)
        await asyncio.sleep(LEASE_MS / 1000 + 0.5)

        # Another node takes the rooms: n2 directly, and HAProxy for a few.
        loop = asyncio.get_running_loop()
        taken = collections.defaultdict(list)  # path -> json of n2's (or HAProxy's) answers

        def take(path, via):
            for _ in range(3):
                res = c.post(path, via=via, timeout=15 * SLOW)
                self.assertEqual(res.status, 200, "%s at %s: %r" % (path, via, res.body[:200]))
                taken[path].append(res.json)

        await asyncio.gather(*[loop.run_in_executor(None, take, p, b) for p in paths])
        c.proxy.wait_status(a, "DOWN")
        await asyncio.gather(*[loop.run_in_executor(None, take, p, None) for p in paths[::3]])
        for r in counters:
            self.assertNotEqual(c.lease("counter", r)[0], a)
        self.assertTrue(all(w.thread.is_alive() for w in writers))

        t_cont = time.monotonic()
        c.sigcont(a)
        closes = []
        for ws in sockets:
            code, _ = await harness.ws_expect_close(ws, timeout=10 * SLOW)
            closes.append(code)
        await asyncio.sleep(2)
        for w in writers:
            w.stopping.set()
        for w in writers:
            await loop.run_in_executor(None, w.thread.join, 40 * SLOW)

        # What n1 answered for requests that were in flight or queued while it was frozen.
        answers = [x for w in writers for x in w.answers]
        late = [x for x in answers if x[3] < t_cont and x[4] >= t_cont]
        kinds = collections.Counter()
        for path, status, body, sent, got in late:
            kinds[status] += 1
            self.assertIn(status, (200, 503), "%s: %s %r" % (path, status, body))
        fenced = c.node(a).metrics()
        print("n1's answers to requests in flight across the freeze: %s; its WebSocket closes "
              "%s; n1 metrics: lease_lost %s, fenced %s, handovers asked %s" % (
                  dict(kinds), closes, fenced.get("roomd_lease_lost_total"),
                  fenced.get("roomd_lease_fenced_total"), fenced.get("roomd_lease_asked_total")))
        self.assertEqual(closes, [1012] * len(sockets))
        self.assertGreater(fenced.get("roomd_lease_lost_total", 0)
                           + fenced.get("roomd_lease_fenced_total", 0), 0)
        log = c.node(a).log_text()
        self.assertRegex(log, r"lease lost|checkpoint refused")

        # Counter rooms: every value acknowledged once, and stored.
        for r in counters:
            path = "/counter/" + r
            acked = [x[2]["value"] for x in answers if x[0] == path and x[1] == 200]
            acked += [j["value"] for j in taken[path]]
            self.assertEqual(len(acked), len(set(acked)),
                             "%s: a value acknowledged twice: %s" % (r, sorted(acked)))
            self.assertGreaterEqual(c.stored_counter(r), max(acked), r)
            # n1's 200s after it resumed: older than n2's first or newer than n2's last.
            ours = [j["value"] for j in taken[path]]
            for x in late:
                if x[0] == path and x[1] == 200:
                    v = x[2]["value"]
                    self.assertTrue(v < min(ours) or v > max(ours),
                                    "%s: n1 answered %d among n2's %s" % (r, v, ours))
                    kinds["200 older than n2's" if v < min(ours) else "200 after a handover"] += 1
        print("n1's 200s for counter rooms after it resumed: %s" % {
            k: n for k, n in kinds.items() if isinstance(k, str)})

        # Ledger rooms: n1 stored nothing after losing the lease; n2's entries are all there.
        for r in ledgers:
            entries = ledger_entries(c, r, via=b)
            self.assertEqual(check_ledger(entries), [], r)
            stored = {(e["seq"], e["node"], e["epoch"]) for e in entries}
            for j in taken["/ledger/" + r]:
                self.assertIn((j["seq"], j["node"], j["epoch"]), stored, r)
            a_epochs = [e["epoch"] for e in entries if e["node"] == a]
            b_first = min(e["epoch"] for e in entries if e["node"] == b)
            # n1's entries before n2's are its old epoch; any after come from a new
            # activation (a handover back), with a higher epoch than n2's.
            for e in entries:
                if e["node"] == a and e["epoch"] > b_first:
                    self.assertGreater(e["epoch"], max(x["epoch"] for x in entries
                                                       if x["node"] == b and x["seq"] < e["seq"]))
            self.assertTrue(a_epochs, r)
        print("frozen for %.1fs; n2 took %d rooms" % (t_cont - t_stop, len(paths)))

    async def test_commit_after_the_lease_moved_is_refused(self):
        """The fence itself, exactly: the lease of rooms n3 holds is given to a node that is
        not there (as if it had taken them while n3 was cut off). n3's next write to each
        is refused (503 with Retry-After, from the fence or, if a renewal noticed first,
        from the wait for the phantom holder): nothing is stored, n3 drops the rooms; once
        the phantom's lease is gone, n3 takes the rooms again with a higher epoch and the
        stored state."""
        c = self.cluster
        node = "n3"
        counter, ledger = unique("fx"), unique("fy")
        self.assertEqual(c.post("/counter/" + counter, via=node).json["value"], 1)
        first = c.post("/ledger/" + ledger, via=node).json
        before = c.node(node).metrics()
        for ns, rid in (("counter", counter), ("ledger", ledger)):
            holder, epoch = c.lease(ns, rid)
            self.assertEqual(holder, node)
            c.redis_call("SET", "rd:{%s:%s}:lease" % (ns, rid), "n9 %d" % (epoch + 5),
                         "PX", str(LEASE_MS * 3))
        for path in ("/counter/" + counter, "/ledger/" + ledger):
            res = c.post(path, via=node, timeout=15 * SLOW)
            self.assertEqual(res.status, 503, "%s: %s %r" % (path, res.status, res.body[:200]))
            print("%s: 503 %r, headers %s" % (path, res.body[:120], sorted(res.headers)))
        self.assertEqual(c.stored_counter(counter), 1)
        after = c.node(node).metrics()
        refused = {k: after.get(k, 0) - before.get(k, 0)
                   for k in ("roomd_lease_fenced_total", "roomd_lease_lost_total",
                             "roomd_lease_wait_timeouts_total")}
        print("n3 refused its writes after the lease moved: %s" % refused)
        self.assertGreater(refused["roomd_lease_fenced_total"] + refused["roomd_lease_lost_total"], 0)
        for ns, rid in (("counter", counter), ("ledger", ledger)):
            c.redis_call("DEL", "rd:{%s:%s}:lease" % (ns, rid))
        self.assertEqual(c.post("/counter/" + counter, via=node).json["value"], 2)
        again = c.post("/ledger/" + ledger, via=node).json
        self.assertEqual(again["seq"], 2)
        self.assertGreater(again["epoch"], first["epoch"])
        entries = ledger_entries(c, ledger, via=node)
        self.assertEqual([(e["seq"], e["epoch"]) for e in entries],
                         [(1, first["epoch"]), (2, again["epoch"])])


if __name__ == "__main__":
    unittest.main()
