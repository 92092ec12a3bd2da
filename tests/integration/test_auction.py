"""The auction room of docs/tutorial.md (demos/auction/auction.lua), driven as the tutorial
drives it: opened by POST, bids over WebSocket with refusals to the bidder alone, the high bid
broadcast to everyone, stored across a restart, and closed by its alarm with the winner told to
every bidder."""

import unittest

from harness import (AsyncServerTestCase, unique, ws_connect, ws_expect_silence, ws_recv_json,
                     ws_send_json)


class AuctionTest(AsyncServerTestCase):
    test_timeout = 40

    async def join(self, room, name):
        ws = await ws_connect(self.port, "/auction/%s?name=%s" % (room, name))
        hello = await ws_recv_json(ws)
        self.assertEqual(hello["type"], "state")
        return ws, hello["state"]

    async def test_bids_refusals_and_the_closing_alarm(self):
        room = unique("lot-")
        self.assertEqual(self.server.get("/auction/%s" % room).json, {"open": False})
        opened = self.server.post("/auction/%s" % room, {"item": "a lamp", "seconds": 2})
        self.assertEqual(opened.status, 201, opened.body)
        self.assertEqual(self.server.post("/auction/%s" % room, {"item": "x", "seconds": 1}).status,
                         409)
        ada, state = await self.join(room, "ada")
        bob, _ = await self.join(room, "bob")
        self.assertEqual((state["item"], state["open"]), ("a lamp", True))
        await ws_send_json(ada, {"bid": 10})
        for ws in (ada, bob):
            self.assertEqual(await ws_recv_json(ws),
                             {"type": "bid", "high": {"amount": 10, "bidder": "ada"}})
        await ws_send_json(bob, {"bid": 12})  # min_increment is 5 in conf/test.lua
        self.assertEqual((await ws_recv_json(bob))["error"], "bid at least 15")
        await ws_expect_silence(ada, 0.3)
        await ws_send_json(bob, {"bid": "lots"})
        self.assertEqual((await ws_recv_json(bob))["type"], "refused")
        await ws_send_json(bob, {"bid": 15})
        self.assertEqual((await ws_recv_json(ada))["high"], {"amount": 15, "bidder": "bob"})
        await ws_recv_json(bob)
        for ws in (ada, bob):  # the alarm, about 2 s after opening
            self.assertEqual(await ws_recv_json(ws, timeout=10),
                             {"type": "closed", "winner": {"amount": 15, "bidder": "bob"}})
        await ws_send_json(ada, {"bid": 100})
        self.assertEqual((await ws_recv_json(ada))["error"], "the auction is closed")
        await ada.close()
        await bob.close()

    def test_state_survives_a_restart(self):
        room = unique("lot-")
        self.server.post("/auction/%s" % room, {"item": "a chair", "seconds": 600})
        self.server.stop_clean()
        self.server.start()
        state = self.server.get("/auction/%s" % room).json
        self.assertEqual((state["item"], state["open"]), ("a chair", True))


if __name__ == "__main__":
    unittest.main()
