"""More sockets than the open-file limit (issue 11): roomd runs with a limit of 300 files and
gets 400 connections of several kinds; the canary WebSocket, opened before, answers within
BOUND throughout; once the crowd leaves, new clients are served again within seconds."""

import socket

from battery import BOUND, Battery, main, request, upgrade_request, wait_until, http_request

CROWD = 400


def crowd(data):
    """CROWD connections that each send data (b"": nothing), then leave."""
    def run(ctx):
        for _ in range(CROWD):
            try:
                s = socket.create_connection(("127.0.0.1", ctx.port), timeout=BOUND)
            except OSError:
                break  # the backlog is full too: enough
            ctx.socks.append(s)
            if data:
                try:
                    s.sendall(data)
                except OSError:
                    pass
        ctx.check(during=True)
        ctx.close()
        ok = wait_until(lambda: served(ctx.port), 10)
        ctx.test.assertTrue(ok, "no new client served within 10 s of the crowd leaving")
    return run


def served(port):
    try:
        return http_request(port, "GET", "/healthz", timeout=1).status == 200
    except (OSError, AssertionError):
        return False


class Fds(Battery):
    klass = "fds"
    server_kwargs = {"nofile": 300}
    cases = [
        ("idle_sockets", crowd(b"")),
        ("upgrades", crowd(upgrade_request(0, "/relay/battery-crowd"))),
        ("vote_canary_upgrades", crowd(upgrade_request(0, "/vote/canary"))),
        ("unfinished_heads", crowd(b"GET /counter/canary HTTP/1.1\r\n")),
        ("posts_with_bodies_missing", crowd(request(b"POST", b"/counter/canary",
                                                    [b"Content-Length: 100"]))),
    ]


if __name__ == "__main__":
    main()
