"""Protocol leniency (issue 11): what HTTP and WebSocket say a server must refuse is refused,
and none of it reaches a room. Requests aim at the canaries (a write that should not happen
changes them)."""

import struct

from battery import (VOTE, Battery, frame, http_case, main, post_empty, request, upgrade_request,
                     wait_close, ws_frames_case, BOUND)

H2C = [b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c",
       b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"]
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(path, version=b"13", key=KEY, method=b"GET", extra=()):
    return request(method, path, [b"Upgrade: websocket", b"Connection: Upgrade",
                                  b"Sec-WebSocket-Key: " + key,
                                  b"Sec-WebSocket-Version: " + version] + list(extra))


def not_switched(ctx, reply):
    ctx.test.assertTrue(reply.statuses or reply.closed, reply)
    ctx.test.assertNotIn(101, reply.statuses, "switched protocols: %r" % reply)


def close_then_vote(payload, codes):
    """A close frame with payload, then a vote the server must not act on."""
    return ws_frames_case("/vote/canary", frame(0x8, payload) + frame(0x1, VOTE),
                          expect_close=codes)


def room_sets(ctx):
    res = ctx.server.get("/echo/battery/framing")
    ctx.test.assertEqual(res.status, 500, res.body[:200])


class Protocol(Battery):
    klass = "protocol"
    cases = [
        ("unknown_method", http_case(post_empty(b"/counter/canary", b"FROB"), "json_error")),
        ("propfind", http_case(post_empty(b"/counter/canary", b"PROPFIND"), "error")),
        ("trace", http_case(request(b"TRACE", b"/counter/canary"), "error")),
        ("lowercase_post", http_case(post_empty(b"/counter/canary", b"post"), "error")),
        ("lowercase_get", http_case(request(b"get", b"/counter/canary"), "error")),
        ("mixed_case_post", http_case(post_empty(b"/counter/canary", b"Post"), "error")),
        ("head", http_case(request(b"HEAD", b"/counter/canary"), "any", head=True)),
        ("delete", http_case(post_empty(b"/counter/canary", b"DELETE"), "error")),
        ("h2c_get", http_case(request(b"GET", b"/counter/canary", H2C), not_switched)),
        ("h2c_post", http_case(request(b"POST", b"/counter/battery-h2c",
                                       H2C + [b"Content-Length: 0"]), not_switched)),
        ("h2c_preface_after", http_case(request(b"GET", b"/counter/canary", H2C)
                                        + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", not_switched)),
        ("ws_version_8", http_case(upgrade(b"/vote/canary", b"8"), "json_error")),
        ("ws_version_14", http_case(upgrade(b"/vote/canary", b"14"), "json_error")),
        ("ws_version_empty", http_case(upgrade(b"/vote/canary", b""), "error")),
        ("ws_version_list", http_case(upgrade(b"/vote/canary", b"13, 8"), "error")),
        ("ws_no_key", http_case(request(b"GET", b"/vote/canary", [
            b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Version: 13"]),
            not_switched)),
        ("ws_short_key", http_case(upgrade(b"/vote/canary", key=b"c2hvcnQ="), "any")),
        ("ws_post_upgrade", http_case(upgrade(b"/vote/canary", method=b"POST",
                                              extra=[b"Content-Length: 0"]), not_switched)),
        ("ws_upgrade_unknown_ns", http_case(upgrade(b"/nope/canary"), "json_error")),
        ("unmasked_text", ws_frames_case("/vote/canary", frame(0x1, VOTE, mask=False),
                                         expect_close=(1002,))),
        ("close_1000_then_vote", close_then_vote(struct.pack("!H", 1000), (1000,))),
        ("close_empty_then_vote", close_then_vote(b"", (1000, 1005, "short", "eof"))),
        ("close_5000", close_then_vote(struct.pack("!H", 5000), (1002,))),
        ("close_65535", close_then_vote(struct.pack("!H", 65535), (1002,))),
        ("close_1005", close_then_vote(struct.pack("!H", 1005), (1002,))),
        ("close_one_byte", close_then_vote(b"\x03", (1002, "eof"))),
        ("close_bad_utf8_reason", close_then_vote(struct.pack("!H", 1000) + b"\xff\xfe",
                                                  (1007, 1002, "eof"))),
        ("huge_content_length", http_case(request(b"POST", b"/counter/canary",
                                                  [b"Content-Length: 99999999999999999999"]),
                                          "json_error")),
        ("negative_content_length", http_case(request(b"POST", b"/counter/canary",
                                                      [b"Content-Length: -1"]), "json_error")),
        ("two_content_lengths", http_case(request(b"POST", b"/counter/canary", [
            b"Content-Length: 0", b"Content-Length: 5"], b"hello"), "error")),
        ("cl_and_chunked", http_case(request(b"POST", b"/counter/canary", [
            b"Content-Length: 5", b"Transfer-Encoding: chunked"]) + b"0\r\n\r\n", "error")),
        ("chunked_smuggle", http_case(request(b"POST", b"/counter/battery-smuggle", [
            b"Transfer-Encoding: chunked"]) + b"0\r\n\r\n" + post_empty(b"/counter/canary"),
            "error")),
        ("room_sets_framing_headers", room_sets),
    ]


if __name__ == "__main__":
    main()
