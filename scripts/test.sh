#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Configure, build and test libvmar the way CI does (.ci/run calls this):
#   dev       Debug -O1, warnings as errors: unit tests, demo, freestanding
#             gate, format check, packaging (install + external consumer),
#             docs (Doxygen, no warning allowed) and the QEMU test kernels
#             (tests/qemu/: x86-64 and RISC-V, label qemu)
#   asan      the same under AddressSanitizer + UndefinedBehaviorSanitizer
#             (the QEMU kernels are built without sanitizers)
#   valgrind  the unit tests and the demo under valgrind memcheck; any
#             memcheck error or leak fails (label qemu is left out)
#   tsan      ThreadSanitizer over the concurrency tests (label concurrency)
#   plain     no preset: the plain idiom `cmake -S . -B build/plain &&
#             cmake --build build/plain` with CMake's default generator
#             (Unix Makefiles on Linux; the presets use Ninja, which hides
#             rules that rely on Ninja creating output directories), then
#             the demo and the QEMU kernels it built (labels demo, qemu)
# Every step runs even after a failure; the exit status is non-zero if any
# step failed. Installs the tools with apt-get first when they are missing.
# VMAR_TEST_PRESETS="dev asan" limits the run (plain counts as a preset);
# VMAR_JOBS sets the parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/ensure-packages.sh

presets=${VMAR_TEST_PRESETS:-dev asan valgrind tsan plain}
jobs=${VMAR_JOBS:-$(nproc 2>/dev/null || echo 2)}

vmar_ensure_packages cmake ninja-build gcc libc6-dev pkg-config \
    libcmocka-dev libatomic-ops-dev valgrind clang-format \
    gcc-riscv64-unknown-elf doxygen qemu-system-x86 qemu-system-misc

summary=()
npass=0
nfail=0
status=0
t_all=$SECONDS

for p in $presets; do
    log=$(mktemp)
    t0=$SECONDS
    step="configure"
    if [ "$p" = plain ]; then
        # CMAKE_GENERATOR unset: the generator CMake picks by itself.
        configure=(env -u CMAKE_GENERATOR cmake -S . -B build/plain)
        build=(cmake --build build/plain -j "$jobs")
        check=(ctest --test-dir build/plain -j "$jobs" -L '^(demo|qemu)$'
            --output-on-failure --no-tests=error)
    else
        configure=(cmake --preset "$p")
        build=(cmake --build --preset "$p" -j "$jobs")
        # The test preset adds --output-on-failure and --no-tests=error.
        check=(ctest --preset "$p" -j "$jobs")
        # tsan: only what the concurrency tests need.
        if [ "$p" = tsan ]; then
            build+=(--target test_concurrency)
            check+=(-L concurrency)
        fi
    fi
    echo "==== [$p] configure"
    if "${configure[@]}"; then
        step="build"
        echo "==== [$p] build"
        if "${build[@]}"; then
            step="test"
            echo "==== [$p] ${check[*]}"
            if "${check[@]}" 2>&1 | tee "$log"; then
                step="ok"
            fi
        fi
    fi
    # ctest's closing line: "100% tests passed, 0 tests failed out of 12".
    # The first one counts: under valgrind it is the inner memcheck run's.
    counts=$(sed -nE 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' "$log" | head -n 1)
    rm -f "$log"
    tests="-"
    if [ -n "$counts" ]; then
        read -r f n <<<"$counts"
        npass=$((npass + n - f))
        nfail=$((nfail + f))
        tests="$((n - f))/$n passed"
    fi
    if [ "$step" = ok ]; then
        result=ok
    else
        result="FAILED at $step"
        status=1
        # A step that failed before ctest counted anything counts as one.
        if [ "$step" != test ] || [ -z "$counts" ]; then
            nfail=$((nfail + 1))
        fi
    fi
    summary+=("$(printf '%-9s %-18s %-16s %4ss' "$p" "$result" "$tests" $((SECONDS - t0)))")
done

echo
echo "==== summary (${jobs} jobs, $((SECONDS - t_all))s)"
printf '%s\n' "${summary[@]}"
echo "total: $npass passed, $nfail failed"
exit "$status"
