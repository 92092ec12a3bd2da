"""What a handler is given and what it can answer (docs/lua-api.md): the req
fields, room identity and settings, response status/headers/body, a nil
response, request bodies as JSON, and WebSocket messages of every JSON type
going through Lua and back unchanged. Uses tests/lua/echo.lua."""

import json
import unittest

from harness import AsyncServerTestCase, unique, ws_recv_json, ws_send_json

NODE = "echo-node-7"
SETTINGS = {"greeting": "hello", "answer": 42, "list": [1, 2, 3], "nested": {"flag": True}}


class EchoTest(AsyncServerTestCase):
    server_node = NODE

    def echo(self, method, path, body=None, headers=None, status=200):
        res = self.server.http(method, path, body, headers)
        self.assertEqual(res.status, status, "%s %s: %r" % (method, path, res.body[:300]))
        return res

    async def test_request_fields(self):
        room = unique()
        res = self.echo("POST", "/echo/%s/more/path?x=1&y" % room, body=b"hello body",
                        headers={"X-Test-Header": "Some Value", "Content-Type": "text/plain"})
        info = res.json
        self.assertEqual(info["method"], "POST")
        self.assertEqual(info["path"], "/echo/%s/more/path" % room)
        self.assertEqual(info["rest"], "more/path")
        self.assertEqual(info["query"], {"x": "1", "y": ""})
        self.assertEqual(info["body"], "hello body")
        self.assertFalse(info["has_json"])
        self.assertIsInstance(info.get("json_error"), str, "a non-JSON body has a json_error")
        self.assertEqual(info["headers"].get("content-type"), "text/plain")
        self.assertEqual(info["headers"].get("host"), "127.0.0.1:%d" % self.port)
        self.assertNotIn("X-Test-Header", info["headers"], "header names are lower case")
        self.assertEqual(info["headers"].get("x-test-header"), "Some Value",
                         "every request header reaches req.headers, not only well-known ones")

    async def test_room_identity_and_settings(self):
        room = unique()
        info = self.echo("GET", "/echo/%s" % room).json
        self.assertEqual(info["method"], "GET")
        self.assertEqual(info["body"], "")
        self.assertFalse(info["has_json"])
        self.assertNotIn("json_error", info, "an empty body has no json_error")
        self.assertEqual(info["room"], {"id": room, "namespace": "echo", "node": NODE,
                                        "settings": SETTINGS})

    async def test_json_body_is_decoded(self):
        body = {"a": 1, "b": [1, 2.5, "x"], "c": {"d": None}, "e": {}, "f": [], "g": "é✓"}
        for headers in ({"Content-Type": "application/json"}, {}):
            info = self.echo("POST", "/echo/" + unique(), json.dumps(body).encode(), headers).json
            self.assertTrue(info["has_json"])
            self.assertEqual(info["json"], body, "req.json with headers %r" % headers)
            self.assertNotIn("json_error", info)

    async def test_invalid_json_with_json_content_type_is_400(self):
        for ctype in ("application/json", "application/json; charset=utf-8"):
            for body in (b"{not json", b"[1,2", b'{"a":1} trailing', b'"\xff"'):
                with self.subTest(ctype=ctype, body=body):
                    res = self.server.post("/echo/" + unique(), body,
                                           headers={"Content-Type": ctype})
                    self.assertJsonError(res, 400, "%s %r" % (ctype, body))

    async def test_invalid_json_without_json_content_type_reaches_handler(self):
        res = self.echo("POST", "/echo/" + unique(), b"{not json", {"Content-Type": "text/plain"})
        self.assertFalse(res.json["has_json"])
        self.assertIsInstance(res.json.get("json_error"), str)
        self.assertEqual(res.json["body"], "{not json")

    async def test_response_status_headers_and_body(self):
        res = self.echo("GET", "/echo/%s?status=201" % unique(), status=201)
        self.assertEqual(res.headers.get("x-echo"), "yes")
        self.assertIn("application/json", res.headers.get("content-type", ""))
        res = self.echo("GET", "/echo/%s/text" % unique())
        self.assertEqual(res.body, b"plain GET")
        self.assertEqual(res.headers.get("content-type"), "text/plain")
        self.assertEqual(res.headers.get("x-echo"), "text")

    async def test_nil_response_is_404_json(self):
        self.assertJsonError(self.server.get("/echo/%s/none" % unique()), 404)

    async def test_websocket_messages_round_trip(self):
        values = [
            {"a": 1, "b": "two"},
            {"nested": {"deep": [1, {"x": None}, [], {}]}},
            {}, [], [1, 2, "three"], "a string", 3.5, -17, True, False, None,
            {"unicode": "héllo ✓ 😀", "escapes": "tab\t nl\n quote\" bs\\"},
            {"big": 9007199254740992, "neg": -9007199254740992, "frac": 0.125},
        ]
        ws = await self.server.ws("/echo/" + unique())
        try:
            for value in values:
                await ws_send_json(ws, value)
                self.assertEqual(await ws_recv_json(ws), value)
            await ws_send_json(ws, {"whoami": True})
            who = await ws_recv_json(ws)
            self.assertIsInstance(who["conn"], (int, float))
            self.assertEqual(who["room"]["namespace"], "echo")
            self.assertEqual(who["room"]["node"], NODE)
        finally:
            await ws.close()

    async def test_connection_ids_are_unique(self):
        room = unique()
        conns = [await self.server.ws("/echo/" + room) for _ in range(3)]
        conns.append(await self.server.ws("/echo/" + unique()))
        try:
            ids = []
            for ws in conns:
                await ws_send_json(ws, {"whoami": True})
                ids.append((await ws_recv_json(ws))["conn"])
            self.assertEqual(len(set(ids)), len(ids), ids)
        finally:
            for ws in conns:
                await ws.close()


if __name__ == "__main__":
    unittest.main()
