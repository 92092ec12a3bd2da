"""A roomd cluster on this machine for the cluster tests (tests/cluster/test_*.py): one
Redis of its own, N roomd nodes with --cluster on one config (tests/cluster/cluster.lua),
and HAProxy in front of them (conf/haproxy.cfg, filled in here).

Every port is a free one in 18000-18999 (ROOMD_CLUSTER_PORTS=LOW-HIGH changes the
range), everything listens on loopback, and Redis is on a unix socket in a temporary
folder. Processes die with the test program (PR_SET_PDEATHSIG), are killed by stop() and
at exit whatever happened, and every wait is bounded (the harness's time budget and
watchdog; see tests/integration/harness.py, whose HTTP, WebSocket and Redis helpers
this reuses).

    with Cluster(nodes=3, lease_ms=2000) as c:
        c.post("/counter/a")                  # through HAProxy
        c.get("/counter/a", via="n2")         # straight to node n2
        ws = await c.ws("/vote/x")            # a WebSocket through HAProxy
        c.kill9("n1"); c.start_node("n1")     # also sigstop, sigcont, sigterm
        c.set_server_state("n4", "ready")     # HAProxy's runtime API
        c.lease("counter", "a")               # ("n2", 7) from Redis
"""

import asyncio
import atexit
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
# The harness reads its budget and watchdog when it is imported: a cluster test runs longer
# than a single-node one (several processes, lease waits).
os.environ.setdefault("ROOMD_TEST_BUDGET", "240")
os.environ.setdefault("ROOMD_TEST_WATCHDOG", "280")
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from harness import (BIN, ROOT, OwnRedis, Server, die_with_parent, http_request,  # noqa: E402,F401
                     is_sanitized, redis_call, wait_until, within_budget, ws_connect,
                     ws_recv_json, unique)

CONF = os.path.join(HERE, "cluster.lua")
TEMPLATE = os.path.join(ROOT, "conf", "haproxy.cfg")
HAPROXY = os.environ.get("HAPROXY_BIN", "haproxy")
# ASan builds run several times slower: time bounds that depend on the nodes' speed
# are multiplied by this.
SLOW = 3.0 if is_sanitized() else 1.0

_taken_ports = set()


def port_range():
    low, high = os.environ.get("ROOMD_CLUSTER_PORTS", "18000-18999").split("-")
    return int(low), int(high)


def free_port():
    """A port in the range that nothing listens on now and this program has not handed out;
    the start is random, so test programs running at once rarely pick the same."""
    low, high = port_range()
    start = harness.rng.randrange(low, high + 1)
    for i in range(high - low + 1):
        port = low + (start - low + i) % (high - low + 1)
        if port in _taken_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken_ports.add(port)
        return port
    raise AssertionError("no free port in %d-%d" % (low, high))


