#!/usr/bin/env python3
"""cgparse.py: reads a callgrind output file (one event, Ir, the default) and
gives each function's self and inclusive cost, keyed "function [object]".

callgrind_annotate splits a function whose code comes from differently named
files (an absolute and a relative path to the same source, or inlined
headers) into several rows, which makes its inclusive figures hard to add up;
this reader keys by function and object only. Recursion levels ("f'2") are
folded into f, and calls from a function to itself are not added to its
inclusive cost (cycles through other functions still are, as in callgrind).

    cgparse.py FILE [N]   prints the top N functions by self and by inclusive cost
"""
import os
import re
import sys
from collections import defaultdict

NAMED = re.compile(r"^\((\d+)\)(?: (.*))?$")


class Profile:
    def __init__(self, path):
        self.total = 0
        self.self_cost = defaultdict(int)
        self.incl = defaultdict(int)
        self.calls = defaultdict(int)  # function -> times called
        self._parse(path)

    @staticmethod
    def _name(table, value):
        m = NAMED.match(value)
        if not m:
            return value
        ident, name = m.group(1), m.group(2)
        if name is not None:
            table[ident] = name
        return table.get(ident, "?")

    @staticmethod
    def _key(fn, ob):
        fn = re.sub(r"'\d+$", "", fn)
        return "%s [%s]" % (fn, os.path.basename(ob))

    def _parse(self, path):
        obs, fns, files = {}, {}, {}
        ob = fn = None
        cob = cfn = None
        pending_call = None  # (callee key, count): the next cost line is the call's cost
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                c = line[0]
                if c.isdigit() or c in "+-*":
                    parts = line.split()
                    cost = int(parts[1]) if len(parts) > 1 else 0
                    if pending_call:
                        callee, count = pending_call
                        pending_call = None
                        if callee != fn:
                            self.incl[fn] += cost
                        self.calls[callee] += count
                    else:
                        self.self_cost[fn] += cost
                        self.incl[fn] += cost
                    continue
                key, _, value = line.partition("=")
                if key == "ob":
                    ob = self._name(obs, value)
                elif key == "fn":
                    fn_name = self._name(fns, value)
                    fn = self._key(fn_name, ob or "?")
                    cob = None
                elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                    self._name(files, value)
                elif key == "cob":
                    cob = self._name(obs, value)
                elif key == "cfn":
                    cfn = self._name(fns, value)
                elif key == "calls":
                    count = int(value.split()[0])
                    pending_call = (self._key(cfn, cob or ob or "?"), count)
                    cob = None
                elif line.startswith("totals:") or line.startswith("summary:"):
                    self.total = max(self.total, int(line.split()[1]))

    def find(self, name):
        """The key of the function called name (any object; gcc's clone suffixes such as
        ".constprop.0" ignored), or None."""
        hits = [k for k in self.incl if k.split(" [")[0].split(".")[0] == name]
        if not hits:
            return None
        return max(hits, key=lambda k: self.incl[k])

    def inclusive(self, name):
        k = self.find(name)
        return self.incl[k] if k else 0

    def self_of(self, name):
        k = self.find(name)
        return self.self_cost[k] if k else 0


def main():
    p = Profile(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    print("total Ir %d" % p.total)
    print("-- self")
    for k, v in sorted(p.self_cost.items(), key=lambda kv: -kv[1])[:n]:
        print("%14d %5.1f%%  %s" % (v, 100.0 * v / p.total, k))
    print("-- inclusive")
    for k, v in sorted(p.incl.items(), key=lambda kv: -kv[1])[:n]:
        print("%14d %5.1f%%  %s" % (v, 100.0 * v / p.total, k))


if __name__ == "__main__":
    main()
