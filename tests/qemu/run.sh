#!/bin/sh
# SPDX-License-Identifier: MIT
#
# ctest wrapper for the QEMU test kernels (tests/qemu/CMakeLists.txt).
#
#   run.sh [--expect TEXT]... STATUS QEMU-COMMAND...
#       Run QEMU-COMMAND under `timeout 60` with stdin from /dev/null and
#       pass only when all of these hold: it exits with STATUS (33 for the
#       x86 kernel's isa-debug-exit pass, 0 for the RISC-V SiFive test
#       device), its output has a line starting "ALL PASS" and no line
#       starting "FAIL", and it contains every TEXT. Status alone is not
#       enough: a triple fault (x86, -no-reboot) and an SBI shutdown or
#       reset (RISC-V) also exit with 0.
#   run.sh --stream PROG OPS [--expect TEXT]... STATUS QEMU-COMMAND...
#       The same, and the random stream must agree with the sim: PROG
#       (vmar_qemu_stream) runs seed 1 for OPS operations on the host and
#       its "stream ..." line must appear in the kernel's output (the
#       caller passes stream.ops=OPS to the kernel).
#   run.sh --broken QEMU-COMMAND...
#       The kernel built with VMAR_QEMU_BROKEN_SHOOTDOWN: pass only when
#       the SMP scenarios caught it, i.e. the output has a CPU's failure
#       line ("FAIL smp_... cpu ...") and no "ALL PASS".
#   run.sh --missing WHAT
#       Fail with a message naming the missing tool: configure registers
#       this instead of skipping when a compiler or QEMU is absent.
set -u

expect=""
broken=0
while [ $# -gt 0 ]; do
    case $1 in
    --broken)
        broken=1
        shift
        ;;
    --stream)
        if ! line=$("$2" 1 "$3"); then
            echo "run.sh: FAIL: the stream disagrees with the sim" \
                "on the host: $line" >&2
            exit 1
        fi
        expect="$expect$line
"
        shift 3
        ;;
    --missing)
        echo "run.sh: FAIL: $2 was not found when CMake configured this" \
            "build; install it and re-run cmake" >&2
        exit 1
        ;;
    --expect)
        expect="$expect$2
"
        shift 2
        ;;
    *)
        break
        ;;
    esac
done
if [ $# -lt 2 ]; then
    echo "usage: run.sh [--expect TEXT]... STATUS QEMU-COMMAND..." >&2
    exit 2
fi
if [ $broken -eq 0 ]; then
    want=$1
    shift
fi

out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
timeout 60 "$@" </dev/null >"$out" 2>&1
status=$?
cat "$out"

if [ $broken -eq 1 ]; then
    if grep -q '^ALL PASS' "$out"; then
        echo "run.sh: FAIL: a broken shootdown passed" >&2
        exit 1
    fi
    if ! grep -q '^FAIL smp_[a-z_]* cpu ' "$out"; then
        echo "run.sh: FAIL: no CPU reported the broken shootdown" \
            "(status $status)" >&2
        exit 1
    fi
    echo "run.sh: the broken shootdown was caught (status $status)"
    exit 0
fi

fail=0
if [ "$status" -eq 124 ]; then
    echo "run.sh: FAIL: timed out after 60 s" >&2
    fail=1
elif [ "$status" -ne "$want" ]; then
    echo "run.sh: FAIL: exit status $status, expected $want" >&2
    fail=1
fi
if ! grep -q '^ALL PASS' "$out"; then
    echo "run.sh: FAIL: no \"ALL PASS\" line" >&2
    fail=1
fi
if grep -q '^FAIL' "$out"; then
    echo "run.sh: FAIL: a scenario failed" >&2
    fail=1
fi
printf '%s' "$expect" | while IFS= read -r text; do
    if ! grep -qF -- "$text" "$out"; then
        echo "run.sh: FAIL: output lacks \"$text\"" >&2
        exit 1
    fi
done || fail=1
exit $fail
