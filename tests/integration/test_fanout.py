"""Fan-out: 1,000 WebSocket connections in one relay room, each receiving every
one of 20 broadcasts in order, in bounded time; the room counts them and
forgets them when they leave."""

import asyncio
import json
import time
import unittest

from harness import AsyncServerTestCase, is_sanitized, unique, ws_connect, ws_send_json

CONNECTIONS = 1000
BROADCASTS = 20
SLOW = 3 if is_sanitized() else 1


class FanoutTest(AsyncServerTestCase):
    test_timeout = 90

    def connections(self, room):
        return self.server.get("/relay/" + room).json["connections"]

    def wait_connections(self, room, n, timeout):
        deadline = time.monotonic() + timeout
        seen = self.connections(room)
        while seen != n and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = self.connections(room)
        self.assertEqual(seen, n)

    async def open_all(self, path):
        gate = asyncio.Semaphore(50)

        async def one():
            async with gate:
                return await ws_connect(self.port, path, open_timeout=20)
        results = await asyncio.gather(*(one() for _ in range(CONNECTIONS)), return_exceptions=True)
        conns = [r for r in results if not isinstance(r, BaseException)]
        failures = [r for r in results if isinstance(r, BaseException)]
        return conns, failures

    async def test_thousand_members_get_every_broadcast(self):
        room = unique("fan")
        path = "/relay/" + room
        started = time.monotonic()
        conns, failures = await self.open_all(path)
        try:
            self.assertEqual(failures[:3], [],
                             "%d of %d joins failed" % (len(failures), CONNECTIONS))
            joined = time.monotonic()
            self.wait_connections(room, CONNECTIONS, 10 * SLOW)

            async def collect(ws):
                got = []
                for _ in range(BROADCASTS):
                    got.append(json.loads(await ws.recv()))
                return got
            readers = [asyncio.ensure_future(collect(ws)) for ws in conns]
            for i in range(BROADCASTS):
                await ws_send_json(conns[i % len(conns)], {"seq": i, "pad": "p" * 100})
            done, pending = await asyncio.wait(readers, timeout=30 * SLOW)
            for task in pending:
                task.cancel()
            self.assertEqual(len(pending), 0,
                             "%d of %d members did not get all %d broadcasts in time"
                             % (len(pending), CONNECTIONS, BROADCASTS))
            expected = [{"seq": i, "pad": "p" * 100} for i in range(BROADCASTS)]
            wrong = [repr(t.exception()) if t.exception() else t.result() for t in done
                     if t.exception() or t.result() != expected]
            self.assertEqual(len(wrong), 0, "first wrong: %r" % (wrong[:1],))
            delivered = time.monotonic()
            print("\nfan-out: %d joins in %.2fs, %d deliveries in %.2fs"
                  % (CONNECTIONS, joined - started, CONNECTIONS * BROADCASTS, delivered - joined))
        finally:
            await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in conns),
                                                  return_exceptions=True), 30)
        self.wait_connections(room, 0, 15 * SLOW)
        self.assertEqual(self.server.get("/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
