#!/usr/bin/env bash
# Builds the request-path fuzzer with clang (libFuzzer + ASan/UBSan) from the sources directly and
# runs it for a bounded time.   tests/sim_server/fuzz/run_fuzz.sh [SECONDS] [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
seconds=${1:-60}
out=${2:-$root/build-fuzz}
mkdir -p "$out/corpus"
command -v clang++ >/dev/null || { echo "clang++ not installed: fuzzer skipped" >&2; exit 0; }
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$root/src")
libs=(-lboost_json -lboost_url -lfmt -lpthread)
# With the model when this clang compiles it (clang < 16 rejects lambdas that capture structured
# bindings, which src/sim uses); otherwise the server's own parsers and Beast's, without it.
if ! clang++ "${flags[@]}" -DFUZZ_MODEL=1 "$root/tests/sim_server/fuzz/sim_request_fuzz.cc" \
       "$root/src/sim/server/protocol.cc" "$root"/src/sim/*.cc "$root"/src/core/*.cc "${libs[@]}" \
       -o "$out/sim_request_fuzz" 2>"$out/model_build.log"; then
  echo "model does not build with $(clang++ --version | head -1); fuzzing without it" >&2
  clang++ "${flags[@]}" -DFUZZ_MODEL=0 "$root/tests/sim_server/fuzz/sim_request_fuzz.cc" \
    "$root/src/sim/server/protocol.cc" "$root"/src/core/*.cc "${libs[@]}" -o "$out/sim_request_fuzz"
fi
printf 'POST /v2/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 86\r\n\r\n{"symbol":"STWD","qty":"37","side":"buy","type":"market","time_in_force":"day"}      ' \
  >"$out/corpus/order"
printf 'GET /v2/orders?status=all&limit=500&direction=asc HTTP/1.1\r\nHost: x\r\n\r\n' >"$out/corpus/list"
"$out/sim_request_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=5 "$out/corpus"
