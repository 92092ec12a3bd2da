"""Starting the server (docs/cli-contract.md): when it cannot start (port
taken, missing or broken config, a room script that does not load, bad flags)
it exits non-zero, not by a signal, with a one-line reason on stderr; flags
that are good are accepted (--set vote.ttl=1.5, --host)."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import (BIN, ROOT, LogOnFailure, Server, die_with_parent, free_port, kill_pids,
                     lingering, sanitizer_reports, unique, within_budget)

START_FAIL_TIMEOUT = 20
COUNTER = os.path.join(ROOT, "demos", "counter", "counter.lua")


def lua_string(path):
    return '"%s"' % path.replace("\\", "\\\\").replace('"', '\\"')


class StartFailureTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="roomd-cli-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def config(self, name, namespaces):
        """A config file like conf/default.lua serving namespaces {name: script path}."""
        lines = ["return {", "    host = \"127.0.0.1\",",
                 "    static_root = %s," % lua_string(os.path.join(ROOT, "demos", "www")),
                 "    namespaces = {"]
        for ns, script in namespaces.items():
            lines.append("        [%s] = { script = %s }," % (lua_string(ns), lua_string(script)))
        return self.write(name, "\n".join(lines + ["    },", "}", ""]))

    def config_with_script(self, script_path, name="cfg.lua"):
        """A valid config serving counter and one namespace "broken" with script_path."""
        return self.config(name, {"counter": COUNTER, "broken": script_path})

    def run_server(self, *args, data=True):
        cmd = [BIN] + list(args)
        if "--port" not in args:
            cmd += ["--port", str(free_port())]
        data_dir = tempfile.mkdtemp(prefix="data-", dir=self.tmp) if data else None
        if data_dir:
            cmd += ["--data", data_dir]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=within_budget(START_FAIL_TIMEOUT),
                                  preexec_fn=die_with_parent)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("roomd %s did not exit within %ds (it should refuse to start); "
                                 "stderr: %r" % (args, START_FAIL_TIMEOUT, e.stderr)) from None
        finally:
            leftovers = lingering(data_dir) if data_dir else []
            kill_pids(leftovers)
        self.assertEqual(leftovers, [], "roomd %s left processes in its data folder" % (args,))
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), \
            proc.stderr.decode("utf-8", "replace")

    def assertRefused(self, args, *hints, data=True):
        """roomd args exits non-zero, by itself, with a stderr line naming one
        of hints (case-insensitive): the one-line reason."""
        rc, out, err = self.run_server(*args, data=data)
        where = "roomd %s" % " ".join(args)
        self.assertNotEqual(rc, 0, "%s started; stderr: %r" % (where, err[-500:]))
        self.assertGreater(rc, 0, "%s died by signal %d (a crash); stderr: %r"
                           % (where, -rc, err[-1500:]))
        self.assertEqual(sanitizer_reports(err), [], where)
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertTrue(lines, "%s gave no reason on stderr (stdout: %r)" % (where, out[-500:]))
        reasons = [line for line in lines if any(h.lower() in line.lower() for h in hints)]
        self.assertTrue(reasons, "%s: no stderr line names any of %r; stderr: %r"
                        % (where, hints, err[-1500:]))
        return reasons

    def test_port_taken(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(5)
            port = s.getsockname()[1]
            self.assertRefused(["--conf", "conf/test.lua", "--port", str(port)],
                               str(port), "in use", "bind", "address")

    def test_missing_config(self):
        path = os.path.join(self.tmp, "no-such-config.lua")
        self.assertRefused(["--conf", path], "no-such-config.lua", "no such file", "not found")

    def test_config_that_does_not_parse(self):
        path = self.write("syntax.lua", "return { host = \"127.0.0.1\", namespaces = {\n")
        self.assertRefused(["--conf", path], "syntax.lua", "config", "syntax", "expected")
        path = self.write("raises.lua", "error('config says no')\n")
        self.assertRefused(["--conf", path], "raises.lua", "config", "says no")
        path = self.write("number.lua", "return 42\n")
        self.assertRefused(["--conf", path], "number.lua", "config", "table")

    def test_config_with_bad_namespace_name(self):
        path = self.config("badns.lua", {"counter": COUNTER, "Bad NS": COUNTER})
        self.assertRefused(["--conf", path], "bad ns", "namespace", "badns.lua")

    def test_good_config_starts(self):
        """The configs written here are valid when their scripts are: a control
        for the refusals above."""
        path = self.config("good.lua", {"counter": COUNTER})
        server = Server(conf=path)
        try:
            server.start()
            self.assertEqual(server.post("/counter/" + unique()).json, {"value": 1})
            server.stop_clean()
        finally:
            server.cleanup()

    def test_room_script_that_does_not_load(self):
        cases = {
            "syntax-error.lua": "local M = {\nreturn M\n",
            "raises-at-load.lua": "error('script refuses to load')\nreturn {}\n",
            "returns-number.lua": "return 7\n",
        }
        for name, text in cases.items():
            script = self.write(name, text)
            conf = self.config_with_script(script, "cfg-" + name)
            self.assertRefused(["--conf", conf], name, "broken", "script")
        missing = os.path.join(self.tmp, "missing-script.lua")
        conf = self.config_with_script(missing, "cfg-missing.lua")
        self.assertRefused(["--conf", conf], "missing-script.lua", "broken", "script")

    def test_bad_flags(self):
        self.assertRefused(["--conf", "conf/test.lua", "--no-such-flag"], "no-such-flag",
                           "unknown", "usage", "option")
        self.assertRefused(["--conf", "conf/test.lua", "--set", "no_equals_sign"],
                           "no_equals_sign", "--set", "name=value")
        self.assertRefused(["--conf", "conf/test.lua", "--port", "notaport"], "notaport", "port")


class GoodFlagsTest(LogOnFailure, unittest.TestCase):

    def start(self, *args):
        self.server = Server(args=args)
        self.addCleanup(self.server.cleanup)
        self.server.start()
        return self.server

    def test_set_vote_ttl_fraction_is_accepted(self):
        server = self.start("--set", "vote.ttl=1.5")
        room = unique()
        self.assertEqual(server.post("/vote/" + room, {"option": 0}).json["votes"], [1, 0])
        server.stop_clean()

    def test_host_flag(self):
        server = self.start("--host", "127.0.0.1")
        self.assertEqual(server.get("/healthz").status, 200)
        server.stop_clean()

    def test_node_flag_and_default_node(self):
        server = self.start()
        self.assertEqual(server.get("/vote/" + unique()).json["node"], server.node)
        server.stop_clean()
        other = Server(node=None)
        self.addCleanup(other.cleanup)
        self.server = other
        other.start()
        self.assertEqual(other.get("/vote/" + unique()).json["node"], "test-node",
                         "without --node the config's node applies")
        other.stop_clean()


if __name__ == "__main__":
    unittest.main()
