#!/usr/bin/env python3
"""Paired per-seed differences between two runs of the same config: did a change move results?

    python3 benches/paired.py BEFORE/results.json AFTER/results.json

Both files must come from `amm-engine run` on the same config and seeds (the script checks the
seeds). For every pool (the strategies by name, then the normalizer) it prints the mean of
AFTER - BEFORE over the seeds, with its standard error, for the edge and its retail and
arbitrage parts (Y per simulation).

Why: a search change can pass every brute-force test and still move results. The searches'
certificate bounds a trade's surplus, not its size, so a different search path stops on a
different sample within the tolerance, and the pool's later flow follows. In session 16 a
change that saved quotes moved the subsidised curve's mean edge by -3.45 +- 0.67 Y per
simulation (about five standard errors) with every search certified (BENCHMARKS.md,
"Session 16"). Run this on the curve benchmark set, before against after, for any change to
where the searches sample; a difference of several standard errors is a results change to
explain, not noise.
"""

import json
import math
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"paired.py: cannot read {path}: {e}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: paired.py BEFORE/results.json AFTER/results.json")
    before, after = load(sys.argv[1]), load(sys.argv[2])
    a, b = before.get("simulations", []), after.get("simulations", [])
    seeds_a, seeds_b = [s["seed"] for s in a], [s["seed"] for s in b]
    if seeds_a != seeds_b or not seeds_a:
        sys.exit("paired.py: the two runs do not share their seeds (run the same config with the same --sims)")
    names = [p["name"] for p in a[0]["pools"]]
    if names != [p["name"] for p in b[0]["pools"]]:
        sys.exit("paired.py: the two runs do not have the same pools (run the same config)")
    print(f"{len(seeds_a)} seeds; AFTER - BEFORE, mean ± standard error, Y per simulation")
    print(f"{'pool':32s} {'edge':>20s} {'retail edge':>20s} {'arb edge':>20s}")
    for k, name in enumerate(names):
        cells = []
        for key in ("edge", "retail_edge", "arb_edge"):
            d = [y["pools"][k][key] - x["pools"][k][key] for x, y in zip(a, b)]
            n = len(d)
            mean = sum(d) / n
            se = math.sqrt(sum((v - mean) ** 2 for v in d) / (n - 1) / n) if n > 1 else float("nan")
            cells.append(f"{mean:+.3f} ± {se:.3f}")
        print(f"{name[:32]:32s} {cells[0]:>20s} {cells[1]:>20s} {cells[2]:>20s}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        # A closed pipe (`| head`) is not a crash: stop writing, quietly.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
