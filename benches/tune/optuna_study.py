#!/usr/bin/env python3
"""Optuna driving `amm-engine run --param ...` as a black box, one process per trial.

The yardstick for `amm-engine tune` (BENCHMARKS.md, "Tuning"): the same strategy, start, field
and seed budget, on the same training seeds (every trial runs the same SEEDS seeds from
--seed-base, so trials pair exactly as tune's candidates do). Prints one JSON line per trial and,
at the end, the best trial's parameters as `--param` arguments.

    optuna_study.py --engine target/release/amm-engine --config FIELD.toml \
        --sampler cmaes --budget 18000 --seeds 128 --out /tmp/optuna-cmaes
"""

import argparse
import json
import os
import subprocess
import sys
import time

import optuna

# The starter's declared parameters (strategies/starter/src/lib.rs): name, low, high, log.
SPACE = [
    ("base_fee_bps", 1.0, 300.0, True),
    ("vol_to_fee_bps", 0.0, 50000.0, False),
    ("vol_alpha", 0.005, 0.5, True),
    ("flow_alpha", 0.005, 0.5, True),
    ("low_flow_factor", 0.3, 1.5, False),
    ("high_flow_factor", 0.5, 3.0, False),
    ("underweight_factor", 0.5, 2.0, False),
    ("skew_gain", 0.0, 500.0, False),
    ("skew_cap", 0.0, 0.95, False),
    ("min_fee_bps", 0.0, 100.0, False),
    ("max_fee_bps", 10.0, 1000.0, True),
]
START = {
    "base_fee_bps": 20.0,
    "vol_to_fee_bps": 8000.0,
    "vol_alpha": 0.1,
    "flow_alpha": 0.1,
    "low_flow_factor": 0.85,
    "high_flow_factor": 1.15,
    "underweight_factor": 1.1,
    "skew_gain": 50.0,
    "skew_cap": 0.5,
    "min_fee_bps": 10.0,
    "max_fee_bps": 300.0,
}


def run(engine, config, params, seeds, seed_base, out, entrant):
    args = [engine, "run", config, "--sims", str(seeds), "--seed-start", str(seed_base), "--quiet", "--out", out]
    for k, v in params.items():
        args += ["--param", f"{entrant}:{k}={v!r}"]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    return results["strategies"][entrant - 1]["mean_edge"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engine", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--sampler", choices=["cmaes", "tpe"], default="cmaes")
    p.add_argument("--budget", type=int, default=18000, help="simulations in all")
    p.add_argument("--seeds", type=int, default=128, help="training seeds per trial")
    p.add_argument("--seed-base", type=int, default=1_000_000_000)
    p.add_argument("--entrant", type=int, default=1, help="the tuned strategy's place in the config, from 1")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.sampler == "cmaes":
        sampler = optuna.samplers.CmaEsSampler(x0=START, sigma0=None, seed=a.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=a.seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(START)
    started = time.time()

    def objective(trial):
        params = {name: trial.suggest_float(name, lo, hi, log=log) for name, lo, hi, log in SPACE}
        score = run(a.engine, a.config, params, a.seeds, a.seed_base, os.path.join(a.out, "trial"), a.entrant)
        print(json.dumps({"trial": trial.number, "elapsed": round(time.time() - started, 2), "score": score}), flush=True)
        return score

    study.optimize(objective, n_trials=max(1, a.budget // a.seeds))
    best = study.best_trial
    print(json.dumps({"best": best.value, "elapsed": round(time.time() - started, 2), "params": best.params}))
    print(" ".join(f"--param {a.entrant}:{k}={v!r}" for k, v in best.params.items()))


if __name__ == "__main__":
    sys.exit(main())
