#!/usr/bin/env bash
# amm-engine tune against Optuna (its CMA-ES sampler, and TPE with TPE=1) driving
# `amm-engine run --param` as a black box, one process per trial: same strategy (the starter),
# same start (its pre-tuning values), same field (the default market's), same training seeds.
# Optuna gets BUDGET simulations of search; tune gets a third of that in all, its validation
# and test included (per simulation the two cost the same CPU, so a third of the simulations is
# a third of the time; the .time files record wall, user and system seconds to check it).
# Each run's best point is then scored on 1,000 seeds neither saw (4,000,000,000 on), and the
# strategies' mean edges compared paired per seed.
#
#   benches/tune/side_by_side.sh [OUT]     (SEEDS="1 2 3 4 5" optimiser seeds, BUDGET=18000, TPE=1 adds TPE)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/tune-side-by-side}
engine=$root/target/release/amm-engine
venv=${VENV:-$out/venv}
mkdir -p "$out"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q optuna cmaes; }
cargo build --release --manifest-path "$root/Cargo.toml" -q
for s in starter fixed-fee-30 fixed-fee-100; do
  cargo build --release -q --target wasm32-unknown-unknown --manifest-path "$root/strategies/$s/Cargo.toml"
done
wasm=$root/target/wasm32-unknown-unknown/release
cat > "$out/field.toml" <<TOML
# The default market's field, as modules (no cargo in the loop for either tool).
[[strategy]]
path = "$wasm/starter.wasm"
[[strategy]]
path = "$wasm/fixed_fee_30.wasm"
[[strategy]]
path = "$wasm/fixed_fee_100.wasm"
TOML
start="--param base_fee_bps=20 --param vol_to_fee_bps=8000 --param vol_alpha=0.1 --param flow_alpha=0.1 --param low_flow_factor=0.85 --param high_flow_factor=1.15 --param underweight_factor=1.1 --param skew_gain=50 --param skew_cap=0.5 --param min_fee_bps=10 --param max_fee_bps=300"
budget=${BUDGET:-18000}
held() {  # name, --param arguments: the point on 1,000 fresh seeds
  local name=$1; shift
  "$engine" run "$out/field.toml" --sims 1000 --seed-start 4000000000 --quiet --out "$out/held-$name" "$@" >/dev/null 2>&1
}
runs=()
for seed in ${SEEDS:-1 2 3 4 5}; do
  rm -rf "$out/tune-$seed"
  /usr/bin/time -f "%e %U %S" -o "$out/tune-$seed.time" "$engine" tune "$wasm/starter.wasm" "$out/field.toml" \
    --budget $((budget / 3)) --seed "$seed" --out "$out/tune-$seed" --quiet $start > "$out/tune-$seed.log" 2>&1
  held "tune-$seed" $(python3 -c "import json; w=json.load(open('$out/tune-$seed/summary.json'))['winner']; print(' '.join(f'--param 1:{k}={v!r}' for k,v in w.items()))")
  echo "tune seed $seed, budget $((budget / 3)): $(cat "$out/tune-$seed.time") (wall, user, system s)"
  for sampler in cmaes ${TPE:+tpe}; do
    /usr/bin/time -f "%e %U %S" -o "$out/optuna-$sampler-$seed.time" "$venv/bin/python" "$root/benches/tune/optuna_study.py" \
      --engine "$engine" --config "$out/field.toml" --sampler "$sampler" --budget $budget --seeds 128 \
      --seed "$seed" --out "$out/optuna-$sampler-$seed" > "$out/optuna-$sampler-$seed.log" 2>/dev/null
    held "optuna-$sampler-$seed" $(tail -n 1 "$out/optuna-$sampler-$seed.log")
    echo "optuna $sampler seed $seed, $budget search simulations: $(cat "$out/optuna-$sampler-$seed.time") (wall, user, system s; its engine processes included)"
    runs+=("optuna-$sampler-$seed=$out/held-optuna-$sampler-$seed/results.json")
  done
  runs+=("tune-$seed=$out/held-tune-$seed/results.json")
done
held start $(echo $start | sed 's/--param /--param 1:/g')
python3 "$root/benches/tune/methods.py" "Adaptive Starter" "${runs[@]}" "start=$out/held-start/results.json"
