#!/usr/bin/env python3
"""The soak's load: a steady mix of roomd's work against one server (tests/soak/soak.sh).

Every operation is one of:
  relay  a JSON message sent to a relay room of MEMBERS persistent WebSockets (every member,
         the sender included, receives it: MEMBERS deliveries);
  post   a durable POST /counter/<id> on a kept-alive HTTP connection (a Redis write acknowledged
         before the answer);
  churn  a WebSocket that joins an echo room, has one message echoed, and leaves.
in the proportions of MIX (by count). Two modes:

  --measure SECONDS  runs the mix as fast as CONCURRENCY operations in flight allow and prints
                     "CAPACITY <ops per second>";
  --rate OPS         runs the mix at OPS operations a second for --seconds, printing one line
                     a minute and a final "RESULT {json}" line.

Only the standard library and websockets (10.x, asyncio client). Loopback only; every wait is
bounded (a stuck operation counts as an error after OP_TIMEOUT seconds)."""

import argparse
import asyncio
import json
import random
import sys
import time

import websockets

MIX = (("relay", 0.7), ("post", 0.2), ("churn", 0.1))
RELAY_ROOMS, MEMBERS = 10, 5
POST_CONNS, POST_ROOMS = 8, 64
CHURN_ROOMS = 32
CONCURRENCY = 64  # operations in flight in --measure mode
MAX_IN_FLIGHT = 512  # in --rate mode: past it the driver is behind and says so
OP_TIMEOUT = 10.0
TICK = 0.05


class Stats:
    def __init__(self):
        self.done = {name: 0 for name, _ in MIX}
        self.errors = {name: 0 for name, _ in MIX}
        self.deliveries = 0
        self.behind = 0  # operations not started because MAX_IN_FLIGHT were in flight
        self.post_ms = []  # latency of each post in the current minute

    def total(self):
        return sum(self.done.values())


class Relay:
    """RELAY_ROOMS rooms of MEMBERS WebSockets each; a reader task per member counts deliveries."""

    def __init__(self, port, stats):
        self.port, self.stats, self.members, self.readers = port, stats, [], []

    async def open(self):
        for r in range(RELAY_ROOMS):
            for _ in range(MEMBERS):
                ws = await websockets.connect("ws://127.0.0.1:%d/relay/soak-%d" % (self.port, r),
                                              ping_interval=None, max_size=1 << 20)
                self.members.append(ws)
                self.readers.append(asyncio.ensure_future(self.read(ws)))

    async def read(self, ws):
        try:
            async for _ in ws:
                self.stats.deliveries += 1
        except websockets.ConnectionClosed:
            pass

    async def op(self, rng):
        ws = rng.choice(self.members)
        if ws.closed:
            raise ConnectionError("a relay member was closed (code %s)" % ws.close_code)
        await ws.send(json.dumps({"t": time.time(), "n": rng.random()}))

    async def close(self):
        for ws in self.members:
            await ws.close()
        for t in self.readers:
            t.cancel()


class Posts:
    """POST_CONNS kept-alive HTTP connections, each used by one operation at a time."""

    def __init__(self, port, stats):
        self.port, self.stats = port, stats
        self.free = asyncio.Queue()

    async def connect(self):
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def open(self):
        for _ in range(POST_CONNS):
            self.free.put_nowait(await self.connect())

    async def op(self, rng):
        reader, writer = await self.free.get()
        ok = False
        try:
            start = time.monotonic()
            writer.write(b"POST /counter/soak-%d HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\r\n\r\n"
                         % rng.randrange(POST_ROOMS))
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            self.stats.post_ms.append((time.monotonic() - start) * 1000)
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise ConnectionError("POST answered %r" % head.split(b"\r\n", 1)[0])
            ok = True
        finally:
            if ok:
                self.free.put_nowait((reader, writer))
            else:  # a connection in an unknown state is replaced
                writer.close()
                self.free.put_nowait(await self.connect())

    async def close(self):
        while not self.free.empty():
            _, writer = self.free.get_nowait()
            writer.close()


