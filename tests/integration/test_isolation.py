"""Isolation: rooms of one namespace never see each other's broadcasts or
state, ids differing only in case or by a suffix are different rooms, and the
same id in two namespaces is two rooms."""

import asyncio
import unittest

from harness import AsyncServerTestCase, unique, ws_expect_silence, ws_recv_json, ws_send_json


class IsolationTest(AsyncServerTestCase):

    async def test_relay_rooms_do_not_share_broadcasts(self):
        base = unique()
        rooms = [base, base.upper(), base + "x", base[:-1], "x" + base]
        members = {r: [await self.server.ws("/relay/" + r) for _ in range(2)] for r in rooms}
        try:
            for i, r in enumerate(rooms):
                await ws_send_json(members[r][0], {"room": r, "i": i})
            for i, r in enumerate(rooms):
                for ws in members[r]:
                    self.assertEqual(await ws_recv_json(ws), {"room": r, "i": i})
            for r in rooms:
                for ws in members[r]:
                    await ws_expect_silence(ws, 0.2)
            for r in rooms:
                self.assertEqual(self.server.get("/relay/" + r).json, {"connections": 2})
        finally:
            await asyncio.gather(*(ws.close() for conns in members.values() for ws in conns),
                                 return_exceptions=True)

    async def test_vote_rooms_do_not_share_votes_or_broadcasts(self):
        a, b = unique("a"), unique("b")
        wa = await self.server.ws("/vote/" + a)
        wb = await self.server.ws("/vote/" + b)
        try:
            self.assertEqual((await ws_recv_json(wa))["room"], a)
            self.assertEqual((await ws_recv_json(wb))["room"], b)
            await ws_send_json(wa, {"option": 0})
            self.assertEqual((await ws_recv_json(wa))["votes"], [1, 0])
            self.assertEqual(self.server.post("/vote/" + b, {"option": 1}).json["votes"], [0, 1])
            self.assertEqual((await ws_recv_json(wb))["votes"], [0, 1])
            await ws_expect_silence(wa, 0.3)
            await ws_expect_silence(wb, 0.3)
            self.assertEqual(self.server.get("/vote/" + a).json["votes"], [1, 0])
            self.assertEqual(self.server.get("/vote/" + b).json["votes"], [0, 1])
        finally:
            await wa.close()
            await wb.close()

    async def test_same_id_in_two_namespaces(self):
        room = unique()
        self.server.post("/counter/" + room)
        self.server.post("/faulty/" + room)
        self.server.post("/faulty/" + room)
        self.assertEqual(self.server.get("/counter/" + room).json, {"value": 1})
        self.assertEqual(self.server.get("/faulty/" + room).json["hits"], 2)
        relay = await self.server.ws("/relay/" + room)
        echo = await self.server.ws("/echo/" + room)
        try:
            await ws_send_json(relay, {"from": "relay"})
            self.assertEqual(await ws_recv_json(relay), {"from": "relay"})
            await ws_expect_silence(echo, 0.3)
        finally:
            await relay.close()
            await echo.close()


if __name__ == "__main__":
    unittest.main()
