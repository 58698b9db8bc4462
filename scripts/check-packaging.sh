#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The packaging tests (ctest label "packaging", see cmake/packaging.cmake).
#
#   check-packaging.sh install BUILD_DIR CONFIG PREFIX SOURCE_DIR
#       `cmake --install BUILD_DIR --prefix PREFIX` into an emptied PREFIX,
#       list the tree and check that every SOURCE_DIR/include/vmar/*.h, the
#       archives, the CMake package and vmar.pc are there.
#   check-packaging.sh consumer MODE SOURCE_DIR PREFIX WORK_DIR
#       Configure, build and run tests/packaging/consumer in an emptied
#       WORK_DIR, MODE being package (find_package from PREFIX), pkgconfig
#       (pkg-config from PREFIX; also a plain `cc $(pkg-config ...)` build,
#       which checks the Libs order of the static archives), subdirectory
#       or fetchcontent (libvmar from SOURCE_DIR as a subproject).
#
# The environment passes the outer build's tools and flags on:
# VMAR_PKG_GENERATOR, VMAR_PKG_MAKE_PROGRAM, VMAR_PKG_CC, VMAR_PKG_CFLAGS
# and VMAR_PKG_LDFLAGS (the sanitizer flags: archives built with
# -fsanitize=address need its runtime when the consumer links).
set -euo pipefail

die() {
    echo "check-packaging: $*" >&2
    exit 2
}

do_install() {
    local build=$1 config=$2 prefix=$3 src=$4
    [ -d "$build" ] || die "no build directory $build"
    rm -rf "$prefix"
    cmake --install "$build" --config "$config" --prefix "$prefix" >/dev/null
    echo "== install tree $prefix"
    (cd "$prefix" && find . -type f | sort | sed 's|^\./|  |')

    local missing=() f
    for f in "$src"/include/vmar/*.h; do
        f=include/vmar/${f##*/}
        [ -f "$prefix/$f" ] || missing+=("$f")
    done
    for f in libvmar_core.a libvmar_mmu_radix.a libvmar_mmu_sim.a \
        cmake/vmar/vmarConfig.cmake cmake/vmar/vmarConfigVersion.cmake \
        cmake/vmar/vmarTargets.cmake pkgconfig/vmar.pc; do
        compgen -G "$prefix/lib*/$f" >/dev/null ||
            compgen -G "$prefix/lib*/*/$f" >/dev/null || missing+=("lib/$f")
    done
    if [ ${#missing[@]} -ne 0 ]; then
        echo "FAIL: not installed: ${missing[*]}"
        return 1
    fi
    echo "OK: headers, archives, CMake package and vmar.pc installed"
}

pc_dir() { # prefix
    local pc
    pc=$(find "$1" -name vmar.pc -path '*/pkgconfig/*' | head -n 1)
    [ -n "$pc" ] || die "no vmar.pc under $1 (run the install test first)"
    dirname "$pc"
}

do_consumer() {
    local mode=$1 src=$2 prefix=$3 work=$4
    local cc=${VMAR_PKG_CC:-cc} cflags=${VMAR_PKG_CFLAGS:-}
    local ldflags=${VMAR_PKG_LDFLAGS:-}
    local args=(-S "$src/tests/packaging/consumer" -B "$work/build"
        -DVMAR_CONSUMER_MODE="$mode" -DCMAKE_BUILD_TYPE=Debug
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags"
        -DCMAKE_EXE_LINKER_FLAGS="$ldflags"
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
    [ -n "${VMAR_PKG_GENERATOR:-}" ] && args+=(-G "$VMAR_PKG_GENERATOR")
    [ -n "${VMAR_PKG_MAKE_PROGRAM:-}" ] &&
        args+=(-DCMAKE_MAKE_PROGRAM="$VMAR_PKG_MAKE_PROGRAM")

    rm -rf "$work"
    mkdir -p "$work"
    case "$mode" in
    package)
        [ -d "$prefix" ] || die "no install prefix $prefix"
        args+=(-DCMAKE_PREFIX_PATH="$prefix")
        ;;
    pkgconfig)
        local pcd
        pcd=$(pc_dir "$prefix")
        export PKG_CONFIG_PATH="$pcd"
        echo "== pkg-config --cflags --libs vmar: $(pkg-config --cflags --libs vmar)"
        # shellcheck disable=SC2046,SC2086 # word splitting is wanted
        "$cc" -std=c11 $cflags "$src/tests/packaging/consumer/main.c" \
            $(pkg-config --cflags --libs vmar) $ldflags -o "$work/consumer-cc"
        "$work/consumer-cc"
        echo "OK: plain cc build with pkg-config"
        ;;
    subdirectory | fetchcontent)
        args+=(-DVMAR_SOURCE_DIR="$src")
        ;;
    *) die "unknown mode $mode" ;;
    esac

    echo "== configure ($mode)"
    cmake "${args[@]}"
    echo "== build ($mode)"
    cmake --build "$work/build"
    echo "== run ($mode)"
    "$work/build/consumer"
    echo "OK: consumer built and ran ($mode)"
}

case "${1:-}" in
install)
    [ $# -eq 5 ] || die "usage: $0 install BUILD_DIR CONFIG PREFIX SOURCE_DIR"
    do_install "$2" "$3" "$4" "$5"
    ;;
consumer)
    [ $# -eq 5 ] || die "usage: $0 consumer MODE SOURCE_DIR PREFIX WORK_DIR"
    do_consumer "$2" "$3" "$4" "$5"
    ;;
*)
    die "usage: $0 install BUILD_DIR CONFIG PREFIX SOURCE_DIR |" \
        "consumer MODE SOURCE_DIR PREFIX WORK_DIR"
    ;;
esac
