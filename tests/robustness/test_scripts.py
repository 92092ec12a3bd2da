"""Hostile room scripts (issue 11; tests/lua/hostile.lua and runaway.lua): objects of another
room, recursion through C functions, the storage's internals, xpcall handlers that never end,
patterns that take forever, loops and memory bombs. Each attack is answered (its turn fails or
is refused) within the turn's CPU limit plus BOUND, and costs no other room anything. The
server runs with limits.turn_cpu_ms=300 so that the class stays short."""

from battery import BOUND, Battery, main, unique

CPU_MS = 300


def attack(path, statuses=(200, 500), namespace="hostile"):
    def run(ctx):
        res = ctx.server.post("/%s/%s/%s" % (namespace, unique("battery-"), path),
                              timeout=BOUND + CPU_MS / 1000 * 4)
        ctx.test.assertIn(res.status, statuses, res.body[:300])
    return run


def cross_room(op):
    """Room B's turn uses room A's conn, room or storage (kept by the script): refused."""
    def run(ctx):
        a = unique("battery-a-")
        w = ctx.ws("/hostile/" + a)
        w.send_json({"hello": 1})
        ctx.test.assertIsNotNone(w.recv_frame(timeout=BOUND))  # the join has run
        res = ctx.server.post("/hostile/%s/other_%s?target=%s" % (unique("battery-b-"), op, a),
                              timeout=BOUND * 2)
        ctx.test.assertEqual(res.status, 200, res.body[:300])
        if op not in ("fields",):
            ctx.test.assertFalse(res.json["ok"], res.json)
    return run


def spin_message(ctx):
    """A message whose turn never ends: its sender hears of it, others go on."""
    w = ctx.ws("/hostile/" + unique("battery-spin-"))
    w.send_json({"spin": True})
    f = w.recv_frame(timeout=BOUND + CPU_MS / 1000 * 4)
    ctx.test.assertIsNotNone(f)


def spin_init(ctx):
    res = ctx.server.get("/hostile/spin-init-" + unique(), timeout=BOUND + CPU_MS / 1000 * 4)
    ctx.test.assertEqual(res.status, 500, res.body[:300])


class Scripts(Battery):
    klass = "scripts"
    server_kwargs = {"args": ("--set", "limits.turn_cpu_ms=%d" % CPU_MS)}
    cases = [(op, cross_room(op)) for op in
             ("send", "close", "tag", "attach", "broadcast", "connections", "put", "get",
              "fields")] + [
        ("recurse_" + name, attack("recurse_" + name)) for name in
        ("gsub", "gsub_table", "sort", "lt", "format", "tostring", "os_time", "xpcall")] + [
        ("runaway_" + name, attack("runaway_" + name)) for name in
        ("xpcall_handler", "nested_pcall", "tostring_error", "error_object", "pattern",
         "pattern_pcall", "gsub", "gmatch", "sort", "json_encode", "storage_encode")] + [
        ("internals_" + name, attack("internals_" + name)) for name in
        ("dirty_table_key", "dirty_bool_key", "big_key", "big_value", "fields", "list",
         "rawset_storage")] + [
        ("loop_" + name, attack(name, (500,), "runaway")) for name in
        ("spin", "spin_pcall", "math", "bomb")] + [
        ("spin_message", spin_message),
        ("spin_init", spin_init),
        ("handler_error", attack("boom", (500,), "faulty")),
    ]


if __name__ == "__main__":
    main()
