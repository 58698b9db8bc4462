#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Instruction counts per libvmar operation, which do not drift with the
# load of a shared machine the way wall-clock times do:
#   benchmarks/callgrind.sh [VMAR_BENCH] [vmar_bench options, e.g. --max-n N]
# VMAR_BENCH defaults to build/release/benchmarks/vmar_bench. It runs
#   valgrind --tool=callgrind --instr-atstart=no VMAR_BENCH --callgrind
# in which vmar_bench instruments one batch of each scenario and size
# (CALLGRIND_START_INSTRUMENTATION + ZERO_STATS ... DUMP_STATS_AT), so
# each dump holds exactly those operations (plus the benchmark's loop and
# dispatch, a few instructions per op); then prints Ir per operation.
# The dumps stay in a temporary directory that is printed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench=build/release/benchmarks/vmar_bench
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    bench=$1
    shift
fi
[ -x "$bench" ] || {
    echo "callgrind.sh: no $bench (build: cmake --preset release &&" \
        "cmake --build --preset release --target vmar_bench)" >&2
    exit 2
}
command -v valgrind >/dev/null || {
    echo "callgrind.sh: valgrind not found (apt-get install valgrind)" >&2
    exit 2
}

out=$(mktemp -d /tmp/vmar-callgrind.XXXXXX)
valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out/callgrind.out" \
    "$bench" --callgrind "$@" >"$out/bench.log" 2>"$out/valgrind.log" || {
    cat "$out/bench.log" "$out/valgrind.log" >&2
    exit 1
}

# One dump per region: "desc: Trigger: Client Request: scenario=S n=N
# ops=K" and "totals: IR" (older valgrinds write "summary:").
printf '%-12s %9s %7s %14s %10s\n' scenario N ops Ir "Ir/op"
for f in "$out"/callgrind.out.*; do
    awk '
        /^desc: Trigger: Client Request: scenario=/ {
            for (i = 1; i <= NF; i++) {
                split($i, kv, "=")
                if (kv[1] == "scenario") s = kv[2]
                if (kv[1] == "n") n = kv[2]
                if (kv[1] == "ops") k = kv[2]
            }
        }
        /^(totals|summary): / { ir = $2 }
        END {
            if (s != "")
                printf "%-12s %9d %7d %14d %10.0f\n", s, n, k, ir, ir / k
        }' "$f"
done | sort -k1,1 -k2,2n -s
echo "(dumps and logs: $out)"
