"""Storage across restarts (contract: "The value survives a server restart";
vote "Expiry"): a restarted server on the same --data folder shows the
counter and the votes it had acknowledged, and votes expire after vote.ttl
seconds, also when the server restarted in between."""

import time
import unittest

from harness import LogOnFailure, Server, unique


class PersistenceTest(LogOnFailure, unittest.TestCase):

    def start(self, data=True, args=()):
        self.server = Server(data=data, args=args)
        self.addCleanup(self.server.cleanup)
        self.server.start()
        return self.server

    def restart(self, args=()):
        """Stops the current server cleanly; starts another on its data folder."""
        old = self.server
        old.stop_clean()
        return self.start(data=old.data, args=args)

    def test_counter_survives_restart(self):
        server = self.start()
        a, b = "/counter/" + unique(), "/counter/" + unique()
        for _ in range(3):
            server.post(a)
        server.post(b)
        server = self.restart()
        self.assertEqual(server.get(a).json, {"value": 3})
        self.assertEqual(server.get(b).json, {"value": 1})
        self.assertEqual(server.post(a).json, {"value": 4})
        server = self.restart()
        self.assertEqual(server.get(a).json, {"value": 4})
        server.stop_clean()

    def test_acknowledged_post_survives_immediate_stop(self):
        server = self.start()
        path = "/counter/" + unique()
        self.assertEqual(server.post(path).json, {"value": 1})
        server = self.restart()
        self.assertEqual(server.get(path).json, {"value": 1})
        server.stop_clean()

    def test_votes_survive_restart(self):
        server = self.start()
        room = unique()
        server.post("/vote/" + room, {"option": 1})
        server.post("/vote/" + room, {"option": 1})
        server = self.restart()
        self.assertEqual(server.get("/vote/" + room).json["votes"], [0, 2])
        server.stop_clean()

    def test_votes_expire_after_ttl(self):
        server = self.start(args=("--set", "vote.ttl=1.5"))
        room = unique()
        self.assertEqual(server.post("/vote/" + room, {"option": 0}).json["votes"], [1, 0])
        self.assertEqual(server.get("/vote/" + room).json["votes"], [1, 0])
        deadline = time.monotonic() + 10
        votes = None
        while time.monotonic() < deadline:
            votes = server.get("/vote/" + room).json["votes"]
            if votes == [0, 0]:
                break
            time.sleep(0.1)
        self.assertEqual(votes, [0, 0], "votes did not expire within 10s of a 1.5s ttl")
        server.stop_clean()

    def test_vote_resets_the_alarm(self):
        server = self.start(args=("--set", "vote.ttl=3"))
        room = unique()
        started = time.monotonic()
        server.post("/vote/" + room, {"option": 0})
        time.sleep(2)
        server.post("/vote/" + room, {"option": 0})  # alarm now ~5s after start
        time.sleep(max(0, 3.8 - (time.monotonic() - started)))
        self.assertEqual(server.get("/vote/" + room).json["votes"], [2, 0],
                         "a second vote must push the expiry back")
        server.stop_clean()

    def test_expiry_across_restart(self):
        server = self.start(args=("--set", "vote.ttl=2"))
        room = unique()
        server.post("/vote/" + room, {"option": 1})
        voted = time.monotonic()
        server = self.restart(args=("--set", "vote.ttl=2"))
        time.sleep(max(0, 2.5 - (time.monotonic() - voted)))
        deadline = time.monotonic() + 10
        votes = None
        while time.monotonic() < deadline:
            votes = server.get("/vote/" + room).json["votes"]
            if votes == [0, 0]:
                break
            time.sleep(0.1)
        self.assertEqual(votes, [0, 0], "the alarm did not fire after a restart")
        server.stop_clean()


if __name__ == "__main__":
    unittest.main()
