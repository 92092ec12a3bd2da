#!/usr/bin/env python3
"""profile_report.py PROFILE.jsonl: the figures profile.sh prints.

Every figure is a difference between two runs of one fixed workload that
differ only in the message count (loadgen --count C1, then C2 > C1): start-up,
connecting, joining and shutting down cancel out, and what is left is the
steady state, divided by the deliveries (or inbound messages) the extra
messages made.

Records (one JSON object a line), written by profile.sh:
  {"kind": "callgrind", "server", "case", "count", "file": callgrind output, "r": loadgen RESULT}
  {"kind": "perf", "server", "case", "count", "file": perf stat -x, output, "r": ...}
  {"kind": "native", "server", "case", "count", "r": ...}   (server CPU from /proc)
  {"kind": "uptime", "text": ...}
"""
import json
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cgparse import Profile  # noqa: E402

SYSCALL_TARGETS = {"n100-w1": 1.05, "n100-w16": 0.1}  # roomd, syscalls per delivery
US_PER_MSG_TARGET, LUA_US_TARGET = 5.0, 0.3


def load(path):
    recs = defaultdict(list)
    uptimes = []
    for line in open(path):
        rec = json.loads(line)
        if rec["kind"] == "uptime":
            uptimes.append(rec["text"])
        else:
            recs[(rec["kind"], rec["server"], rec["case"])].append(rec)
    return recs, uptimes


def pair(runs):
    """The runs at the smallest and the largest count."""
    runs = sorted(runs, key=lambda x: x["count"])
    return runs[0], runs[-1]


def ok(rec):
    r = rec["r"]
    return not r.get("failed") and not int(r.get("missing", 1)) and not int(r.get("closed", 1))


def fmt(x, digits=0):
    return "{:,.{}f}".format(x, digits)


# ---- instructions per delivery ----------------------------------------------------------


def callgrind_figures(recs):
    out = {}
    for (kind, server, case), runs in sorted(recs.items()):
        if kind != "callgrind" or len(runs) < 2:
            continue
        a, b = pair(runs)
        if not (ok(a) and ok(b)):
            out[(server, case)] = None
            continue
        pa, pb = Profile(a["file"]), Profile(b["file"])
        dd = b["r"]["deliveries"] - a["r"]["deliveries"]
        dm = b["r"]["sent"] - a["r"]["sent"]
        out[(server, case)] = {"a": a, "b": b, "pa": pa, "pb": pb, "dd": dd, "dm": dm,
                               "per_delivery": (pb.total - pa.total) / dd,
                               "per_msg": (pb.total - pa.total) / dm}
    return out


