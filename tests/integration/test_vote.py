"""The vote demo (docs/http-contract.md, "vote"): the state's exact shape, questions chosen
deterministically from the id, POST and WebSocket votes with their broadcasts,
and invalid input answered with errors that change nothing."""

import unittest
from urllib.parse import quote

from harness import (AsyncServerTestCase, Server, unique, ws_expect_silence, ws_recv_json,
                     ws_send_json)

NODE = "vote-node-a"
KEYS = {"room", "question", "options", "votes", "node"}

INVALID_BODIES = (
    (b"not json", "text/plain"),
    (b"", None),
    (b"{}", "application/json"),
    (b'{"foo": 1}', "application/json"),
    (b'{"option": 2}', "application/json"),
    (b'{"option": -1}', "application/json"),
    (b'{"option": "0"}', "application/json"),
    (b'{"option": "1"}', None),
    (b'{"option": 0.5}', "application/json"),
    (b'{"option": true}', "application/json"),
    (b'{"option": null}', "application/json"),
    (b'{"option": [0]}', "application/json"),
    (b"[0]", "application/json"),
    (b"0", "application/json"),
    (b'"option"', "application/json"),
    (b'{"option": 0', "application/json"),
)

INVALID_MESSAGES = (
    {"option": 2}, {"option": "1"}, {"option": None}, {"foo": 0}, {}, [1], 1, "vote",
)


class VoteTest(AsyncServerTestCase):
    server_node = NODE
    test_timeout = 60

    def state(self, room):
        res = self.server.get("/vote/" + quote(room, safe=""))
        self.assertEqual(res.status, 200, res.body[:300])
        return res.json

    def assertShape(self, state, room, votes):
        self.assertEqual(set(state), KEYS, "vote state keys: %r" % state)
        self.assertEqual(state["room"], room)
        self.assertIsInstance(state["question"], str)
        self.assertTrue(state["question"])
        self.assertIsInstance(state["options"], list)
        self.assertEqual(len(state["options"]), 2, state["options"])
        for option in state["options"]:
            self.assertIsInstance(option, str)
            self.assertTrue(option)
        self.assertEqual(state["votes"], votes)
        self.assertEqual(state["node"], NODE)

    async def test_get_shape(self):
        room = unique()
        self.assertShape(self.state(room), room, [0, 0])
        self.assertShape(self.state("a b é"), "a b é", self.state("a b é")["votes"])

    async def test_question_is_chosen_by_id(self):
        rooms = ["q-%d" % i for i in range(40)]
        first = {r: self.state(r) for r in rooms}
        again = {r: self.state(r) for r in rooms}
        for r in rooms:
            self.assertEqual((first[r]["question"], first[r]["options"]),
                             (again[r]["question"], again[r]["options"]))
        questions = {s["question"] for s in first.values()}
        self.assertGreater(len(questions), 1, "40 ids all got the same question")
        # Another server (another node, another storage) shows the same questions.
        other = Server(node="vote-node-b")
        try:
            other.start()
            for r in rooms[:10]:
                res = other.get("/vote/" + r)
                self.assertEqual(res.status, 200)
                self.assertEqual((res.json["question"], res.json["options"]),
                                 (first[r]["question"], first[r]["options"]), r)
                self.assertEqual(res.json["node"], "vote-node-b")
            other.stop_clean()
        finally:
            other.cleanup()

    async def test_post_votes(self):
        room = unique()
        path = "/vote/" + room
        expected = [0, 0]
        for option in (0, 1, 1, 0, 1):
            expected[option] += 1
            res = self.server.post(path, {"option": option})
            self.assertEqual(res.status, 200, res.body[:300])
            self.assertShape(res.json, room, expected)
        self.assertShape(self.state(room), room, [2, 3])

    async def test_invalid_bodies_are_400_and_change_nothing(self):
        room = unique()
        path = "/vote/" + room
        self.server.post(path, {"option": 1})
        for body, ctype in INVALID_BODIES:
            with self.subTest(body=body, ctype=ctype):
                headers = {"Content-Type": ctype} if ctype else {}
                res = self.server.post(path, body, headers=headers)
                self.assertJsonError(res, 400, "POST body %r" % body)
        self.assertEqual(self.state(room)["votes"], [0, 1])

    async def test_join_gets_state_at_once(self):
        room = unique()
        self.server.post("/vote/" + room, {"option": 0})
        ws = await self.server.ws("/vote/" + room)
        try:
            self.assertShape(await ws_recv_json(ws), room, [1, 0])
        finally:
            await ws.close()

    async def test_websocket_vote_is_broadcast(self):
        room = unique()
        a = await self.server.ws("/vote/" + room)
        b = await self.server.ws("/vote/" + room)
        try:
            for ws in (a, b):
                self.assertShape(await ws_recv_json(ws), room, [0, 0])
            await ws_send_json(a, {"option": 1})
            for ws in (a, b):
                self.assertShape(await ws_recv_json(ws), room, [0, 1])
            await ws_send_json(b, {"option": 0})
            for ws in (a, b):
                self.assertShape(await ws_recv_json(ws), room, [1, 1])
            self.assertShape(self.state(room), room, [1, 1])
        finally:
            await a.close()
            await b.close()

    async def test_post_is_broadcast_to_websockets(self):
        room = unique()
        members = [await self.server.ws("/vote/" + room) for _ in range(3)]
        try:
            for ws in members:
                await ws_recv_json(ws)
            res = self.server.post("/vote/" + room, {"option": 0})
            self.assertEqual(res.status, 200)
            for ws in members:
                self.assertEqual(await ws_recv_json(ws), res.json)
        finally:
            for ws in members:
                await ws.close()

    async def test_invalid_message_errors_to_sender_only(self):
        room = unique()
        a = await self.server.ws("/vote/" + room)
        b = await self.server.ws("/vote/" + room)
        try:
            await ws_recv_json(a)
            await ws_recv_json(b)
            for msg in INVALID_MESSAGES:
                await ws_send_json(a, msg)
                reply = await ws_recv_json(a)
                self.assertIsInstance(reply, dict, "reply to %r" % (msg,))
                self.assertIsInstance(reply.get("error"), str, "reply to %r: %r" % (msg, reply))
            await a.send("this is not JSON")
            reply = await ws_recv_json(a)
            self.assertIsInstance(reply.get("error"), str, reply)
            await ws_expect_silence(b, 0.5)
            self.assertEqual(self.state(room)["votes"], [0, 0])
            # a is still open and can vote.
            await ws_send_json(a, {"option": 1})
            for ws in (a, b):
                self.assertShape(await ws_recv_json(ws), room, [0, 1])
        finally:
            await a.close()
            await b.close()

    async def test_mixed_posts_and_messages_count_once_each(self):
        room = unique()
        ws = await self.server.ws("/vote/" + room)
        try:
            await ws_recv_json(ws)
            for i in range(10):
                if i % 2:
                    await ws_send_json(ws, {"option": 1})
                else:
                    self.assertEqual(self.server.post("/vote/" + room, {"option": 0}).status, 200)
                await ws_recv_json(ws)
            self.assertEqual(self.state(room)["votes"], [5, 5])
            await ws_expect_silence(ws, 0.3)
        finally:
            await ws.close()


if __name__ == "__main__":
    unittest.main()