async def churn(port, rng):
    async with websockets.connect("ws://127.0.0.1:%d/echo/churn-%d" % (port, rng.randrange(CHURN_ROOMS)),
                                  ping_interval=None, close_timeout=2) as ws:
        await ws.send('{"hello":1}')
        if json.loads(await ws.recv()) != {"hello": 1}:
            raise ConnectionError("echo answered something else")


class Driver:
    def __init__(self, port, seed):
        self.port = port
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.relay = Relay(port, self.stats)
        self.posts = Posts(port, self.stats)
        self.in_flight = 0
        self.last_error = None

    async def open(self):
        await self.relay.open()
        await self.posts.open()

    async def close(self):
        await self.relay.close()
        await self.posts.close()

    def pick(self):
        x, acc = self.rng.random(), 0.0
        for name, share in MIX:
            acc += share
            if x < acc:
                return name
        return MIX[-1][0]

    async def run_op(self, name):
        self.in_flight += 1
        try:
            if name == "relay":
                coro = self.relay.op(self.rng)
            elif name == "post":
                coro = self.posts.op(self.rng)
            else:
                coro = churn(self.port, self.rng)
            await asyncio.wait_for(coro, OP_TIMEOUT)
            self.stats.done[name] += 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                websockets.WebSocketException, ValueError) as e:
            self.stats.errors[name] += 1
            self.last_error = "%s: %r" % (name, e)
        finally:
            self.in_flight -= 1

    async def measure(self, seconds):
        deadline = time.monotonic() + seconds

        async def worker():
            while time.monotonic() < deadline:
                await self.run_op(self.pick())
        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return self.stats.total() / (time.monotonic() - start)

    def start(self, name, tasks):
        if self.in_flight >= MAX_IN_FLIGHT:
            self.stats.behind += 1
            return
        task = asyncio.ensure_future(self.run_op(name))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def paced(self, rate, seconds):
        start = time.monotonic()
        started, tasks, minute = 0, set(), 1
        while True:
            now = time.monotonic() - start
            if now >= seconds:
                break
            for _ in range(int(now * rate) - started):
                self.start(self.pick(), tasks)
                started += 1
            if now >= 60 * minute:
                self.report_minute(minute)
                minute += 1
            await asyncio.sleep(TICK)
        if tasks:
            await asyncio.wait(tasks, timeout=OP_TIMEOUT + 1)
        return time.monotonic() - start

    def report_minute(self, minute):
        s = self.stats
        lat = sorted(s.post_ms)
        p99 = lat[int(len(lat) * 0.99)] if lat else 0.0
        print("minute %d: %d ops (%s), %d errors, %d deliveries, %d behind, post p99 %.1f ms%s"
              % (minute, s.total(), " ".join("%s %d" % kv for kv in s.done.items()),
                 sum(s.errors.values()), s.deliveries, s.behind, p99,
                 "; last error " + self.last_error if self.last_error else ""), flush=True)
        s.post_ms = []


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--measure", type=float, help="seconds of an unpaced run: prints CAPACITY")
    ap.add_argument("--rate", type=float, help="operations per second")
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    d = Driver(args.port, args.seed)
    await d.open()
    try:
        if args.measure:
            print("CAPACITY %.0f" % await d.measure(args.measure), flush=True)
            return 0
        elapsed = await d.paced(args.rate, args.seconds)
    finally:
        await d.close()
    s = d.stats
    result = {"seconds": round(elapsed, 1), "rate": args.rate, "ops": s.total(), "done": s.done,
              "errors": s.errors, "deliveries": s.deliveries, "behind": s.behind,
              "last_error": d.last_error}
    print("RESULT " + json.dumps(result), flush=True)
    # A few errors can come from a reload racing a join; more than 0.1% is a failure.
    return 0 if sum(s.errors.values()) <= max(10, s.total() // 1000) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
