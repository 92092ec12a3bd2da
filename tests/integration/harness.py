"""Black-box harness for roomd's integration tests.

Each test file is a standalone unittest program that starts its own roomd on a
free loopback port (env ROOMD_BIN, default <root>/build/roomd; cwd = env
ROOMD_ROOT, default the repository holding this file) and stops it with
SIGTERM, asserting exit status 0 and no sanitizer report in its log. The
server's stdout and stderr go to one log file per server, so a failing test
prints its tail and tests can search it.

Everything here is bounded: every wait has a timeout, every loop a count, each
async test a time limit, and the tests of one program share a time budget
(tests that start after it is spent fail at once). A watchdog ends the whole
program (and, through PR_SET_PDEATHSIG, its servers) if something hangs anyway,
so a broken server makes a file fail in well under two minutes. Only the
standard library and websockets (10.x, asyncio client) are used.
"""

import asyncio
import atexit
import base64
import collections
import ctypes
import faulthandler
import functools
import hashlib
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.environ.get("ROOMD_ROOT") or os.path.join(HERE, "..", ".."))
BIN = os.path.abspath(os.environ.get("ROOMD_BIN") or os.path.join(ROOT, "build", "roomd"))
DEFAULT_CONF = "conf/test.lua"
DEFAULT_NODE = "it-node"

START_TIMEOUT = float(os.environ.get("ROOMD_TEST_START_TIMEOUT", "30"))
STOP_TIMEOUT = 15.0
BUDGET_SECONDS = float(os.environ.get("ROOMD_TEST_BUDGET", "60"))
WATCHDOG_SECONDS = float(os.environ.get("ROOMD_TEST_WATCHDOG", "90"))
DEADLINE = time.monotonic() + BUDGET_SECONDS

# ASan/LSan report headers, and UBSan's "file.c:12:5: runtime error: ..." lines
# (anchored on file:line:column so a Lua error that says "runtime error" is no match).
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer"
                              r"|:\d+:\d+: runtime error:")

faulthandler.enable()

# ROOMD_TEST_CLUSTER=1 runs every server of a test program in cluster mode (--cluster), on one
# Redis of the program's own: the same tests then drive the lease and fence paths
# (rooms/lease.h), a single node holding every lease.
CLUSTER_MODE = os.environ.get("ROOMD_TEST_CLUSTER") == "1"
_shared_redis = None


def shared_redis():
    """The program's Redis in cluster mode, started on first use."""
    global _shared_redis
    if _shared_redis is None:
        _shared_redis = OwnRedis().start()
        atexit.register(_shared_redis.cleanup)
    return _shared_redis

# Every random choice a test makes comes from rng, seeded from ROOMD_TEST_SEED when it is set:
# the seed is printed, so a failure that depends on it can be run again exactly.
SEED = int(os.environ.get("ROOMD_TEST_SEED") or time.time_ns() % (1 << 32))
rng = random.Random(SEED)
print("random seed %d (ROOMD_TEST_SEED=%d replays it)" % (SEED, SEED), file=sys.stderr)
faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)


def unique(prefix="r"):
    """A room id no other test (or earlier run on the same storage) has used."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """preexec_fn: the server is killed if this test program dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def budget_left():
    """Seconds left of this program's time budget (may be negative)."""
    return DEADLINE - time.monotonic()


def within_budget(seconds):
    """seconds, cut to what is left of the budget; fails once it is spent."""
    left = budget_left()
    if left <= 0:
        raise AssertionError("the time budget of this test program (%.0fs) is spent"
                             % BUDGET_SECONDS)
    return min(seconds, left)


def wait_until(fn, timeout, interval=0.05):
    """Calls fn until it returns something true (returned) or timeout seconds pass (None)."""
    deadline = time.monotonic() + within_budget(timeout)
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


async def async_wait_until(fn, timeout, interval=0.05):
    """wait_until without blocking the event loop."""
    deadline = time.monotonic() + within_budget(timeout)
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(interval)


