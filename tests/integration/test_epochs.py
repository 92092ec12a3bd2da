"""What activations leave in Redis: a room that only reads leaves no key; a
room's first checkpoint of an activation stores that activation's epoch (the
stored one + 1), later checkpoints of the same activation do not change it."""

import os
import unittest

from harness import ServerTestCase, redis_call, unique


class EpochTest(ServerTestCase):
    server_conf = "conf/default.lua"

    def redis(self, *args):
        return redis_call(os.path.join(self.server.data, "redis.sock"), *args)

    def test_reading_rooms_leave_nothing(self):
        rooms = [unique("read") for _ in range(20)]
        for room in rooms:
            self.assertEqual(self.server.get("/counter/" + room).json, {"value": 0})
            self.assertEqual(self.server.get("/relay/" + room).json, {"connections": 0})
        for room in rooms:
            for ns in ("counter", "relay"):
                self.assertEqual(self.redis("EXISTS", "rd:{%s:%s}:meta" % (ns, room),
                                            "rd:{%s:%s}:kv" % (ns, room)), 0)

    def test_first_checkpoint_stores_the_epoch(self):
        room = unique("epoch")
        meta = "rd:{counter:%s}:meta" % room
        for _ in range(3):
            self.assertEqual(self.server.post("/counter/" + room).status, 200)
        self.assertEqual(self.redis("HGET", meta, "epoch"), b"1")
        self.server.stop_clean()
        self.server.start()
        self.assertEqual(self.server.get("/counter/" + room).json, {"value": 3})
        self.assertEqual(self.redis("HGET", meta, "epoch"), b"1")  # a read stores nothing
        self.assertEqual(self.server.post("/counter/" + room).json, {"value": 4})
        self.assertEqual(self.redis("HGET", meta, "epoch"), b"2")


if __name__ == "__main__":
    unittest.main()
