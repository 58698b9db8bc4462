#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ctest test `memcheck` (valgrind preset, see cmake/testing.cmake):
#   memcheck.sh CTEST BUILD_DIR CONFIG JOBS
# runs every test of BUILD_DIR except labels lint, memcheck, packaging,
# docs (they run bash, cmake and doxygen, nothing of libvmar), qemu
# (valgrind would watch QEMU, not the kernel that runs inside it; the
# same core and backends run under valgrind in every other test) and
# linux_long (the 4 x 25 000-operation Linux runs; linux_random_short
# stands in for them) under
# `ctest -T memcheck` (MEMORYCHECK_COMMAND and its options come from the
# configure preset, through DartConfiguration.tcl). valgrind's
# --error-exitcode=1 turns each error or leak into a failed test, and so
# into a failed run; then this prints valgrind's report of each one.
set -euo pipefail

[ $# -eq 4 ] || {
    echo "usage: $0 CTEST BUILD_DIR CONFIG JOBS" >&2
    exit 2
}
ctest=$1 dir=$2 config=$3 jobs=$4
tmp=$dir/Testing/Temporary

# The concurrency suite (per backend) gets 1 s instead of 2 under valgrind
# (its timed scenarios share that budget), which serialises threads (--fair-sched=yes in the preset lets every thread
# run); the linux tests' oracle child execs itself, so the kernel side runs
# natively and only the layer's side is under valgrind.
export VMAR_TEST_SECONDS=1

rm -f "$tmp"/MemoryChecker.*.log
rc=0
"$ctest" --test-dir "$dir" -C "$config" -T memcheck -LE '^(lint|memcheck|packaging|docs|qemu|linux_long)$' \
    -j "$jobs" --output-on-failure --no-tests=error || rc=$?

if [ "$rc" -ne 0 ]; then
    # valgrind runs with -q: a non-empty log holds errors or leaks.
    "$ctest" --test-dir "$dir" -C "$config" -N |
        sed -nE 's/^ *Test +#([0-9]+): +(.*)$/\1 \2/p' |
        while read -r n name; do
            log=$tmp/MemoryChecker.$n.log
            [ -s "$log" ] || continue
            echo
            echo "==== valgrind report of $name ($log)"
            cat "$log"
        done
fi
exit "$rc"
