#!/usr/bin/env python3
"""Paired per-seed edge differences, Y per simulation: mean ± standard error over common seeds.

    paired.py results/default/results.json "Adaptive Starter"
    paired.py --runs BEFORE/results.json AFTER/results.json

The first form compares one strategy with every other pool of one run (strategies and the
normalizer): the mean of (this − other) over the run's simulations, its standard error, and
their ratio.

The second compares two runs of the same config and seeds (say, the engine before and after a
change), pool by pool: the mean of AFTER − BEFORE for the edge and its retail and arbitrage
parts. It refuses runs whose seeds or pools differ. Why it is needed: a search change can pass
every brute-force test and still move results. The searches' certificate bounds a trade's
surplus, not its size, so a different search path stops on a different sample within the
tolerance, and the pool's later flow follows (BENCHMARKS.md, "Session 16": a change that saved
quotes moved the subsidised curve's mean edge by −3.45 ± 0.67 with every search certified).
A difference of several standard errors is a results change to explain, not noise.
"""
import json
import math
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"paired.py: cannot read {path}: {e}")


def mean_se(d):
    """Mean of the differences `d` and its standard error."""
    n = len(d)
    mean = sum(d) / n
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
    return mean, se


def one_run(path, name):
    sims = load(path)["simulations"]
    names = [p["name"] for p in sims[0]["pools"]]
    if name not in names:
        sys.exit(f"paired.py: no pool named {name!r} in {path} (pools: {', '.join(names)})")
    me = names.index(name)
    print(f"{len(sims)} simulations, seeds {sims[0]['seed']}..{sims[-1]['seed']}: {name} − other, edge per simulation (Y)")
    for j, other in enumerate(names):
        if j == me:
            continue
        mean, se = mean_se([s["pools"][me]["edge"] - s["pools"][j]["edge"] for s in sims])
        print(f"  vs {other:<24} {mean:+9.2f} ± {se:6.2f}   ({mean / se:+.1f} se)")


def two_runs(before_path, after_path):
    a, b = load(before_path).get("simulations", []), load(after_path).get("simulations", [])
    if [s["seed"] for s in a] != [s["seed"] for s in b] or not a:
        sys.exit("paired.py: the two runs do not share their seeds (run the same config with the same --sims)")
    names = [p["name"] for p in a[0]["pools"]]
    if names != [p["name"] for p in b[0]["pools"]]:
        sys.exit("paired.py: the two runs do not have the same pools (run the same config)")
    print(f"{len(a)} seeds; AFTER − BEFORE, mean ± standard error, Y per simulation")
    print(f"{'pool':32s} {'edge':>20s} {'retail edge':>20s} {'arb edge':>20s}")
    for k, name in enumerate(names):
        cells = []
        for key in ("edge", "retail_edge", "arb_edge"):
            mean, se = mean_se([y["pools"][k][key] - x["pools"][k][key] for x, y in zip(a, b)])
            cells.append(f"{mean:+.3f} ± {se:.3f}")
        print(f"{name[:32]:32s} {cells[0]:>20s} {cells[1]:>20s} {cells[2]:>20s}")


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "--runs":
        two_runs(args[1], args[2])
    elif len(args) == 2 and args[0] != "--runs":
        one_run(args[0], args[1])
    else:
        sys.exit("usage: paired.py RESULTS.json STRATEGY  |  paired.py --runs BEFORE/results.json AFTER/results.json")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        # A closed pipe (`| head`) is not a crash: stop writing, quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
