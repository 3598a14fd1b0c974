#!/usr/bin/env python3
"""The tuned strategy's mean edge under several methods' points, and paired differences between them.

    methods.py "Adaptive Starter" NAME=results.json NAME=results.json ...

Every results.json must cover the same seeds (the same held-out test seeds).
"""
import json
import math
import sys


def stats(xs):
    n = len(xs)
    m = sum(xs) / n
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1) / n)


def main():
    name = sys.argv[1]
    runs = {}
    for arg in sys.argv[2:]:
        label, path = arg.split("=", 1)
        with open(path) as f:
            sims = json.load(f)["simulations"]
        runs[label] = {s["seed"]: next(p["edge"] for p in s["pools"] if p["name"] == name) for s in sims}
    labels = list(runs)
    seeds = sorted(runs[labels[0]])
    for label in labels:
        assert sorted(runs[label]) == seeds, f"{label} covers other seeds"
        m, se = stats([runs[label][s] for s in seeds])
        print(f"{label:<16} mean edge {m:8.2f} ± {se:5.2f}")
    best = labels[0]
    for label in labels[1:]:
        m, se = stats([runs[best][s] - runs[label][s] for s in seeds])
        print(f"{best} − {label:<16} {m:+8.2f} ± {se:5.2f} (paired over {len(seeds)} seeds)")


if __name__ == "__main__":
    main()
