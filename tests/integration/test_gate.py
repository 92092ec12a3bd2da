"""Joins, tags, attachments and closes (docs/lua-api.md "join", "room", "conn").
A refused join ends the connection with close 1008 and the reason (the API
doc: join runs as a turn after the upgrade; an HTTP 403 with a JSON body is
accepted too), and the refused connection never counts or acts in the room.
Tags from join, broadcast to a tag and room:connections(tag); broadcast
skipping the sender; attachments kept per connection within attachment_bytes;
tag limits; conn:close with a code and reason the client sees after what was
queued; leave sees the client's code. Uses tests/lua/gate.lua."""

import asyncio
import time
import unittest

import websockets

from harness import (AsyncServerTestCase, RawWebSocket, raw_http, unique, upgrade_request,
                     ws_expect_close, ws_expect_silence, ws_recv_json, ws_send_json)


class GateTest(AsyncServerTestCase):

    async def ask(self, ws, msg, timeout=5.0):
        await ws_send_json(ws, msg)
        return await ws_recv_json(ws, timeout)

    def counts(self, room, tag=None):
        path = "/gate/%s%s" % (room, "?tag=" + tag if tag else "")
        res = self.server.get(path)
        self.assertEqual(res.status, 200, res.body[:300])
        return res.json

    def wait_count(self, room, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while self.counts(room)["connections"] != n and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.counts(room)["connections"], n)

    async def test_refused_join(self):
        room = unique()
        member = await self.server.ws("/gate/%s?deny=0" % room)
        try:
            raw = await asyncio.to_thread(self.refused_upgrade, room)
            if raw is not None:
                try:
                    # Sent before join ran: it waits behind join, then is dropped.
                    raw.send_json({"others": "from a refused connection"})
                    frame = await asyncio.to_thread(raw.recv_frame, 5.0)
                    self.assertIsNotNone(frame, "connection ended without a close frame")
                    self.assertEqual(frame[0], 0x8, "expected a close frame, got %r" % (frame,))
                    self.assertEqual(int.from_bytes(frame[1][:2], "big"), 1008)
                    self.assertEqual(frame[1][2:], b"denied by the gate test")
                finally:
                    raw.close()
            await ws_expect_silence(member, 0.5)
            self.assertEqual(self.counts(room)["connections"], 1, "a refused join must not count")
            self.assertEqual(await self.ask(member, {"count": ""}), {"count": 1})
        finally:
            await member.close()

    def refused_upgrade(self, room):
        """Opens /gate/<room>?deny=1: returns the RawWebSocket if the upgrade was
        accepted (join refuses later), or None after checking an HTTP 403."""
        path = "/gate/%s?deny=1" % room
        try:
            return RawWebSocket(self.port, path)
        except AssertionError as e:
            if "handshake refused" not in str(e):
                raise
        res = raw_http(self.port, upgrade_request(self.port, path))
        self.assertJsonError(res, 403, "refused upgrade")
        return None

    async def test_refused_join_with_websockets_client(self):
        room = unique()
        try:
            ws = await self.server.ws("/gate/%s?deny=1" % room)
        except websockets.InvalidStatusCode as e:
            self.assertEqual(e.status_code, 403)
            return
        code, reason = await ws_expect_close(ws, 5)
        self.assertEqual((code, reason), (1008, "denied by the gate test"))

    async def test_tags_and_broadcast_to_tag(self):
        room = unique()
        red1 = await self.server.ws("/gate/%s?tag=red" % room)
        red2 = await self.server.ws("/gate/%s?tag=red" % room)
        blue = await self.server.ws("/gate/%s?tag=blue" % room)
        plain = await self.server.ws("/gate/%s" % room)
        conns = [red1, red2, blue, plain]
        try:
            await ws_send_json(red1, {"to_tag": "red", "text": "hi reds"})
            self.assertEqual(await ws_recv_json(red1), {"tag": "red", "text": "hi reds"})
            self.assertEqual(await ws_recv_json(red1), {"sent": 2})
            self.assertEqual(await ws_recv_json(red2), {"tag": "red", "text": "hi reds"})
            await ws_send_json(plain, {"to_tag": "blue", "text": "hi blue"})
            self.assertEqual(await ws_recv_json(blue), {"tag": "blue", "text": "hi blue"})
            self.assertEqual(await ws_recv_json(plain), {"sent": 1})
            self.assertEqual(await self.ask(plain, {"to_tag": "green", "text": "nobody"}),
                             {"sent": 0})
            for ws in conns:
                await ws_expect_silence(ws, 0.2)
            self.assertEqual(await self.ask(plain, {"count": "red"}), {"count": 2})
            self.assertEqual(await self.ask(plain, {"count": "blue"}), {"count": 1})
            self.assertEqual(await self.ask(plain, {"count": "green"}), {"count": 0})
            self.assertEqual(await self.ask(plain, {"count": ""}), {"count": 4})
            self.assertEqual(self.counts(room, "red"), {"connections": 4, "tagged": 2})
            got = await self.ask(red2, {"get": True})
            self.assertEqual(got["tags"], ["red"])
            got = await self.ask(plain, {"get": True})
            self.assertEqual(got["tags"], [])
        finally:
            await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)

    async def test_broadcast_except_sender(self):
        room = unique()
        conns = [await self.server.ws("/gate/" + room) for _ in range(3)]
        try:
            await ws_send_json(conns[0], {"others": "psst"})
            for ws in conns[1:]:
                self.assertEqual(await ws_recv_json(ws), {"others": "psst"})
            await ws_expect_silence(conns[0], 0.4)
        finally:
            await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)

    async def test_attachment_round_trip(self):
        room = unique()
        alice = await self.server.ws("/gate/%s?name=alice" % room)
        bob = await self.server.ws("/gate/%s?name=bob" % room)
        try:
            a = await self.ask(alice, {"get": True})
            b = await self.ask(bob, {"get": True})
            self.assertEqual(a["attachment"], {"name": "alice", "room": room})
            self.assertEqual(b["attachment"], {"name": "bob", "room": room})
            self.assertNotEqual(a["id"], b["id"])
            value = {"score": 3, "list": [1, 2, {"x": None}], "empty": {}, "s": "é"}
            self.assertEqual(await self.ask(alice, {"set": value}), {"set": True})
            self.assertEqual((await self.ask(alice, {"get": True}))["attachment"], value)
            self.assertEqual((await self.ask(bob, {"get": True}))["attachment"]["name"], "bob")
            # Over attachment_bytes (2048 encoded): refused, the old value stays.
            self.assertEqual(await self.ask(alice, {"set": {"big": "x" * 3000}}), {"set": False})
            self.assertEqual((await self.ask(alice, {"get": True}))["attachment"], value)
            self.assertEqual(await self.ask(alice, {"set": "small"}), {"set": True})
            self.assertEqual((await self.ask(alice, {"get": True}))["attachment"], "small")
        finally:
            await alice.close()
            await bob.close()

    async def test_tag_limits(self):
        ws = await self.server.ws("/gate/%s?tag=t1" % unique())
        try:
            names = ["x" * 65, "", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "y" * 64]
            reply = await self.ask(ws, {"tags": names})
            self.assertEqual(reply["tags"], ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"],
                             "tags are non-empty, at most 64 bytes, at most 8")
            self.assertEqual(await self.ask(ws, {"count": "t9"}), {"count": 0})
            self.assertEqual(await self.ask(ws, {"count": "t8"}), {"count": 1})
        finally:
            await ws.close()

    async def test_close_with_code_and_reason(self):
        room = unique()
        ws = await self.server.ws("/gate/" + room)
        watcher = await self.server.ws("/gate/" + room)
        try:
            me = (await self.ask(ws, {"get": True}))["id"]
            await ws_send_json(ws, {"close": {"code": 4001, "reason": "bye now"}})
            self.assertEqual(await ws_recv_json(ws), {"closing": True},
                             "what was queued before the close must be sent")
            code, reason = await ws_expect_close(ws, 5)
            self.assertEqual((code, reason), (4001, "bye now"))
            left = await ws_recv_json(watcher)
            self.assertEqual(left["left"], me)
            self.wait_count(room, 1)
        finally:
            await ws.close()
            await watcher.close()

    async def test_close_default_code_is_1000(self):
        ws = await self.server.ws("/gate/" + unique())
        try:
            await ws_send_json(ws, {"close": {}})
            self.assertEqual(await ws_recv_json(ws), {"closing": True})
            code, _ = await ws_expect_close(ws, 5)
            self.assertEqual(code, 1000)
        finally:
            await ws.close()

    async def test_leave_sees_client_close_code(self):
        room = unique()
        leaver = await self.server.ws("/gate/" + room)
        watcher = await self.server.ws("/gate/" + room)
        try:
            me = (await self.ask(leaver, {"get": True}))["id"]
            await leaver.close(code=4002, reason="leaving")
            left = await ws_recv_json(watcher)
            self.assertEqual(left, {"left": me, "code": 4002, "reason": "leaving"})
            self.assertEqual(await self.ask(watcher, {"count": ""}), {"count": 1})
        finally:
            await watcher.close()

    async def test_unknown_message_keeps_connection(self):
        ws = await self.server.ws("/gate/" + unique())
        try:
            self.assertIn("error", await self.ask(ws, {"what": 1}))
            self.assertIn("error", await self.ask(ws, 5))
            self.assertEqual(await self.ask(ws, {"count": ""}), {"count": 1})
        finally:
            await ws.close()


if __name__ == "__main__":
    unittest.main()
