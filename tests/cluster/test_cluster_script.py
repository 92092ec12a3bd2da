"""scripts/cluster.sh, as a new user runs it: start 2 (Redis, two nodes, HAProxy), status,
requests through HAProxy, add (a third node that HAProxy then uses), remove n1 (maint, a
graceful stop, HAProxy reloaded without it), restart of a node killed with SIGKILL, stop.
Nothing of it may outlive stop. Ports: a free block in 18000-18999 (PORT, PORT+K for node
K, PORT+100+K for its admin API); its folder is a temporary one."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from cluster import ROOT, BIN, SLOW, free_port, harness, http_request, wait_until

SCRIPT = os.path.join(ROOT, "scripts", "cluster.sh")


def port_block():
    """A port P such that P, P+1..P+4 and P+101..P+104 are free now."""
    for _ in range(50):
        base = free_port()
        ports = [base] + [base + k for k in range(1, 5)] + [base + 100 + k for k in range(1, 5)]
        if all(p <= 18999 and is_free(p) for p in ports):
            return base
    raise AssertionError("no free block of ports")


def is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class ClusterScriptTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="roomd-cluster-sh-")
        self.port = port_block()
        self.env = dict(os.environ, ROOMD_CLUSTER_DIR=self.dir, ROOMD_CLUSTER_PORT=str(self.port),
                        ROOMD_BIN=BIN, ROOMD_CLUSTER_ARGS="--set cluster.lease_ms=1500")

    def tearDown(self):
        subprocess.run([SCRIPT, "stop"], env=self.env, capture_output=True, timeout=120)
        harness.kill_pids(harness.processes_in(self.dir))
        shutil.rmtree(self.dir, True)

    def sh(self, *args, timeout=90):
        out = subprocess.run([SCRIPT, *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout * SLOW)
        self.assertEqual(out.returncode, 0, "cluster.sh %s:\n%s%s\nlogs: %s" % (
            " ".join(args), out.stdout, out.stderr, self.logs()))
        return out.stdout

    def logs(self):
        text = []
        logs = os.path.join(self.dir, "logs")
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, name), "rb") as f:
                tail = f.read().decode("utf-8", "replace").splitlines()[-15:]
            text.append("---- %s ----\n%s" % (name, "\n".join(tail)))
        return "\n".join(text)

    def haproxy_sees(self, status_text):
        return dict(line.split()[2:4] for line in status_text.splitlines()
                    if line.strip().startswith("haproxy sees"))

    def wait_sees(self, want):
        seen = wait_until(lambda: self.haproxy_sees(self.sh("status")) == want, 15 * SLOW)
        self.assertTrue(seen, "HAProxy does not see %s: %s" % (want, self.sh("status")))

    def test_start_add_remove_restart_stop(self):
        out = self.sh("start", "2")
        self.assertIn("http://127.0.0.1:%d/" % self.port, out)
        self.assertIn(os.path.join(self.dir, "logs"), out)
        self.wait_sees({"n1": "UP", "n2": "UP"})
        values = [http_request(self.port, "POST", "/counter/a").json["value"] for _ in range(3)]
        self.assertEqual(values, [1, 2, 3])

        self.assertIn("node n3", self.sh("add"))
        self.wait_sees({"n1": "UP", "n2": "UP", "n3": "UP"})
        nodes = {http_request(self.port, "GET", "/vote/r%d" % i).json["node"] for i in range(24)}
        self.assertEqual(nodes, {"n1", "n2", "n3"})

        self.sh("remove", "n1")
        self.wait_sees({"n2": "UP", "n3": "UP"})
        self.assertEqual(http_request(self.port, "POST", "/counter/a").json["value"], 4)

        with open(os.path.join(self.dir, "run", "n2.pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        self.assertIn("NOT RUNNING", self.sh("status"))
        self.assertEqual(http_request(self.port, "POST", "/counter/a", timeout=15).json["value"], 5)
        self.sh("restart", "n2")
        self.wait_sees({"n2": "UP", "n3": "UP"})

        self.sh("stop")
        left = harness.lingering(self.dir, 10)
        self.assertEqual(left, [], "processes outlived cluster.sh stop")


if __name__ == "__main__":
    unittest.main()
