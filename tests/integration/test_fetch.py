"""Outbound HTTP from rooms (rooms/fetch.h; tests/lua/fetcher.lua), against a local HTTP server
this test starts: GET with the response's status, body, headers and JSON; POST with a JSON
body; only URLs under the namespace's `outbound` prefixes (another path, another spelling of
the host, another scheme are refused), redirects followed only to allowed URLs; a slow upstream
times out while other rooms answer at full speed; a response over 1 MiB is refused."""

import json
import os
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import ROOT, ServerTestCase, unique


class Upstream(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/ok/json":
            self.answer(200, b'{"a": [1, 2]}', headers=[("x-test", self.headers.get("x-from", ""))])
        elif self.path == "/ok/redirect-good":
            self.answer(302, b"", headers=[("location", "/ok/json")])
        elif self.path == "/ok/redirect-bad":
            self.answer(302, b"", headers=[("location", "http://127.0.0.1:%d/private" % port)])
        elif self.path == "/ok/slow":
            time.sleep(2)
            self.answer(200, b"{}")
        elif self.path == "/ok/big":
            self.answer(200, b"x" * (2 << 20), ctype="text/plain")
        else:
            self.answer(404, b'{"error": "no"}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.answer(201, body, ctype=self.headers.get("content-type", "text/plain"))


class FetchTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
        cls.up = "http://127.0.0.1:%d" % cls.upstream.server_address[1]
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()
        cls.conf_dir = tempfile.mkdtemp(prefix="roomd-fetch-")
        cls.server_conf = os.path.join(cls.conf_dir, "fetch.lua")
        with open(cls.server_conf, "w") as f:
            f.write("return { namespaces = {\n"
                    "  fetcher = { script = %r, outbound = { %r } },\n"
                    "  counter = { script = %r },\n} }\n"
                    % (os.path.join(ROOT, "tests/lua/fetcher.lua"), cls.up + "/ok/",
                       os.path.join(ROOT, "demos/counter/counter.lua")))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.upstream.shutdown()

    def fetch(self, url, **query):
        query["url"] = url
        q = "&".join("%s=%s" % (k, v) for k, v in query.items())
        res = self.server.get("/fetcher/%s?%s" % (unique(), q), timeout=10)
        self.assertEqual(res.status, 200, res.body)
        return res.json

    def test_get_and_post(self):
        out = self.fetch(self.up + "/ok/json")
        self.assertEqual(out, {"ok": True, "status": 200, "body": '{"a": [1, 2]}',
                               "json": {"a": [1, 2]}, "header": "roomd"})
        out = self.fetch(self.up + "/ok/echo", method="POST", json=1)
        self.assertEqual((out["status"], out["json"]), (201, {"hello": "world", "n": 3}))
        self.assertEqual(self.fetch(self.up + "/ok/none")["status"], 404)

    def test_only_allowed_urls(self):
        port = self.upstream.server_address[1]
        for url in (self.up + "/private", self.up + "/ok", "http://localhost:%d/ok/json" % port,
                    "https://127.0.0.1:%d/ok/json" % port, "file:///etc/passwd",
                    "gopher://127.0.0.1:%d/ok/" % port, "http://127.0.0.1:%d@evil/ok/" % port):
            with self.subTest(url=url):
                out = self.fetch(url)
                self.assertIn("raised", out, out)
        self.assertIn("outbound URL not allowed", self.fetch(self.up + "/private")["raised"])

    def test_redirects_are_checked(self):
        self.assertEqual(self.fetch(self.up + "/ok/redirect-good")["json"], {"a": [1, 2]})
        out = self.fetch(self.up + "/ok/redirect-bad")
        self.assertEqual(out["ok"], False)
        self.assertIn("redirected to a URL not allowed", out["error"])

    def test_a_slow_upstream_times_out_while_others_go_on(self):
        result = {}

        def slow():
            result["out"] = self.fetch(self.up + "/ok/slow", timeout=300)

        t = threading.Thread(target=slow)
        started = time.monotonic()
        t.start()
        time.sleep(0.05)
        for _ in range(5):  # the loop is not held up by the waiting turn
            self.assertEqual(self.server.post("/counter/" + unique()).status, 200)
        self.assertLess(time.monotonic() - started, 0.3)
        t.join()
        self.assertEqual(result["out"], {"ok": False, "error": "timed out"})

    def test_a_response_over_1_mib_is_refused(self):
        out = self.fetch(self.up + "/ok/big")
        self.assertEqual(out["ok"], False)
        self.assertIn("over 1048576 bytes", out["error"])


if __name__ == "__main__":
    unittest.main()
