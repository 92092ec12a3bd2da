"""Limits on a connection's message rate and on rooms in memory: a client sending faster than
limits.messages_per_second is closed with 1008 and a reason while the others in its room go on;
past limits.max_rooms a new room gets 503 (HTTP and WebSocket upgrade) and existing rooms still
answer."""

import unittest

import websockets

from harness import (AsyncServerTestCase, unique, ws_expect_close, ws_recv_json, ws_refused_status,
                     ws_send_json)

RATE = 50


class FloodTest(AsyncServerTestCase):
    server_args = ("--set", "limits.messages_per_second=%d" % RATE,
                   "--set", "limits.max_rooms=20")
    test_timeout = 30

    async def test_flooding_client_is_closed(self):
        room = "/relay/" + unique()
        calm = await self.server.ws(room)
        flood = await self.server.ws(room)
        try:
            try:
                for i in range(RATE * 4):  # four seconds' worth at once
                    await ws_send_json(flood, {"n": i})
                code, reason = await ws_expect_close(flood, 5)
            except websockets.ConnectionClosed as e:
                code, reason = e.code, e.reason
            # 1008 with its reason, unless the close frame was lost to the reset that closing a
            # socket with unread data sends (the flood is still arriving): then 1006.
            self.assertIn((code, reason), ((1008, "too many messages per second"), (1006, "")))
            await ws_send_json(calm, {"still": "here"})
            while True:  # the flood's accepted messages come first
                msg = await ws_recv_json(calm)
                if "still" in msg:
                    break
            self.assertIn("over %d messages per second" % RATE, self.server.log_text())
        finally:
            await calm.close()
            await flood.close()

    async def test_room_limit(self):
        kept = "/counter/" + unique()
        self.assertEqual(self.server.post(kept).status, 200)
        statuses = [self.server.get("/counter/" + unique()).status for _ in range(40)]
        self.assertIn(503, statuses)
        self.assertEqual(self.server.get(kept).json, {"value": 1}, "a live room still answers")
        self.assertEqual(await ws_refused_status(self.port, "/relay/" + unique()), 503)


if __name__ == "__main__":
    unittest.main()
