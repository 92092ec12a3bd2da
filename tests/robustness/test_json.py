"""JSON bodies and messages that are deep, huge or invalid (issue 11): a body that says it is
JSON must be JSON within limits.json_depth before any turn (400, 413 past limits.body_bytes); a
WebSocket message that is not gets an {"error"} and the connection stays. Bad ones are sent
to the vote canary as votes; large valid ones go to rooms of their own."""

import json

from battery import BOUND, Battery, VOTE, frame, http_case, main, request, unique, ws_frames_case

JSON = [b"Content-Type: application/json"]
MIB = 1 << 20


def vote_body(body, expect="json_error"):
    return http_case(request(b"POST", b"/vote/canary", JSON, body), expect)


def deep(n, inner=b"1"):
    return b'{"option":1,"x":' + b"[" * n + inner + b"]" * n + b"}"


def vote_message(payload):
    return ws_frames_case("/vote/canary", frame(0x1, payload), expect_error=True)


def echo_big(ctx):
    """A valid body near limits.body_bytes reaches its room whole."""
    body = json.dumps({"x": "y" * (MIB - 100)}).encode()
    res = ctx.server.post("/echo/" + unique("battery-big-"), body=body,
                          headers={"Content-Type": "application/json"}, timeout=BOUND * 3)
    ctx.test.assertEqual(res.status, 200)
    ctx.test.assertEqual(len(res.json["json"]["x"]), MIB - 100)


def wide_object(ctx):
    """An object of 50,000 keys (under the size limit) is taken."""
    body = json.dumps({"k%d" % i: i for i in range(50000)}).encode()
    res = ctx.server.post("/echo/" + unique("battery-wide-"), body=body,
                          headers={"Content-Type": "application/json"}, timeout=BOUND * 3)
    ctx.test.assertEqual(res.status, 200, res.body[:200])


class Json(Battery):
    klass = "json"
    cases = [
        ("depth_65", vote_body(deep(64))),
        ("depth_100000", vote_body(deep(100000))),
        ("depth_unclosed", vote_body(b'{"option":1,"x":' + b"[" * 200000)),
        ("objects_deep", vote_body(b'{"option":1,"x":' + b'{"a":' * 5000 + b"1" + b"}" * 5001)),
        ("invalid", vote_body(b'{"option":1,')),
        ("trailing_garbage", vote_body(b'{"option":1}x')),
        ("two_values", vote_body(b'{"option":1}{"option":1}')),
        ("nan", vote_body(b'{"option":NaN}')),
        ("infinity", vote_body(b'{"option":1,"x":1e999}', "any")),
        ("bad_utf8", vote_body(b'{"option":1,"x":"\xff"}')),
        ("bad_escape", vote_body(b'{"option":1,"x":"\\uD800"}', "any")),
        ("bom", vote_body(b'\xef\xbb\xbf{"option":1}', "any")),
        ("nul_key", vote_body(b'{"option":1,"\\u0000":1}', "any")),
        ("single_quotes", vote_body(b"{'option':1}")),
        ("comment", vote_body(b'{"option":1/*x*/}')),
        ("over_body_limit", vote_body(b'{"option":1,"x":"' + b"x" * MIB + b'"}', "json_error")),
        ("option_string", vote_body(b'{"option":"1"}')),
        ("option_float", vote_body(b'{"option":1.5}')),
        ("option_huge", vote_body(b'{"option":1e308}')),
        ("option_array", vote_body(b'{"option":[1]}')),
        ("ws_deep", vote_message(deep(100000))),
        ("ws_invalid", vote_message(b'{"option":1,')),
        ("ws_trailing", vote_message(VOTE + b" x")),
        ("ws_nan", vote_message(b'{"option":NaN}')),
        ("ws_option_string", vote_message(b'{"option":"1"}')),
        ("echo_near_limit", echo_big),
        ("wide_object", wide_object),
    ]


if __name__ == "__main__":
    main()
