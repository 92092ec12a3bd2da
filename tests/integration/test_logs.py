"""Logs (base/log.h, rooms/script_log.h): with --log-format json every line roomd writes is one
JSON object with ts (RFC 3339, milliseconds), level and msg; a room script's log.info/log.warn
lines carry ns, room, file and line as fields, and its text goes into msg only (a message
holding a newline and a forged JSON object stays one line, one msg); a room may log 50 lines a
second, the rest are dropped and counted; access_log = true adds a line per answered request
with method, path, status, bytes and duration; the text format escapes newlines too."""

import json
import re
import time
import unittest

from harness import ServerTestCase, unique, wait_until

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FORGED = '"}\n{"level":"error","ns":"other","msg":"x'


class JsonLogsTest(ServerTestCase):
    server_args = ("--log-format", "json", "--set", "access_log=true")

    def lines(self):
        return [json.loads(line) for line in self.server.log_text().splitlines()]

    def test_every_line_is_a_json_object(self):
        self.server.get("/counter/" + unique())
        self.server.get("/nope/" + unique())
        lines = self.lines()
        self.assertGreater(len(lines), 2)
        for line in lines:
            self.assertRegex(line["ts"], TS)
            self.assertIn(line["level"], ("error", "warn", "info", "debug"))
            self.assertIsInstance(line["msg"], str)
        self.assertIn("store", {line.get("component") for line in lines})

    def test_a_script_logs_with_its_room_and_line(self):
        rid = unique()
        res = self.server.post("/logger/%s?n=2" % rid, FORGED.encode(),
                               headers={"Content-Type": "text/plain"})
        self.assertEqual(res.status, 200)
        ours = [line for line in self.lines() if line.get("room") == rid and "file" in line]
        self.assertEqual([line["level"] for line in ours], ["info", "info", "warn"])
        self.assertEqual(ours[0]["msg"], "line 1 " + FORGED)
        self.assertEqual(ours[2]["msg"], FORGED)
        for line in ours:
            self.assertEqual((line["ns"], line["room"]), ("logger", rid))
            self.assertTrue(line["file"].endswith("tests/lua/logger.lua"), line)
            self.assertIsInstance(line["line"], int)
        self.assertFalse([line for line in self.lines() if line.get("ns") == "other"])

    def test_a_room_logs_50_lines_a_second(self):
        rid = unique()
        self.server.get("/logger/%s?n=200" % rid)
        ours = [line for line in self.lines() if line.get("room") == rid and "file" in line]
        self.assertEqual(len(ours), 50)
        time.sleep(1.1)
        self.server.get("/logger/%s?n=1" % rid)
        later = [line for line in self.lines() if line.get("room") == rid and "file" in line][50:]
        self.assertRegex(later[0]["msg"], r"^\(151 more lines of this room's held back\) line 1")

    def test_access_log(self):
        rid = unique()
        self.server.post("/counter/" + rid)
        self.server.get("/nope/x")

        def found():
            got = {(line.get("path"), line.get("status")): line for line in self.lines()
                   if "method" in line}
            return got if ("/counter/" + rid, 200) in got and ("/nope/x", 404) in got else None

        got = wait_until(found, 5)
        self.assertTrue(got, "no access lines")
        line = got["/counter/" + rid, 200]
        self.assertEqual((line["method"], line["ns"], line["room"], line["bytes"]),
                         ("POST", "counter", rid, len('{"value":1}')))
        self.assertGreaterEqual(line["duration_ms"], 0)


class TextLogsTest(ServerTestCase):
    def test_a_newline_cannot_start_a_line(self):
        rid = unique()
        self.server.post("/logger/" + rid, b"a\nb", headers={"Content-Type": "text/plain"})
        lines = [line for line in self.server.log_text().splitlines() if rid in line]
        self.assertEqual(len(lines), 2, lines)  # the info and the warn line, each whole
        self.assertIn("a\\nb", lines[1])
        self.assertRegex(lines[1], r"warn  \[room logger:%s\] a\\nb \(.*logger.lua:\d+\)$" % rid)


if __name__ == "__main__":
    unittest.main()
