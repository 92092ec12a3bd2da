#!/usr/bin/env python3
"""summarize.py RESULTS.jsonl: the table run.sh prints (medians over rounds for
roomd and every peer found in the results, with roomd / peer ratios) and the
issue's targets, met or missed. A ratio is the median over rounds of roomd's
figure / the peer's in the same round (the runs of a round are minutes
apart, so drift in the machine's load cancels); results without round numbers
fall back to the ratio of the medians."""
import json
import statistics
import sys
from collections import defaultdict

SERVER_ORDER = ["roomd", "bare_lws", "node", "workerd", "nginx", "raw_lws"]

# (case, metric key, label, format)
ROWS = [
    ("relay-n100-w1", "deliveries_per_server_cpu_s", "deliv/server-CPU-s", "{:,.0f}"),
    ("relay-n100-w1", "deliveries_per_s", "deliv/s", "{:,.0f}"),
    ("relay-n100-w1", "p99_us", "p99 us", "{:,.0f}"),
    ("relay-n100-w16", "deliveries_per_server_cpu_s", "deliv/server-CPU-s", "{:,.0f}"),
    ("relay-n100-w16", "deliveries_per_s", "deliv/s", "{:,.0f}"),
    ("relay-n100-w16", "p99_us", "p99 us", "{:,.0f}"),
    ("relay-n1000-w1", "deliveries_per_server_cpu_s", "deliv/server-CPU-s", "{:,.0f}"),
    ("relay-n1000-w1", "deliveries_per_s", "deliv/s", "{:,.0f}"),
    ("relay-n1000-w1", "p99_us", "p99 us", "{:,.0f}"),
    ("relay-n10-s10-w16", "sent_per_s", "inbound msgs/s", "{:,.0f}"),
    ("relay-n10-s10-w16", "deliveries_per_server_cpu_s", "deliv/server-CPU-s", "{:,.0f}"),
    ("open-n100-500", "server_cpu_pct", "server CPU %", "{:,.0f}"),
    ("open-n100-500", "p50_us", "p50 us", "{:,.0f}"),
    ("open-n100-500", "p99_us", "p99 us", "{:,.0f}"),
    ("open-n100-500", "p999_us", "p99.9 us", "{:,.0f}"),
    ("open-n100-500", "max_us", "max us", "{:,.0f}"),
    ("fanout-n100-half", "rate", "msgs/s (set)", "{:,.0f}"),
    ("fanout-n100-half", "pct_of_own_max", "% of own W=16 max", "{:,.0f}"),
    ("fanout-n100-half", "server_cpu_pct", "server CPU %", "{:,.0f}"),
    ("fanout-n100-half", "p50_us", "p50 us", "{:,.0f}"),
    ("fanout-n100-half", "p99_us", "p99 us", "{:,.0f}"),
    ("fanout-n100-half", "p999_us", "p99.9 us", "{:,.0f}"),
    ("fanout-n100-half", "max_us", "max us", "{:,.0f}"),
    ("connect-5000", "kb_per_conn", "KB per conn", "{:,.2f}"),
    ("connect-19000", "alive", "open conns", "{:,.0f}"),
    ("connect-19000", "kb_per_conn", "KB per conn", "{:,.2f}"),
    ("wrk-post-counter", "req_per_s", "req/s", "{:,.0f}"),
    ("wrk-post-counter", "req_per_server_cpu_s", "req/server-CPU-s", "{:,.0f}"),
    ("wrk-post-counter", "redis_cpu_pct", "redis CPU %", "{:,.0f}"),
    ("wrk-post-counter", "req_per_redis_cpu_s", "req/redis-CPU-s", "{:,.0f}"),
    ("wrk-post-counter", "req_per_total_cpu_s", "req/(srv+redis)-CPU-s", "{:,.0f}"),
    ("wrk-get-counter", "req_per_s", "req/s", "{:,.0f}"),
    ("wrk-get-counter", "req_per_server_cpu_s", "req/server-CPU-s", "{:,.0f}"),
    ("wrk-get-vote", "req_per_s", "req/s", "{:,.0f}"),
    ("wrk-get-vote", "req_per_server_cpu_s", "req/server-CPU-s", "{:,.0f}"),
]


