"""Three nodes behind HAProxy: vote rooms used by many clients at once, by HTTP POST and
over WebSockets, all through HAProxy, behave as on one node. Every client ends up seeing
the same counts (every vote cast, none twice), every answer about one room names one node
(the hash sends a room to one node and its lease keeps it there; a query string or a sub-path
does not change the node), and the rooms spread over more than one node. Afterwards each node, asked directly, serves every room with the same
counts (the room moves to it by a handover, its state from storage)."""

import asyncio
import collections
import json
import unittest

from cluster import ClusterTestCase, unique, ws_recv_json

ROOMS = 12
WS_PER_ROOM = 3
WS_VOTES = 5  # each WebSocket client's votes
HTTP_VOTES = 6  # POSTs per room


class ClusterVoteTest(ClusterTestCase):
    nodes = 3
    test_timeout = 150

    async def test_vote_rooms_through_haproxy(self):
        c = self.cluster
        rooms = [unique("vote") for _ in range(ROOMS)]
        seen_nodes = collections.defaultdict(set)  # room -> node names in its answers
        expected = {}
        for i, room in enumerate(rooms):
            # option 0 for even vote numbers, 1 for odd: the totals are known
            n = WS_PER_ROOM * WS_VOTES + HTTP_VOTES
            expected[room] = [(n + 1) // 2, n // 2]

        async def ws_client(room, k):
            ws = await c.ws("/vote/" + room, open_timeout=15)
            try:
                first = await ws_recv_json(ws, 10)
                seen_nodes[room].add(first["node"])
                for v in range(WS_VOTES):
                    await ws.send(json.dumps({"option": (k * WS_VOTES + v) % 2}))
                # read broadcasts until the room's total is reached
                last = first
                while sum(last["votes"]) < sum(expected[room]):
                    last = await ws_recv_json(ws, 20)
                    self.assertNotIn("error", last)
                    seen_nodes[room].add(last["node"])
                return last["votes"]
            finally:
                await ws.close()

        def http_votes(room):
            out = []
            for v in range(HTTP_VOTES):
                option = (WS_PER_ROOM * WS_VOTES + v) % 2
                res = c.post("/vote/" + room, {"option": option}, timeout=20)
                self.assertEqual(res.status, 200, res.body[:200])
                seen_nodes[room].add(res.json["node"])
                out.append(res.json["votes"])
            return out

        loop = asyncio.get_running_loop()
        tasks = []
        for room in rooms:
            tasks += [ws_client(room, k) for k in range(WS_PER_ROOM)]
            tasks.append(loop.run_in_executor(None, http_votes, room))
        results = await asyncio.gather(*tasks)

        # Every WebSocket client saw the room's final counts.
        per_room = WS_PER_ROOM + 1
        for r, room in enumerate(rooms):
            chunk = results[r * per_room:(r + 1) * per_room]
            for votes in chunk[:WS_PER_ROOM]:
                self.assertEqual(votes, expected[room], room)
        # Every reader through HAProxy (new connections) sees the same counts.
        for room in rooms:
            for _ in range(3):
                res = c.get("/vote/" + room)
                self.assertEqual(res.status, 200)
                self.assertEqual(res.json["votes"], expected[room], room)
                seen_nodes[room].add(res.json["node"])
        # One node per room; the rooms spread over nodes.
        for room in rooms:
            self.assertEqual(len(seen_nodes[room]), 1, "%s served by %s" % (room, seen_nodes[room]))
            holder = c.lease("vote", room)
            self.assertEqual(holder[0], next(iter(seen_nodes[room])), room)
        # The hash covers /<ns>/<id> only: a query string or a sub-path reaches the same node
        # (no handover anywhere; the sub-path is the room's own 404).
        def handovers():
            return sum(n.metrics().get("roomd_lease_handovers_total", 0) for n in c.live())

        before = handovers()
        for room in rooms:
            res = c.get("/vote/%s?from=%s&x=1" % (room, room[::-1]))
            self.assertEqual(res.json["node"], next(iter(seen_nodes[room])), room)
            self.assertEqual(c.get("/vote/%s/sub?y=2" % room).status, 404)
            self.assertEqual(c.lease("vote", room)[0], next(iter(seen_nodes[room])), room)
        self.assertEqual(handovers(), before)
        spread = collections.Counter(next(iter(s)) for s in seen_nodes.values())
        print("rooms per node: %s" % dict(spread))
        self.assertGreater(len(spread), 1, "every room on one node: %s" % dict(spread))

        # Each node asked directly serves every room with the same counts (handover).
        for name in sorted(c.nodes):
            for room in rooms[:4]:
                res = c.get("/vote/" + room, via=name, timeout=15)
                self.assertEqual(res.status, 200, "%s at %s: %r" % (room, name, res.body[:200]))
                self.assertEqual(res.json["votes"], expected[room], "%s at %s" % (room, name))
                self.assertEqual(res.json["node"], name)


if __name__ == "__main__":
    unittest.main()
