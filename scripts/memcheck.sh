#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ctest test `memcheck` (valgrind preset, see cmake/testing.cmake):
#   memcheck.sh CTEST BUILD_DIR CONFIG JOBS
# runs every test of BUILD_DIR except labels lint, memcheck, packaging,
# docs (they run bash, cmake and doxygen, nothing of libvmar), qemu
# (valgrind would watch QEMU, not the kernel that runs inside it),
# concurrency (valgrind runs one thread at a time; TSan checks it) and
# linux (the oracle child needs a fixed window of the address space that
# valgrind's own mappings may occupy; asan runs it) under
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

rm -f "$tmp"/MemoryChecker.*.log
rc=0
"$ctest" --test-dir "$dir" -C "$config" -T memcheck -LE '^(lint|memcheck|packaging|docs|qemu|concurrency|linux)$' \
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
