"""Path tricks (issue 11): request targets that are not /counter/canary must not write to room
"canary" (libwebsockets decodes and collapses paths before roomd routes them; a proxy that
hashes the raw target, as HAProxy's `balance uri`, would send them to another node). Every
case POSTs to the trick, so a mis-route increments the canary counter; WebSocket joins vote."""

from battery import VOTE, Battery, frame, main, post_empty, read_replies, request, BOUND


def misroute(target):
    """POST target, a trick aimed at room canary: any answer or a close, canary unchanged."""
    def run(ctx):
        reply, _ = ctx.exchange(post_empty(target))
        ctx.test.assertTrue(reply.statuses or reply.closed, reply)
    return run


def second_request(target, pipelined=False):
    """The trick as the second request of a kept-alive connection (first a harmless GET)."""
    def run(ctx):
        first = request(b"GET", b"/counter/warmup")
        if pipelined:
            reply, _ = ctx.exchange(first + post_empty(target), want=2)
        else:
            sock = ctx.connect()
            sock.sendall(first)
            read_replies(sock, 1, BOUND)
            sock.sendall(post_empty(target))
            reply = read_replies(sock, 1, BOUND)
        ctx.test.assertTrue(reply.statuses or reply.closed, reply)
    return run


def ws_join(path):
    """A WebSocket that joins path (a trick aimed at /vote/canary) and votes."""
    def run(ctx):
        try:
            w = ctx.ws(path)
        except AssertionError:
            return  # refused: fine
        w.sock.sendall(frame(0x1, VOTE))
        w.recv_frame(timeout=BOUND)  # whatever comes first (state, error, close)
    return run


class Paths(Battery):
    klass = "paths"
    cases = [
        ("semicolon", misroute(b"/counter/canary;x")),
        ("plus", misroute(b"/counter/canary+")),
        ("lf", misroute(b"/counter/canary%0Ax")),
        ("cr", misroute(b"/counter/canary%0Dx")),
        ("crlf_header", misroute(b"/counter/canary%0D%0AX-Injected:%201")),
        ("trailing_2f", misroute(b"/counter/canary%2F")),
        ("encoded_slash_rest", misroute(b"/counter/canary%2Fx")),
        ("double_slash_first", misroute(b"//counter/canary")),
        ("double_slash_id", misroute(b"/counter//canary")),
        ("dotdot", misroute(b"/counter/x/../canary")),
        ("dotdot_encoded", misroute(b"/counter/x/%2E%2E/canary")),
        ("dotdot_namespace", misroute(b"/x/../counter/canary")),
        ("dot", misroute(b"/counter/./canary")),
        ("trailing_dot", misroute(b"/counter/canary/.")),
        ("trailing_dotdot", misroute(b"/counter/canary/..")),
        ("backslash_dotdot", misroute(b"/counter/x%5C..%5Ccanary")),
        ("nul", misroute(b"/counter/canary%00")),
        ("bad_escape", misroute(b"/counter/canary%zz")),
        ("half_escape", misroute(b"/counter/canary%4")),
        ("non_utf8", misroute(b"/counter/canary%FF")),
        ("overlong_utf8_slash", misroute(b"/counter/canary%C0%AF")),
        ("raw_hash", misroute(b"/counter/canary#x")),
        ("double_encoded", misroute(b"/counter/%2563anary")),
        ("keepalive_second_lf", second_request(b"/counter/canary%0Ax")),
        ("keepalive_second_dotdot", second_request(b"/counter/x/../canary")),
        ("pipelined_second_double_slash", second_request(b"//counter/canary", pipelined=True)),
        ("ws_join_dotdot", ws_join("/vote/x/../canary")),
        ("ws_join_lf", ws_join("/vote/canary%0Ax")),
        ("ws_join_encoded_slash", ws_join("/vote/canary%2Fx")),
    ]


if __name__ == "__main__":
    main()
