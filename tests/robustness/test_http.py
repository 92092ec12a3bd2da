"""Malformed HTTP (issue 11): request lines and headers that break the grammar, heads too large
to keep, pipelined requests, and clients that send a request slowly or never finish it. Each is
answered or closed in time, or (a head that never ends) closed by the server within LINGER
seconds, while the canaries answer; those aimed at /counter/canary never write it. (A folded
header line or a NUL in a value may be taken, RFC 9112 5.2 and RFC 9110 5.5 allow replacing them
with spaces: those aim at rooms of their own.)"""

import threading
import time

from battery import (BOUND, Battery, closed_by_peer, http_case, lingering, main, post_empty,
                     read_replies, request, unique)

SLOW_CLIENTS = 100


def pipelined(n, room):
    """n POSTs to room in one write: roomd does not serve pipelined requests (server/pipeline.c),
    so the first is answered with connection: close, the connection closes, and the room
    counted exactly 1."""
    def run(ctx):
        reply, _ = ctx.exchange(post_empty(b"/counter/" + room) * n, want=n, timeout=BOUND * 3)
        ctx.test.assertEqual(reply.statuses, [200], reply)
        ctx.test.assertTrue(reply.closed, reply)
        ctx.test.assertIn(b"connection: close", reply.heads[0].lower())
        ctx.test.assertEqual(reply.bodies[0], b'{"value":1}')
    return run


def pipelined_after_refusal(ctx):
    """A request pipelined behind one refused 413 (its body unread) is not run as a request."""
    data = (request(b"POST", b"/counter/battery-413", [b"Content-Length: 99999999"]) +
            post_empty(b"/counter/canary"))
    reply, _ = ctx.exchange(data, want=2)
    ctx.test.assertEqual(reply.statuses[:1], [413], reply)
    ctx.test.assertEqual(len(reply.statuses), 1, reply)


def pipelined_body_later(ctx):
    """A GET and a POST pipelined in one write, the POST's body not yet sent: the canaries must
    answer while the body is awaited. (libwebsockets 4.1 re-reads the POST's head as its body
    and loops for good unless roomd closes such a connection first: server/pipeline.c.)"""
    sock = ctx.send(request(b"GET", b"/counter/battery-pipe-a") +
                    request(b"POST", b"/counter/battery-pipe-b", [b"Content-Length: 6"]))
    try:
        ctx.check()
    finally:
        sock.sendall(b"123456")
        read_replies(sock, 2, 1)


def slow_heads(ctx):
    """SLOW_CLIENTS connections each send a request head one byte at a time, slowly; meanwhile
    the canaries answer in time, and the slow requests are answered once complete."""
    socks = [ctx.connect() for _ in range(SLOW_CLIENTS)]
    data = request(b"GET", b"/counter/battery-slow")
    step = 3.0 / len(data)
    for i in range(len(data)):
        for s in socks:
            s.sendall(data[i:i + 1])
        if i % 16 == 0:
            ctx.check(during=True)
        time.sleep(step)
    for s in socks:
        ctx.test.assertEqual(read_replies(s, 1, BOUND * 2).statuses, [200])


def slow_body(ctx):
    """A body that stops half way: the canaries answer while it waits; a later request on
    another connection is unaffected."""
    sock = ctx.send(request(b"POST", b"/counter/canary", [b"Content-Length: 1000"]) + b"x" * 10)
    ctx.check(during=True)
    ctx.test.assertFalse(read_replies(sock, 1, 0.5).statuses, "answered before the body came")


def many_idle(ctx):
    """Connections that send nothing at all; the canaries answer meanwhile."""
    for _ in range(SLOW_CLIENTS):
        ctx.connect()
    ctx.check(during=True)


def half_close(ctx):
    """A request, then the client shuts its writing side: it still gets its answer."""
    sock = ctx.send(request(b"GET", b"/counter/battery-half"))
    sock.shutdown(1)
    ctx.test.assertEqual(read_replies(sock, 1, BOUND).statuses, [200])


def reset_mid_request(ctx):
    """Clients that vanish in the middle of a request head or body (RST)."""
    import socket
    import struct
    for data in (b"GET /counter/canary HT", request(b"POST", b"/counter/canary",
                                                   [b"Content-Length: 100"]) + b"{"):
        s = ctx.connect()
        s.sendall(data)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    ctx.socks = []


def many_requests_one_connection(ctx):
    """200 requests one after another on one kept-alive connection."""
    sock = ctx.connect()
    for _ in range(200):
        sock.sendall(request(b"GET", b"/healthz"))
        ctx.test.assertEqual(read_replies(sock, 1, BOUND).statuses, [200])


def concurrent_writers(ctx):
    """8 threads POST to one room 25 times each: all counted, none lost."""
    room = unique("battery-conc-").encode()

    def worker():
        for _ in range(25):
            reply, s = ctx.exchange(post_empty(b"/counter/" + room))
            s.close()
            results.append(reply.status)
    results = []
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND * 10)
    ctx.test.assertEqual(results, [200] * 200)
    ctx.test.assertEqual(ctx.server.get("/counter/" + room.decode()).json, {"value": 200})


