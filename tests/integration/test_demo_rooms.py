"""The chat and game demo rooms and their pages (conf/default.lua): a browser's
navigation to a room URL gets the page, every other client the room's JSON;
chat keeps exactly the last 100 messages in storage and enforces its limits;
the game room referees moves and gives a returning player its seat."""

import os
import unittest

from harness import (AsyncServerTestCase, redis_call, unique, ws_expect_silence, ws_recv_json,
                     ws_send_json)

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class PageTest(AsyncServerTestCase):
    server_conf = "conf/default.lua"

    def test_browser_navigation_gets_the_page(self):
        for ns in ("vote", "chat", "game"):
            res = self.server.get("/%s/%s" % (ns, unique()), headers=HTML)
            self.assertEqual(res.status, 200, ns)
            self.assertIn("text/html", res.headers.get("content-type", ""), ns)
            self.assertEqual(res.headers.get("vary"), "accept", ns)
            self.assertIn(b"/roomd.js", res.body, ns)

    def test_other_clients_get_the_room(self):
        room = unique()
        self.assertEqual(set(self.server.get("/vote/" + room).json),
                         {"room", "question", "options", "votes", "node"})
        self.assertEqual(self.server.get("/vote/" + room, headers={"Accept": "*/*"}).json["votes"],
                         [0, 0])
        self.assertEqual(self.server.get("/counter/" + room, headers=HTML).json, {"value": 0})
        res = self.server.post("/vote/" + room, {"option": 1}, headers=HTML)
        self.assertEqual(res.json["votes"], [0, 1])
        self.assertJsonError(self.server.get("/vote/%s/more" % room, headers=HTML), 404)

    async def test_websocket_on_a_page_url(self):
        ws = await self.server.ws("/vote/" + unique())
        self.assertEqual((await ws_recv_json(ws))["votes"], [0, 0])
        await ws.close()

    def test_client_module_is_served(self):
        res = self.server.get("/roomd.js")
        self.assertEqual(res.status, 200)
        self.assertIn("javascript", res.headers.get("content-type", ""))


class ChatTest(AsyncServerTestCase):
    server_conf = "conf/default.lua"
    test_timeout = 60

    async def join(self, room, name):
        ws = await self.server.ws("/chat/%s?name=%s" % (room, name))
        welcome = await ws_recv_json(ws)
        self.assertEqual(welcome["type"], "welcome")
        return ws, welcome

    async def test_history_keeps_the_last_100(self):
        room = unique("chat")
        # Each member may send 5 at once: 21 members send 105 messages.
        for i in range(21):
            ws, _ = await self.join(room, "m%d" % i)
            for k in range(5):
                await ws_send_json(ws, {"text": "message %d" % (i * 5 + k)})
            for k in range(5):
                self.assertEqual((await ws_recv_json(ws))["type"], "message")
            await ws.close()
        ws, welcome = await self.join(room, "late")
        texts = [m["text"] for m in welcome["history"]]
        self.assertEqual(texts, ["message %d" % n for n in range(5, 105)])
        await ws.close()
        sock = os.path.join(self.server.data, "redis.sock")
        self.assertEqual(redis_call(sock, "HLEN", "rd:{chat:%s}:kv" % room), 100)

    async def test_presence_and_limits(self):
        room = unique("chat")
        a, welcome = await self.join(room, "Ann")
        self.assertEqual(welcome["present"], ["Ann"])
        b, welcome = await self.join(room, "Ben")
        self.assertEqual(welcome["present"], ["Ann", "Ben"])
        self.assertEqual(await ws_recv_json(a), {"type": "join", "name": "Ben", "present": ["Ann", "Ben"]})
        await ws_send_json(a, {"text": "é" * 501})
        self.assertEqual((await ws_recv_json(a))["error"], "message too long: at most 500 characters")
        for bad in ({"text": "   "}, {"text": 5}, ["hi"], "hi"):
            await ws_send_json(a, bad)
            self.assertEqual((await ws_recv_json(a))["type"], "error", bad)
        await ws_expect_silence(b, 0.3)
        await b.close()
        self.assertEqual(await ws_recv_json(a), {"type": "leave", "name": "Ben", "present": ["Ann"]})
        await a.close()

    async def test_bad_names_are_refused(self):
        for name in ("", "%20%20", "x" * 25, "a%01b"):
            ws = await self.server.ws("/chat/%s?name=%s" % (unique(), name))
            with self.assertRaises(Exception, msg=name):
                await ws_recv_json(ws)
            self.assertEqual(ws.close_code, 1008, name)


class GameTest(AsyncServerTestCase):
    server_conf = "conf/default.lua"

    async def join(self, room, player=None):
        path = "/game/" + room + ("?player=" + player if player else "")
        ws = await self.server.ws(path)
        welcome = await ws_recv_json(ws)
        state = await ws_recv_json(ws)
        self.assertEqual(state["type"], "state")
        return ws, welcome["seat"], state

    async def test_seats_moves_and_return(self):
        room = unique("game")
        x, seat, _ = await self.join(room, "tok-x")
        self.assertEqual(seat, "X")
        o, seat, state = await self.join(room, "tok-o")
        self.assertEqual(seat, "O")
        self.assertEqual(state["players"]["X"], {"name": "Player X", "online": True})
        watcher, seat, _ = await self.join(room)
        self.assertIsNone(seat)
        for ws in (x, o):
            await ws_recv_json(ws)  # the state after each later join
        await ws_recv_json(x)

        async def refused(ws, msg, why):
            await ws_send_json(ws, msg)
            self.assertEqual(await ws_recv_json(ws), {"type": "error", "error": why})

        await refused(o, {"type": "move", "cell": 0}, "it is not your turn")
        await refused(x, {"type": "move", "cell": 9}, "cell must be a whole number from 0 to 8")
        await refused(x, {"type": "move", "cell": 1.5}, "cell must be a whole number from 0 to 8")
        await refused(x, {"type": "move"}, "cell must be a whole number from 0 to 8")
        await refused(watcher, {"type": "move", "cell": 0}, "spectators cannot move")
        await refused(x, {"type": "rematch"}, "finish this game first")
        await ws_send_json(x, {"type": "move", "cell": 0})
        self.assertEqual((await ws_recv_json(watcher))["board"][0], "X")
        await o.close()
        self.assertFalse((await ws_recv_json(watcher))["players"]["O"]["online"])
        o, seat, state = await self.join(room, "tok-o")
        self.assertEqual(seat, "O")
        self.assertEqual(state["turn"], "O")
        self.assertTrue(state["players"]["O"]["online"])
        for ws in (x, o, watcher):
            await ws.close()

    async def test_bad_tokens_are_refused(self):
        for token in ("a%20b", "x" * 65, "%3Cscript%3E"):
            ws = await self.server.ws("/game/%s?player=%s" % (unique(), token))
            with self.assertRaises(Exception, msg=token):
                await ws_recv_json(ws)
            self.assertEqual(ws.close_code, 1008, token)


if __name__ == "__main__":
    unittest.main()
