#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kernel routes of docs/PORTING.md section 1, done as a new user would
# (ctest label "packaging", registered by cmake/packaging.cmake). ARCH is
# x86_64 or riscv64.
#
#   kernel-route.sh install ARCH SOURCE_DIR WORK_DIR
#       Route 1: configure SOURCE_DIR with cmake/toolchains/<ARCH's file>
#       (kernel-only by default there), Release, the inline TLB on; build;
#       `cmake --install` into WORK_DIR/prefix. Then check that the prefix
#       holds exactly libvmar_core.a, libvmar_mmu_radix.a and
#       libvmar_mmu_ARCH.a, no vmar/sim.h, a vmar.pc and CMake package
#       without sim or pthread, and that `nm -u` over the archives leaves
#       only memcpy, memset, memmove and memcmp undefined.
#   kernel-route.sh package ARCH SOURCE_DIR PREFIX WORK_DIR
#       Route 1, the consumer: tests/packaging/kernel (kmain.c) linked
#       -nostdlib -static against the install in PREFIX, with
#       find_package(vmar) and the same toolchain file, and with a plain
#       compiler line from `pkg-config --cflags --libs vmar`; and the same
#       kmain.c with libvmar as its add_subdirectory().
#   kernel-route.sh errors ARCH SOURCE_DIR WORK_DIR
#       Bad configurations stop CMake with a message saying what to do:
#       an unknown VMAR_ARCH, libatomic_ops not where it is said to be, a
#       compiler without its freestanding headers (-nostdinc).
#   kernel-route.sh sources ARCH SOURCE_DIR WORK_DIR
#       Route 2 and 3: the same consumer built from the source lists --
#       Filelists.cmake (vmar_add_kernel_library), Filelists.mk (the
#       Makefile of tests/packaging/kernel) -- and from the plain compiler
#       lines docs/PORTING.md gives for ARCH, run as written (the block
#       after the marker `<!-- plain-route:ARCH -->`), whose vmar.o must
#       also leave only those four symbols undefined.
# Every linked kernel must have no undefined symbol at all.
# VMAR_PKG_GENERATOR and VMAR_PKG_MAKE_PROGRAM (from the outer build)
# choose the CMake generator.
set -euo pipefail

die() {
    echo "kernel-route: $*" >&2
    exit 2
}

ALLOWED="memcmp memcpy memmove memset"

[ $# -ge 3 ] || die "usage: $0 install|package|sources ARCH SOURCE_DIR ..."
mode=$1
arch=$2
src=$(cd "$3" && pwd)
case $arch in
x86_64)
    toolchain=$src/cmake/toolchains/x86_64-kernel.cmake
    cc=$(command -v x86_64-linux-gnu-gcc || command -v gcc) || die "no gcc"
    nm=nm
    # The toolchain file's flags (cmake/toolchains/x86_64-kernel.cmake).
    kcflags="-ffreestanding -mno-red-zone -mgeneral-regs-only -mcmodel=kernel -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -fno-common"
    ;;
riscv64)
    toolchain=$src/cmake/toolchains/riscv64-unknown-elf.cmake
    cc=riscv64-unknown-elf-gcc
    nm=riscv64-unknown-elf-nm
    command -v "$cc" >/dev/null ||
        die "no $cc on PATH (Debian: apt-get install gcc-riscv64-unknown-elf)"
    kcflags="-march=rv64gc -mabi=lp64d -mcmodel=medany -ffreestanding -fno-pic -fno-stack-protector -fno-common"
    ;;
*) die "unknown ARCH '$arch' (x86_64 or riscv64)" ;;
esac

gen=()
if [ -n "${VMAR_PKG_GENERATOR:-}" ]; then
    gen=(-G "$VMAR_PKG_GENERATOR")
    [ -n "${VMAR_PKG_MAKE_PROGRAM:-}" ] &&
        gen+=("-DCMAKE_MAKE_PROGRAM=$VMAR_PKG_MAKE_PROGRAM")
fi

# Undefined symbols of FILES... minus what any of them defines.
external() {
    "$nm" -A -P "$@" | awk '
        $3 ~ /^[Uwv]$/ { undef[$2] = 1; next }
        $3 ~ /^[A-Z]$/ { def[$2] = 1 }
        END { for (s in undef) if (!(s in def)) print s }' | sort | tr '\n' ' ' |
        sed 's/ $//'
}

