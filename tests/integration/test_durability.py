"""Durability of room storage (docs/http-contract.md: "The value survives a server restart"; rooms/room.h:
the output gate). Each test runs its own roomd, some against a redis-server of their own
(--redis unix://...) that the test stops, kills and restarts:

- counter and vote values after SIGTERM and after SIGKILL of roomd (embedded redis-server);
- SIGKILL at a random moment under concurrent POSTs: stored >= acknowledged, <= sent;
- the output gate: while Redis is stopped (SIGSTOP) a writing turn's HTTP answer and broadcast
  are held, a GET of a loaded room is not, a GET of a room still to load waits;
- Redis killed and restarted under load: 503s meanwhile, /healthz still answers, POSTs work again
  without restarting roomd, and every acknowledged increment is stored exactly once;
- a load cut short by Redis dying answers 503, never a room with empty storage;
- SIGTERM racing POSTs: every acknowledged increment is there after the restart."""

import asyncio
import atexit
import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (rng, OwnRedis, wait_until, LogOnFailure, Server, bounded, redis_call, child_pids, die_with_parent, http_request,
                     pid_alive, quiet_loop, unique, within_budget, ws_connect, ws_expect_silence,
                     ws_recv_json, ws_send_json)


# ---------------------------------------------------------------- helpers


def counter_value(server, room, timeout=5):
    res = server.get("/counter/" + room, timeout=timeout)
    if res.status != 200:
        raise AssertionError("GET /counter/%s: %s %r" % (room, res.status, res.body[:200]))
    return res.json["value"]


def vote_counts(server, room, timeout=5):
    res = server.get("/vote/" + room, timeout=timeout)
    if res.status != 200:
        raise AssertionError("GET /vote/%s: %s %r" % (room, res.status, res.body[:200]))
    return res.json["votes"]


class PostLoad:
    """threads workers POSTing to path on keep-alive connections until told to stop, the
    server fails them, or max_each POSTs each. A POST counts as sent when its request starts,
    acknowledged when it got a 200."""

    def __init__(self, port, path, threads=8, max_each=100000, body=None, stop_on_status=False):
        self.port, self.path, self.body = port, path, body
        self.stop_on_status = stop_on_status
        self.max_each = max_each
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sent = self.acked = 0
        self.statuses = {}
        self.bad_answers = []
        self.errors = []
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def work(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for _ in range(self.max_each):
                if self.stop.is_set():
                    return
                with self.lock:
                    self.sent += 1
                try:
                    res = http_request(self.port, "POST", self.path, self.body, conn=conn,
                                       timeout=10)
                except Exception as e:  # the server went away: this worker is done
                    with self.lock:
                        self.errors.append(repr(e))
                    return
                with self.lock:
                    self.statuses[res.status] = self.statuses.get(res.status, 0) + 1
                    if res.status == 200:
                        self.acked += 1
                    elif not (isinstance(res.json, dict)
                              and isinstance(res.json.get("error"), str)):
                        self.bad_answers.append((res.status, res.body[:200]))
                if res.status != 200 and self.stop_on_status:
                    return
        finally:
            conn.close()

    def counts(self):
        with self.lock:
            return self.sent, self.acked

    def wait_acked(self, n, timeout):
        return wait_until(lambda: self.counts()[1] >= n, timeout, interval=0.01) is not None

    def join(self, timeout=20):
        self.stop.set()
        deadline = time.monotonic() + within_budget(timeout)
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.threads):
            raise AssertionError("POST workers hung")
        return self.counts()