LINGER_FIRST, LINGER_LAST = lingering([
    ("http09", b"GET /counter/canary\r\n"),
    ("unfinished_head", b"POST /counter/canary HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"),
    ("bare_cr", b"POST /counter/canary HTTP/1.1\rHost: a\rContent-Length: 0\r\r"),
    ("header_without_colon", b"POST /counter/canary HTTP/1.1\r\nHost a\r\nfoo\r\n\r\n"),
    ("obs_fold", b"POST /counter/battery-fold HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n"
                 b"Content-Length: 0\r\n\r\n"),
    ("nul_in_header", b"POST /counter/battery-nul HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n"
                      b"Content-Length: 0\r\n\r\n"),
    ("connect", b"CONNECT /counter/canary HTTP/1.1\r\nHost: a\r\n\r\n"),
])


class Http(Battery):
    klass = "http"
    cases = LINGER_FIRST + [
        # request lines
        ("no_version", http_case(b"POST /counter/battery-nover\r\n\r\n", "any")),
        ("http10", http_case(request(b"GET", b"/counter/canary", version=b"HTTP/1.0"), "ok")),
        ("http10_keepalive", http_case(request(b"GET", b"/counter/canary", [
            b"Connection: keep-alive"], version=b"HTTP/1.0") * 2, "ok", want=2)),
        ("http2_preface", http_case(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "error")),
        ("version_3", http_case(post_empty(b"/counter/battery-v3")
                                .replace(b"HTTP/1.1", b"HTTP/3.0"), "any")),
        ("version_garbage", http_case(post_empty(b"/counter/battery-vx")
                                      .replace(b"HTTP/1.1", b"HTTP/1.x"), "any")),
        ("tabs", http_case(b"POST\t/counter/canary\tHTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                           "error")),
        ("many_spaces", http_case(b"GET    /counter/canary    HTTP/1.1\r\n\r\n", "any")),
        ("bare_lf", http_case(b"GET /counter/canary HTTP/1.1\nHost: a\n\n", "any")),
        ("absolute_form", http_case(post_empty(b"http://battery/counter/canary"), "error")),
        ("asterisk", http_case(request(b"OPTIONS", b"*"), "error")),
        ("empty_target", http_case(request(b"GET", b""), "error")),
        ("relative_target", http_case(post_empty(b"counter/canary"), "error")),
        ("nul_in_target", http_case(post_empty(b"/counter/ca\0nary"), "error")),
        ("long_method", http_case(b"X" * 10000 + b" / HTTP/1.1\r\n\r\n", "error")),
        ("only_crlfs", http_case(b"\r\n" * 5000 + request(b"GET", b"/healthz"), "any")),
        ("binary_garbage", http_case(bytes(range(256)) * 16, "error")),
        ("tls_client_hello", http_case(bytes.fromhex(
            "16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00", "error")),
        # headers
        ("space_before_colon", http_case(request(b"POST", b"/counter/canary", [
            b"Content-Length : 0"]), "error")),
        ("huge_header", http_case(request(b"GET", b"/counter/canary", [
            b"X-A: " + b"a" * 100000]), "error")),
        ("huge_target", http_case(request(b"GET", b"/counter/" + b"a" * 100000), "error")),
        ("huge_query", http_case(request(b"GET", b"/counter/canary?" + b"a=b&" * 20000), "any")),
        ("many_headers", http_case(request(b"GET", b"/counter/canary", [
            b"X-%d: v" % i for i in range(5000)]), "error")),
        ("many_query_args", http_case(request(b"GET", b"/echo/battery?" + b"&".join(
            b"k%d=v" % i for i in range(80))), "ok")),
        ("too_many_query_args", http_case(request(b"GET", b"/echo/battery?" + b"&".join(
            b"k%d=v" % i for i in range(200))), "error")),
        ("duplicate_host", http_case(request(b"GET", b"/counter/canary", [b"Host: b"]), "any")),
        ("header_name_utf8", http_case(request(b"GET", b"/counter/canary", [
            "X-\u00e9: v".encode()]), "any")),
        ("header_value_ctl", http_case(request(b"GET", b"/echo/battery", [
            b"X-Test-Header: a\x01\x7fb"]), "any")),
        ("expect_continue", http_case(request(b"POST", b"/counter/battery-expect", [
            b"Expect: 100-continue"], b"{}"), "any")),
        ("body_without_length", http_case(b"POST /counter/battery-nolen HTTP/1.1\r\n\r\n"
                                          b"POST /counter/canary HTTP/1.1\r\n\r\n", "any")),
        # pipelining
        ("pipelined_20", pipelined(20, unique("battery-pipe-").encode())),
        ("pipelined_after_413", pipelined_after_refusal),
        ("many_requests_one_connection", many_requests_one_connection),
        ("concurrent_writers", concurrent_writers),
        # slow and vanishing clients
        ("slow_heads", slow_heads),
        ("slow_body", slow_body),
        ("many_idle", many_idle),
        ("half_close", half_close),
        ("reset_mid_request", reset_mid_request),
        ("pipelined_body_later", pipelined_body_later),
    ] + LINGER_LAST


if __name__ == "__main__":
    main()
