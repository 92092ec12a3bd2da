"""Handler errors (docs/lua-api.md "Errors", docs/http-contract.md: "A handler error never
kills the server, other rooms, or the room's stored state"): a failing request
gets 500 JSON without the traceback, the log gets the traceback with the room
tag, and the room and the others go on. Also: invalid JSON bodies sent as
application/json get 400 before any handler runs. Uses tests/lua/faulty.lua."""

import unittest

from harness import AsyncServerTestCase, unique, ws_recv_json, ws_send_json

HANDLER_FAILED = "room handler failed"
LEAKS = ("traceback", ".lua", "boom", "stack")


class HandlerErrorTest(AsyncServerTestCase):

    def assertNoLeak(self, text):
        for word in LEAKS:
            self.assertNotIn(word, text.lower(), "the client saw internals: %r" % text)

    def assertLogged(self, room, message):
        tag = "[room faulty:%s]" % room

        def found(text):
            return tag in text and message in text and "traceback" in text.lower()
        self.assertIsNotNone(self.server.wait_for_log(found, 5.0),
                             "the log has no traceback tagged %s with %r" % (tag, message))

    async def test_request_error_is_500_json_and_logged(self):
        room = unique()
        res = self.server.get("/faulty/%s/boom" % room)
        self.assertJsonError(res, 500)
        self.assertEqual(res.json, {"error": HANDLER_FAILED})
        self.assertNoLeak(res.body.decode("utf-8", "replace"))
        self.assertLogged(room, "faulty request handler: boom")

    async def test_room_goes_on_after_an_error(self):
        room = unique()
        path = "/faulty/" + room
        self.assertEqual(self.server.post(path).json["hits"], 1)
        self.assertEqual(self.server.post(path).json["hits"], 2)
        for _ in range(3):
            self.assertEqual(self.server.post(path + "/boom").status, 500)
        res = self.server.get(path)
        self.assertEqual((res.status, res.json), (200, {"hits": 2, "rest": ""}),
                         "the room's state must survive its handler's errors")
        self.assertEqual(self.server.post(path).json["hits"], 3)

    async def test_other_rooms_go_on_after_errors(self):
        counter = "/counter/" + unique()
        self.server.post(counter)
        for _ in range(50):
            self.assertEqual(self.server.get("/faulty/%s/boom" % unique()).status, 500)
        self.assertEqual(self.server.get(counter).json, {"value": 1})
        self.assertEqual(self.server.post(counter).json, {"value": 2})
        self.assertEqual(self.server.get("/faulty/%s/fine" % unique()).json,
                         {"hits": 0, "rest": "fine"})
        self.assertEqual(self.server.get("/healthz").status, 200)

    async def test_message_error_goes_to_sender_only(self):
        room = unique()
        a = await self.server.ws("/faulty/" + room)
        b = await self.server.ws("/faulty/" + room)
        try:
            await ws_send_json(a, {"boom": True})
            reply = await ws_recv_json(a)
            self.assertEqual(reply, {"error": HANDLER_FAILED})
            self.assertLogged(room, "faulty message handler: boom in " + room)
            # Both connections are still open and served.
            await ws_send_json(a, {"again": 1})
            self.assertEqual(await ws_recv_json(a), {"again": 1})
            await ws_send_json(b, {"b": True})
            self.assertEqual(await ws_recv_json(b), {"b": True})
            for _ in range(20):
                await ws_send_json(b, {"boom": True})
                self.assertEqual(await ws_recv_json(b), {"error": HANDLER_FAILED})
            await ws_send_json(b, [1, 2])
            self.assertEqual(await ws_recv_json(b), [1, 2])
        finally:
            await a.close()
            await b.close()

    async def test_invalid_json_body_is_400_before_the_handler(self):
        for path in ("/faulty/%s" % unique(), "/echo/%s" % unique(), "/counter/%s" % unique(),
                     "/vote/%s" % unique(), "/faulty/%s/boom" % unique()):
            res = self.server.post(path, b'{"option": ',
                                   headers={"Content-Type": "application/json"})
            self.assertJsonError(res, 400, path)
        room = unique()
        self.server.post("/counter/" + room, b"{bad", headers={"Content-Type": "application/json"})
        self.assertEqual(self.server.get("/counter/" + room).json, {"value": 0},
                         "a 400 body must not reach the handler")

    async def test_server_log_tags_are_per_room(self):
        a, b = unique("a"), unique("b")
        self.server.get("/faulty/%s/boom" % a)
        self.assertLogged(a, "faulty request handler: boom")
        self.assertNotIn("[room faulty:%s]" % b, self.server.log_text())


if __name__ == "__main__":
    unittest.main()
