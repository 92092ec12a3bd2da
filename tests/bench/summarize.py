#!/usr/bin/env python3
"""summarize.py RESULTS.jsonl: the table run.sh prints (medians over rounds,
roomd / bare_lws ratios) and the issue's targets, met or missed."""
import json
import statistics
import sys
from collections import defaultdict

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
    ("connect-5000", "kb_per_conn", "KB per conn", "{:,.2f}"),
    ("connect-19000", "alive", "open conns", "{:,.0f}"),
    ("connect-19000", "kb_per_conn", "KB per conn", "{:,.2f}"),
    ("wrk-post-counter", "req_per_s", "req/s", "{:,.0f}"),
    ("wrk-post-counter", "req_per_server_cpu_s", "req/server-CPU-s", "{:,.0f}"),
    ("wrk-get-vote", "req_per_s", "req/s", "{:,.0f}"),
    ("wrk-get-vote", "req_per_server_cpu_s", "req/server-CPU-s", "{:,.0f}"),
]


def load(path):
    runs = defaultdict(list)  # (server, case) -> [result dicts]
    for line in open(path):
        rec = json.loads(line)
        r = rec["r"]
        if r.get("failed") or int(r.get("missing", 0)) or int(r.get("closed", 0)):
            r = {"failed": True, "why": {k: r.get(k) for k in ("missing", "closed", "errors")}}
        if "server_cpu_s" in r and "secs" in r and float(r["secs"]) > 0:
            r["server_cpu_pct"] = 100 * float(r["server_cpu_s"]) / float(r["secs"])
        if "req_per_s" in r and r.get("server_cpu_s"):
            r["req_per_server_cpu_s"] = r["req_per_s"] * r["secs"] / r["server_cpu_s"]
        runs[(rec["server"], rec["case"])].append(r)
    return runs


def median(runs, server, case, key):
    vals = [float(r[key]) for r in runs.get((server, case), []) if key in r]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)


def fmt(v, f):
    return "-" if v is None else f.format(v)


def table(runs):
    print(f"{'case':<19} {'metric':<19} {'roomd':>13} {'bare_lws':>13} {'ratio':>7}  runs")
    for case, key, label, f in ROWS:
        a, na = median(runs, "roomd", case, key)
        b, nb = median(runs, "bare_lws", case, key)
        ratio = f"{a / b:.2f}x" if a is not None and b else "-"
        print(f"{case:<19} {label:<19} {fmt(a, f):>13} {fmt(b, f):>13} {ratio:>7}  {na}/{nb}")
    failed = [(k, r.get("why")) for k, rs in runs.items() for r in rs if r.get("failed")]
    print(f"\nruns left out of the medians (missing deliveries, closed connections, no result): "
          f"{failed or 'none'}")


def targets(runs):
    def m(s, c, k):
        return median(runs, s, c, k)[0]

    def ratio(c):
        a = m("roomd", c, "deliveries_per_server_cpu_s")
        b = m("bare_lws", c, "deliveries_per_server_cpu_s")
        return a / b if a and b else None

    checks = [
        ("relay N=100 W=1 >= 1.0x bare lws (per server CPU-s)", ratio("relay-n100-w1"), 1.0, "{:.2f}x"),
        ("relay N=1000 W=1 >= 1.0x bare lws", ratio("relay-n1000-w1"), 1.0, "{:.2f}x"),
        ("relay N=100 W=16 >= 8x bare lws", ratio("relay-n100-w16"), 8.0, "{:.2f}x"),
        ("relay N=100 W=16 ~2M deliveries/server-CPU-s",
         m("roomd", "relay-n100-w16", "deliveries_per_server_cpu_s"), 2e6, "{:,.0f}"),
        ("inbound msgs/s into one 10-member room >= 10,000",
         m("roomd", "relay-n10-s10-w16", "sent_per_s"), 1e4, "{:,.0f}"),
        ("concurrent WebSockets in one process 19,000",
         m("roomd", "connect-19000", "alive"), 19000, "{:,.0f}"),
    ]
    print("\ntargets (roomd):")
    for name, v, goal, f in checks:
        state = "n/a" if v is None else ("met" if v >= goal else "MISSED")
        print(f"  {state:<6} {name}: {fmt(v, f)}")
    kb = m("roomd", "connect-5000", "kb_per_conn")
    state = "n/a" if kb is None else ("met" if kb <= 4 else "MISSED")
    print(f"  {state:<6} idle memory per WebSocket <= 4 KB (N=5000, 100 rooms): {fmt(kb, '{:.2f}')} KB")


def main():
    runs = load(sys.argv[1])
    table(runs)
    targets(runs)


if __name__ == "__main__":
    main()
