"""The counter demo (docs/http-contract.md, "counter"): GET/POST, other methods 405,
independent rooms, keep-alive, one turn at a time under concurrent POSTs."""

import http.client
import threading
import unittest

from harness import ServerTestCase, http_request, unique


class CounterTest(ServerTestCase):

    def test_new_room_is_zero_and_post_increments(self):
        path = "/counter/" + unique()
        self.assertEqual(self.server.get(path).json, {"value": 0})
        for n in (1, 2, 3):
            res = self.server.post(path)
            self.assertEqual((res.status, res.json), (200, {"value": n}))
            self.assertIn("application/json", res.headers.get("content-type", ""))
        res = self.server.get(path)
        self.assertEqual((res.status, res.json), (200, {"value": 3}))

    def test_other_methods_are_405(self):
        path = "/counter/" + unique()
        self.server.post(path)
        for method in ("PUT", "DELETE", "PATCH"):
            self.assertJsonError(self.server.http(method, path, body=b"{}"), 405, method)
        self.assertEqual(self.server.get(path).json, {"value": 1}, "a 405 must not count")

    def test_rooms_are_independent(self):
        a, b = "/counter/" + unique("a"), "/counter/" + unique("b")
        for _ in range(3):
            self.server.post(a)
        self.server.post(b)
        self.assertEqual(self.server.get(a).json, {"value": 3})
        self.assertEqual(self.server.get(b).json, {"value": 1})
        self.assertEqual(self.server.get("/counter/" + unique("c")).json, {"value": 0})

    def test_keep_alive(self):
        path = "/counter/" + unique()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.connect()
            sock = conn.sock
            for i in range(10):
                method = "POST" if i % 2 else "GET"
                res = http_request(self.port, method, path, conn=conn)
                self.assertEqual(res.status, 200)
                self.assertEqual(res.json, {"value": (i + 1) // 2})
                self.assertIs(conn.sock, sock, "request %d reopened the connection" % i)
            res = http_request(self.port, "GET", "/healthz", conn=conn)
            self.assertEqual(res.status, 200)
            res = http_request(self.port, "DELETE", path, conn=conn)
            self.assertEqual(res.status, 405)
            res = http_request(self.port, "GET", path, conn=conn)
            self.assertEqual(res.json, {"value": 5})
            self.assertIs(conn.sock, sock, "an error answer closed the keep-alive connection")
        finally:
            conn.close()

    def test_concurrent_posts_all_count(self):
        path = "/counter/" + unique()
        errors = []

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            try:
                for _ in range(25):
                    res = http_request(self.port, "POST", path, conn=conn)
                    if res.status != 200:
                        errors.append(res.status)
            except Exception as e:  # reported below, with the others
                errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "POST workers hung")
        self.assertEqual(errors, [])
        self.assertEqual(self.server.get(path).json, {"value": 200})


if __name__ == "__main__":
    unittest.main()
