"""Routing: /healthz, namespaces, room ids (percent-decoding, length, forbidden
bytes), the rest path and query handed to the handler, JSON error bodies.
Contract: docs/http-contract.md, "Rooms and URLs"."""

import asyncio
import http.client
import json
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
            with self.subTest(path=path):
                self.assertJsonError(self.server.get(path), 404, path)

    def test_bad_namespace_syntax_is_an_error(self):
        paths = ("/Counter/x", "/1counter/x", "/coun.ter/x", "/%63ounter%20/x",
                 "/" + "a" * 33 + "/x", "/_counter/x")
        for path in paths:
            with self.subTest(path=path):
                self.assertJsonError(self.server.get(path), (400, 404), path)

    def test_every_error_body_is_json(self):
        paths = ("/nosuchns/x", "/counter/" + "a" * 257, "/counter/a%01b", "/no-such-file.html")
        for path in paths:
            with self.subTest(path=path):
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

    def test_an_id_that_is_not_utf8_works_everywhere(self):
        # A room that answers its id in JSON (the vote room) sees the bytes that are not UTF-8
        # as %XX in room.id; the room is still the id's exact bytes.
        tail = unique()
        res = self.server.post("/vote/v%FF%C3%A9-" + tail, {"option": 1})
        self.assertEqual(res.status, 200, res.body[:200])
        self.assertEqual(res.json["room"], "v%FFé-" + tail)
        self.assertEqual(self.server.get("/vote/v%ff%c3%a9-" + tail).json["votes"], [0, 1])
        self.assertEqual(self.server.get("/vote/v%25FF%C3%A9-" + tail).json["votes"], [0, 0],
                         "the id spelled with a literal % is another room")

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
        for enc in ("%01", "%1F", "%09", "%7F"):
            for path in ("/counter/a%sb" % enc, "/echo/%s" % enc, "/echo/x%s/rest" % enc):
                with self.subTest(path=path):
                    self.assertJsonError(self.server.get(path), 400, path)

    # roomd routes from the request-target as sent (server/wire.h): a URL reaches the room it
    # names, or gets 400.

    def test_encoded_slash_in_an_id_is_400(self):
        tail = unique()
        self.server.post("/counter/a-" + tail)
        for path in ("/counter/a-%s%%2Fb" % tail, "/counter/a-%s%%2fb" % tail):
            with self.subTest(path=path):
                self.assertJsonError(self.server.get(path), 400, path)
                self.assertJsonError(self.server.post(path), 400, path)
        res = self.server.get("/counter/a-" + tail)
        self.assertEqual(res.json, {"value": 1}, "a refused POST must not reach room a-<id>")

    def test_cr_lf_and_nul_never_change_a_room(self):
        tail = unique()
        for enc in ("%00", "%0A", "%0D"):
            with self.subTest(enc=enc):
                self.assertJsonError(self.server.post("/counter/c-%s%sb" % (tail, enc)), 400)
                self.assertJsonError(self.server.get("/echo/c-%s?q=a%sb" % (tail, enc)), 400)
        self.assertEqual(self.server.get("/counter/c-%s" % tail).json, {"value": 0})
        self.assertEqual(self.server.get("/healthz").status, 200)

    def test_a_url_reaches_the_room_it_names(self):
        tail = unique()
        # each of these names a room other than "t-<tail>" (or none): never that room
        for path in ("/echo/t-%s;x" % tail, "/echo/t-%s;x/rest" % tail, "/echo/t-%s+x" % tail,
                     "/echo/x/../t-%s" % tail, "/echo/./t-%s" % tail,
                     "/echo/t-%s%%2E" % tail, "/echo/%%2E%%2E/t-%s" % tail):
            with self.subTest(path=path):
                res = self.server.get(path)
                if res.status == 200:
                    self.assertNotEqual(res.json["room"]["id"], "t-" + tail, path)
        self.assertEqual(self.echo("/echo/t-%s;x" % tail)["room"]["id"], "t-%s;x" % tail)
        self.assertEqual(self.echo("/echo/t-%s+x" % tail)["room"]["id"], "t-%s+x" % tail)
        info = self.echo("/echo/x-%s/../y" % tail)
        self.assertEqual((info["room"]["id"], info["rest"]), ("x-" + tail, "../y"))
        for path in ("//echo/t-%s" % tail, "/echo//t-%s" % tail):
            with self.subTest(path=path):
                self.assertIn(self.server.get(path).status, (400, 404), path)

    def test_the_second_request_of_a_connection_is_routed_as_sent(self):
        tail = unique()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            for path, room in (("/echo/k-%s" % tail, "k-" + tail),
                               ("/echo/k-%s/../z" % tail, "k-" + tail),
                               ("/echo/k-%s;q" % tail, "k-%s;q" % tail)):
                conn.request("GET", path)
                res = conn.getresponse()
                body = res.read()
                self.assertEqual(res.status, 200, body)
                self.assertEqual(json.loads(body)["room"]["id"], room, path)
        finally:
            conn.close()

    def test_bad_percent_encoding_is_refused(self):
        for path in ("/counter/a%zz", "/counter/a%4", "/counter/%", "/echo/a%G0b",
                     "/echo/a?x=%zz"):
            with self.subTest(path=path):
                self.assertJsonError(self.server.get(path), 400, path)
        self.assertEqual(self.server.get("/healthz").status, 200)

    def test_missing_id_is_an_error(self):
        for path in ("/counter/", "/counter"):
            with self.subTest(path=path):
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
                    ("/nosuchns/x", "/relay/" + "a" * 257, "/relay/a%01b")]
        self.assertEqual(asyncio.run(statuses()), [404, 400, 400])


if __name__ == "__main__":
    unittest.main()
