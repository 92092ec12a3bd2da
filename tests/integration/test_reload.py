"""Reload on save (rooms/reload.h, server/watch.h): with --watch, editing a room script while
100 clients sit in 10 rooms disconnects nobody; the next message is handled by the new code,
with the stored state intact. A broken edit keeps the old code serving and logs the error with
file and line; SIGHUP reloads too."""

import os
import shutil
import signal
import tempfile
import unittest

from harness import ROOT, Server, LogOnFailure, unique, ws_recv_json, ws_send_json

ROOMS, PER_ROOM = 10, 10


class ReloadTest(LogOnFailure, unittest.IsolatedAsyncioTestCase):
    server = None

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="roomd-reload-")
        self.script = os.path.join(self.dir, "vote.lua")
        shutil.copy(os.path.join(ROOT, "demos", "vote", "vote.lua"), self.script)
        conf = os.path.join(self.dir, "conf.lua")
        with open(conf, "w") as f:
            f.write('return { namespaces = { vote = { script = "vote.lua", '
                    'settings = { ttl = 600 } } } }\n')
        self.server = Server(conf=conf, args=("--watch",))
        self.server.start()

    def tearDown(self):
        server, self.server = self.server, None
        try:
            server.stop_clean()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def edit(self, old, new):
        with open(self.script) as f:
            text = f.read()
        self.assertIn(old, text)
        tmp = self.script + ".tmp"
        with open(tmp, "w") as f:  # saved the way editors do: a new file renamed over the old
            f.write(text.replace(old, new))
        os.rename(tmp, self.script)

    async def wait_log(self, pattern, count=1, timeout=6.0):
        if not await self.server.wait_for_log_lines(pattern, count, timeout):
            self.fail("log never showed %r %d times" % (pattern, count))

    async def test_edit_with_clients_connected(self):
        rooms = [unique() for _ in range(ROOMS)]
        clients = {}
        for room in rooms:
            clients[room] = []
            for _ in range(PER_ROOM):
                ws = await self.server.ws("/vote/%s" % room)
                await ws_recv_json(ws)  # the state on join
                clients[room].append(ws)
        try:
            for room in rooms:  # one stored vote per room
                await ws_send_json(clients[room][0], {"option": 1})
                for ws in clients[room]:
                    self.assertEqual((await ws_recv_json(ws))["votes"], [0, 1])
            self.edit('node = room.node,', 'node = room.node, version = 2,')
            await self.wait_log(r"\[ns vote\] reloaded")
            for room in rooms:
                await ws_send_json(clients[room][0], {"option": 0})
                for ws in clients[room]:
                    state = await ws_recv_json(ws)
                    self.assertEqual(state.get("version"), 2, "handled by the new code")
                    self.assertEqual(state["votes"], [1, 1], "stored votes intact")
            for room in rooms:
                for ws in clients[room]:
                    self.assertIsNone(ws.close_code, "no client was disconnected")
        finally:
            for room in rooms:
                for ws in clients[room]:
                    await ws.close()

    async def test_broken_edit_keeps_old_code(self):
        room = unique()
        self.assertEqual(self.server.post("/vote/%s" % room, {"option": 0}).status, 200)
        self.edit("local Vote = {}", "local Vote = {")
        await self.wait_log(r"\[ns vote\] reload failed, the old code keeps running: .*vote\.lua:\d+:")
        res = self.server.post("/vote/%s" % room, {"option": 0})
        self.assertEqual((res.status, res.json["votes"]), (200, [2, 0]))
        self.edit("local Vote = {", "local Vote = {}")
        await self.wait_log(r"\[ns vote\] reloaded")
        os.kill(self.server.pid, signal.SIGHUP)
        await self.wait_log(r"\[ns vote\] reloaded", count=2)
        self.assertEqual(self.server.get("/vote/%s" % room).json["votes"], [2, 0])


if __name__ == "__main__":
    unittest.main()