def print_callgrind(cg):
    print("== Instructions per delivery (callgrind, user space only)")
    print("%-8s %-12s %14s %14s %12s %14s %12s" % (
        "server", "case", "Ir @C1", "Ir @C2", "deliveries", "Ir/delivery", "Ir/inbound"))
    for (server, case), f in sorted(cg.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if f is None:
            print("%-8s %-12s  a run lost messages or connections: no figure" % (server, case))
            continue
        print("%-8s %-12s %14s %14s %12s %14s %12s" % (
            server, case, fmt(f["pa"].total), fmt(f["pb"].total), fmt(f["dd"]),
            fmt(f["per_delivery"]), fmt(f["per_msg"])))
    for case in sorted({c for _, c in cg}):
        r, b = cg.get(("roomd", case)), cg.get(("bare_lws", case))
        if r and b:
            print("  %s: roomd / bare_lws = %.2fx instructions per delivery" % (
                case, r["per_delivery"] / b["per_delivery"]))
    print("  (C1/C2: the two message counts; start-up and connect cancel out in the difference."
          " Kernel work is not in these counts: see the syscall and native CPU figures.)")


def top_self(f, n=12):
    """The functions with the largest self cost per delivery in the steady state."""
    pa, pb, dd = f["pa"], f["pb"], f["dd"]
    total = pb.total - pa.total
    rows = []
    for k in set(pb.self_cost) | set(pa.self_cost):
        d = pb.self_cost.get(k, 0) - pa.self_cost.get(k, 0)
        rows.append((d, k))
    rows.sort(reverse=True)
    return [(d / dd, 100.0 * d / total, k) for d, k in rows[:n]]


def print_top(cg, server, case, n=12):
    f = cg.get((server, case))
    if not f:
        return
    print("  top functions by self cost, %s %s (Ir per delivery, share):" % (server, case))
    for per, share, k in top_self(f, n):
        print("    %10s %5.1f%%  %s" % (fmt(per, 1), share, k))


# ---- syscalls -----------------------------------------------------------------------------


def read_perf(path):
    counts = {}
    for line in open(path):
        parts = line.strip().split(",")
        if len(parts) < 3 or not parts[0].replace(".", "").isdigit():
            continue
        counts[parts[2]] = float(parts[0])
    return counts


def syscall_diff(runs):
    """Per delivery and per inbound message: total syscalls and each syscall, C2 minus C1."""
    a, b = pair(runs)
    if not (ok(a) and ok(b)):
        return None
    ca, cb = read_perf(a["file"]), read_perf(b["file"])
    dd = b["r"]["deliveries"] - a["r"]["deliveries"]
    dm = b["r"]["sent"] - a["r"]["sent"]
    each = {}
    for ev in cb:
        if ev.startswith("syscalls:sys_enter_"):
            each[ev[len("syscalls:sys_enter_"):]] = cb[ev] - ca.get(ev, 0)
    raw = "raw_syscalls:sys_enter"
    return {"a": a, "b": b, "ca": ca.get(raw, 0), "cb": cb.get(raw, 0), "dd": dd, "dm": dm,
            "total": cb.get(raw, 0) - ca.get(raw, 0), "each": each}


def print_syscalls(recs):
    print("== Syscalls per delivery (perf stat -e raw_syscalls:sys_enter, server process)")
    print("%-8s %-12s %12s %12s %12s %12s %10s  %s" % (
        "server", "case", "calls @C1", "calls @C2", "deliveries", "calls/deliv", "C2 alone",
        "target"))
    details = []
    for (kind, server, case), runs in sorted(recs.items(), key=lambda kv: (kv[0][2], kv[0][1])):
        if kind != "perf" or len(runs) < 2:
            continue
        f = syscall_diff(runs)
        if not f:
            print("%-8s %-12s  a run lost messages or connections: no figure" % (server, case))
            continue
        total = f["total"] / f["dd"]
        target = SYSCALL_TARGETS.get(case) if server == "roomd" else None
        verdict = ""
        if target is not None:
            verdict = "<= %.2f: %s" % (target, "met" if total <= target else "MISSED")
        print("%-8s %-12s %12s %12s %12s %12.4f %10.4f  %s" % (
            server, case, fmt(f["ca"]), fmt(f["cb"]), fmt(f["dd"]), total,
            f["cb"] / f["b"]["r"]["deliveries"], verdict))
        per = sorted(((d / f["dd"], n) for n, d in f["each"].items() if abs(d / f["dd"]) >= 0.0005),
                     reverse=True)
        details.append("  %s %s per delivery: %s" % (
            server, case, ", ".join("%s %.4f" % (n, d) for d, n in per)))
        rb = f["b"]["r"]
        details.append("    native server CPU in the C2 run: user %.2f us + sys %.2f us per delivery"
                       " (/proc, 10 ms ticks; noisy)" % (
                           1e6 * rb["server_user_s"] / rb["deliveries"],
                           1e6 * rb["server_sys_s"] / rb["deliveries"]))
    for d in details:
        print(d)


# ---- per inbound message split --------------------------------------------------------------


def split(f):
    """Ir per inbound message of each part of roomd's message path (steady state)."""
    pa, pb, dm = f["pa"], f["pb"], f["dm"]

    def D(name):
        return (pb.inclusive(name) - pa.inclusive(name)) / dm

    total = (pb.total - pa.total) / dm
    parts = [
        ("parse JSON (ljson_decode: text straight to Lua values)", D("ljson_decode")),
        ("Lua: handler arguments (handler lookup, self, conn)",
         D("dispatch_build") - D("ljson_decode")),
        ("Lua: the handler and VM entry (lua_resume, trampoline, finish)",
         D("lvm_run") - D("dispatch_build") - D("room_broadcast")),
        ("encode (encode_frame: ljson_encode + framing)", D("encode_frame")),
        ("fan-out: hold per member (room_broadcast loop, gate_send)",
         D("room_broadcast") - D("encode_frame")),
        ("fan-out: release to queues (gate_release, conn_send)", D("gate_release")),
        ("fan-out: ask for WRITEABLE (conn_request_writes)", D("conn_request_writes")),
        ("fan-out: write (conn_on_writable: batch + lws_write)", D("conn_on_writable")),
        ("turn bookkeeping (queue, run_event, end_turn)",
         D("room_post_message") - D("lvm_run") - D("gate_release")),
        ("receive glue (ws_on_receive: copy, rate token)",
         D("ws_on_receive") - D("room_post_message")),
    ]
    parts.append(("lws: poll loop, read + frame parsing, callback dispatch",
                  total - sum(v for _, v in parts)))
    return total, parts


def calls_per_msg(f, name):
    pa, pb = f["pa"], f["pb"]
    ka, kb = pa.find(name), pb.find(name)
    if not kb:
        return 0.0
    return (pb.calls.get(kb, 0) - pa.calls.get(ka, 0)) / f["dm"]


def print_split(cg, recs):
    f = cg.get(("roomd", "n10-s10-w16"))
    if not f:
        return
    natives = [r["r"] for r in recs.get(("native", "roomd", "n10-s10-w16"), []) if ok(r)]
    print("== roomd: cost per inbound message, 10 members all sending (W=16)")
    total, parts = split(f)
    if not natives:
        print("  (no native run: no conversion to microseconds)")
        natives = []
    per = sorted(((r["server_user_s"] / r["sent"], r["server_sys_s"] / r["sent"]) for r in natives),
                 key=lambda us: us[0] + us[1])
    for user, sys_ in per:
        print("  native run: user %.2f us + kernel %.2f us = %.2f us per inbound message" % (
            1e6 * user, 1e6 * sys_, 1e6 * (user + sys_)))
    best = per[0] if per else None
    if per:
        med = statistics.median(u + k for u, k in per)
        # The least disturbed run: other work on the machine only ever slows a run down.
        ips = total / best[0]
        print("  %d native runs of %s msgs (%.0f deliveries each); the fastest: %.2f us, median"
              " %.2f us" % (len(per), fmt(natives[0]["sent"]),
                            natives[0]["deliveries"] / natives[0]["sent"],
                            1e6 * sum(best), 1e6 * med))
        print("  callgrind: %s Ir per inbound message in user space; with the fastest run's user"
              " time: %.0f M instructions per user CPU-second (roomd on this machine)" % (
                  fmt(total), ips / 1e6))
    sysc = recs.get(("perf", "roomd", "n10-s10-w16"))
    sd = syscall_diff(sysc) if sysc and len(sysc) >= 2 else None
    if sd:
        e = sd["each"]
        print("  writes per inbound message: native %.3f sendto, under callgrind %.3f lws_write"
              " (callgrind slows the server, so its queues are deeper and writes carry more"
              " frames); reads: native %.3f recvfrom, callgrind %.3f" % (
                  e.get("sendto", 0) / sd["dm"], calls_per_msg(f, "lws_write"),
                  e.get("recvfrom", 0) / sd["dm"], calls_per_msg(f, "recv")))
        print("  native syscalls per inbound message: %.3f (%s)" % (
            sd["total"] / sd["dm"], ", ".join("%s %.3f" % (n, v / sd["dm"]) for n, v in sorted(
                e.items(), key=lambda kv: -kv[1]) if v / sd["dm"] >= 0.001)))
    print("  %-66s %10s %8s %6s" % ("part", "Ir/msg", "us/msg", "share"))
    lua = 0.0
    for name, v in parts:
        us = "%.3f" % (v / ips * 1e6) if best else "-"
        print("  %-66s %10s %8s %5.1f%%" % (name, fmt(v), us, 100.0 * v / total))
        if name.startswith("Lua"):
            lua += v
    if best:
        print("  %-66s %10s %8.3f" % ("user space total", fmt(total), total / ips * 1e6))
        print("  %-66s %10s %8.3f" % ("kernel (native stime; not in callgrind)", "-",
                                       1e6 * best[1]))
        all_us, user_us = 1e6 * sum(best), 1e6 * best[0]
        med_user = 1e6 * statistics.median(u for u, _ in per)
        print("  target <= %.1f us per inbound message: user space %.2f us (fastest run; median"
              " %.2f us), %s; with the kernel %.2f us (median %.2f us), %s" % (
                  US_PER_MSG_TARGET, user_us, med_user,
                  "met" if user_us <= US_PER_MSG_TARGET else "MISSED", all_us, 1e6 * med,
                  "met" if all_us <= US_PER_MSG_TARGET else "MISSED"))
        lua_us = lua / ips * 1e6
        print("  target Lua <= %.1f us: %s Ir = %.3f us, %s" % (
            LUA_US_TARGET, fmt(lua), lua_us, "met" if lua_us <= LUA_US_TARGET else "MISSED"))
    print("  top functions by self cost per inbound message:")
    for per_d, share, k in top_self(f, 15):
        print("    %10s %5.1f%%  %s" % (fmt(per_d * f["dd"] / f["dm"], 1), share, k))


def main():
    recs, uptimes = load(sys.argv[1])
    cg = callgrind_figures(recs)
    if cg:
        print_callgrind(cg)
        for case in ("n100-w1", "n100-w16"):
            print_top(cg, "roomd", case)
            print_top(cg, "bare_lws", case, 6)
        print()
    print_syscalls(recs)
    print()
    print_split(cg, recs)
    print()
    for u in uptimes:
        print("uptime: " + u)


if __name__ == "__main__":
    main()
