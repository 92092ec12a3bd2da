"""The robustness battery's machinery (issue 11: no script, request or disk can crash, stall or
mis-route roomd). Each tests/robustness/test_<class>.py is one class of bad input: a table of
cases, each one small function of a Ctx, run in table order against one roomd (conf/test.lua,
its embedded Redis) started for the class. After every case the same checks run:

  - the roomd process is alive and its log holds no sanitizer report;
  - a WebSocket opened before the case (/echo/canary-ws) echoes within BOUND seconds, and a
    fresh HTTP connection gets GET /counter/canary's value within BOUND;
  - the stored values of the canary rooms (counter "canary", vote "canary"), read straight
    from Redis, are byte for byte what they were before the case.

Cases aim at the canaries on purpose: a path trick that would collapse to /counter/canary, a
WebSocket frame that must be refused carrying a valid vote for /vote/canary. So a mis-routed
or wrongly accepted request shows up as a changed canary. A case that kills the server fails,
and the server is started again (same data) for the next case; so is one that no longer answers.

EXPECTED_TO_FAIL names the cases that fail today, each with the issue case whose fix makes it
pass; they run as expected failures, and one that starts passing fails the class as an
"unexpected success" until its line here is removed."""

import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from harness import (LogOnFailure, RawWebSocket, Server, encode_frame, http_request,  # noqa: E402
                     is_sanitized, parse_frame, redis_call, sanitizer_reports, unique,
                     upgrade_request, wait_until, within_budget)

# The cases that fail today, by name, each with the issue case whose fix makes it pass (none
# now); e.g. "http.some_case": "issue N #M: what is wrong".
EXPECTED_TO_FAIL = {}

# BATTERY_STRICT=1 runs the expected failures as ordinary cases, to see how each fails.
STRICT = os.environ.get("BATTERY_STRICT") == "1"
BOUND = 6.0 if is_sanitized() else 2.0  # seconds the canary may take to answer
LINGER = 15.0  # seconds within which the server must close a connection it will not answer
COUNTER_KV = "rd:{counter:canary}:kv"
VOTE_KV = "rd:{vote:canary}:kv"
VOTE = b'{"option":1}'  # a valid vote: what bad frames carry to the vote canary


class Reply:
    """What came back on a raw connection: the responses' statuses, bodies and heads, and
    whether the server closed it."""

    def __init__(self):
        self.statuses, self.bodies, self.heads, self.closed, self.rest = [], [], [], False, b""

    @property
    def status(self):
        return self.statuses[0] if self.statuses else None

    def __repr__(self):
        return "Reply(statuses=%s, closed=%s, first body=%r)" % (
            self.statuses, self.closed, self.bodies[0][:120] if self.bodies else None)


def read_replies(sock, want, timeout, head=False):
    """Reads up to want HTTP responses (or until the connection ends or timeout passes)."""
    reply, buf = Reply(), b""
    deadline = time.monotonic() + timeout
    while len(reply.statuses) < want:
        while b"\r\n\r\n" not in buf:
            chunk = recv_until(sock, deadline)
            if chunk is None or chunk == b"":
                reply.closed = chunk == b""
                reply.rest = buf
                return reply
            buf += chunk
        top, buf = buf.split(b"\r\n\r\n", 1)
        lines = top.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            raise AssertionError("not an HTTP response: %r" % top[:200])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        length = 0 if head or status in (101, 204, 304) else length
        while len(buf) < length:
            chunk = recv_until(sock, deadline)
            if not chunk:
                break
            buf += chunk
        reply.statuses.append(status)
        reply.heads.append(top)
        reply.bodies.append(buf[:length])
        buf = buf[length:]
        if status == 101:
            break
    reply.rest = buf
    return reply


