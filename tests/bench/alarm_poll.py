"""alarm_poll.py: what the alarm poller (rooms/alarm.c) costs with many alarms per room.

Starts build/roomd (tests/integration/harness.py) and fills its Redis directly with the layout of
rooms/room_store.h: ROOMS rooms of namespace "alarms", each with PER_ROOM alarms an hour ahead
in its own sorted set and one member in rd:alarms at its earliest. Then, for WINDOW_S seconds,
Redis' own command statistics give the poller's ZRANGEBYSCORE (calls, microseconds per call)
and /proc gives roomd's CPU time. It also times the query back to back (pipelined) on rd:alarms
and on an index with one member per alarm (ROOMS * PER_ROOM members), the layout avoided.

    /usr/bin/python3 tests/bench/alarm_poll.py [ROOMS [PER_ROOM]]"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Server  # noqa: E402

ROOMS = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
PER_ROOM = int(sys.argv[2]) if len(sys.argv) > 2 else 10
WINDOW_S = 10


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_reply(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":"):
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    return [read_reply(f) for _ in range(int(rest))]


def pipeline(sock_path, commands):
    """Sends every command at once; the replies."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    try:
        s.sendall(b"".join(resp(*c) for c in commands))
        f = s.makefile("rb")
        return [read_reply(f) for _ in commands]
    finally:
        s.close()


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def zrange_stats(sock_path):
    info = pipeline(sock_path, [("INFO", "commandstats")])[0].decode()
    for line in info.splitlines():
        if line.startswith("cmdstat_zrangebyscore:"):
            return dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
    return {}


def fill(sock_path, future):
    batch = []
    for i in range(ROOMS):
        key = "rd:{alarms:bench-%05d}:alarms" % i
        args = ["ZADD", key]
        for j in range(PER_ROOM):
            args += [future + i + j * 1000, "a%d" % j]
        batch.append(args)
        batch.append(("ZADD", "rd:alarms", future + i, "alarms:bench-%05d" % i))
        batch.append(("HSET", "rd:{alarms:bench-%05d}:meta" % i, "epoch", 1))
        if len(batch) >= 3000:
            pipeline(sock_path, batch)
            batch = []
    pipeline(sock_path, batch)


def measure(server, sock_path):
    pipeline(sock_path, [("CONFIG", "RESETSTAT")])
    cpu0, t0 = cpu_s(server.pid), time.monotonic()
    time.sleep(WINDOW_S)
    cpu1, t1 = cpu_s(server.pid), time.monotonic()
    st = zrange_stats(sock_path)
    return (int(st.get("calls", 0)), float(st.get("usec_per_call", 0)),
            (cpu1 - cpu0) / (t1 - t0) * 100)


def query_usec(sock_path, key, n_queries=2000):
    """The poller's query on key, n_queries times back to back, timed by Redis."""
    pipeline(sock_path, [("CONFIG", "RESETSTAT")])
    now = str(int(time.time() * 1000))
    pipeline(sock_path, [("ZRANGEBYSCORE", key, "-inf", now, "LIMIT", 0, 256)] * n_queries)
    return float(zrange_stats(sock_path).get("usec_per_call", 0))


def per_alarm_index(sock_path, future):
    """The poller's query on an index with one member per alarm."""
    batch = []
    for i in range(ROOMS * PER_ROOM):
        batch.append(("ZADD", "bench:per_alarm", future + i, "alarms:bench-%07d:a" % i))
        if len(batch) >= 5000:
            pipeline(sock_path, batch)
            batch = []
    pipeline(sock_path, batch)
    usec = query_usec(sock_path, "bench:per_alarm")
    pipeline(sock_path, [("DEL", "bench:per_alarm")])
    return usec


def main():
    server = Server()
    server.start()
    try:
        sock_path = os.path.join(server.data, "redis.sock")
        future = int(time.time() * 1000) + 3600 * 1000
        calls, usec, cpu = measure(server, sock_path)
        print("empty index: %d polls in %d s, %.2f us each in Redis, roomd %.2f%% CPU"
              % (calls, WINDOW_S, usec, cpu))
        fill(sock_path, future)
        members = int(pipeline(sock_path, [("ZCARD", "rd:alarms")])[0])
        calls, usec, cpu = measure(server, sock_path)
        print("%d rooms x %d alarms (%d members in rd:alarms): %d polls in %d s, %.2f us each "
              "in Redis, roomd %.2f%% CPU" % (ROOMS, PER_ROOM, members, calls, WINDOW_S, usec, cpu))
        print("back to back: %.2f us a query on rd:alarms (%d members), %.2f us on a per-alarm "
              "index of %d members" % (query_usec(sock_path, "rd:alarms"), members,
                                       per_alarm_index(sock_path, future), ROOMS * PER_ROOM))
    finally:
        server.stop_clean()
        server.cleanup()


if __name__ == "__main__":
    main()