class DurabilityTest(LogOnFailure, unittest.IsolatedAsyncioTestCase):

    servers = []
    redises = []

    def answer_until_ok(self, answers, call, path):
        """One call while storage comes back: its answer once it is 200, else None (a 503 is
        kept in answers; anything else fails the test)."""
        res = call(path, timeout=5)
        if res.status == 200:
            return res
        self.assertEqual(res.status, 503, res.body[:200])
        answers.append(res.status)
        return None

    def setUp(self):
        super().setUp()
        self.server = None
        self.redis = None

    async def asyncSetUp(self):
        quiet_loop()

    def tearDown(self):
        if self.redis is not None:
            self.redis.signal(signal.SIGCONT)
        if self.server is not None:
            self.server.kill()
        if self.redis is not None:
            self.redis.kill()

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers:
            server.cleanup()
        for redis in cls.redises:
            redis.cleanup()
        super().tearDownClass()

    def start_server(self, redis=None):
        args = ["--redis", redis.url] if redis else []
        self.server = Server(args=args)
        self.servers.append(self.server)
        return self.server.start()

    def start_redis(self):
        self.redis = OwnRedis()
        self.redises.append(self.redis)
        return self.redis.start()

    def restart(self, signum=signal.SIGTERM):
        """Stops roomd with signum (SIGTERM: asserting a clean exit) and starts it again on the
        same --data (and --redis)."""
        if signum == signal.SIGKILL:
            self.server.children.update(child_pids(self.server.pid))
            self.server.proc.kill()
            self.server.proc.wait(timeout=10)
        else:
            self.server.assert_clean_exit(self.server.stop(signum))
        self.server.start()

    # -- values survive a stop --

    def cast_votes(self, room, options):
        for k in options:
            res = self.server.post("/vote/" + room, {"option": k})
            self.assertEqual(res.status, 200, res.body[:200])
        return [options.count(0), options.count(1)]

    def test_counter_and_vote_survive_sigterm(self):
        self.start_server()
        counter, vote = unique("c"), unique("v")
        for n in range(1, 6):
            self.assertEqual(self.server.post("/counter/" + counter).json, {"value": n})
        votes = self.cast_votes(vote, [0, 1, 1, 0, 1])
        self.restart(signal.SIGTERM)
        self.assertEqual(counter_value(self.server, counter), 5)
        self.assertEqual(vote_counts(self.server, vote), votes)
        self.assertEqual(self.server.post("/counter/" + counter).json, {"value": 6})
        self.restart(signal.SIGTERM)
        self.assertEqual(counter_value(self.server, counter), 6, "after a second restart")
        self.server.stop_clean()

    @bounded(60)
    async def test_counter_and_vote_survive_sigkill(self):
        await asyncio.to_thread(self.start_server)
        counter, vote = unique("c"), unique("v")
        for n in range(1, 4):
            res = await asyncio.to_thread(self.server.post, "/counter/" + counter)
            self.assertEqual(res.json, {"value": n})
        votes = await asyncio.to_thread(self.cast_votes, vote, [1, 1, 0])
        # A vote over the WebSocket: its broadcast is released only once it is stored.
        ws = await ws_connect(self.server.port, "/vote/" + vote)
        try:
            self.assertEqual((await ws_recv_json(ws))["votes"], votes)
            await ws_send_json(ws, {"option": 0})
            votes[0] += 1
            self.assertEqual((await ws_recv_json(ws))["votes"], votes)
        finally:
            await ws.close()
        redis_pids = child_pids(self.server.pid)
        self.assertTrue(redis_pids, "roomd with no --redis runs a redis-server child")
        await asyncio.to_thread(self.restart, signal.SIGKILL)
        for pid in redis_pids:
            self.assertFalse(pid_alive(pid),
                             "the old redis-server (pid %d) outlived the restart" % pid)
        self.assertEqual(await asyncio.to_thread(counter_value, self.server, counter), 3)
        self.assertEqual(await asyncio.to_thread(vote_counts, self.server, vote), votes)
        self.assertEqual((await asyncio.to_thread(self.server.post, "/counter/" + counter)).json,
                         {"value": 4})
        await asyncio.to_thread(self.server.stop_clean)

    # -- SIGKILL under load --

    def test_sigkill_under_concurrent_posts(self):
        self.start_server()
        room = unique("crash")
        load = PostLoad(self.server.port, "/counter/" + room, threads=8).start()
        try:
            self.assertTrue(load.wait_acked(1, 10),
                            "no POST was acknowledged: %r" % load.errors[:3])
            time.sleep(rng.uniform(0.3, 1.5))
            self.server.children.update(child_pids(self.server.pid))
            self.server.proc.kill()
            self.server.proc.wait(timeout=10)
        finally:
            sent, acked = load.join()
        self.assertEqual(set(load.statuses), {200}, "answers before the kill: %r" % load.statuses)
        self.server.start()
        value = counter_value(self.server, room)
        self.assertGreaterEqual(value, acked, "an acknowledged increment was lost (%d sent)" % sent)
        self.assertLessEqual(value, sent, "more increments stored than sent (%d acked)" % acked)
        self.server.stop_clean()

    # -- the output gate --

    @bounded(60)
    async def test_output_is_held_until_stored(self):
        redis = await asyncio.to_thread(self.start_redis)
        server = await asyncio.to_thread(self.start_server, redis)
        port = server.port
        vote, loaded, fresh = unique("gate"), unique("loaded"), unique("fresh")
        res = await asyncio.to_thread(server.post, "/counter/" + loaded)
        self.assertEqual(res.json, {"value": 1})
        watchers = [await ws_connect(port, "/vote/" + vote) for _ in range(2)]
        pending = []
        try:
            for ws in watchers:
                self.assertEqual((await ws_recv_json(ws))["votes"], [0, 0])

            redis.signal(signal.SIGSTOP)
            try:
                post = asyncio.create_task(asyncio.to_thread(
                    http_request, port, "POST", "/vote/" + vote, {"option": 1}, None, 15))
                pending.append(post)
                await asyncio.sleep(0.1)
                # The same room takes no other turn while the vote is being stored.
                same_room = asyncio.create_task(asyncio.to_thread(
                    http_request, port, "GET", "/vote/" + vote, None, None, 15))
                # A room not loaded yet needs Redis (HGETALL) before its first turn.
                new_room = asyncio.create_task(asyncio.to_thread(
                    http_request, port, "GET", "/counter/" + fresh, None, None, 15))
                pending += [same_room, new_room]
                for ws in watchers:
                    await ws_expect_silence(ws, 0.5)
                # A loaded room that writes nothing needs no Redis.
                res = await asyncio.to_thread(server.get, "/counter/" + loaded, timeout=3)
                self.assertEqual((res.status, res.json), (200, {"value": 1}),
                                 "a GET of a loaded room waited for Redis")
                res = await asyncio.to_thread(server.get, "/healthz", timeout=3)
                self.assertEqual(res.status, 200)
                await asyncio.sleep(0.2)
                self.assertFalse(post.done(), "the POST was answered while Redis was stopped: %r"
                                 % (post.result() if post.done() else None,))
                self.assertFalse(same_room.done(), "the vote room ran a GET while its vote "
                                 "was not stored yet")
                self.assertFalse(new_room.done(), "a room was started without its storage")
                for ws in watchers:
                    await ws_expect_silence(ws, 0.05)
            finally:
                redis.signal(signal.SIGCONT)

            res = await asyncio.wait_for(post, within_budget(10))
            self.assertEqual(res.status, 200, res.body[:200])
            self.assertEqual(res.json["votes"], [0, 1])
            for ws in watchers:
                self.assertEqual((await ws_recv_json(ws, 10))["votes"], [0, 1])
            res = await asyncio.wait_for(same_room, within_budget(10))
            self.assertEqual((res.status, res.json["votes"]), (200, [0, 1]))
            res = await asyncio.wait_for(new_room, within_budget(10))
            self.assertEqual((res.status, res.json), (200, {"value": 0}))
            key = "rd:{vote:%s}:kv" % vote
            self.assertEqual(redis.call("HKEYS", key), [b"votes"], "the vote is in Redis")
        finally:
            redis.signal(signal.SIGCONT)
            for ws in watchers:
                await ws.close()
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.to_thread(server.stop_clean)

    @bounded(60)
    async def test_failed_checkpoint_drops_held_messages(self):
        """A vote that cannot be stored answers 503 and its broadcast never goes out; the room
        restarts from what is stored, its WebSockets still in it."""
        redis = await asyncio.to_thread(self.start_redis)
        server = await asyncio.to_thread(self.start_server, redis)
        vote = unique("drop")
        res = await asyncio.to_thread(server.post, "/vote/" + vote, {"option": 0})
        self.assertEqual(res.json["votes"], [1, 0])
        ws = await ws_connect(server.port, "/vote/" + vote)
        try:
            self.assertEqual((await ws_recv_json(ws))["votes"], [1, 0])
            await asyncio.to_thread(redis.kill)
            for _ in range(3):
                res = await asyncio.to_thread(server.post, "/vote/" + vote, {"option": 1})
                self.assertEqual(res.status, 503, res.body[:200])
                self.assertIsInstance(res.json.get("error"), str, res.body[:200])
            await ws_expect_silence(ws, 0.3)
            await asyncio.to_thread(redis.start)
            deadline = time.monotonic() + within_budget(15)
            while True:
                res = await asyncio.to_thread(server.post, "/vote/" + vote, {"option": 1})
                if res.status == 200 or time.monotonic() > deadline:
                    break
                self.assertEqual(res.status, 503, res.body[:200])
                await asyncio.sleep(0.05)
            self.assertEqual((res.status, res.json["votes"]), (200, [1, 1]),
                             "the votes that got 503 must not count")
            msg = await ws_recv_json(ws, 5)
            self.assertEqual(msg["votes"], [1, 1], "the first message after the failures is the "
                             "stored vote's broadcast, nothing dropped came late")
        finally:
            await ws.close()
        await asyncio.to_thread(server.stop_clean)

    # -- Redis killed and restarted --

    def test_redis_killed_and_restarted_under_load(self):
        redis = self.start_redis()
        server = self.start_server(redis)
        room = unique("outage")
        path = "/counter/" + room
        answers = []  # (status, value or None) of every POST, in order
        errors = []
        stop = threading.Event()

        def loader():
            for _ in range(200000):
                if stop.is_set():
                    return
                try:
                    res = http_request(server.port, "POST", path, timeout=5)
                except Exception as e:  # reported below
                    errors.append(repr(e))
                    return
                if res.status == 200:
                    answers.append((200, res.json["value"]))
                else:
                    answers.append((res.status, res.json))
                    time.sleep(0.005)

        def count(status):
            return sum(1 for s, _ in answers if s == status)

        def wait_for(pred, timeout):
            deadline = time.monotonic() + within_budget(timeout)
            while time.monotonic() < deadline and not errors:
                if pred():
                    return True
                time.sleep(0.01)
            return False

        thread = threading.Thread(target=loader, daemon=True)
        thread.start()
        try:
            self.assertTrue(wait_for(lambda: count(200) >= 20, 10), "no progress: %r" % errors)
            redis.kill()
            before = len(answers)
            self.assertTrue(wait_for(lambda: count(503) >= 3, 5),
                            "no 503 while Redis is down: %r" % ((answers[before:][:5], errors),))
            down_at = len(answers)
            for _ in range(5):
                res = server.get("/healthz", timeout=3)
                self.assertEqual(res.status, 200, "/healthz while Redis is down")
                time.sleep(0.05)
            self.assertTrue(server.alive())
            redis.start()
            self.assertTrue(wait_for(lambda: count(200) > 0 and answers[-1][0] == 200 and
                                     len(answers) > down_at, 15),
                            "POSTs did not succeed again within 15s of Redis coming back: %r"
                            % ((answers[-3:], errors),))
            back = count(200)
            self.assertTrue(wait_for(lambda: count(200) >= back + 20, 10), "no progress after")
        finally:
            stop.set()
            thread.join(15)
        self.assertFalse(thread.is_alive(), "the POST loader hung")
        self.assertEqual(errors, [], "every POST gets an answer")
        statuses = {s for s, _ in answers}
        self.assertLessEqual(statuses, {200, 503}, "statuses: %r" % statuses)
        for status, body in answers:
            if status == 503:
                self.assertIsInstance(body, dict, "503 body")
                self.assertIsInstance(body.get("error"), str, "503 body %r" % body)
        acked = [v for s, v in answers if s == 200]
        self.assertEqual(acked, sorted(set(acked)), "acknowledged values repeat or go back: "
                         "an acknowledged increment was lost")
        value = counter_value(server, room)
        self.assertEqual(value, acked[-1], "stored value is not the last acknowledged one")
        # Only the one commit in flight when Redis died may be stored without its answer.
        self.assertIn(value - len(acked), (0, 1),
                      "%d stored, %d acknowledged" % (value, len(acked)))
        self.restart(signal.SIGTERM)
        self.assertEqual(counter_value(server, room), value, "after a roomd restart")
        server.stop_clean()

    def test_redis_killed_between_writes_stores_exactly_the_acknowledged(self):
        """With no commit in flight when Redis dies, the stored value is exactly the number of
        200 answers: a 503 leaves no trace."""
        redis = self.start_redis()
        server = self.start_server(redis)
        room = unique("exact")
        path = "/counter/" + room
        for n in range(1, 11):
            self.assertEqual(server.post(path).json, {"value": n})
        redis.kill()
        res = server.get(path, timeout=3)
        self.assertEqual((res.status, res.json), (200, {"value": 10}),
                         "a GET of a loaded room needs no Redis")
        for i in range(20):
            res = server.post(path, timeout=5)
            self.assertEqual(res.status, 503,
                             "POST %d while Redis is dead: %r" % (i, res.body[:200]))
            self.assertIsInstance(res.json, dict, res.body[:200])
            self.assertIsInstance(res.json.get("error"), str, res.body[:200])
        self.assertEqual(server.get("/healthz", timeout=3).status, 200)
        redis.start()
        answers = []
        res = wait_until(lambda: self.answer_until_ok(answers, server.post, path), 15)
        self.assertEqual((res.status, res.json) if res else answers[-1:], (200, {"value": 11}),
                         "the first POST once Redis is back (after %d more 503s)" % len(answers))
        for n in range(12, 21):
            self.assertEqual(server.post(path).json, {"value": n})
        self.restart(signal.SIGTERM)
        self.assertEqual(counter_value(server, room), 20, "after a roomd restart")
        server.stop_clean()

    def test_load_cut_short_by_redis_death_answers_503(self):
        redis = self.start_redis()
        server = self.start_server(redis)
        stored, copy = unique("stored"), unique("copy")
        for n in range(1, 4):
            self.assertEqual(server.post("/counter/" + stored).json, {"value": n})
        # A room roomd has never loaded, holding {"value": 3}.
        self.assertEqual(redis.call("COPY", "rd:{counter:%s}:kv" % stored,
                                    "rd:{counter:%s}:kv" % copy), 1)
        result = {}

        def get():
            try:
                result["res"] = http_request(server.port, "GET", "/counter/" + copy, timeout=10)
            except Exception as e:  # reported below
                result["error"] = repr(e)

        redis.signal(signal.SIGSTOP)
        thread = threading.Thread(target=get, daemon=True)
        try:
            thread.start()
            time.sleep(0.4)  # the GET waits for its HGETALL
            self.assertNotIn("res", result, "the GET was answered before its storage was read")
            redis.kill()  # the HGETALL never gets its answer
            thread.join(10)
        finally:
            redis.signal(signal.SIGCONT)
        self.assertFalse(thread.is_alive(), "the GET got no answer after Redis died")
        self.assertNotIn("error", result)
        res = result["res"]
        self.assertNotEqual((res.status, res.json), (200, {"value": 0}),
                            "the room started with empty storage after its load failed "
                            "(expected 503, the stored value is 3)")
        self.assertEqual(res.status, 503, "GET whose storage load failed: %r" % res.body[:200])
        self.assertIsInstance(res.json.get("error"), str)
        redis.start()
        res = wait_until(lambda: self.answer_until_ok([], server.get, "/counter/" + copy), 15)
        self.assertEqual((res.status, res.json) if res else None, (200, {"value": 3}),
                         "once Redis is back")
        self.assertEqual(server.post("/counter/" + copy).json, {"value": 4})
        server.stop_clean()

    # -- SIGTERM racing writes --

    def test_sigterm_with_writes_in_flight(self):
        self.start_server()
        room = unique("term")
        load = PostLoad(self.server.port, "/counter/" + room, threads=8,
                        stop_on_status=True).start()
        try:
            self.assertTrue(load.wait_acked(1, 10),
                            "no POST was acknowledged: %r" % load.errors[:3])
            time.sleep(rng.uniform(0.2, 0.8))
            self.server.children.update(child_pids(self.server.pid))
            self.server.send_signal(signal.SIGTERM)
            rc = self.server.wait_exit(20)
        finally:
            sent, acked = load.join()
        self.server.assert_clean_exit(rc)
        self.assertLessEqual(set(load.statuses), {200, 503}, "answers: %r" % load.statuses)
        self.assertEqual(load.bad_answers, [], "error answers must be JSON")
        self.server.start()
        value = counter_value(self.server, room)
        self.assertGreaterEqual(value, acked, "an acknowledged increment was lost (%d sent)" % sent)
        self.assertLessEqual(value, sent, "more increments stored than sent (%d acked)" % acked)
        self.server.stop_clean()


if __name__ == "__main__":
    unittest.main()
