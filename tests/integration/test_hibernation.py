"""Hibernation (rooms/evict.h): a room with connections but no event for limits.hibernate_ms
drops its Lua instance ("[room ns:id] hibernated with N connections" at debug level) while its
sockets stay open; the next message starts it again (init, then the message), and each
connection's id, tags and attachment, kept in C, are what they were. A namespace's configured
auto reply (gate: {"type":"ping"} -> {"type":"pong"}) is answered without waking the room."""

import asyncio
import re
import unittest

from harness import AsyncServerTestCase, async_wait_until, unique, ws_recv_json, ws_send_json


class HibernationTest(AsyncServerTestCase):
    server_args = ("--set", "limits.hibernate_ms=300", "--set", "log_level=debug")
    test_timeout = 45

    async def wait_log(self, pattern, count=1, timeout=6.0):
        if not await self.server.wait_for_log_lines(pattern, count, timeout):
            self.fail("log never showed %r %d times" % (pattern, count))

    async def test_hibernated_room_keeps_sockets_tags_and_attachments(self):
        room = unique()
        alice = await self.server.ws("/gate/%s?tag=red&name=alice" % room)
        bob = await self.server.ws("/gate/%s?tag=blue&name=bob" % room)
        try:
            await ws_send_json(alice, {"get": True})
            before = await ws_recv_json(alice)
            tag = re.escape("[room gate:%s]" % room)
            await self.wait_log(tag + " hibernated with 2 connections")
            await ws_send_json(alice, {"get": True})
            after = await ws_recv_json(alice)
            self.assertEqual(after, before, "id, tags and attachment survive hibernation")
            self.assertEqual(after["tags"], ["red"])
            self.assertEqual(after["attachment"], {"name": "alice", "room": room})
            await ws_send_json(alice, {"count": ""})
            self.assertEqual(await ws_recv_json(alice), {"count": 2})
            await ws_send_json(alice, {"to_tag": "blue", "text": "still here"})
            self.assertEqual(await ws_recv_json(bob), {"tag": "blue", "text": "still here"})
            self.assertEqual(await ws_recv_json(alice), {"sent": 1})
            await self.wait_log(tag + " started", count=2)
        finally:
            await alice.close()
            await bob.close()

    async def test_auto_reply_does_not_wake_the_room(self):
        room = unique()
        ws = await self.server.ws("/gate/%s" % room)
        try:
            tag = re.escape("[room gate:%s]" % room)
            await self.wait_log(tag + " hibernated")
            for _ in range(3):
                await ws.send('{"type":"ping"}')
                self.assertEqual(await ws_recv_json(ws), {"type": "pong"})
            await asyncio.sleep(0.3)
            self.assertEqual(len(re.findall(tag + " started", self.server.log_text())), 1,
                             "pings answered by roomd itself: the room stayed asleep")
            await ws_send_json(ws, {"count": ""})
            self.assertEqual(await ws_recv_json(ws), {"count": 1})
            await self.wait_log(tag + " started", count=2)
        finally:
            await ws.close()

    async def test_lua_memory_goes_down_when_rooms_hibernate(self):
        rooms = [unique() for _ in range(300)]
        clients = []
        try:
            for room in rooms:
                clients.append(await self.server.ws("/vote/%s" % room))
                await ws_recv_json(clients[-1])
            awake = self.server.get("/healthz").json
            await self.wait_log(r"hibernated \d+ rooms")

            # The sweeps collect the garbage in steps (10 ms each), so it may take a few.
            def freed_per_room():
                asleep = self.server.get("/healthz").json
                per_room = (awake["lua_bytes"] - asleep["lua_bytes"]) / len(rooms)
                return asleep if per_room > 400 else None  # room, storage and conn objects
            asleep = await async_wait_until(freed_per_room, 30)  # slow under ASan and load
            now = self.server.get("/healthz").json
            self.assertIsNotNone(asleep, "Lua heap %d -> %d bytes" %
                                 (awake["lua_bytes"], now["lua_bytes"]))
            self.assertEqual(now["connections"], awake["connections"], "sockets stay open")
        finally:
            for ws in clients:
                await ws.close()

    async def test_stored_state_comes_back_after_hibernation(self):
        room = unique()
        ws = await self.server.ws("/vote/%s" % room)
        try:
            first = await ws_recv_json(ws)
            await ws_send_json(ws, {"option": 1})
            self.assertEqual((await ws_recv_json(ws))["votes"], [0, 1])
            await self.wait_log(re.escape("[room vote:%s] hibernated" % room))
            await ws_send_json(ws, {"option": 0})
            state = await ws_recv_json(ws)
            self.assertEqual(state["votes"], [1, 1])
            self.assertEqual(state["question"], first["question"])
        finally:
            await ws.close()


if __name__ == "__main__":
    unittest.main()
