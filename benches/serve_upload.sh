#!/usr/bin/env bash
# Upload-to-ranked-row latency of `amm-engine serve` (issue 9's target: ≤ 15 s for a
# 1,000-seed evaluation on a 2-core machine). Starts a server on a loopback port with
# configs/competition.toml's market and house field over SEEDS public seeds (default 1000),
# waits until the house field's baseline evaluation is on the board, then uploads one example
# module and times until its row is on /api/leaderboard. Needs curl and a release build:
#   cargo build --release && benches/serve_upload.sh [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-1000}
bin=target/release/amm-engine
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

# The shipped competition with the seed count replaced; house paths made absolute.
sed -e "s/^public_seeds = .*/public_seeds = { start = 0, count = $seeds }/" \
    -e "s|\.\./strategies/|$PWD/strategies/|" configs/competition.toml > "$work/competition.toml"
token=$($bin token create bench --data "$work/data")
$bin serve "$work/competition.toml" --data "$work/data" --listen 127.0.0.1:0 > "$work/stdout" 2> "$work/log" &
server=$!
for _ in $(seq 600); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/stdout")
echo "server at $url; waiting for the baseline evaluation ($seeds seeds)" >&2
until curl -sf "$url/api/leaderboard" | grep -q '"baseline":true'; do sleep 0.2; done

cargo build --quiet --release --target wasm32-unknown-unknown -p volatility-fee
module=target/wasm32-unknown-unknown/release/volatility_fee.wasm
start=$(date +%s.%N)
answer=$(curl -sf -H "Authorization: Bearer $token" -F module=@"$module" "$url/api/submissions")
id=$(echo "$answer" | sed -n 's/.*"submission":\([0-9]*\).*/\1/p')
until curl -sf "$url/api/leaderboard" | grep -q "\"submission\":$id,"; do sleep 0.05; done
end=$(date +%s.%N)
echo "upload to ranked row, $seeds seeds: $(echo "$end - $start" | bc -l | xargs printf '%.1f') s (submission $id)"
