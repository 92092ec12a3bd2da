"""HTTP pipelining (server/pipeline.c): a request sent before the previous one was answered.

libwebsockets 4.1 re-reads a pipelined request's header bytes as its body and then loops for
good, so roomd does not serve pipelined requests: the first is answered with "connection:
close", the connection is closed, and what came behind it reaches no room. Each case checks
that the answer came, that the server is not spinning (its CPU time barely moves while the
client waits), that the room named by the pipelined request is untouched, and that the server
still answers other clients; a client that waits for each answer keeps its connection."""

import os
import socket
import time
import unittest

from harness import ServerTestCase, free_port, http_request, unique

ADMIN_TOKEN = "pipelining-admin-token-0123456789"


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_and_read_all(port, data, timeout=5.0):
    """Sends data in one write and reads until the server closes (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    deadline = time.monotonic() + timeout
    got = b""
    try:
        s.sendall(data)
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return got, False
            if not chunk:
                return got, True
            got += chunk
        return got, False
    finally:
        s.close()


def request(method, path, body=None, extra=""):
    head = "%s %s HTTP/1.1\r\nHost: a\r\n%s" % (method, path, extra)
    if body is None:
        return (head + "\r\n").encode()
    return (head + "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)).encode()


class PipeliningTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.server_args = ("--admin-port", str(cls.admin_port))
        os.environ["ROOMD_ADMIN_TOKEN"] = ADMIN_TOKEN
        super().setUpClass()

    def value(self, rid):
        return self.server.get("/counter/%s" % rid).json["value"]

    def assert_answered_once_then_closed(self, port, data, first_status, says_close=True):
        before = cpu_seconds(self.server.proc.pid)
        got, closed = send_and_read_all(port, data)
        self.assertTrue(closed, "the connection stayed open: %r" % got[:300])
        self.assertEqual(got.count(b"HTTP/1.1 "), 1, got[:300])
        self.assertTrue(got.startswith(b"HTTP/1.1 %d " % first_status), got[:300])
        if says_close:  # a static file's headers are out before the input behind it is seen
            self.assertIn(b"connection: close", got.lower())
        # A server spinning inside lws_service burns a whole core; an idle one nearly nothing.
        time.sleep(1.0)
        self.assertLess(cpu_seconds(self.server.proc.pid) - before, 0.6, "roomd is spinning")
        self.assertEqual(http_request(self.port, "GET", "/healthz", timeout=2).status, 200)

    def test_a_pipelined_request_with_its_body_still_to_come(self):
        a, b = unique(), unique()
        data = request("GET", "/counter/" + a) + (
            "POST /counter/%s HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n" % b).encode()
        self.assert_answered_once_then_closed(self.port, data, 200)
        self.assertEqual(self.value(b), 0)

    def test_pipelined_requests_with_bodies(self):
        a, b = unique(), unique()
        data = request("POST", "/counter/" + a, "{}") + request("POST", "/counter/" + b, "{}")
        self.assert_answered_once_then_closed(self.port, data, 200)
        self.assertEqual((self.value(a), self.value(b)), (1, 0))

    def test_behind_answers_that_need_no_room(self):
        b = unique()
        post = request("POST", "/counter/" + b, "{}")
        self.assert_answered_once_then_closed(self.port, request("GET", "/healthz") + post, 200)
        self.assert_answered_once_then_closed(self.port, request("GET", "/nope/x") + post, 404)
        self.assert_answered_once_then_closed(self.port, request("GET", "/") + post, 200,
                                              says_close=False)
        self.assertEqual(self.value(b), 0)

    def test_on_the_admin_port(self):
        b = unique()
        auth = "Authorization: Bearer %s\r\n" % ADMIN_TOKEN
        data = request("GET", "/healthz", extra=auth) + request("POST", "/counter/" + b, "{}")
        self.assert_answered_once_then_closed(self.admin_port, data, 200)

    def test_many_pipelining_clients_at_once(self):
        rooms = [unique() for _ in range(20)]
        socks = []
        for rid in rooms:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(request("POST", "/counter/" + rid, "{}") +
                      (b"POST /counter/%s-behind HTTP/1.1\r\nContent-Length: 9\r\n\r\n"
                       % rid.encode()))
            socks.append(s)
        for s in socks:
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            self.assertEqual(got.count(b"HTTP/1.1 200"), 1, got[:300])
            s.close()
        for rid in rooms:
            self.assertEqual((self.value(rid), self.value(rid + "-behind")), (1, 0))

    def test_a_client_that_waits_for_each_answer_keeps_its_connection(self):
        rid = unique()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            for n in range(1, 4):
                s.sendall(request("POST", "/counter/" + rid, "{}"))
                got = b""
                while not got.endswith(b"}"):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "closed after %d answers" % (n - 1))
                    got += chunk
                self.assertNotIn(b"connection: close", got.lower())
                self.assertIn(b'"value":%d' % n, got)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
