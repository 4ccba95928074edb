#!/usr/bin/env bash
# Headless Chromium test of the dashboard: `orderly sim` + `orderly run` on free loopback ports,
# playwright-core (npm, installed once into the build tree) driving Debian's chromium.
# Usage: run.sh ORDERLY_BIN WORK_DIR
set -euo pipefail
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
if [[ ! -d "$work/node_modules/playwright-core" ]]; then
  (cd "$work" && npm install --silent --no-audit --no-fund --prefix "$work" playwright-core@1 >/dev/null)
fi
cp "$here/dashboard.test.mjs" "$work/"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
sim_port=$(free_port)
api_port=$(free_port)
tmp=$(mktemp -d)
token="dash-$(date +%s%N)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" sim --listen "127.0.0.1:$sim_port" >"$tmp/sim.log" 2>&1 &
pids+=($!)
cat >"$tmp/orderly.toml" <<TOML
[broker]
base_url = "http://127.0.0.1:$sim_port"
key_id = "PKDASHBOARDTEST"
secret_key = "DASHBOARDTESTSECRET"
[store]
url = "sqlite:$tmp/orderly.db"
[api]
listen = "127.0.0.1:$api_port"
token = "$token"
[sync]
poll_interval_ms = 200
idle_poll_interval_ms = 1000
TOML
"$bin" run --config "$tmp/orderly.toml" >"$tmp/run.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  if ORDERLY_API="127.0.0.1:$api_port" "$bin" status >/dev/null 2>&1; then break; fi
  sleep 0.1
done
if ! (cd "$work" && node dashboard.test.mjs "http://127.0.0.1:$api_port" "$token" \
      "http://127.0.0.1:$sim_port" "$work/dashboard.png"); then
  echo "--- orderly run log"; tail -50 "$tmp/run.log"
  exit 1
fi