def room_lines(log, ns, rid, what):
    """The log lines tagged [room ns:rid] that say what."""
    pattern = re.compile(r"\[room %s:%s\] %s" % (re.escape(ns), re.escape(rid), re.escape(what)))
    return [line for line in log.splitlines() if pattern.search(line)]


def is_sanitized():
    """Whether the server binary was built with ASan (it then runs slower)."""
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def sanitizer_reports(text):
    return [line for line in text.splitlines() if SANITIZER_REPORT.search(line)]


def child_pids(pid):
    """Pids whose parent is pid (e.g. an embedded redis-server)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(name))
    return out


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def processes_in(folder):
    """Pids of live processes whose working folder or command line is in folder
    (an embedded redis-server runs in its data folder)."""
    folder = os.path.realpath(folder)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % name)
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        inside = cwd == folder or cwd.startswith(folder + "/") or folder in cmdline
        if inside and pid_alive(int(name)):
            found.append(int(name))
    return found


def lingering(folder, timeout=3.0):
    """processes_in(folder) once they had timeout seconds to go away."""
    deadline = time.monotonic() + timeout
    while True:
        found = processes_in(folder)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def kill_pids(pids):
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def rss_kib(pid):
    """Resident set size of a process, in KiB, from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class Server:
    """One roomd process on a free port, its log in a temporary folder."""

    def __init__(self, conf=DEFAULT_CONF, node=DEFAULT_NODE, args=(), data=True, port=None,
                 nofile=None):
        self.nofile = nofile  # an open-file limit for the server process, or None
        self.conf = conf
        self.node = node
        self.args = list(args)
        self.tmp = tempfile.mkdtemp(prefix="roomd-it-")
        self.data = os.path.join(self.tmp, "data") if data is True else data
        self.port = port
        self.proc = None
        self.log_path = None
        self.children = set()
        self.starts = 0

    # -- lifecycle --

    def command(self):
        cmd = [BIN, "--conf", self.conf, "--port", str(self.port)]
        if self.node is not None:
            cmd += ["--node", self.node]
        if self.data:
            cmd += ["--data", self.data]
        if CLUSTER_MODE and "--redis" not in self.args:
            cmd += ["--cluster", "--redis", shared_redis().url]
        return cmd + self.args

    @property
    def redis_sock(self):
        """The unix socket of the Redis this server stores in."""
        if CLUSTER_MODE and "--redis" not in self.args:
            return shared_redis().sock
        return os.path.join(self.data, "redis.sock")

    def start(self, timeout=START_TIMEOUT):
        """Starts the server and waits for /healthz 200; retries a lost port race."""
        if not os.access(BIN, os.X_OK):
            raise AssertionError("roomd binary not found at %s (set ROOMD_BIN)" % BIN)
        fixed_port = self.port is not None
        for attempt in range(3):
            if not fixed_port:
                self.port = free_port()
            self._spawn()
            try:
                self._wait_ready(timeout)
                self.children.update(child_pids(self.proc.pid))
                return self
            except AssertionError:
                if self.proc.poll() is None or fixed_port or attempt == 2:
                    self.kill()
                    raise
                if not re.search(r"in use|bind|EADDRINUSE", self.log_text(), re.I):
                    raise
        return self

    def _spawn(self):
        if self.data:
            os.makedirs(self.data, exist_ok=True)
        self.starts += 1
        self.log_path = os.path.join(self.tmp, "server-%d.log" % self.starts)
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=self._preexec)
        finally:
            log.close()

    def _preexec(self):
        die_with_parent()
        if self.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def _wait_ready(self, timeout):
        timeout = within_budget(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("roomd exited with %s before /healthz answered:\n%s"
                                     % (rc, self.log_tail()))
            try:
                if http_request(self.port, "GET", "/healthz", timeout=1).status == 200:
                    return
            except (OSError, http.client.HTTPException, AssertionError):
                pass  # not listening yet
            time.sleep(0.05)
        raise AssertionError("roomd did not answer /healthz within %.0fs:\n%s"
                             % (timeout, self.log_tail()))

    def send_signal(self, signum):
        self.proc.send_signal(signum)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the process to exit; returns its status, or None on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, signum=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals the server and returns its exit status (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.children.update(child_pids(self.proc.pid))
        self.send_signal(signum)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        leftovers = set(self.children)
        if self.data and os.path.isdir(self.data):
            leftovers.update(processes_in(self.data))
        kill_pids(leftovers)

    def leftover_children(self, timeout=5.0):
        """Children of roomd, or processes in its data folder, that outlived it."""
        deadline = time.monotonic() + timeout
        while True:
            alive = [pid for pid in self.children if pid_alive(pid)]
            if self.data and os.path.isdir(self.data):
                alive += [pid for pid in processes_in(self.data) if pid not in alive]
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.05)

    def assert_clean_exit(self, rc):
        """rc is what stop() returned: 0 and a log without sanitizer reports."""
        log = self.log_text()
        problems = []
        if rc is None:
            problems.append("roomd did not exit within %.0fs of the signal (killed)" % STOP_TIMEOUT)
        elif rc != 0:
            problems.append("roomd exited with status %s, expected 0" % rc)
        reports = sanitizer_reports(log)
        if reports:
            problems.append("sanitizer reports in the log: %s" % reports[:5])
        leftovers = self.leftover_children()
        if leftovers:
            self.kill()
            problems.append("child processes outlived roomd: %s" % leftovers)
        if problems:
            raise AssertionError("; ".join(problems) + "\n" + self.log_tail())

    def stop_clean(self):
        self.assert_clean_exit(self.stop())

    def cleanup(self):
        """Kills what is left; the temporary folder (log and data) goes when the
        program exits, so a failing test can still print the log."""
        self.kill()
        atexit.register(shutil.rmtree, self.tmp, True)

    # -- observation --

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, lines=60):
        text = self.log_text().splitlines()[-lines:]
        return "---- roomd log tail (%s) ----\n%s\n---- end of log ----" % (
            self.log_path, "\n".join(text))

    def wait_for_log(self, predicate, timeout=5.0):
        """Polls the log until predicate(text) is true; returns the text (or None)."""
        return wait_until(lambda: (lambda text: text if predicate(text) else None)(self.log_text()),
                          timeout)

    async def wait_for_log_lines(self, pattern, count=1, timeout=5.0):
        """Waits, without blocking the event loop, until the regular expression pattern matches
        count times in the log; returns whether it did."""
        return bool(await async_wait_until(
            lambda: len(re.findall(pattern, self.log_text())) >= count, timeout))

    # -- conveniences bound to this server --

    def http(self, method, path, body=None, headers=None, timeout=5):
        return http_request(self.port, method, path, body, headers, timeout)

    def get(self, path, **kw):
        return self.http("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.http("POST", path, body, **kw)

    def ws(self, path, **kw):
        return ws_connect(self.port, path, **kw)


# ---------------------------------------------------------------- HTTP


class HttpResult(collections.namedtuple("HttpResult", "status headers json")):
    """(status, headers with lower-case names, parsed JSON body or None); .body is the raw bytes."""

    body = b""

    def text(self):
        return self.body.decode("utf-8", "replace")


def _encode_body(body, headers):
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(body).encode()
    if isinstance(body, str):
        return body.encode()
    return body


def _result(status, headers, raw):
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        parsed = None
    res = HttpResult(status, headers, parsed)
    res.body = raw
    return res


def http_request(port, method, path, body=None, headers=None, timeout=5, conn=None):
    """One request on a new connection (or on conn, an http.client.HTTPConnection)."""
    headers = dict(headers or {})
    data = _encode_body(body, headers)
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=within_budget(timeout))
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return _result(resp.status, hdrs, raw)
    except (http.client.RemoteDisconnected, ConnectionResetError) as e:
        raise AssertionError("%s %s: the server closed the connection without an answer (%s)"
                             % (method, path, e)) from None
    finally:
        if own:
            conn.close()