def derive(r, redis_cpu_s):
    """Adds the figures computed from a run's raw ones."""
    secs = float(r.get("secs", 0))
    if redis_cpu_s is not None:
        r["redis_cpu_s"] = redis_cpu_s
    if "server_cpu_s" in r and secs > 0:
        r["server_cpu_pct"] = 100 * float(r["server_cpu_s"]) / secs
    if "req_per_s" in r and r.get("server_cpu_s"):
        r["req_per_server_cpu_s"] = r["req_per_s"] * secs / r["server_cpu_s"]
    if "req_per_s" in r and r.get("redis_cpu_s") is not None and secs > 0:
        r["redis_cpu_pct"] = 100 * float(r["redis_cpu_s"]) / secs
        if float(r["redis_cpu_s"]) > 0:
            r["req_per_redis_cpu_s"] = r["req_per_s"] * secs / float(r["redis_cpu_s"])
        total = float(r.get("server_cpu_s", 0)) + float(r["redis_cpu_s"])
        if total > 0:
            r["req_per_total_cpu_s"] = r["req_per_s"] * secs / total
    return r


def load(path):
    runs = defaultdict(list)  # (server, case) -> [result dicts]
    for line in open(path):
        rec = json.loads(line)
        r = rec["r"]
        if r.get("failed") or int(r.get("missing", 0)) or int(r.get("closed", 0)):
            r = {"failed": True, "why": {k: r.get(k) for k in ("missing", "closed", "errors")}}
        r = derive(r, rec.get("redis_cpu_s"))
        if "round" in rec:
            r["_round"] = rec["round"]
        runs[(rec["server"], rec["case"])].append(r)
    for (server, case), rs in runs.items():
        if case == "fanout-n100-half":
            for r in rs:
                own = own_max(runs, server, r.get("_round"))
                if own and "rate" in r:
                    r["pct_of_own_max"] = 100 * float(r["rate"]) / own
    return runs


def own_max(runs, server, rnd):
    """The server's closed-loop maximum (N=100, W=16, msgs/s) in round rnd,
    or its median when that run is missing."""
    for r in runs.get((server, "relay-n100-w16"), []):
        if r.get("_round") == rnd and "sent_per_s" in r:
            return float(r["sent_per_s"])
    return median(runs, server, "relay-n100-w16", "sent_per_s")[0]


def median(runs, server, case, key):
    vals = [float(r[key]) for r in runs.get((server, case), []) if key in r]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)


def paired_ratio(runs, case, key, peer, server="roomd"):
    """Median over rounds of server / peer (see the module comment)."""
    def by_round(name):
        return {r["_round"]: float(r[key]) for r in runs.get((name, case), [])
                if key in r and "_round" in r}
    a, b = by_round(server), by_round(peer)
    pairs = [a[k] / b[k] for k in a if k in b and b[k]]
    if pairs:
        return statistics.median(pairs)
    ma, mb = median(runs, server, case, key)[0], median(runs, peer, case, key)[0]
    return ma / mb if ma is not None and mb else None


def fmt(v, f):
    return "-" if v is None else f.format(v)


def servers_in(runs):
    present = {s for s, c in runs if not c.startswith("calibrate")}
    return [s for s in SERVER_ORDER if s in present] + sorted(present - set(SERVER_ORDER))


def table(runs):
    servers = servers_in(runs)
    peers = [s for s in servers if s != "roomd"]
    head = f"{'case':<18} {'metric':<21}" + "".join(f" {s:>11}" for s in servers)
    print(head + "".join(f" {'/' + p:>9}" for p in peers) + "  runs")
    for case, key, label, f in ROWS:
        vals = [median(runs, s, case, key) for s in servers]
        if all(v is None for v, _ in vals):
            continue
        line = f"{case:<18} {label:<21}" + "".join(f" {fmt(v, f):>11}" for v, _ in vals)
        for p in peers:
            q = paired_ratio(runs, case, key, p) if "roomd" in servers else None
            line += f" {fmt(q, '{:.2f}x'):>9}"
        print(line + "  " + "/".join(str(n) for _, n in vals))
    failed = [(k, r.get("why")) for k, rs in runs.items() for r in rs if r.get("failed")]
    print(f"\ncolumns: medians; /peer = median over rounds of roomd / peer. Runs left out of the medians "
          f"(missing deliveries, closed connections, no result): {failed or 'none'}")
    rates = sorted({float(r["rate"]) for (_, c), rs in runs.items() if c == "fanout-n100-half"
                    for r in rs if "rate" in r})
    if rates:
        print("fan-out rates (msgs/s; half of bare_lws's N=100 W=16 maximum of the round): "
              + ", ".join(f"{x:,.0f}" for x in rates))


