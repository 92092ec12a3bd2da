"""A script cannot reach past its sandbox into roomd's memory (tests/lua/hostile.lua;
docs/lua-api.md "The sandbox"):

- a room's conn, room and storage objects, kept in a module-level table, refuse to work from
  another room's turn ("conn belongs to another room", ...): once, output held in room B's gate
  for room A's conn outlived the conn (heap-use-after-free under ASan when A's client left);
- a kept object of a room that has reset is a clean error or "closed", never a dangling pointer;
- storage internals (the table of writes a turn makes) are out of the script's reach, so a
  non-string key or an oversized value cannot get to the C code that stores them;
- recursion through C functions that call back into Lua (gsub with a function or a table,
  sort's comparator, __lt, string.format's __tostring, os.time's __index, xpcall handlers)
  ends in a Lua error, not a C stack overflow (gsub segfaulted)."""

import re
import unittest

from harness import AsyncServerTestCase, unique, ws_expect_silence, ws_recv_json, ws_send_json

SCRIPT_LINE = r"hostile\.lua:\d+: "


class HostileTest(AsyncServerTestCase):
    server_args = ("--set", "limits.turn_cpu_ms=1000")

    def attack(self, room, what, target=None):
        path = "/hostile/%s/%s" % (room, what)
        if target:
            path += "?target=" + target
        return self.server.post(path, timeout=20)

    async def keep(self, room):
        """A WebSocket in room whose conn, room and storage the script keeps."""
        ws = await self.server.ws("/hostile/" + room)
        await ws_send_json(ws, {"hello": 1})  # answered once join has run
        self.assertEqual(await ws_recv_json(ws), {"echo": {"hello": 1}, "room": room})
        return ws

    def assertRefused(self, res, what, text):
        self.assertEqual(res.status, 200, "%s: %r" % (what, res))
        self.assertFalse(res.json["ok"], "%s ran: %r" % (what, res.json))
        self.assertIn(text, res.json["err"], what)
        self.assertRegex(res.json["err"], "^.*" + SCRIPT_LINE, what)

    async def test_objects_of_another_room_refuse_to_work(self):
        a = unique()
        ws = await self.keep(a)
        try:
            b = unique()
            for op, text in (("send", "conn belongs to another room"),
                             ("close", "conn belongs to another room"),
                             ("tag", "conn belongs to another room"),
                             ("attach", "conn belongs to another room"),
                             ("broadcast", "room object used outside its own turn"),
                             ("connections", "room object used outside its own turn"),
                             ("put", "storage used outside its own room's turn"),
                             ("get", "storage used outside its own room's turn")):
                self.assertRefused(self.attack(b, "other_" + op, a), op, text)
            # Reading fields is harmless and allowed.
            res = self.attack(b, "other_fields", a)
            self.assertTrue(res.json["ok"], res.json)
            self.assertEqual(res.json["result"]["id"], a)
            # A heard nothing from B, is still open and served.
            await ws_expect_silence(ws, 0.3)
            await ws_send_json(ws, {"again": 1})
            self.assertEqual(await ws_recv_json(ws), {"echo": {"again": 1}, "room": a})
        finally:
            await ws.close()

    async def test_output_held_for_a_conn_of_another_room(self):
        # B writes (its output is held until Redis acknowledges) and floods A's conn past its
        # send queue, which closes it; A's leave then freed the conn while B still held frames
        # for it.
        for _ in range(3):
            a = unique()
            ws = await self.keep(a)
            res = self.attack(unique(), "other_flood", a)
            await ws.close()
            self.assertRefused(res, "flood", "conn belongs to another room")
        self.assertEqual(self.server.get("/healthz").status, 200)

    async def test_objects_of_a_reset_room(self):
        a = unique()
        ws = await self.keep(a)
        try:
            # A runaway turn resets A: its Lua objects are dropped, the socket stays.
            self.assertEqual(self.attack(a, "runaway_xpcall_handler").status, 500)
            b = unique()
            self.assertRefused(self.attack(b, "other_put", a), "put",
                               "storage of a room that has left memory")
            self.assertRefused(self.attack(b, "other_broadcast", a), "broadcast",
                               "not a live room")
            res = self.attack(b, "other_send", a)
            self.assertEqual(res.json, {"ok": True, "result": "closed"})
            await ws_send_json(ws, {"after": 1})
            self.assertEqual(await ws_recv_json(ws), {"echo": {"after": 1}, "room": a})
        finally:
            await ws.close()

    async def test_storage_internals_are_out_of_reach(self):
        room = unique()
        res = self.attack(room, "internals_fields")
        self.assertEqual(res.json, {"ok": True, "result": [True, True, True, True]})
        for what in ("dirty_table_key", "dirty_bool_key", "big_key", "big_value",
                     "rawset_storage"):
            res = self.attack(room, "internals_" + what)
            self.assertEqual(res.status, 500, "%s: %r" % (what, res))
            self.assertTrue(self.server.wait_for_log(
                lambda log: re.search(r"\[room hostile:%s\] request handler failed: .*%s"
                                      r".*'rawset'" % (room, SCRIPT_LINE), log)), what)
        self.assertEqual(self.attack(room, "internals_list").json, {"ok": True, "result": 0})

    async def test_recursion_through_c_is_an_error(self):
        for what in ("gsub", "gsub_table", "sort", "lt", "format", "tostring", "os_time"):
            res = self.attack(unique(), "recurse_" + what)
            self.assertEqual(res.status, 200, "%s: %r" % (what, res))
            self.assertFalse(res.json["ok"], what)
            self.assertIn("stack overflow", res.json["err"], what)
        res = self.attack(unique(), "recurse_xpcall")
        self.assertEqual(res.json, {"ok": True, "result": "error in error handling"})
        self.assertEqual(self.server.post("/hostile/" + unique()).json, {"hits": 1})


if __name__ == "__main__":
    unittest.main()
