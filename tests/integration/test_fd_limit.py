"""More sockets than the open-file limit (server/server.c, FD_RESERVE): roomd, started with a
limit of 300 files, takes about 236 connections, then turns the next ones away instead of
spinning on a failing accept: it stays idle (under 10% of a core), logs libwebsockets'
complaints at most once a second, and serves new clients again as soon as sockets close."""

import socket
import time
import unittest

from harness import LogOnFailure, Server, http_request, upgrade_request

LIMIT, CLIENTS = 300, 400


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class FdLimitTest(LogOnFailure, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.server = Server(nofile=LIMIT).start()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.server.stop_clean()
        self.server.cleanup()

    def open_upgrades(self, n):
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            s.sendall(upgrade_request(self.server.port, "/relay/crowd"))
            self.socks.append(s)

    def test_turns_away_past_the_limit_without_spinning(self):
        self.open_upgrades(CLIENTS)
        time.sleep(0.5)  # let roomd accept what it can
        before = cpu_ticks(self.server.pid)
        time.sleep(2)
        used = cpu_ticks(self.server.pid) - before
        self.assertLess(used, 20, "roomd used %d ticks in 2 s with its files exhausted" % used)
        for s in self.socks[:100]:
            s.close()
        del self.socks[:100]
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = http_request(self.server.port, "GET", "/healthz", timeout=1).status
            except (OSError, AssertionError):  # turned away until the closes are seen
                time.sleep(0.1)
        self.assertEqual(status, 200, "no answer after sockets closed")
        log = self.server.log_text()
        self.assertLess(log.count("lws:"), 30, "libwebsockets' complaints are rate-limited")


if __name__ == "__main__":
    unittest.main()
