#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Plot a vmar_bench CSV (vmar_bench --csv FILE): one panel per scenario,
# ns per operation against the number of mappings, libvmar and Linux (at
# the size it actually ran, vm.max_map_count permitting), both axes
# logarithmic, with the min-max of the repetitions as error bars and the
# getppid() syscall floor as a dashed line. Three panels differ: remap is
# one size (a 64-page mapping moved), fork is ns per resident page against
# the number of resident pages, and fault_cow ns per fault against the
# pages written in the forked child (neither with the syscall floor). The
# fault throughput rows (mt_*) have one size per thread count and are not
# plotted: vmar_bench prints their rates and scaling.
#   benchmarks/plot.sh RESULTS.csv OUT.png
# Needs gnuplot (Debian: apt-get install gnuplot-nox).
set -euo pipefail

[ $# -eq 2 ] || {
    echo "usage: $0 RESULTS.csv OUT.png" >&2
    exit 2
}
csv=$1 png=$2
command -v gnuplot >/dev/null || {
    echo "plot.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2
    exit 2
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The op column is quoted and holds commas: drop it before splitting.
sed -E 's/"[^"]*"/op/' "$csv" >"$tmp/all.csv"
scenarios=(split_seq merge_seq split_rand merge_rand map_fixed unmap_fixed
    map_any query fault_zero fault_spur remap fork fault_cow)
floor=$(awk -F, 'NR > 1 && $3 == "ns/op" && $13 != "" { print $13; exit }' \
    "$tmp/all.csv")
for s in "${scenarios[@]}"; do
    # n lib_med lib_min lib_max linux_n linux_med linux_min linux_max
    awk -F, -v s="$s" '$1 == s { print $4, $5, $6, $7 }' "$tmp/all.csv" \
        >"$tmp/$s.lib"
    awk -F, -v s="$s" '$1 == s && $8 != "" && !seen[$8]++ {
        print $8, $9, $10, $11 }' "$tmp/all.csv" >"$tmp/$s.linux"
done

{
    echo "set terminal pngcairo size 2800,1000 font 'sans,10'"
    echo "set output '$png'"
    echo "set multiplot layout 2,7 title 'libvmar vs Linux" \
        "syscalls: ns per operation against number of mappings" \
        "(fork: ns per page against resident pages;" \
        "fault_cow: against pages written)'"
    echo "set logscale xy"
    echo "set xlabel 'mappings (N)'"
    echo "set ylabel 'ns/op'"
    echo "set grid"
    echo "set key bottom right noenhanced"
    echo "set format x '10^{%T}'"
    echo "set xrange [50:2e6]"
    for s in "${scenarios[@]}"; do
        case $s in
        remap)
            echo "set xrange [16:256]; set xlabel 'pages moved'"
            echo "set ylabel 'ns/move'" ;;
        fork)
            echo "set xrange [100:2e5]; set xlabel 'resident pages'"
            echo "set ylabel 'ns/page'" ;;
        fault_cow)
            echo "set xrange [30:3e4]; set xlabel 'pages written in the child'"
            echo "set ylabel 'ns/fault'" ;;
        *)
            echo "set xrange [50:2e6]; set xlabel 'mappings (N)'"
            echo "set ylabel 'ns/op'" ;;
        esac
        echo "set title '$s' noenhanced"
        plot="plot '$tmp/$s.lib' using 1:2:3:4 with yerrorlines lw 2"
        plot+=" title 'libvmar'"
        if [ -s "$tmp/$s.linux" ]; then
            plot+=", '$tmp/$s.linux' using 1:2:3:4 with yerrorlines lw 2"
            plot+=" title 'Linux'"
        fi
        if [ -n "$floor" ] && [ "$s" != fork ] && [ "$s" != fault_cow ]; then
            plot+=", $floor with lines dt 2 lc rgb 'gray40'"
            plot+=" title 'getppid floor'"
        fi
        echo "$plot"
    done
    echo "unset multiplot"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "wrote $png"
