#!/usr/bin/env bash
# ctest driver: installs the pinned Alpaca SDK (package-lock.json) into a cache dir in the build
# tree, starts `orderly sim` on a free port with keys, runs conformance.js, stops the sim.
#   run_conformance.sh ORDERLY_BIN SOURCE_DIR CACHE_DIR
set -euo pipefail
orderly=$1 src=$2 cache=$3

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: '$tool' is not installed; the SDK conformance test needs Node.js >= 20 and npm" >&2
    exit 1
  fi
done

mkdir -p "$cache"
if [[ ! -d "$cache/node_modules/@alpacahq/alpaca-trade-api" ]] ||
   ! cmp -s "$src/package-lock.json" "$cache/package-lock.json"; then
  cp "$src/package.json" "$src/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund)
fi
cp "$src/conformance.js" "$cache/"

key=conformance-key
secret=conformance-secret-$RANDOM$RANDOM
out=$cache/sim.out
"$orderly" sim --listen 127.0.0.1:0 --key "$key" --secret "$secret" >"$out" 2>"$cache/sim.err" &
sim=$!
trap 'kill -TERM $sim 2>/dev/null || true' EXIT

port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/^orderly sim listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
  [[ -n "$port" ]] && break
  kill -0 $sim 2>/dev/null || { echo "FAIL: orderly sim exited:" >&2; cat "$cache/sim.err" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "FAIL: orderly sim printed no listening line" >&2; exit 1; }

status=0
node "$cache/conformance.js" "http://127.0.0.1:$port" "$key" "$secret" || status=$?

kill -TERM $sim
sim_status=0
wait $sim || sim_status=$?
trap - EXIT
if [[ $sim_status -ne 0 ]]; then
  echo "FAIL: orderly sim exited with $sim_status on SIGTERM" >&2
  status=1
fi
exit $status
