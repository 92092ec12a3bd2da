"""How roomd reads WebSocket frames (server/server.c, RX_BUFFER): libwebsockets
hands each message over in pieces of at most 2 KiB, which roomd puts back
together, and must read each control frame (at most 125 bytes) whole. A
message whose multibyte characters straddle every piece boundary arrives
intact, also when it comes in fragments of other sizes; a 125-byte ping gets
its pong; close reasons of the largest size (123 bytes) arrive whole both
ways. Uses the relay demo and tests/lua/gate.lua."""

import asyncio
import json
import unittest

from harness import (AsyncServerTestCase, RawWebSocket, encode_frame, unique, ws_expect_close,
                     ws_recv_json, ws_send_json)

# 2-, 3- and 4-byte UTF-8 characters: 2 KiB pieces end inside some of them.
WIDE = "é€😀"


class FramesTest(AsyncServerTestCase):
    test_timeout = 45

    async def test_message_over_many_pieces(self):
        room = unique()
        a = await self.server.ws("/relay/" + room)
        b = await self.server.ws("/relay/" + room)
        try:
            for n in (300, 1000, 5000):  # 2.7, 9 and 45 KB of text
                with self.subTest(chars=n * 3):
                    msg = {"text": WIDE * n, "n": n}
                    await ws_send_json(a, msg)
                    self.assertEqual(await ws_recv_json(b, 10), msg)
                    self.assertEqual(await ws_recv_json(a, 10), msg)
        finally:
            await a.close()
            await b.close()

    async def test_fragments_across_pieces(self):
        room = unique()
        raw = await asyncio.to_thread(RawWebSocket, self.port, "/relay/" + room)
        try:
            text = json.dumps({"text": WIDE * 700}, ensure_ascii=False).encode()
            cuts = (1500, 2200, 5300)  # fragments of 1500, 700, 3100 and the rest
            parts = [text[i:j] for i, j in zip((0,) + cuts, cuts + (len(text),))]
            frames = [encode_frame(0x1 if i == 0 else 0x0, part, fin=i == len(parts) - 1)
                      for i, part in enumerate(parts)]
            raw.sock.sendall(b"".join(frames))
            frame = await asyncio.to_thread(raw.recv_frame, 10.0)
            self.assertIsNotNone(frame, "connection ended after a fragmented message")
            self.assertEqual(frame[0], 0x1)
            self.assertEqual(json.loads(frame[1]), json.loads(text))
        finally:
            raw.close()

    async def test_largest_ping_gets_its_pong(self):
        ws = await self.server.ws("/relay/" + unique())
        try:
            pong = await ws.ping(b"p" * 125)
            await asyncio.wait_for(pong, 5)
            await ws_send_json(ws, {"after": "ping"})
            self.assertEqual(await ws_recv_json(ws), {"after": "ping"})
        finally:
            await ws.close()

    async def test_largest_close_reasons(self):
        room = unique()
        leaver = await self.server.ws("/gate/" + room)
        watcher = await self.server.ws("/gate/" + room)
        try:
            await ws_send_json(leaver, {"get": True})
            me = (await ws_recv_json(leaver))["id"]
            await leaver.close(code=4003, reason="r" * 123)
            self.assertEqual(await ws_recv_json(watcher),
                             {"left": me, "code": 4003, "reason": "r" * 123})
            await ws_send_json(watcher, {"close": {"code": 4004, "reason": "s" * 123}})
            self.assertEqual(await ws_recv_json(watcher), {"closing": True})
            self.assertEqual(await ws_expect_close(watcher, 5), (4004, "s" * 123))
        finally:
            await leaver.close()
            await watcher.close()


if __name__ == "__main__":
    unittest.main()
