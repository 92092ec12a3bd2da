"""The relay demo (docs/http-contract.md, "relay"): JSON objects broadcast to every member,
sender included, as the same JSON value and in order; anything else gets an
error to the sender alone; GET counts the connections."""

import asyncio
import json
import time
import unittest

from harness import (AsyncServerTestCase, RawWebSocket, unique, ws_expect_silence, ws_recv,
                     ws_recv_json, ws_send_json)

OBJECTS = (
    {"text": "hello"},
    {"x": 1, "y": -2.5, "s": "é ✓ 😀", "t": True, "f": False, "n": None},
    {"nested": {"a": [1, 2, {"b": []}], "c": {}}},
    {},
    {"big": 9007199254740992, "list": list(range(100))},
)

NOT_OBJECTS = ("[1, 2]", "[]", '"a string"', "42", "true", "null", "not json {", '{"a": 1',
               '{"a": 1} {"b": 2}', "")


class RelayTest(AsyncServerTestCase):
    test_timeout = 45

    async def join(self, room, n):
        return [await self.server.ws("/relay/" + room) for _ in range(n)]

    async def close(self, conns):
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)

    def connections(self, room):
        res = self.server.get("/relay/" + room)
        self.assertEqual(res.status, 200, res.body[:300])
        self.assertEqual(set(res.json), {"connections"}, res.json)
        return res.json["connections"]

    def wait_connections(self, room, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        seen = self.connections(room)
        while seen != n and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = self.connections(room)
        self.assertEqual(seen, n, "GET /relay/%s connections" % room)

    async def test_object_is_broadcast_to_all_including_sender(self):
        room = unique()
        members = await self.join(room, 3)
        try:
            for i, value in enumerate(OBJECTS):
                sender = members[i % 3]
                await ws_send_json(sender, value)
                for ws in members:
                    self.assertEqual(await ws_recv_json(ws), value)
        finally:
            await self.close(members)

    async def test_order_is_kept(self):
        room = unique()
        members = await self.join(room, 2)
        try:
            for i in range(100):
                await ws_send_json(members[0], {"seq": i})
            for ws in members:
                got = [(await ws_recv_json(ws))["seq"] for _ in range(100)]
                self.assertEqual(got, list(range(100)))
        finally:
            await self.close(members)

    async def test_non_object_gets_error_to_sender_only(self):
        room = unique()
        a, b = await self.join(room, 2)
        try:
            for text in NOT_OBJECTS:
                await a.send(text)
                reply = await ws_recv_json(a)
                self.assertIsInstance(reply, dict, "reply to %r" % text)
                self.assertIsInstance(reply.get("error"), str, "reply to %r: %r" % (text, reply))
            await ws_expect_silence(b, 0.5)
            await ws_send_json(a, {"still": "open"})
            for ws in (a, b):
                self.assertEqual(await ws_recv_json(ws), {"still": "open"})
        finally:
            await self.close([a, b])

    async def test_binary_frame_gets_error_to_sender_only(self):
        room = unique()
        a, b = await self.join(room, 2)
        try:
            for data in (b'{"a": 1}', b"\xff\xfe\x00garbage"):
                await a.send(data)
                reply = await ws_recv(a)
                self.assertIsInstance(reply, str, "the error must be a text frame")
                self.assertIsInstance(json.loads(reply).get("error"), str, reply)
            await ws_expect_silence(b, 0.5)
            await ws_send_json(a, {"after": "binary"})
            for ws in (a, b):
                self.assertEqual(await ws_recv_json(ws), {"after": "binary"})
        finally:
            await self.close([a, b])

    async def test_invalid_utf8_text_frame(self):
        """Either an error to the sender or a close with 1007; never a relay."""
        room = unique()
        b = (await self.join(room, 1))[0]
        raw = await asyncio.to_thread(RawWebSocket, self.port, "/relay/" + room)
        try:
            raw.send_text(b'{"a": "\xff\xfe"}')
            frame = await asyncio.to_thread(raw.recv_frame, 5.0)
            if frame is not None and frame[0] == 0x1:
                self.assertIsInstance(json.loads(frame[1]).get("error"), str, frame)
            elif frame is not None:
                self.assertEqual(frame[0], 0x8, "expected an error or a close, got %r" % (frame,))
                self.assertEqual(int.from_bytes(frame[1][:2], "big"), 1007)
            await ws_expect_silence(b, 0.5)
            await ws_send_json(b, {"room": "alive"})
            self.assertEqual(await ws_recv_json(b), {"room": "alive"})
        finally:
            raw.close()
            await b.close()

    async def test_get_counts_connections(self):
        room = unique()
        self.assertEqual(self.connections(room), 0)
        members = await self.join(room, 3)
        try:
            self.wait_connections(room, 3)
            await members[0].close()
            self.wait_connections(room, 2)
            members.append(await self.server.ws("/relay/" + room))
            self.wait_connections(room, 3)
        finally:
            await self.close(members)
        self.wait_connections(room, 0)

    async def test_abrupt_disconnect_is_a_leave(self):
        room = unique()
        raw = await asyncio.to_thread(RawWebSocket, self.port, "/relay/" + room)
        b = (await self.join(room, 1))[0]
        try:
            self.wait_connections(room, 2)
            raw.close()  # no close frame: a plain TCP close
            self.wait_connections(room, 1)
            await ws_send_json(b, {"after": "drop"})
            self.assertEqual(await ws_recv_json(b), {"after": "drop"})
        finally:
            await b.close()

    async def test_large_object(self):
        room = unique()
        a, b = await self.join(room, 2)
        try:
            value = {"blob": "y" * (256 * 1024), "n": 1}
            await ws_send_json(a, value)
            for ws in (a, b):
                self.assertEqual(await ws_recv_json(ws, timeout=10), value)
        finally:
            await self.close([a, b])


if __name__ == "__main__":
    unittest.main()
