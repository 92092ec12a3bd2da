#!/usr/bin/env python3
"""Summarizes a soak's samples (tests/soak/soak.sh): for each column of the CSV, its first,
last and largest value and its slope per hour (least squares over the samples after the
warm-up), as a Markdown table; then checks the bounds and exits 1 if one is broken.

Bounds, the end (the median of the last minute) against the baseline (the median of the first
minute after the warm-up), so that a passing spike (a burst of joins in flight while the machine
was busy) is reported in "max" but judged by where the process settles:
  roomd_rss_kib   end at most 1.25 x baseline + 16 MiB;
  roomd_fds       end at most baseline + 32;
  redis_rss_kib   reported only (Redis' own memory grows with the data it keeps).
The warm-up is WARMUP seconds (default 120), or a tenth of the run if that is shorter."""

import csv
import os
import statistics
import sys

WARMUP = float(os.environ.get("WARMUP", "120"))
BOUNDS = {"roomd_rss_kib": lambda base: base * 1.25 + 16 * 1024,
          "roomd_fds": lambda base: base + 32}


def slope_per_hour(points):
    if len(points) < 2:
        return 0.0
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    var = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mt) * (v - mv) for t, v in points) / var * 3600


def main(path):
    with open(path) as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    if len(rows) < 3:
        print("too few samples (%d) to judge" % len(rows))
        return 1
    duration = rows[-1]["seconds"]
    warm = min(WARMUP, duration / 10)
    steady = [r for r in rows if r["seconds"] >= warm]
    first_minute = [r for r in steady if r["seconds"] < warm + 60] or steady[:1]
    last_minute = [r for r in steady if r["seconds"] > duration - 60] or steady[-1:]
    print("%d samples over %.0f s; warm-up %.0f s\n" % (len(rows), duration, warm))
    print("| column | first | baseline | end | last | max | slope per hour (after warm-up) |")
    print("|---|---|---|---|---|---|---|")
    broken = []
    for col in [c for c in rows[0] if c != "seconds"]:
        base = statistics.median(r[col] for r in first_minute)
        end = statistics.median(r[col] for r in last_minute)
        slope = slope_per_hour([(r["seconds"], r[col]) for r in steady])
        print("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %+.0f |"
              % (col, rows[0][col], base, end, rows[-1][col], max(r[col] for r in rows), slope))
        if col in BOUNDS and end > BOUNDS[col](base):
            broken.append("%s ended at %.0f, over its bound %.0f (baseline %.0f)"
                          % (col, end, BOUNDS[col](base), base))
    print()
    for b in broken:
        print("BOUND BROKEN: " + b)
    if not broken:
        print("within bounds: at the end roomd RSS <= 1.25 x baseline + 16 MiB, "
              "fds <= baseline + 32")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
