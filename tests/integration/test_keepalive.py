"""Kept-alive HTTP connections (server/keepalive.c): roomd times a connection's wait for its
next request itself (lws' own keep-alive timeout is taken off, see keepalive.h).

A connection left idle is closed after 5 s; one that sends a request every 3 s stays open;
a request whose first bytes come before the idle time is up and its last after is answered;
a head that never ends is closed by lws' header timeout (10 s); a WebSocket idle past the
idle time stays open; and many idle connections are closed on time while the server keeps
answering."""

import asyncio
import socket
import time
import unittest

from harness import ServerTestCase, unique, ws_connect, ws_recv_json, ws_send_json

IDLE_S = 5.0
GET = b"GET /counter/%s HTTP/1.1\r\nHost: a\r\n\r\n"


def read_answer(s):
    """Reads one answer (head and Content-Length body)."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError("closed before an answer: %r" % got)
        got += chunk
    head, body = got.split(b"\r\n\r\n", 1)
    length = int([line for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < length:
        body += s.recv(4096)
    return head


def closed_after(s, limit):
    """Seconds until the server closes s (nothing else may arrive), or None after limit."""
    start = time.monotonic()
    s.settimeout(limit)
    try:
        data = s.recv(100)
    except socket.timeout:
        return None
    if data:
        raise AssertionError("data instead of a close: %r" % data)
    return time.monotonic() - start


class KeepAliveTest(ServerTestCase):
    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(s.close)
        return s

    def test_idle_connection_closes_after_the_idle_time(self):
        s = self.connect()
        s.sendall(GET % unique("ka").encode())
        self.assertTrue(read_answer(s).startswith(b"HTTP/1.1 200"))
        waited = closed_after(s, 10)
        self.assertIsNotNone(waited, "an idle kept-alive connection stayed open 10 s")
        self.assertGreater(waited, IDLE_S - 0.5)
        self.assertLess(waited, IDLE_S + 1.0)

    def test_requests_within_the_idle_time_keep_it_open(self):
        s = self.connect()
        rid = unique("ka").encode()
        for _ in range(4):  # 9 s in all, each wait shorter than the idle time
            s.sendall(GET % rid)
            self.assertTrue(read_answer(s).startswith(b"HTTP/1.1 200"))
            time.sleep(3)
        s.sendall(GET % rid)
        self.assertTrue(read_answer(s).startswith(b"HTTP/1.1 200"))

    def test_request_begun_before_the_idle_time_is_answered(self):
        s = self.connect()
        rid = unique("ka").encode()
        s.sendall(GET % rid)
        read_answer(s)
        time.sleep(IDLE_S - 1.0)
        s.sendall(b"GET /counter/%s HTTP/1.1\r\n" % rid)
        time.sleep(2.0)  # the idle time passes with the head half sent
        s.sendall(b"Host: a\r\n\r\n")
        self.assertTrue(read_answer(s).startswith(b"HTTP/1.1 200"))

    def test_head_that_never_ends_is_closed_by_the_header_timeout(self):
        s = self.connect()
        s.sendall(GET % unique("ka").encode())
        read_answer(s)
        time.sleep(0.2)
        s.sendall(b"GET /counter/x HTTP/1.1\r\n")
        waited = closed_after(s, 15)
        self.assertIsNotNone(waited, "a head that never ended stayed open 15 s")
        self.assertGreater(waited, 8.0)

    def test_websocket_idle_past_the_idle_time_stays_open(self):
        async def run():
            ws = await ws_connect(self.port, "/relay/%s" % unique("ka"))
            try:
                await asyncio.sleep(IDLE_S + 1.5)
                await ws_send_json(ws, {"after": "idle"})
                self.assertEqual((await ws_recv_json(ws)).get("after"), "idle")
            finally:
                await ws.close()
        asyncio.run(run())

    def test_many_idle_connections_close_on_time(self):
        socks = []
        for i in range(300):
            s = self.connect()
            s.sendall(GET % ("ka-many-%d" % (i % 10)).encode())
            read_answer(s)
            socks.append(s)
        self.assertEqual(self.server.get("/counter/%s" % unique("ka")).status, 200)
        time.sleep(IDLE_S + 1.5)
        still_open = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1):
                    still_open += 1
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
            s.close()
        self.assertEqual(still_open, 0)


if __name__ == "__main__":
    unittest.main()
