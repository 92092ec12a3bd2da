"""Slow consumers (docs/lua-api.md "Limits": a connection whose send queue
passes send_queue_bytes is closed with 1013): a reader that never drains its
socket is culled, the server's memory stays bounded, and everyone else,
including the slow reader's own room, is served meanwhile.
Uses tests/lua/flood.lua (send_queue_bytes = 1 MiB in conf/test.lua)."""

import asyncio
import time
import unittest

from harness import (AsyncServerTestCase, RawWebSocket, unique, ws_recv_json, ws_send_json)

KIB = 1024
MIB = 1024 * KIB
RSS_GROWTH_LIMIT_KIB = 64 * 1024


class SlowConsumerTest(AsyncServerTestCase):
    test_timeout = 90

    async def assertServing(self):
        """/healthz, a counter and a relay room all answer."""
        self.assertEqual(self.server.get("/healthz", timeout=5).status, 200)
        counter = "/counter/" + unique()
        self.assertEqual(self.server.post(counter, timeout=5).json, {"value": 1})
        ws = await self.server.ws("/relay/" + unique())
        try:
            await ws_send_json(ws, {"ping": 1})
            self.assertEqual(await ws_recv_json(ws), {"ping": 1})
        finally:
            await ws.close()

    async def warm_up(self):
        """A reading client takes a modest flood, so the baseline RSS includes
        the buffers a normal flood uses."""
        ws = await self.server.ws("/flood/" + unique())
        try:
            await ws_send_json(ws, {"n": 8, "size": 64 * KIB})
            for i in range(8):
                self.assertEqual((await ws_recv_json(ws, 10))["i"], i + 1)
        finally:
            await ws.close()

    async def watch_rss(self, seconds):
        peak = self.server.rss_kib()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            peak = max(peak, self.server.rss_kib())
            await asyncio.sleep(0.05)
        return peak

    async def test_flood_to_a_non_reader(self):
        await self.warm_up()
        await self.assertServing()
        base = self.server.rss_kib()
        room = unique("slow")
        slow = await asyncio.to_thread(RawWebSocket, self.port, "/flood/" + room, 4096)
        try:
            n, size = 800, 256 * KIB  # 200 MiB asked for
            slow.send_json({"n": n, "size": size})
            watcher = asyncio.ensure_future(self.watch_rss(4.0))
            await asyncio.sleep(0.5)
            await self.assertServing()
            peak = await watcher
            growth = peak - base
            print("\nslow consumer: RSS base %d KiB, peak %d KiB (+%d KiB) for %d MiB asked"
                  % (base, peak, growth, n * size // MIB))
            self.assertLess(growth, RSS_GROWTH_LIMIT_KIB,
                            "RSS grew by %d KiB for a reader that does not read" % growth)
            total, code, ended = await asyncio.to_thread(slow.drain, 30.0)
            print("slow consumer: drained %d KiB, close code %s" % (total // KIB, code))
            self.assertTrue(ended, "the slow connection was not closed (read %d KiB in 30s)"
                            % (total // KIB))
            self.assertLess(total, n * size // 2, "the server buffered most of the flood")
            if code is not None:
                self.assertEqual(code, 1013)
        finally:
            slow.close()
        self.assertTrue(self.server.alive())
        await self.assertServing()
        # The flood room itself still serves a reader.
        ws = await self.server.ws("/flood/" + room)
        try:
            await ws_send_json(ws, {"n": 3, "size": 10})
            for i in range(3):
                self.assertEqual(await ws_recv_json(ws), {"i": i + 1, "data": "x" * 10})
        finally:
            await ws.close()

    async def test_slow_member_does_not_hold_up_a_room(self):
        """A relay room with one member that never reads: the readers get every
        broadcast, the non-reader is culled."""
        room = unique("relay-slow")
        slow = await asyncio.to_thread(RawWebSocket, self.port, "/relay/" + room, 4096)
        reader = await self.server.ws("/relay/" + room)
        try:
            count, blob = 200, "b" * (64 * KIB)  # 12.5 MiB to each member
            # The reader keeps at most `window` of its own messages in flight: the
            # server culls any member whose queue passes send_queue_bytes (1 MiB),
            # and a server faster than this client would otherwise reach that.
            window, received = 8, 0

            async def send_all():
                for i in range(count):
                    while i - received >= window:
                        await asyncio.sleep(0.001)
                    await ws_send_json(reader, {"i": i, "blob": blob})
            sender = asyncio.ensure_future(send_all())
            for i in range(count):
                msg = await ws_recv_json(reader, 10)
                self.assertEqual(msg["i"], i)
                received = i + 1
            await asyncio.wait_for(sender, 10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.server.get("/relay/" + room).json["connections"] == 1:
                    break
                await asyncio.sleep(0.1)
            self.assertEqual(self.server.get("/relay/" + room).json, {"connections": 1},
                             "the non-reading member was not dropped")
            _, _, ended = await asyncio.to_thread(slow.drain, 20.0)
            self.assertTrue(ended, "the non-reading member's socket was not closed")
        finally:
            slow.close()
            await reader.close()


if __name__ == "__main__":
    unittest.main()
