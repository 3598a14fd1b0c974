#!/bin/bash
# Distributed tuning, one sitting (BENCHMARKS.md, "Distributed studies"): a study of the starter
# in the default market on this machine (1 thread), then on the PostgreSQL queue with 1 worker
# and with 2 workers (`tune --worker --threads 1`), twice, alternated; each queue study's
# summary.json is compared with the local one. Run it in a scratch directory, after
# `cargo build --release` and `.ci/run postgres` (which prints AMM_TEST_POSTGRES_URL).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
A=$ROOT/target/release/amm-engine
S=$ROOT/target/wasm32-unknown-unknown/release/starter.wasm
C=$ROOT/configs/default.toml
URL=${AMM_TEST_POSTGRES_URL:?start PostgreSQL: .ci/run postgres}
ARGS="--budget 1200 --validation-seeds 50 --test-seeds 100 --finalists 2 --quiet --only base_fee_bps --only min_fee_bps --only vol_to_fee_bps"
TAG=$(date +%s)
for rep in 1 2; do
  /usr/bin/time -f "local-1t rep$rep %e s wall %U+%S cpu" $A tune $S $C --threads 1 --out local$rep $ARGS > local$rep.out 2> local$rep.err
  tail -1 local$rep.err
  for n in 1 2; do
    pids=""
    for w in $(seq 1 $n); do
      $A tune --worker --db $URL --out w$rep-$n-$w --threads 1 > w$rep-$n-$w.log 2>&1 &
      pids="$pids $!"
    done
    sleep 1
    /usr/bin/time -f "queue-${n}w rep$rep %e s wall %U+%S cpu (coordinator)" $A tune $S $C --threads 1 --out q$rep-$n --db $URL --study b${TAG}_${rep}_$n $ARGS > q$rep-$n.out 2> q$rep-$n.err
    tail -2 q$rep-$n.err
    kill $pids; wait $pids 2>/dev/null
    cmp -s local1/summary.json q$rep-$n/summary.json && echo "  summary identical to local" || echo "  SUMMARY DIFFERS"
  done
done