check_only_allowed() { # WHAT FILES...
    local what=$1 s bad=""
    shift
    for s in $(external "$@"); do
        case " $ALLOWED " in
        *" $s "*) ;;
        *) bad="$bad $s" ;;
        esac
    done
    [ -z "$bad" ] || die "$what leaves symbols undefined that no kernel provides:$bad"
    echo "ok: $what: undefined only: $(external "$@")"
}

check_linked() { # ELF
    local u
    [ -f "$1" ] || die "no $1"
    u=$(external "$1")
    [ -z "$u" ] || die "$1 still has undefined symbols: $u"
    # Not `nm | grep -q`: under pipefail, grep leaving at its first match
    # can fail nm with SIGPIPE.
    case $("$nm" "$1") in
    *" T vmar_space_create"$'\n'* | *" T vmar_space_create") ;;
    *) die "$1 holds no vmar_space_create: libvmar was not linked in" ;;
    esac
    echo "ok: $1 linked, nothing undefined"
}

case $mode in
install)
    [ $# -eq 4 ] || die "usage: $0 install ARCH SOURCE_DIR WORK_DIR"
    work=$4
    rm -rf "$work/build" "$work/prefix"
    mkdir -p "$work"
    upper=$(tr a-z A-Z <<<"$arch")
    cmake -S "$src" -B "$work/build" "${gen[@]}" \
        -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
        "-DVMAR_${upper}_INLINE_TLB=ON"
    grep -q '^VMAR_KERNEL_ONLY:BOOL=ON$' "$work/build/CMakeCache.txt" ||
        die "the toolchain file did not make the build kernel-only"
    cmake --build "$work/build"
    cmake --install "$work/build" --prefix "$work/prefix"
    libs=$(cd "$work/prefix/lib" && ls -- *.a | LC_ALL=C sort | tr '\n' ' ')
    want="libvmar_core.a libvmar_mmu_radix.a libvmar_mmu_${arch}.a "
    [ "$libs" = "$want" ] || die "installed archives: '$libs', want '$want'"
    for h in sim.h linux.h; do
        [ ! -e "$work/prefix/include/vmar/$h" ] ||
            die "a kernel-only install has include/vmar/$h"
    done
    [ -f "$work/prefix/include/vmar/$arch.h" ] || die "no include/vmar/$arch.h"
    pc=$work/prefix/lib/pkgconfig/vmar.pc
    [ -f "$pc" ] || die "no $pc"
    if grep -nE 'sim|pthread' "$pc"; then
        die "vmar.pc names the sim or pthread"
    fi
    [ ! -e "$work/prefix/lib/pkgconfig/vmar-sim.pc" ] ||
        die "a kernel-only install has vmar-sim.pc"
    if grep -rnE 'Threads|vmar_mmu_sim|sim_machine' "$work/prefix/lib/cmake/vmar"; then
        die "the CMake package names the sim or Threads"
    fi
    if find "$work/prefix" -name '*.so*' | grep .; then
        die "a kernel-only install has shared libraries"
    fi
    check_only_allowed "the installed archives" "$work/prefix"/lib/*.a
    ;;
package)
    [ $# -eq 5 ] || die "usage: $0 package ARCH SOURCE_DIR PREFIX WORK_DIR"
    prefix=$4
    work=$5
    [ -d "$prefix/lib" ] || die "no install in $prefix (run the install test first)"
    rm -rf "$work"
    mkdir -p "$work"
    cmake -S "$src/tests/packaging/kernel" -B "$work/cmake" "${gen[@]}" \
        -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_ROOT_PATH="$prefix" \
        -DVMAR_KROUTE_MODE=package
    cmake --build "$work/cmake"
    check_linked "$work/cmake/kmain"
    # The plain compiler line of a kernel that reads vmar.pc.
    export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig
    unset PKG_CONFIG_PATH
    # shellcheck disable=SC2046 # word splitting of the flags is wanted
    "$cc" -std=c11 -O2 $kcflags -fno-tree-loop-distribute-patterns \
        $(pkg-config --cflags vmar) -nostdlib -static -Wl,-e,_start \
        -o "$work/kmain-pc.elf" "$src/tests/packaging/kernel/kmain.c" \
        $(pkg-config --libs vmar)
    check_linked "$work/kmain-pc.elf"
    # libvmar as the kernel's subproject (no install).
    cmake -S "$src/tests/packaging/kernel" -B "$work/subdir" "${gen[@]}" \
        -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
        -DVMAR_KROUTE_MODE=subdirectory -DVMAR_SOURCE_DIR="$src"
    cmake --build "$work/subdir"
    check_linked "$work/subdir/kmain"
    ;;
errors)
    [ $# -eq 4 ] || die "usage: $0 errors ARCH SOURCE_DIR WORK_DIR"
    work=$4
    rm -rf "$work"
    mkdir -p "$work"
    n=0
    expect_error() { # PATTERN CMAKE-ARGS...
        local pattern=$1 log=$work/$n.log
        shift
        n=$((n + 1))
        if cmake -S "$src" -B "$work/b$n" "${gen[@]}" \
            -DCMAKE_TOOLCHAIN_FILE="$toolchain" "$@" >"$log" 2>&1; then
            cat "$log"
            die "configuring with $* succeeded; it must fail"
        fi
        grep -q -- "$pattern" <(tr -s ' \n' ' ' <"$log") || {
            cat "$log"
            die "configuring with $* failed without saying '$pattern'"
        }
        echo "ok: $* -> '$pattern'"
    }
    expect_error "Set -DVMAR_ARCH=x86_64 or -DVMAR_ARCH=riscv64" -DVMAR_ARCH=mips
    expect_error "apt-get install libatomic-ops-dev" \
        -DVMAR_ATOMIC_OPS_INCLUDE_DIR="$work/nowhere"
    expect_error "cannot include <stdint.h>" -DCMAKE_C_FLAGS=-nostdinc
    expect_error "builds static archives only" -DVMAR_BUILD_SHARED=ON
    ;;
sources)
    [ $# -eq 4 ] || die "usage: $0 sources ARCH SOURCE_DIR WORK_DIR"
    work=$4
    rm -rf "$work"
    mkdir -p "$work"
    # Filelists.cmake
    cmake -S "$src/tests/packaging/kernel" -B "$work/cmake" "${gen[@]}" \
        -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
        -DVMAR_KROUTE_MODE=filelists -DVMAR_SOURCE_DIR="$src"
    cmake --build "$work/cmake"
    check_linked "$work/cmake/kmain"
    # Filelists.mk
    make -s -f "$src/tests/packaging/kernel/Makefile" -j2 \
        VMAR_DIR="$src" VMAR_ARCH="$arch" CC="$cc" KCFLAGS="$kcflags" \
        O="$work/make"
    check_linked "$work/make/kmain.elf"
    # The plain lines of PORTING.md, run where it says: a folder holding
    # the checkout as libvmar/ and the kernel's kernel.c.
    block=$(awk -v m="<!-- plain-route:$arch -->" '
        $0 == m { found = 1; next }
        found && /^```/ { if (inblock) exit; inblock = 1; next }
        inblock { print }' "$src/docs/PORTING.md")
    [ -n "$block" ] || die "docs/PORTING.md has no block after <!-- plain-route:$arch -->"
    mkdir -p "$work/plain"
    ln -s "$src" "$work/plain/libvmar"
    cp "$src/tests/packaging/kernel/kmain.c" "$work/plain/kernel.c"
    echo "== docs/PORTING.md, plain route for $arch:"
    echo "$block"
    (cd "$work/plain" && bash -euo pipefail -c "$block")
    check_only_allowed "PORTING.md's vmar.o" "$work/plain/vmar.o"
    "$cc" -std=c11 -O2 $kcflags -fno-tree-loop-distribute-patterns \
        -I"$src/include" -nostdlib -static -Wl,-e,_start \
        -o "$work/plain/kernel.elf" "$work/plain/kernel.c" "$work/plain/vmar.o"
    check_linked "$work/plain/kernel.elf"
    ;;
*) die "unknown mode '$mode'" ;;
esac