def raw_http(port, request_bytes, timeout=5):
    """Sends raw bytes (tolerating a server that answers and closes before all
    were sent) and parses the one response that comes back."""
    timeout = within_budget(timeout)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(request_bytes)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _read_response(s, timeout)
    finally:
        s.close()


def _read_response(s, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = _recv_some(s, deadline)
        if not chunk:
            raise AssertionError("connection ended before a full response head: %r" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _result(status, headers, _read_chunked(s, rest, deadline))
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(rest) < length:
        chunk = _recv_some(s, deadline)
        if not chunk:
            break
        rest += chunk
    return _result(status, headers, rest if length < 0 else rest[:length])


def _read_chunked(s, buf, deadline):
    body = b""
    while True:
        while b"\r\n" not in buf:
            buf += _recv_some(s, deadline) or _ended(buf)
        size_line, buf = buf.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(buf) < size + 2:
            buf += _recv_some(s, deadline) or _ended(buf)
        if size == 0:
            return body
        body += buf[:size]
        buf = buf[size + 2:]


def _ended(buf):
    raise AssertionError("connection ended inside a chunked body: %r" % buf[-200:])


def _recv_some(s, deadline):
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return s.recv(65536)
    except ConnectionResetError:
        return b""
    except socket.timeout:
        raise AssertionError("timed out waiting for the server's answer")


# ---------------------------------------------------------------- WebSocket (websockets)


async def ws_connect(port, path, open_timeout=5, **kw):
    """A websockets client connection (no keepalive pings, 64 MiB max message)."""
    kw.setdefault("max_size", 64 << 20)
    kw.setdefault("ping_interval", None)
    kw.setdefault("close_timeout", 5)
    return await websockets.connect("ws://127.0.0.1:%d%s" % (port, path),
                                    open_timeout=within_budget(open_timeout), **kw)


async def ws_recv(ws, timeout=5.0):
    timeout = within_budget(timeout)
    try:
        return await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError("no WebSocket message within %.1fs" % timeout) from None
    except websockets.ConnectionClosed:
        raise AssertionError("the WebSocket closed (code %s, reason %r) while a message was due"
                             % (ws.close_code, ws.close_reason)) from None


async def ws_recv_json(ws, timeout=5.0):
    msg = await ws_recv(ws, timeout)
    if not isinstance(msg, str):
        raise AssertionError("expected a text frame, got binary %r" % msg[:100])
    return json.loads(msg)


async def ws_send_json(ws, value):
    await ws.send(json.dumps(value))


async def ws_expect_silence(ws, seconds=0.5):
    """Asserts that nothing arrives on ws for a while."""
    try:
        msg = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError("expected no message, got %r" % (msg[:200],))


async def ws_expect_close(ws, timeout=10.0, max_messages=10000):
    """Reads (and drops) messages until the server closes; returns (code, reason)."""
    timeout = within_budget(timeout)
    deadline = time.monotonic() + timeout
    for _ in range(max_messages):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            await asyncio.wait_for(ws.recv(), left)
        except websockets.ConnectionClosed:
            return ws.close_code, ws.close_reason
        except asyncio.TimeoutError:
            break
    raise AssertionError("the server did not close the WebSocket within %.1fs" % timeout)


async def ws_refused_status(port, path, timeout=5.0):
    """Status of a WebSocket upgrade that must fail (AssertionError if it opens)."""
    try:
        ws = await ws_connect(port, path, open_timeout=timeout)
    except websockets.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    raise AssertionError("WebSocket upgrade to %s was accepted" % path)


# ---------------------------------------------------------------- WebSocket (raw socket)


def _ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def _ws_accept(key):
    magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(hashlib.sha1((key + magic).encode()).digest()).decode()


def upgrade_request(port, path, key=None):
    key = key or _ws_key()
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode()


def encode_frame(opcode, payload, fin=True, mask=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _mask(payload, key)


def _mask(payload, key):
    n = len(payload)
    if n == 0:
        return b""
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


class RawWebSocket:
    """A hand-made WebSocket client on a plain socket: it reads only when told
    to, so it can play a reader that never drains its socket."""

    def __init__(self, port, path, rcvbuf=None, timeout=5.0):
        timeout = within_budget(timeout)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = _ws_key()
        self.sock.sendall(upgrade_request(port, path, key))
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            chunk = _recv_some(self.sock, deadline)
            if not chunk:
                raise AssertionError("connection closed during the handshake: %r" % buf[:300])
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise AssertionError("handshake refused: %r" % head[:300])
        accept = [l.split(":", 1)[1].strip() for l in lines[1:]
                  if l.lower().startswith("sec-websocket-accept:")]
        if accept != [_ws_accept(key)]:
            raise AssertionError("bad Sec-WebSocket-Accept in %r" % head[:300])

    def send(self, opcode, payload):
        self.sock.sendall(encode_frame(opcode, payload))

    def send_text(self, text):
        self.send(0x1, text.encode() if isinstance(text, str) else text)

    def send_json(self, value):
        self.send_text(json.dumps(value))

    def recv_frame(self, timeout=5.0):
        """The next frame as (opcode, payload), or None if the connection ended."""
        deadline = time.monotonic() + within_budget(timeout)
        while True:
            frame, self.buf = parse_frame(self.buf)
            if frame is not None:
                return frame
            chunk = _recv_some(self.sock, deadline)
            if not chunk:
                return None
            self.buf += chunk

    def drain(self, timeout=30.0):
        """Reads until the server ends the connection. Returns (bytes read, close
        code or None, ended); ended is False if the time ran out first."""
        deadline = time.monotonic() + within_budget(timeout)
        total = len(self.buf)
        close_code = None
        ended = False
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                ended = True
                break
            except socket.timeout:
                break
            if not chunk:
                ended = True
                break
            total += len(chunk)
            self.buf += chunk
            while True:
                frame, self.buf = parse_frame(self.buf)
                if frame is None:
                    break
                if frame[0] == 0x8:
                    payload = frame[1]
                    close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return total, close_code, ended

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_frame(buf):
    """Splits one complete server frame off buf: ((opcode, payload) or None, rest)."""
    if len(buf) < 2:
        return None, buf
    n = buf[1] & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None, buf
        n = struct.unpack("!H", buf[2:4])[0]
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None, buf
        n = struct.unpack("!Q", buf[2:10])[0]
        pos = 10
    if buf[1] & 0x80:
        pos += 4  # servers must not mask; skip a key anyway
    if len(buf) < pos + n:
        return None, buf
    return (buf[0] & 0x0F, bytes(buf[pos:pos + n])), buf[pos + n:]


# ---------------------------------------------------------------- test cases


def quiet_loop():
    """IsolatedAsyncioTestCase runs the loop in debug mode, which logs every
    callback slower than 0.1s; tests that block on purpose need not hear it."""
    asyncio.get_running_loop().slow_callback_duration = 60.0


def bounded(seconds):
    """Wraps an async test so that it fails after seconds (or when the budget
    runs out) instead of hanging."""
    def wrap(fn):
        if getattr(fn, "_bounded", False):
            return fn

        @functools.wraps(fn)
        async def run(*args, **kw):
            limit = min(seconds, budget_left())
            if limit <= 0:
                raise AssertionError("the time budget of this test program is spent")
            try:
                return await asyncio.wait_for(fn(*args, **kw), limit)
            except asyncio.TimeoutError:
                raise AssertionError("test did not finish within %.0fs" % limit) from None
        run._bounded = True
        return run
    return wrap


class LogOnFailure:
    """A failing test prints the tail of self.server's log; no test starts once
    the program's time budget is spent."""

    server = None

    def setUp(self):
        super().setUp()
        if budget_left() <= 0:
            self.fail("the time budget of this test program (%.0fs) is spent" % BUDGET_SECONDS)

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result is not None else 0
        out = super().run(result)
        server = self.server
        if result is not None and server is not None and server.log_path:
            if len(result.failures) + len(result.errors) > before:
                sys.stderr.write("\n%s\n" % server.log_tail(40))
        return out


class _ServerMixin(LogOnFailure):
    """setUpClass starts cls.server (roomd with server_args); tearDownClass stops
    it and asserts a clean exit."""

    server_args = ()
    server_node = DEFAULT_NODE
    server_conf = DEFAULT_CONF
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(conf=cls.server_conf, node=cls.server_node, args=cls.server_args)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        server, cls.server = cls.server, None
        try:
            if server is not None:
                server.stop_clean()
                server.cleanup()
        finally:
            super().tearDownClass()

    @property
    def port(self):
        return self.server.port

    def assertJsonError(self, res, status, msg=None):
        """res is an HttpResult with the given status (int or tuple of ints) and a
        JSON {"error": "<text>"} body."""
        statuses = status if isinstance(status, tuple) else (status,)
        where = msg or ""
        body = res.body[:300]
        self.assertIn(res.status, statuses, "%s: status %s, body %r" % (where, res.status, body))
        self.assertIsInstance(res.json, dict, "%s: body not a JSON object: %r" % (where, body))
        self.assertIsInstance(res.json.get("error"), str, "%s: no error string: %r" % (where, body))
        self.assertTrue(res.json["error"], "%s: empty error message" % where)
        ctype = res.headers.get("content-type", "")
        self.assertIn("application/json", ctype, "%s: error content-type %r" % (where, ctype))


class ServerTestCase(_ServerMixin, unittest.TestCase):
    pass


class AsyncServerTestCase(_ServerMixin, unittest.IsolatedAsyncioTestCase):
    """Every async test_* method is bounded by test_timeout seconds."""

    test_timeout = 30

    async def asyncSetUp(self):
        await super().asyncSetUp()
        quiet_loop()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name, fn in list(vars(cls).items()):
            if name.startswith("test") and asyncio.iscoroutinefunction(fn):
                setattr(cls, name, bounded(cls.test_timeout)(fn))


# ---------------------------------------------------------------- Redis


def redis_call(sock_path, *args, timeout=5.0):
    """One command to a Redis unix socket: the reply (bulk strings as bytes); raises
    AssertionError for an error reply and OSError when Redis cannot be reached."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return _read_reply(s.makefile("rb"))
    finally:
        s.close()


def _read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("Redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise AssertionError("Redis error: %s" % rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise AssertionError("unexpected Redis reply %r" % line)


# ---------------------------------------------------------------- a redis-server of our own


class OwnRedis:
    """A redis-server on a unix socket in a temporary folder: AOF with fsync on every write,
    so nothing it acknowledged is lost when it is killed and started again on the same folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="roomd-redis-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.url = "unix://" + self.sock
        self.proc = None
        self.starts = 0

    def start(self, timeout=15.0):
        self.starts += 1
        log = open(os.path.join(self.dir, "redis-%d.out" % self.starts), "wb")
        try:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", "0", "--unixsocket", self.sock,
                 "--unixsocketperm", "700", "--dir", self.dir, "--save", "",
                 "--appendonly", "yes", "--appendfsync", "always",
                 "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")],
                cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent)
        finally:
            log.close()
        deadline = time.monotonic() + within_budget(timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited with %s at start: %s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                if redis_call(self.sock, "PING", timeout=1) == "PONG":
                    return self
            except (OSError, AssertionError):
                pass  # not listening, or still loading the AOF
            time.sleep(0.02)
        raise AssertionError("redis-server did not answer within %.0fs: %s"
                             % (timeout, self.log_tail()))

    def call(self, *args):
        return redis_call(self.sock, *args)

    def signal(self, signum):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def kill(self):
        """SIGKILL (works on a stopped process too), then reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def cleanup(self):
        self.kill()
        atexit.register(shutil.rmtree, self.dir, True)

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no redis.log)"
        return "\n".join(text.splitlines()[-lines:])