def recv_until(sock, deadline):
    """Some bytes, b"" when the peer closed (or reset), None when deadline passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    sock.settimeout(left)
    try:
        return sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return b""
    except socket.timeout:
        return None


def closed_by_peer(sock, timeout):
    """Whether the peer closes sock within timeout (what it sends meanwhile is dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        chunk = recv_until(sock, deadline)
        if chunk is None:
            return False
        if chunk == b"":
            return True


class Canary:
    """The rooms every case must leave alone, and the checks that they were."""

    def __init__(self, server):
        self.server = server
        self.ws = None
        self.sent = 0

    @property
    def redis_sock(self):
        return os.path.join(self.server.data, "redis.sock")

    def prepare(self):
        for _ in range(3):
            assert self.server.post("/counter/canary").status == 200
        for _ in range(2):
            assert self.server.post("/vote/canary", body={"option": 0}).status == 200
        self.value = self.server.get("/counter/canary").json["value"]
        self.stored = self.read_stored()
        assert self.stored[COUNTER_KV] and self.stored[VOTE_KV], self.stored

    def rebase(self):
        """Takes the canaries' present state as the one the next case must leave (so a case that
        changed them, an expected failure, does not fail the cases after it)."""
        self.value = self.server.get("/counter/canary", timeout=BOUND).json["value"]
        self.stored = self.read_stored()

    def read_stored(self):
        return {key: redis_call(self.redis_sock, "HGETALL", key) for key in (COUNTER_KV, VOTE_KV)}

    def open_ws(self):
        self.close_ws()
        self.ws = RawWebSocket(self.server.port, "/echo/canary-ws")

    def close_ws(self):
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def check_ws(self, test):
        self.sent += 1
        started = time.monotonic()
        try:
            self.ws.send_text(b'{"canary":%d}' % self.sent)
            while True:
                frame = self.ws.recv_frame(timeout=BOUND)
                if frame is None:
                    test.fail("the canary WebSocket was closed")
                if frame[0] == 0x1 and frame[1] == b'{"canary":%d}' % self.sent:
                    break
        except (OSError, AssertionError) as e:
            test.fail("the canary WebSocket did not echo within %.0fs: %s" % (BOUND, e))
        return time.monotonic() - started

    def check_http(self, test):
        started = time.monotonic()
        try:
            res = http_request(self.server.port, "GET", "/counter/canary", timeout=BOUND)
        except (OSError, AssertionError) as e:
            test.fail("GET /counter/canary got no answer within %.0fs: %s" % (BOUND, e))
        took = time.monotonic() - started
        test.assertEqual(res.status, 200, res.body[:200])
        test.assertEqual(res.json, {"value": self.value}, "the canary counter changed")
        return took

    def check_stored(self, test):
        now = self.read_stored()
        for key in now:
            test.assertEqual(now[key], self.stored[key], "stored %s changed" % key)


class Ctx:
    """What a case works with: the server, raw connections, and the checks."""

    def __init__(self, test):
        self.test = test
        self.server = test.server
        self.port = test.server.port
        self.canary = test.canary
        self.socks = []

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=within_budget(BOUND))
        self.socks.append(s)
        return s

    def send(self, data, sock=None):
        sock = sock or self.connect()
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before all was sent
        return sock

    def exchange(self, data, want=1, timeout=None, head=False):
        """Sends data on a new connection and reads up to want responses."""
        sock = self.send(data)
        return read_replies(sock, want, timeout or BOUND, head), sock

    def ws(self, path):
        w = RawWebSocket(self.port, path, timeout=BOUND)
        self.socks.append(w.sock)
        return w

    def check(self, during=False):
        """The checks every case ends with; during=True: only what works while the case's
        attack is still on (alive, the canary WebSocket), for checks in the middle of a case."""
        t = self.test
        t.assertTrue(self.server.alive(), "roomd died:\n%s" % self.server.log_tail())
        reports = sanitizer_reports(self.server.log_text())
        t.assertFalse(reports, "sanitizer reports: %s" % reports[:5])
        self.canary.check_ws(t)
        if not during:
            self.canary.check_http(t)
            self.canary.check_stored(t)

    def close(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []


class Battery(LogOnFailure, unittest.TestCase):
    """A class of cases against one roomd. Subclasses set klass, cases (a list of (name, fn)
    made by the helpers below) and optionally server_kwargs."""

    klass = None
    cases = ()
    server_kwargs = {}
    server = None
    canary = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(**cls.server_kwargs)
        try:
            cls.server.start()
            cls.canary = Canary(cls.server)
            cls.canary.prepare()
            cls.canary.open_ws()
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        server, cls.server = cls.server, None
        try:
            cls.canary.close_ws()
            server.stop_clean()
        finally:
            server.cleanup()
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        if not self.server.alive():  # an earlier case killed it: start it again
            self.server.kill()
            self.server.start()
            self.canary.open_ws()
        elif self.canary.ws is None:
            self.canary.open_ws()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for i, (name, fn) in enumerate(cls.cases):
            full = "%s.%s" % (cls.klass, name)
            test = make_test(fn, full)
            if full in EXPECTED_TO_FAIL and not STRICT:
                test = unittest.expectedFailure(test)
            setattr(cls, "test_%03d_%s" % (i, name), test)


def make_test(fn, full):
    def test(self):
        ctx = Ctx(self)
        self.canary.rebase()
        try:
            fn(ctx)
            ctx.check()
        finally:
            ctx.close()
            if self.server.alive() and not wait_until(lambda: answers(self.server), BOUND):
                self.server.kill()  # wedged: a new one (same data) for the next case
                self.server.start()
                self.canary.open_ws()
    test.__doc__ = full
    return test


def answers(server):
    try:
        return http_request(server.port, "GET", "/healthz", timeout=1).status == 200
    except (OSError, AssertionError):
        return False


def main():
    unittest.main(verbosity=2)


# ---------------------------------------------------------------- helpers that make cases


def http_case(data, expect="any", want=1, head=False, timeout=None):
    """A case that sends raw bytes and reads what comes back. expect:
      "any"    some answer or a close within BOUND;
      "error"  a 4xx/5xx answer or a close, never a 1xx/2xx/3xx;
      "json_error"  as "error", and an answer (if any) has a JSON {"error"} body;
      "ok"     want 2xx answers;
      a callable: called with (ctx, reply)."""
    def run(ctx):
        reply, _ = ctx.exchange(data, want=want, timeout=timeout, head=head)
        judge(ctx, reply, expect, data)
    return run


def judge(ctx, reply, expect, data=b""):
    t = ctx.test
    what = "%r -> %r" % (data[:80], reply)
    if callable(expect):
        expect(ctx, reply)
        return
    t.assertTrue(reply.statuses or reply.closed, "no answer and no close within %.0fs: %s"
                 % (BOUND, what))
    if expect == "ok":
        t.assertTrue(reply.statuses and all(200 <= s < 300 for s in reply.statuses), what)
    elif expect in ("error", "json_error"):
        t.assertTrue(all(s >= 400 for s in reply.statuses), "accepted: " + what)
        if expect == "json_error":
            for body in reply.bodies:
                t.assertTrue(body.startswith(b'{"error":'), "not a JSON error: " + what)


def linger_case(data):
    """A case for a request the server may neither answer nor refuse at once (an unfinished or
    unparsable head): the connection stays open past the case (the canary checks run with it
    open); the matching closed_case checks that the server ends it within LINGER seconds."""
    def run(ctx):
        sock = socket.create_connection(("127.0.0.1", ctx.port), timeout=BOUND)
        try:
            sock.sendall(data)
        except OSError:
            pass
        LINGERING[data] = (sock, time.monotonic())
    return run


def closed_case(data):
    def run(ctx):
        sock, started = LINGERING.pop(data)
        try:
            left = max(0.1, started + LINGER - time.monotonic())
            ctx.test.assertTrue(closed_by_peer(sock, left), "%r: still open %.0fs after it was sent"
                                % (data[:80], time.monotonic() - started))
        finally:
            sock.close()
    return run


LINGERING = {}


def lingering(rows):
    """Rows (name, data) as linger cases first and, at the end of the table, their closed_cases."""
    return ([(name, linger_case(data)) for name, data in rows],
            [(name + "_closed", closed_case(data)) for name, data in rows])


def request(method, target, headers=(), body=b"", version=b"HTTP/1.1"):
    """Raw request bytes; a body gets its Content-Length unless headers set one."""
    lines = [b"%s %s %s" % (method, target, version), b"Host: battery"]
    lines += list(headers)
    if body and not any(h.lower().startswith(b"content-length") for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def post_empty(target, method=b"POST"):
    return request(method, target, [b"Content-Length: 0"])


def ws_frames_case(path, frames, expect_close=None, expect_error=False, after=None):
    """A case that opens a WebSocket on path, sends frames (bytes, already framed), and expects
    a close with one of expect_close (a tuple of codes; "any" also takes a close without a
    frame), or an {"error"} message while the connection stays open (expect_error)."""
    def run(ctx):
        w = ctx.ws(path)
        if path.startswith("/vote/"):
            w.recv_frame(timeout=BOUND)  # the state sent on join
        try:
            w.sock.sendall(frames)
        except (BrokenPipeError, ConnectionResetError):
            pass
        t = ctx.test
        if expect_close:
            code = wait_close(w, BOUND)
            t.assertIsNotNone(code, "the server did not close the connection within %.0fs" % BOUND)
            if expect_close != "any":
                t.assertIn(code, expect_close, "closed with %s" % code)
        if expect_error:
            frame = w.recv_frame(timeout=BOUND)
            t.assertIsNotNone(frame, "closed instead of answering an error")
            t.assertEqual(frame[0], 0x1, frame)
            t.assertTrue(frame[1].startswith(b'{"error":'), frame)
        if after:
            after(ctx, w)
    return run


def wait_close(w, timeout):
    """Reads frames until the server closes: its close code, "eof" for a close without a close
    frame, or None when timeout passed first."""
    deadline = time.monotonic() + timeout
    while True:
        frame, w.buf = parse_frame(w.buf)
        if frame is not None:
            if frame[0] == 0x8:
                return struct.unpack("!H", frame[1][:2])[0] if len(frame[1]) >= 2 else "short"
            continue
        chunk = recv_until(w.sock, deadline)
        if chunk is None:
            return None
        if chunk == b"":
            return "eof"
        w.buf += chunk


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    data = encode_frame(opcode, payload, fin=fin, mask=mask)
    return bytes([data[0] | (rsv << 4)]) + data[1:]


__all__ = ["Battery", "BOUND", "LINGER", "VOTE", "closed_by_peer", "frame", "http_case",
           "judge", "lingering", "main", "post_empty", "read_replies", "request",
           "ws_frames_case", "wait_close", "unique", "upgrade_request", "wait_until",
           "http_request"]