def target_checks(runs):
    def m(s, c, k):
        return median(runs, s, c, k)[0]

    def ratio(c, peer, k="deliveries_per_server_cpu_s"):
        return paired_ratio(runs, c, k, peer)

    def inverse(c, peer, k):  # peer / roomd, for "roomd's figure <= the peer's"
        q = paired_ratio(runs, c, k, peer)
        return 1 / q if q else None

    checks = []
    for n in ("100", "1000"):
        for peer, goal in (("bare_lws", 1.0), ("node", 1.5), ("workerd", 3.0)):
            checks.append((f"relay N={n} W=1 per server CPU-s >= {goal}x {peer}",
                           ratio(f"relay-n{n}-w1", peer), goal, "{:.3f}x"))
    checks += [
        ("relay N=100 W=16 >= 8x bare_lws", ratio("relay-n100-w16", "bare_lws"), 8.0, "{:.2f}x"),
        ("relay N=100 W=16 ~2M deliveries/server-CPU-s",
         m("roomd", "relay-n100-w16", "deliveries_per_server_cpu_s"), 2e6, "{:,.0f}"),
        ("inbound msgs/s into one 10-member room >= 10,000",
         m("roomd", "relay-n10-s10-w16", "sent_per_s"), 1e4, "{:,.0f}"),
        ("concurrent WebSockets in one process 19,000",
         m("roomd", "connect-19000", "alive"), 19000, "{:,.0f}"),
        ("durable counter req/s over 100 rooms >= 2x node+Redis",
         ratio("wrk-post-counter", "node", "req_per_s"), 2.0, "{:.2f}x"),
        ("durable counter per (server + its Redis) CPU-s >= 2x node+Redis",
         ratio("wrk-post-counter", "node", "req_per_total_cpu_s"), 2.0, "{:.2f}x"),
        ("durable counter per server CPU-s (Redis apart) vs node (no target)",
         ratio("wrk-post-counter", "node", "req_per_server_cpu_s"), None, "{:.2f}x"),
        ("GET /counter per server CPU-s >= 1.0x nginx+lua",
         ratio("wrk-get-counter", "nginx", "req_per_server_cpu_s"), 1.0, "{:.2f}x"),
        ("GET /counter per server CPU-s, bare_lws / nginx+lua: libwebsockets' own floor (no target)",
         paired_ratio(runs, "wrk-get-counter", "req_per_server_cpu_s", "nginx", "bare_lws"), None,
         "{:.2f}x"),
        ("GET /counter per server CPU-s, roomd / bare_lws: what roomd adds (no target)",
         ratio("wrk-get-counter", "bare_lws", "req_per_server_cpu_s"), None, "{:.2f}x"),
        ("GET /counter per server CPU-s, raw_lws / nginx+lua: lws without its HTTP parser (no target)",
         paired_ratio(runs, "wrk-get-counter", "req_per_server_cpu_s", "nginx", "raw_lws"), None,
         "{:.2f}x"),
        ("relay N=100 W=1 p99 <= 1.5x bare_lws's (roomd / bare_lws)",
         ratio("relay-n100-w1", "bare_lws", "p99_us"), -1.5, "{:.2f}x"),
        ("durable counter req/s over 100 rooms >= 20x workerd",
         ratio("wrk-post-counter", "workerd", "req_per_s"), 20.0, "{:.2f}x"),
        ("fan-out to 100 at half load: p99 <= bare_lws's (bare_lws p99 / roomd p99 >= 1)",
         inverse("fanout-n100-half", "bare_lws", "p99_us"), 1.0, "{:.2f}x"),
    ]
    return checks


def met(v, goal):
    """Whether v meets goal: at least goal, or at most -goal for a negative goal."""
    return v >= goal if goal >= 0 else v <= -goal


def targets(runs):
    print("\ntargets (roomd):")
    for name, v, goal, f in target_checks(runs):
        state = "n/a" if v is None else ("info" if goal is None else ("met" if met(v, goal) else "MISSED"))
        print(f"  {state:<6} {name}: {fmt(v, f)}")
    kb = median(runs, "roomd", "connect-5000", "kb_per_conn")[0]
    state = "n/a" if kb is None else ("met" if kb <= 4 else "MISSED")
    print(f"  {state:<6} idle memory per WebSocket <= 4 KB (N=5000, 100 rooms): {fmt(kb, '{:.2f}')} KB"
          + "".join(f"; {p} {fmt(median(runs, p, 'connect-5000', 'kb_per_conn')[0], '{:.2f}')} KB"
                    for p in servers_in(runs)
                    if p != "roomd" and median(runs, p, "connect-5000", "kb_per_conn")[0] is not None))


def main():
    runs = load(sys.argv[1])
    table(runs)
    targets(runs)


if __name__ == "__main__":
    main()
