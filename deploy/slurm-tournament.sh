#!/usr/bin/env bash
# Run a tournament as a Slurm job array (one shard per task), then merge, as a dependent job.
#
#   deploy/slurm-tournament.sh configs/tournament.toml 16
#
# Needs amm-engine on PATH on the compute nodes (or AMM_ENGINE=/path/to/amm-engine) and a
# shared filesystem for the output directory.
set -euo pipefail
config="${1:?usage: slurm-tournament.sh CONFIG SHARDS [OUT]}"
shards="${2:?usage: slurm-tournament.sh CONFIG SHARDS [OUT]}"
out="${3:-results/$(basename "$config" .toml)}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
array=$(sbatch --parsable --job-name=amm-shards --array="0-$((shards - 1))" --cpus-per-task=2 \
  --output="$out/shard-%a.log" \
  --export=ALL,CONFIG="$config",SHARDS="$shards",OUT="$out" "$here/shard-task.sh")
sbatch --job-name=amm-merge --dependency="afterok:$array" --output="$out/merge.log" \
  --wrap="${AMM_ENGINE:-amm-engine} merge $out/shard-* --out $out/merged"
echo "submitted shards as job $array; merged results will be in $out/merged"
