#!/usr/bin/env bash
# The curve benchmark set (benches/curves/*.rs, one file per curve family, in the Prop AMM
# Challenge's single-file form) in the reference setting: each strategy alone against the
# normalizer, 10,000 steps, seeds 0..N-1. Prints, per family, amm-engine's mean edge, calls per
# step, CPU seconds (user + sys) and ms of CPU per simulation; with REF=DIR (a checkout of the
# reference challenge built with `cargo build --release -p prop-amm` from DIR) the reference
# engine runs the same file natively beside it, in the same sitting; with BEFORE=BINARY another
# amm-engine build (the commit before a change) runs beside it too. ROUNDS=K (default 1) repeats
# each family's runs K times, interleaved (ours, before, reference, ours, ...), and prints the
# mean CPU, so that a machine whose speed drifts drifts alike for every column. FILES='a.rs b.rs'
# (paths) runs only those families.
#
#   cargo build --release && benches/curves.sh 1000
#   REF=../prop-amm-challenge BEFORE=/tmp/amm-engine-before ROUNDS=2 benches/curves.sh 50
set -euo pipefail
cd "$(dirname "$0")/.."
sims=${1:-100}
bin=${AMM:-$PWD/target/release/amm-engine}
rounds=${ROUNDS:-1}
case "$rounds" in
'' | *[!0-9]* | 0) echo "curves.sh: ROUNDS must be a whole number of at least 1 (got '$rounds')" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cpu_of() { awk '{print $1 + $2}' "$1"; }
mean() { echo "$@" | awk '{s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s / NF}'; }
printf '%-22s %10s %8s %8s %9s' family "mean edge" calls "cpu s" "ms/sim"
[ -n "${BEFORE:-}" ] && printf ' %8s %8s %9s' "b calls" "b cpu" "b ms/sim"
[ -n "${REF:-}" ] && printf ' %10s %8s %9s %7s' "ref edge" "ref cpu" "ref ms" ratio
printf '\n'
for file in ${FILES:-benches/curves/*.rs}; do
    name=$(basename "$file" .rs)
    cfg="$out/$name.toml"
    printf '[run]\nsimulations = %s\nsteps = 10000\nepoch_len = 1000\n[[strategy]]\npath = "%s"\n' \
        "$sims" "$PWD/$file" >"$cfg"
    "$bin" run "$cfg" --quiet --sims 2 --out "$out/warm" >/dev/null 2>&1 # build once, untimed
    if [ -n "${REF:-}" ]; then
        (cd "$REF" && ./target/release/prop-amm run "$OLDPWD/$file" --simulations 2 >/dev/null 2>&1)
    fi
    ours="" before="" ref=""
    for _ in $(seq "$rounds"); do
        /usr/bin/time -f '%U %S' -o "$out/time" "$bin" run "$cfg" --quiet --out "$out/$name" >"$out/log" 2>&1
        ours="$ours $(cpu_of "$out/time")"
        if [ -n "${BEFORE:-}" ]; then
            /usr/bin/time -f '%U %S' -o "$out/btime" "$BEFORE" run "$cfg" --quiet --out "$out/b-$name" >"$out/blog" 2>&1
            before="$before $(cpu_of "$out/btime")"
        fi
        if [ -n "${REF:-}" ]; then
            (cd "$REF" && /usr/bin/time -f '%U %S' -o "$out/rtime" ./target/release/prop-amm run "$OLDPWD/$file" \
                --simulations "$sims" >"$out/rlog" 2>&1)
            ref="$ref $(cpu_of "$out/rtime")"
        fi
    done
    cpu=$(mean $ours)
    edge=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["strategies"][0]["mean_edge"])' \
        "$out/$name/results.json")
    calls=$(sed -n 's/^calls per step \([0-9.]*\).*/\1/p' "$out/log")
    printf '%-22s %10s %8s %8.2f %9.1f' "$name" "$edge" "$calls" "$cpu" "$(echo "$cpu * 1000 / $sims" | bc -l)"
    if [ -n "${BEFORE:-}" ]; then
        bcpu=$(mean $before)
        bcalls=$(sed -n 's/^calls per step \([0-9.]*\).*/\1/p' "$out/blog")
        printf ' %8s %8.2f %9.1f' "$bcalls" "$bcpu" "$(echo "$bcpu * 1000 / $sims" | bc -l)"
    fi
    if [ -n "${REF:-}" ]; then
        rcpu=$(mean $ref)
        redge=$(sed -n 's/.*Avg edge[^0-9-]*\([-0-9.]*\).*/\1/p' "$out/rlog" | head -n 1)
        printf ' %10s %8.2f %9.1f %6.1fx' "$redge" "$rcpu" "$(echo "$rcpu * 1000 / $sims" | bc -l)" \
            "$(echo "$rcpu / $cpu" | bc -l)"
    fi
    printf '\n'
done
