#!/usr/bin/env bash
# One shard of a tournament, as run by one task of a job array.
#
#   CONFIG=configs/tournament.toml SHARDS=8 OUT=results/tournament deploy/shard-task.sh
#
# The shard index comes from the scheduler: JOB_COMPLETION_INDEX (Kubernetes Indexed Job),
# SLURM_ARRAY_TASK_ID (Slurm job array, 0-based: --array=0-<SHARDS-1>), or SHARD_INDEX. The
# shard's output goes to $OUT/shard-<index>; when every task is done, combine them with
#
#   amm-engine merge $OUT/shard-* --out $OUT/merged
#
# Environment: CONFIG (required), SHARDS (required), OUT (default results/<config name>),
# AMM_ENGINE (default: amm-engine on PATH). Extra arguments are passed to `amm-engine run`.
set -euo pipefail
: "${CONFIG:?set CONFIG to the tournament configuration}"
: "${SHARDS:?set SHARDS to the number of shards}"
index="${JOB_COMPLETION_INDEX:-${SLURM_ARRAY_TASK_ID:-${SHARD_INDEX:-}}}"
if [ -z "$index" ]; then
  echo "shard-task.sh: no shard index (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or SHARD_INDEX)" >&2
  exit 2
fi
name="$(basename "$CONFIG" .toml)"
out="${OUT:-results/$name}"
engine="${AMM_ENGINE:-amm-engine}"
exec "$engine" run "$CONFIG" --shard "$index/$SHARDS" --out "$out/shard-$index" --quiet "$@"