def have_haproxy():
    try:
        return subprocess.run([HAPROXY, "-v"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# ---------------------------------------------------------------- HAProxy


def render_config(port, admin_socket, servers, bind="127.0.0.1"):
    """conf/haproxy.cfg with its placeholders filled: servers is a list of
    (name, port, enabled) in id order."""
    with open(TEMPLATE) as f:
        text = f.read()
    text = text.replace("@PORT@", str(port)).replace("@BIND@", bind)
    text = text.replace("@ADMIN_SOCKET@", admin_socket)
    rooms, writes = [], []
    for i, (name, node_port, enabled) in enumerate(servers, 1):
        addr = "127.0.0.1:%d id %d" % (node_port, i)
        rooms.append("    server %s %s check%s" % (name, addr, "" if enabled else " disabled"))
        writes.append("    server %s %s track rooms/%s" % (name, addr, name))
    text = text.replace("    # @SERVERS rooms@", "\n".join(rooms))
    text = text.replace("    # @SERVERS rooms_writes@", "\n".join(writes))
    if "@" in re.sub(r"#.*", "", text):
        raise AssertionError("a placeholder is left in the HAProxy config")
    return text


def admin_command(sock_path, command, timeout=5.0):
    """One command to HAProxy's runtime API (a unix socket); its answer as text."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(within_budget(timeout))
    try:
        s.connect(sock_path)
        s.sendall(command.encode() + b"\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode("utf-8", "replace")
            out += chunk
    finally:
        s.close()


class Proxy:
    """HAProxy in the foreground (-db), its config and log in a temporary folder."""

    def __init__(self, servers):
        self.servers = list(servers)
        self.dir = tempfile.mkdtemp(prefix="roomd-haproxy-")
        atexit.register(shutil.rmtree, self.dir, True)  # at exit: a failing test prints its log
        self.admin_socket = os.path.join(self.dir, "admin.sock")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.port = None
        self.proc = None

    def start(self, timeout=15.0):
        for attempt in range(3):
            self.port = free_port()
            with open(self.cfg, "w") as f:
                f.write(render_config(self.port, self.admin_socket, self.servers))
            check = subprocess.run([HAPROXY, "-c", "-q", "-f", self.cfg], capture_output=True,
                                   timeout=30)
            if check.returncode != 0:
                raise AssertionError("haproxy -c refused the config:\n%s%s"
                                     % (check.stdout.decode(), check.stderr.decode()))
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg], cwd=self.dir,
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
            finally:
                log.close()
            if self._wait_ready(timeout):
                return self
            if self.proc.poll() is None or "ddress already in use" not in self.log_text():
                break
        self.kill()
        raise AssertionError("HAProxy did not start:\n%s" % self.log_text()[-3000:])

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + within_budget(timeout)
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if "rooms" in self.admin("show servers state"):
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def admin(self, command):
        return admin_command(self.admin_socket, command)

    def stats(self):
        """{server name: status} of backend rooms ("UP", "DOWN", "MAINT", "UP 1/2", ...)."""
        text = self.admin("show stat")
        lines = text.splitlines()
        head = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") == "rooms" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                out[row["svname"]] = row.get("status", "")
        return out

    def set_state(self, name, state):
        """state: ready, drain or maint (the servers of rooms_writes follow)."""
        answer = self.admin("set server rooms/%s state %s" % (name, state)).strip()
        if answer:
            raise AssertionError("HAProxy: set server %s state %s: %s" % (name, state, answer))

    def wait_status(self, name, status, timeout=10.0):
        """Waits until server name's status is status ("UP", "DOWN", "MAINT"; a server
        between two states shows e.g. "UP 1/2", which is neither)."""
        ok = wait_until(lambda: self.stats().get(name) == status, timeout * SLOW)
        if not ok:
            raise AssertionError("HAProxy server %s is %r, not %s, after %.0fs"
                                 % (name, self.stats().get(name), status, timeout * SLOW))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


# ---------------------------------------------------------------- nodes


class Node(Server):
    """One roomd node: --cluster, its own port and admin port, on the cluster's Redis."""

    def __init__(self, name, redis_url, lease_ms, extra_args=()):
        self.name = name
        self.admin_port = free_port()
        args = ["--cluster", "--redis", redis_url, "--admin-port", str(self.admin_port),
                "--set", "cluster.lease_ms=%d" % lease_ms] + list(extra_args)
        super().__init__(conf=CONF, node=name, args=args, data=False, port=free_port())
        self.stopped = False  # SIGSTOPped

    def metrics(self):
        """The admin API's /metrics as {name (with labels): value}."""
        text = http_request(self.admin_port, "GET", "/metrics", timeout=5).body.decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out


# ---------------------------------------------------------------- the cluster


class Cluster:
    """Redis, nodes n1..nN and HAProxy. spare names nodes HAProxy knows but holds in
    maintenance and that are not started (start_node, then set_server_state ready)."""

    def __init__(self, nodes=3, spare=0, lease_ms=3000, node_args=()):
        self.lease_ms = lease_ms
        self.node_args = list(node_args)
        self.redis = None
        self.nodes = {}
        self.proxy = None
        self.count = nodes
        self.spare = spare

    # -- lifecycle --

    def start(self):
        try:
            if not have_haproxy():
                raise AssertionError("haproxy is not installed (scripts/deps.sh installs it)")
            self.redis = OwnRedis().start()
            names = ["n%d" % i for i in range(1, self.count + self.spare + 1)]
            for name in names:
                self.nodes[name] = Node(name, self.redis.url, self.lease_ms, self.node_args)
            for name in names[:self.count]:
                self.start_node(name)
            servers = [(n, self.nodes[n].port, i < self.count) for i, n in enumerate(names)]
            self.proxy = Proxy(servers).start()
            for name in names[:self.count]:
                self.proxy.wait_status(name, "UP")
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Kills everything (a stopped node too); folders go at exit."""
        for node in self.nodes.values():
            node.cleanup()
        if self.proxy is not None:
            self.proxy.kill()
        if self.redis is not None:
            self.redis.cleanup()

    def stop_clean(self):
        """SIGTERM to every live node: each must exit 0 with no sanitizer report."""
        problems = []
        for node in self.nodes.values():
            if node.alive():
                if node.stopped:
                    self.sigcont(node.name)
                try:
                    node.assert_clean_exit(node.stop())
                except AssertionError as e:
                    problems.append("%s: %s" % (node.name, e))
        if problems:
            raise AssertionError("\n".join(problems))

    # -- nodes --

    def node(self, name):
        return self.nodes[name]

    def live(self):
        return [n for n in self.nodes.values() if n.alive() and not n.stopped]

    def start_node(self, name):
        node = self.nodes[name]
        node.stopped = False
        node.start()
        return node

    def kill9(self, name):
        node = self.nodes[name]
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(timeout=10)
        node.stopped = False

    def sigstop(self, name):
        self.nodes[name].proc.send_signal(signal.SIGSTOP)
        self.nodes[name].stopped = True

    def sigcont(self, name):
        self.nodes[name].proc.send_signal(signal.SIGCONT)
        self.nodes[name].stopped = False

    def sigterm(self, name, timeout=15.0):
        """Graceful stop; returns the exit status (None if it had to be killed)."""
        return self.nodes[name].stop(signal.SIGTERM, timeout * SLOW)

    # -- HAProxy --

    @property
    def port(self):
        return self.proxy.port

    def set_server_state(self, name, state):
        self.proxy.set_state(name, state)

    # -- requests --

    def _port(self, via):
        return self.proxy.port if via is None else self.nodes[via].port

    def http(self, method, path, body=None, via=None, timeout=10, headers=None):
        return http_request(self._port(via), method, path, body, headers, timeout)

    def get(self, path, **kw):
        return self.http("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.http("POST", path, body, **kw)

    def ws(self, path, via=None, **kw):
        return ws_connect(self._port(via), path, **kw)

    # -- Redis --

    def redis_call(self, *args):
        return redis_call(self.redis.sock, *args)

    def lease(self, ns, rid):
        """(node, epoch) of the room's lease, or None when no node holds it."""
        raw = self.redis_call("GET", "rd:{%s:%s}:lease" % (ns, rid))
        if raw is None:
            return None
        node, epoch = raw.decode().split()
        return node, int(epoch)

    def stored_counter(self, rid):
        """The counter room's stored value (the storage codec: 0x07 and a double), or None."""
        raw = self.redis_call("HGET", "rd:{counter:%s}:kv" % rid, "value")
        if raw is None:
            return None
        if (raw[0], len(raw)) != (7, 9):
            raise AssertionError("counter value %r is not a stored number" % raw)
        return int(struct.unpack("<d", raw[1:])[0])

    def logs(self):
        return {name: node.log_text() for name, node in self.nodes.items()}

    def log_tails(self, lines=30):
        out = [n.log_tail(lines) for n in self.nodes.values() if n.log_path]
        if self.proxy is not None:
            out.append("---- haproxy log ----\n" + "\n".join(
                self.proxy.log_text().splitlines()[-lines:]))
        return "\n".join(out)


# ---------------------------------------------------------------- checks


def check_ledger(entries):
    """Problems (a list of strings) in a ledger room's entries, in seq order: the seqs run
    1..n with no gap, epochs never fall, each epoch's entries come from one node, and a new
    owner (another node) always brings a higher epoch."""
    problems = []
    owner = {}
    prev = None
    for i, e in enumerate(entries, 1):
        if e.get("seq") != i:
            problems.append("entry %d has seq %r" % (i, e.get("seq")))
        epoch, node = e.get("epoch"), e.get("node")
        if owner.setdefault(epoch, node) != node:
            problems.append("epoch %s written by %s and %s" % (epoch, owner[epoch], node))
        if prev is not None:
            if epoch < prev["epoch"]:
                problems.append("seq %d: epoch fell from %s to %s" % (i, prev["epoch"], epoch))
            elif node != prev["node"] and epoch == prev["epoch"]:
                problems.append("seq %d: owner changed %s -> %s within epoch %s"
                                % (i, prev["node"], node, epoch))
        prev = e
    return problems


def ledger_entries(cluster, rid, via=None):
    res = cluster.get("/ledger/" + rid, via=via, timeout=15)
    if res.status != 200:
        raise AssertionError("GET /ledger/%s: %s %r" % (rid, res.status, res.body[:200]))
    return res.json["entries"]


def summary_line(name, values):
    """'name: n=.. median .. max ..' of a list of numbers (seconds)."""
    if not values:
        return "%s: none" % name
    s = sorted(values)
    return "%s: n=%d median %.3fs max %.3fs" % (name, len(s), s[len(s) // 2], s[-1])


# ---------------------------------------------------------------- test cases


class ClusterTestCase(unittest.IsolatedAsyncioTestCase):
    """setUpClass starts cls.cluster (nodes, spare, lease_ms); tearDownClass stops every
    node with SIGTERM (each must exit 0, no sanitizer report) and kills what is left. A
    failing test prints the tails of every log; each async test is bounded by test_timeout."""

    nodes = 3
    spare = 0
    lease_ms = 3000
    test_timeout = 120
    cluster = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = Cluster(nodes=cls.nodes, spare=cls.spare, lease_ms=cls.lease_ms).start()

    @classmethod
    def tearDownClass(cls):
        c, cls.cluster = cls.cluster, None
        try:
            if c is not None:
                c.stop_clean()
        finally:
            if c is not None:
                c.stop()
            super().tearDownClass()

    async def asyncSetUp(self):
        await super().asyncSetUp()
        harness.quiet_loop()

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            if self.cluster is not None:
                sys.stderr.write("\n%s\n" % self.cluster.log_tails())
        return out

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name, fn in list(vars(cls).items()):
            if name.startswith("test") and asyncio.iscoroutinefunction(fn):
                setattr(cls, name, harness.bounded(cls.test_timeout)(fn))
