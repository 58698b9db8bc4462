#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Instruction counts per libvmar operation, which do not drift with the
# load of a shared machine the way wall-clock times do:
#   benchmarks/callgrind.sh [VMAR_BENCH] [--cache[=LL]] [vmar_bench options]
# VMAR_BENCH defaults to build/release/benchmarks/vmar_bench. It runs
#   valgrind --tool=callgrind --instr-atstart=no VMAR_BENCH --callgrind
# in which vmar_bench instruments one batch of each scenario and size
# (CALLGRIND_START_INSTRUMENTATION + ZERO_STATS ... DUMP_STATS_AT), so
# each dump holds exactly those operations (plus the benchmark's loop and
# dispatch, a few instructions per op); then prints Ir per operation.
#
# --cache[=LL] adds callgrind's cache simulation with warm caches: the
# whole run is instrumented (slower: minutes at --max-n 60000), vmar_bench
# --callgrind-cache brackets the same batches with CALLGRIND_TOGGLE_COLLECT,
# and the table gains simulated L1 data misses and last-level misses per
# operation (reads and writes). LL is the simulated last-level cache as
# valgrind's --LL=size,assoc,line (default 8388608,16,64: 8 MiB, about
# what this project's benchmark guest measured as its effective last
# level). The simulation has no hardware prefetcher: a miss it counts on
# the line next to a missed one may be a hit on a real core.
# The dumps stay in a temporary directory that is printed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench=build/release/benchmarks/vmar_bench
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    bench=$1
    shift
fi
cache=
case "${1:-}" in
--cache) cache=8388608,16,64; shift ;;
--cache=*) cache=${1#--cache=}; shift ;;
esac
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
if [ -n "$cache" ]; then
    vg=(--cache-sim=yes --collect-atstart=no --LL="$cache"
        --compress-strings=no)
    mode=--callgrind-cache
else
    vg=(--instr-atstart=no)
    mode=--callgrind
fi
valgrind --tool=callgrind "${vg[@]}" \
    --callgrind-out-file="$out/callgrind.out" \
    "$bench" "$mode" "$@" >"$out/bench.log" 2>"$out/valgrind.log" || {
    cat "$out/bench.log" "$out/valgrind.log" >&2
    exit 1
}

# One dump per region: "desc: Trigger: Client Request: scenario=S n=N
# ops=K", "events: NAME..." and "totals: COUNT..." in the events' order
# (older valgrinds write "summary:").
if [ -n "$cache" ]; then
    printf '%-12s %9s %7s %14s %10s %8s %8s\n' scenario N ops Ir "Ir/op" \
        "D1m/op" "LLm/op"
else
    printf '%-12s %9s %7s %14s %10s\n' scenario N ops Ir "Ir/op"
fi
for f in "$out"/callgrind.out.*; do
    awk -v cache="$cache" '
        /^desc: Trigger: Client Request: scenario=/ {
            for (i = 1; i <= NF; i++) {
                split($i, kv, "=")
                if (kv[1] == "scenario") s = kv[2]
                if (kv[1] == "n") n = kv[2]
                if (kv[1] == "ops") k = kv[2]
            }
        }
        /^events: / { for (i = 2; i <= NF; i++) ev[$i] = i }
        /^(totals|summary): / {
            for (i = 2; i <= NF; i++) tot[i] = $i
        }
        END {
            if (s == "")
                exit
            ir = tot[ev["Ir"]]
            if (cache == "") {
                printf "%-12s %9d %7d %14d %10.0f\n", s, n, k, ir, ir / k
                exit
            }
            d1 = tot[ev["D1mr"]] + tot[ev["D1mw"]]
            ll = tot[ev["DLmr"]] + tot[ev["DLmw"]]
            printf "%-12s %9d %7d %14d %10.0f %8.2f %8.2f\n", s, n, k, ir,
                ir / k, d1 / k, ll / k
        }' "$f"
done | sort -k1,1 -k2,2n -s >"$out/table"
# Every region the benchmark marked must have left one row with counts.
dumps=$(grep -l '^desc: Trigger: Client Request: scenario=' \
    "$out"/callgrind.out.* 2>/dev/null | wc -l)
rows=$(awk '$4 > 0' "$out/table" | wc -l)
cat "$out/table"
echo "(dumps and logs: $out)"
if [ "$dumps" -eq 0 ] || [ "$rows" -ne "$dumps" ]; then
    echo "callgrind.sh: $dumps marked regions, $rows rows with counts" >&2
    exit 1
fi
