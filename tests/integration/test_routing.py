"""Routing: /healthz, namespaces, room ids (percent-decoding, length, forbidden
bytes), the rest path and query handed to the handler, JSON error bodies.
Contract: shared/spec/http-contract.md "Rooms and URLs"."""

import asyncio
import http.client
import unittest

from harness import ServerTestCase, unique, ws_refused_status


class RoutingTest(ServerTestCase):

    def echo(self, path, **kw):
        res = self.server.get(path, **kw)
        self.assertEqual(res.status, 200, "GET %s: %s %r" % (path, res.status, res.body[:300]))
        return res.json

    def test_healthz(self):
        res = self.server.get("/healthz")
        self.assertEqual(res.status, 200)

    def test_unknown_namespace_is_404_json(self):
        for path in ("/nosuchns/room1", "/nosuchns/room1/more", "/zz_9-x/a"):
            self.assertJsonError(self.server.get(path), 404, path)

    def test_bad_namespace_syntax_is_an_error(self):
        paths = ("/Counter/x", "/1counter/x", "/coun.ter/x", "/%63ounter%20/x",
                 "/" + "a" * 33 + "/x", "/_counter/x")
        for path in paths:
            self.assertJsonError(self.server.get(path), (400, 404), path)

    def test_every_error_body_is_json(self):
        paths = ("/nosuchns/x", "/counter/" + "a" * 257, "/counter/a%01b", "/no-such-file.html")
        for path in paths:
            res = self.server.get(path)
            self.assertGreaterEqual(res.status, 400, path)
            self.assertJsonError(res, res.status, path)

    def test_percent_decoded_id_is_one_room(self):
        tail = unique()
        first = self.server.post("/counter/a%20b-" + tail)
        self.assertEqual((first.status, first.json), (200, {"value": 1}))
        # Another client, another spelling of the same bytes ('a' is %61).
        again = self.server.get("/counter/%61%20b-" + tail)
        self.assertEqual((again.status, again.json), (200, {"value": 1}))
        info = self.echo("/echo/a%20b-" + tail)
        self.assertEqual(info["room"]["id"], "a b-" + tail)

    def test_id_may_hold_any_non_control_byte(self):
        tail = unique()
        res = self.server.post("/counter/%FF%FE-" + tail)
        self.assertEqual((res.status, res.json), (200, {"value": 1}))
        res = self.server.get("/counter/%ff%fe-" + tail)
        self.assertEqual((res.status, res.json), (200, {"value": 1}),
                         "hex digits are case-insensitive")
        info = self.echo("/echo/%C3%A9t%C3%A9%20%22%3F%23~!")
        self.assertEqual(info["room"]["id"], 'été "?#~!')

    def test_id_length_is_counted_after_decoding(self):
        self.assertEqual(self.echo("/echo/" + "a" * 256)["room"]["id"], "a" * 256)
        self.assertJsonError(self.server.get("/echo/" + "a" * 257), 400, "257-byte id")
        self.assertJsonError(self.server.get("/counter/" + "a" * 257), 400, "257-byte id")
        # 128 x "é" is 256 bytes (768 characters in the URL).
        self.assertEqual(self.echo("/echo/" + "%C3%A9" * 128)["room"]["id"], "é" * 128)
        self.assertJsonError(self.server.get("/echo/" + "%C3%A9" * 128 + "a"), 400,
                             "257 decoded bytes")
        self.assertJsonError(self.server.get("/echo/" + "a" * 1000), 400, "1000-byte id")

    def test_control_characters_in_id_are_400(self):
        for enc in ("%00", "%01", "%1F", "%0A", "%0D", "%09", "%7F"):
            for path in ("/counter/a%sb" % enc, "/echo/%s" % enc, "/echo/x%s/rest" % enc):
                self.assertJsonError(self.server.get(path), 400, path)

    def test_encoded_slash_in_id_is_400(self):
        tail = unique()
        self.server.post("/counter/a-" + tail)
        for path in ("/counter/a-%s%%2Fb" % tail, "/counter/a-%s%%2fb" % tail, "/counter/%2F"):
            self.assertJsonError(self.server.get(path), 400, path)
            self.assertJsonError(self.server.post(path), 400, path)
        res = self.server.get("/counter/a-" + tail)
        self.assertEqual(res.json, {"value": 1}, "a refused POST must not reach room a-<id>")

    def test_bad_percent_encoding_is_400(self):
        for path in ("/counter/a%zz", "/counter/a%4", "/counter/%", "/echo/a%G0b"):
            self.assertJsonError(self.server.get(path), 400, path)

    def test_missing_id_is_an_error(self):
        for path in ("/counter/", "/counter", "/echo//rest"):
            self.assertJsonError(self.server.get(path), (400, 404), path)

    def test_rest_is_handed_to_the_handler(self):
        room = unique()
        info = self.echo("/echo/%s" % room)
        self.assertEqual(info["rest"], "")
        self.assertEqual(info["path"], "/echo/%s" % room)
        info = self.echo("/echo/%s/results" % room)
        self.assertEqual(info["rest"], "results")
        self.assertEqual(info["room"]["id"], room)
        info = self.echo("/echo/%s/a/b%%20c/d.json" % room)
        self.assertEqual(info["rest"], "a/b c/d.json")
        self.assertEqual(info["path"], "/echo/%s/a/b c/d.json" % room)

    def test_query_is_decoded(self):
        room = unique()
        self.assertEqual(self.echo("/echo/%s" % room)["query"], {})
        info = self.echo("/echo/%s/x?a=1&b&c=x%%20y&d=%%C3%%A9&e=" % room)
        self.assertEqual(info["query"], {"a": "1", "b": "", "c": "x y", "d": "é", "e": ""})
        self.assertEqual(info["rest"], "x")
        self.assertEqual(info["room"]["id"], room, "the query is not part of the id")

    def test_same_room_from_many_connections(self):
        room = "/counter/" + unique()
        for i in range(5):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("POST", room)
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
            finally:
                conn.close()
        self.assertEqual(self.server.get(room).json, {"value": 5})

    def test_websocket_upgrade_errors(self):
        async def statuses():
            return [await ws_refused_status(self.port, path) for path in
                    ("/nosuchns/x", "/relay/" + "a" * 257, "/relay/a%01b", "/relay/a%2Fb")]
        self.assertEqual(asyncio.run(statuses()), [404, 400, 400, 400])


if __name__ == "__main__":
    unittest.main()
