"""Graceful stop (docs/cli-contract.md: "SIGTERM or SIGINT: stop accepting, finish the
turns in flight, flush what is owed to storage, close sockets with code 1001,
exit 0"). Each test runs its own server and stops it itself."""

import asyncio
import http.client
import signal
import socket
import unittest

from harness import (LogOnFailure, Server, bounded, quiet_loop, unique, ws_connect,
                     ws_expect_close, ws_recv_json)


class ShutdownTest(LogOnFailure, unittest.IsolatedAsyncioTestCase):

    finished = []

    def setUp(self):
        super().setUp()
        self.server = Server()
        self.finished.append(self.server)
        self.server.start()

    async def asyncSetUp(self):
        quiet_loop()

    def tearDown(self):
        self.server.kill()

    @classmethod
    def tearDownClass(cls):
        for server in cls.finished:
            server.cleanup()
        super().tearDownClass()

    async def stop_with_open_sockets(self, signum):
        port = self.server.port
        relay = unique()
        conns = [await ws_connect(port, "/relay/" + relay) for _ in range(3)]
        vote = await ws_connect(port, "/vote/" + unique())
        await ws_recv_json(vote)
        conns.append(vote)
        conns.append(await ws_connect(port, "/gate/%s?tag=t" % unique()))
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        idle.request("GET", "/healthz")
        idle.getresponse().read()  # an idle keep-alive connection stays open
        try:
            self.server.send_signal(signum)
            codes = await asyncio.gather(*(ws_expect_close(ws, 15) for ws in conns),
                                         return_exceptions=True)
            rc = await asyncio.to_thread(self.server.wait_exit, 20)
        finally:
            idle.close()
            await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
        self.server.assert_clean_exit(rc)
        for code in codes:
            if isinstance(code, BaseException):
                raise code
            self.assertEqual(code[0], 1001, "close code on shutdown")
        # The port is free again.
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))

    @bounded(60)
    async def test_sigterm_closes_websockets_with_1001(self):
        await self.stop_with_open_sockets(signal.SIGTERM)

    @bounded(60)
    async def test_sigint_closes_websockets_with_1001(self):
        await self.stop_with_open_sockets(signal.SIGINT)

    @bounded(40)
    async def test_sigterm_when_idle(self):
        self.assertEqual(self.server.post("/counter/" + unique()).status, 200)
        rc = await asyncio.to_thread(self.server.stop)
        self.server.assert_clean_exit(rc)


if __name__ == "__main__":
    unittest.main()
