"""Large commits (issue 11; tests/lua/store.lua): turns that write many large values are stored
in seconds while other rooms answer within BOUND meanwhile; writes past the value and key limits
are refused before anything is stored."""

import threading
import time

from battery import BOUND, Battery, main, unique

VALUE = 120000  # one value, under the 131,072-byte limit once encoded


def batch(n, size=VALUE):
    return {"op": "batch", "ops": [{"op": "put", "key": "k%d" % i,
                                    "value": {"$repeat": "x", "n": size}} for i in range(n)]}


def write(ctx, room, body, timeout=30):
    return ctx.server.post("/store/" + room, body=body, timeout=timeout)


def large_while_checked(n, rooms=1):
    """rooms turns of n x 120 KB each, in parallel; the canaries answer meanwhile."""
    def run(ctx):
        results = []

        def writer():
            results.append(write(ctx, unique("battery-big-"), batch(n)).status)
        threads = [threading.Thread(target=writer) for _ in range(rooms)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            ctx.check(during=True)
            ctx.canary.check_http(ctx.test)
        for t in threads:
            t.join(1)
        ctx.test.assertEqual(results, [200] * rooms)
    return run


def refused(body, status=400):
    def run(ctx):
        room = unique("battery-refused-")
        res = write(ctx, room, body)
        ctx.test.assertEqual(res.status, status, res.body[:300])
        ctx.test.assertEqual(ctx.server.get("/store/" + room).json, {"result": []})
    return run


def over_limit_after_good(ctx):
    """In one turn a good put, then one past the value limit: the second raises (the script sees
    the error), only the first is stored."""
    room = unique("battery-half-")
    res = write(ctx, room, {"op": "batch", "ops": [
        {"op": "put", "key": "a", "value": 1},
        {"op": "put", "key": "k", "value": {"$repeat": "x", "n": 140000}}]})
    ctx.test.assertEqual(res.status, 200, res.body[:300])
    ctx.test.assertIn("over the limit", res.json["result"][1]["error"])
    ctx.test.assertEqual(ctx.server.get("/store/" + room).json,
                         {"result": [{"key": "a", "value": 1}]})


def many_small(ctx):
    """4,000 small puts in one turn."""
    res = write(ctx, unique("battery-small-"), {"op": "batch", "ops": [
        {"op": "put", "key": "k%d" % i, "value": i} for i in range(4000)]})
    ctx.test.assertEqual(res.status, 200, res.body[:300])


def delete_big(ctx):
    room = unique("battery-del-")
    ctx.test.assertEqual(write(ctx, room, batch(20)).status, 200)
    ctx.test.assertEqual(write(ctx, room, {"op": "delete_all"}).status, 200)
    ctx.test.assertEqual(ctx.server.get("/store/" + room).json, {"result": []})


class Commit(Battery):
    klass = "commit"
    cases = [
        ("ten_large_values", large_while_checked(10)),
        ("ten_large_in_four_rooms", large_while_checked(10, rooms=4)),
        ("largest_turn", large_while_checked(128)),
        ("value_over_limit", refused({"op": "put", "key": "k",
                                      "value": {"$repeat": "x", "n": 140000}})),
        ("over_limit_after_good", over_limit_after_good),
        ("key_over_limit", refused({"op": "put", "key": {"$repeat": "k", "n": 3000},
                                    "value": 1})),
        ("function_value", refused({"op": "put", "key": "k", "value": {"$function": True}})),
        ("cyclic_value", refused({"op": "put", "key": "k", "value": {"$cycle": True}})),
        ("many_small", many_small),
        ("delete_big", delete_big),
    ]


if __name__ == "__main__":
    main()
