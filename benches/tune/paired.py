#!/usr/bin/env python3
"""Paired per-seed edge differences between one strategy and every other pool of a results.json.

    paired.py results/default/results.json "Adaptive Starter"

Prints, for each other pool (strategies and the normalizer), the mean of (this − other) over the
run's simulations, its standard error, and the ratio of the two.
"""
import json
import math
import sys


def main():
    path, name = sys.argv[1], sys.argv[2]
    with open(path) as f:
        results = json.load(f)
    sims = results["simulations"]
    names = [p["name"] for p in sims[0]["pools"]]
    me = names.index(name)
    print(f"{len(sims)} simulations, seeds {sims[0]['seed']}..{sims[-1]['seed']}: {name} − other, edge per simulation (Y)")
    for j, other in enumerate(names):
        if j == me:
            continue
        d = [s["pools"][me]["edge"] - s["pools"][j]["edge"] for s in sims]
        n = len(d)
        mean = sum(d) / n
        se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)
        print(f"  vs {other:<24} {mean:+9.2f} ± {se:6.2f}   ({mean / se:+.1f} se)")


if __name__ == "__main__":
    main()
