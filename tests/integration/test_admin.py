"""The admin API (server/admin.h) and roomctl, against a real roomd and its Redis: a wrong or
missing admin token gets 401 after a fixed delay and touches nothing; 10,000 stored rooms list
in pages with none missed or repeated, rooms only in memory on the last page; a room shows its
connections; deleting a room closes its sockets (4410), drops it from memory and deletes its
storage and alarm, and an unknown room is 404; reload answers each namespace's result;
roomctl's exit codes are 0, 1 and 2. The 10,000 rooms are written straight into the embedded
Redis with redis-cli, in the layout rooms/room_store.h documents."""

import json
import os
import socket
import subprocess
import time
import unittest

from harness import (AsyncServerTestCase, BIN, free_port, http_request, redis_call, unique,
                     ws_connect,
                     ws_expect_close, ws_recv_json, ws_send_json)

TOKEN = "admin-test-token-0123456789"
os.environ["ROOMD_ADMIN_TOKEN"] = TOKEN
ROOMCTL = os.path.join(os.path.dirname(BIN), "roomctl")


class AdminTest(AsyncServerTestCase):
    test_timeout = 60

    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.server_args = ("--admin-port", str(cls.admin_port))
        super().setUpClass()

    def admin(self, method, path, token=TOKEN):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return http_request(self.admin_port, method, path, headers=headers, timeout=30)

    def roomctl(self, *args, token=TOKEN):
        env = dict(os.environ, ROOMD_ADMIN_URL="http://127.0.0.1:%d" % self.admin_port,
                   ROOMD_ADMIN_TOKEN=token)
        return subprocess.run([ROOMCTL, "--json"] + list(args), env=env, capture_output=True,
                              text=True, timeout=60)

    def redis(self, *args, stdin=None):
        sock = self.server.redis_sock
        return subprocess.run(["redis-cli", "-s", sock] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    def test_wrong_token_waits_and_touches_nothing(self):
        for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
            started = time.monotonic()
            res = self.admin("DELETE", "/rooms/counter/keep-me", token=token)
            self.assertJsonError(res, 401, repr(token))
            self.assertGreaterEqual(time.monotonic() - started, 0.2, "the refusal is delayed")
        self.assertEqual(self.admin("GET", "/readyz").json, {"ready": True})
        self.assertNotIn("deleted room counter:keep-me", self.server.log_text())
        self.assertEqual(self.roomctl("rooms", token="wrong").returncode, 1)
        self.assertEqual(self.roomctl("no-such-command").returncode, 2)
        self.assertEqual(self.roomctl("show", "no-slash").returncode, 2)

    def test_listing_pages_miss_and_repeat_nothing(self):
        ids = ["bulk-%05d" % i for i in range(10000)]
        lines = []
        for rid in ids:
            lines.append("HSET rd:{counter:%s}:kv value 1" % rid)
            lines.append("HSET rd:{counter:%s}:meta epoch 1" % rid)
        self.redis("--pipe", stdin="\n".join(lines) + "\n")
        memory_only = unique("mem-")
        self.assertEqual(self.server.get("/counter/%s" % memory_only).status, 200)
        seen, cursor, pages = [], "0", 0
        while cursor is not None and pages < 2000:
            page = self.admin("GET", "/rooms?ns=counter&prefix=bulk-&limit=500&cursor=" + cursor)
            self.assertEqual(page.status, 200, page.body[:200])
            seen += [r["id"] for r in page.json["rooms"]]
            cursor, pages = page.json["cursor"], pages + 1
        self.assertEqual(len(seen), len(set(seen)), "a room listed twice")
        self.assertEqual(sorted(seen), ids)
        listed = self.roomctl("rooms", "--ns", "counter")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        rooms = {r["id"]: r for r in json.loads(listed.stdout)["rooms"]}
        self.assertEqual(rooms[memory_only]["state"], "memory")
        self.assertFalse(rooms[memory_only]["stored"])
        self.assertEqual(rooms["bulk-00042"]["keys"], 1)
        self.assertEqual(len([r for r in rooms if r.startswith("bulk-")]), 10000)

    async def test_show_and_delete_a_room_with_live_sockets(self):
        room = unique("del-")
        self.assertEqual(self.server.post("/counter/%s" % room).status, 200)
        ws = await ws_connect(self.port, "/vote/%s" % room)
        await ws_recv_json(ws)
        await ws_send_json(ws, {"option": 1})
        await ws_recv_json(ws)
        shown = self.admin("GET", "/rooms/vote/%s" % room)
        self.assertEqual(shown.status, 200, shown.body)
        self.assertEqual(shown.json["connections"], 1)
        self.assertEqual(len(shown.json["conns"]), 1)
        self.assertIsNotNone(shown.json["alarm"], "the vote room's expiry alarm")
        done = self.roomctl("delete", "vote/%s" % room)
        self.assertEqual(done.returncode, 0, done.stderr)
        code, reason = await ws_expect_close(ws)
        self.assertEqual((code, reason), (4410, "room deleted"))
        self.assertEqual(self.redis("EXISTS", "rd:{vote:%s}:kv" % room,
                                    "rd:{vote:%s}:meta" % room).strip(), "0")
        self.assertEqual(self.redis("ZSCORE", "rd:alarms", "vote:%s" % room).strip(), "")
        self.assertEqual(self.server.get("/vote/%s" % room).json["votes"], [0, 0])
        self.assertEqual(self.server.get("/counter/%s" % room).json["value"], 1, "other ns")
        self.assertJsonError(self.admin("DELETE", "/rooms/vote/%s-none" % room), 404)
        self.assertJsonError(self.admin("GET", "/rooms/vote/%s-none" % room), 404)
        self.assertJsonError(self.admin("GET", "/rooms/nons/x"), 404)
        self.assertEqual(self.roomctl("show", "vote/%s-none" % room).returncode, 1)

    def hgetall_raw(self, key):
        """The hash's fields and values, exactly as Redis holds them."""
        flat = redis_call(self.server.redis_sock, "HGETALL", key)
        return dict(zip(flat[0::2], flat[1::2]))

    def test_export_delete_import_is_byte_identical(self):
        room = unique("exp-")
        ops = [{"op": "put", "key": "a", "value": {"x": [1, 2.5, "s"], "t": True}},
               {"op": "put", "key": {"$bytes": "ff00"}, "value": {"$bytes": "c0ffee"}},
               {"op": "put", "key": "big", "value": {"$repeat": "z", "n": 100000}}]
        self.assertEqual(self.server.post("/store/%s" % room, {"op": "batch", "ops": ops}).status,
                         200)
        key = "rd:{store:%s}:kv" % room
        before = self.hgetall_raw(key)
        exported = self.roomctl("export", "store/%s" % room)
        self.assertEqual(exported.returncode, 0, exported.stderr)
        doc = json.loads(exported.stdout)
        values = {e.get("key"): e.get("value") for e in doc["entries"]}
        self.assertEqual(values["a"], {"x": [1, 2.5, "s"], "t": True}, "readable where JSON can")
        self.assertEqual(self.roomctl("delete", "store/%s" % room).returncode, 0)
        self.assertEqual(self.hgetall_raw(key), {})
        imported = subprocess.run([ROOMCTL, "import", "store/%s" % room], input=exported.stdout,
                                  env=dict(os.environ, ROOMD_ADMIN_URL="http://127.0.0.1:%d"
                                           % self.admin_port), capture_output=True, text=True,
                                  timeout=60)
        self.assertEqual(imported.returncode, 0, imported.stderr)
        self.assertEqual(self.hgetall_raw(key), before, "byte-identical after the round trip")
        got = self.server.post("/store/%s" % room, {"op": "get", "key": "a"}).json["result"]
        self.assertEqual(got, {"x": [1, 2.5, "s"], "t": True})

    def test_bad_imports_change_nothing_and_a_live_room_restarts(self):
        room = unique("imp-")
        self.assertEqual(self.server.post("/counter/%s" % room).json["value"], 1)
        key = "rd:{counter:%s}:kv" % room
        before = self.hgetall_raw(key)
        bad = [b"not json", b'{"format": "other"}',
               b'{"format": "roomd-storage/1", "entries": [{"key": "", "value": 1}]}',
               b'{"format": "roomd-storage/1", "entries": [{"key": "k", "raw": "!!"}]}',
               b'{"format": "roomd-storage/1", "entries": [{"key": "k", "raw": "AAAA"}]}',
               b'{"format": "roomd-storage/1", "entries": [{"key": "k"}]}',
               b'{"format": "roomd-storage/1", "alarm": "soon", "entries": []}']
        for body in bad:
            res = http_request(self.admin_port, "PUT", "/rooms/counter/%s/storage" % room,
                               body=body, headers={"Authorization": "Bearer " + TOKEN})
            self.assertJsonError(res, 400, body.decode())
        self.assertEqual(self.hgetall_raw(key), before, "a refused import changes nothing")
        # a client that leaves half way through its document (the ASan build's leak check at
        # the server's stop sees whether its call was freed)
        s = socket.create_connection(("127.0.0.1", self.admin_port), timeout=5)
        s.sendall(b"PUT /rooms/counter/%s/storage HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
                  b"%s\r\nContent-Length: 1000\r\n\r\n{\"format\":" % (room.encode(),
                                                                       TOKEN.encode()))
        s.close()
        self.assertEqual(self.admin("GET", "/readyz").status, 200)
        doc = {"format": "roomd-storage/1", "alarm": None,
               "entries": [{"key": "value", "value": 41}]}
        res = http_request(self.admin_port, "PUT", "/rooms/counter/%s/storage" % room, body=doc,
                           headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(self.server.post("/counter/%s" % room).json["value"], 42,
                         "the live room started again from the imported storage")

    def test_reload_and_health(self):
        res = self.roomctl("reload", "vote")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn('"ok": true', res.stdout)
        self.assertJsonError(self.admin("POST", "/reload?ns=nope"), 404)
        env = dict(os.environ, ROOMD_ADMIN_URL="http://127.0.0.1:%d" % self.admin_port,
                   ROOMCTL_TOP_ROUNDS="1")
        top = subprocess.run([ROOMCTL, "top"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(top.returncode, 0, top.stderr)
        self.assertIn("rooms in memory", top.stdout)
        health = self.admin("GET", "/healthz")
        self.assertEqual(health.json["status"], "ok")
        self.assertJsonError(self.admin("GET", "/nothing-here"), 404)


if __name__ == "__main__":
    unittest.main()
