#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The packaging tests (ctest label "packaging", see cmake/packaging.cmake).
#
#   check-packaging.sh install BUILD_DIR CONFIG PREFIX SOURCE_DIR [static|shared]
#       `cmake --install BUILD_DIR --prefix PREFIX` into an emptied PREFIX,
#       list the tree and check that every SOURCE_DIR/include/vmar/*.h, the
#       archives, the CMake package and vmar.pc are there. static (the
#       default): no shared library may be installed. shared
#       (VMAR_BUILD_SHARED=ON): the shared libraries are checked too, see
#       check_shared below.
#   check-packaging.sh shared-install SOURCE_DIR PREFIX WORK_DIR
#       Configure SOURCE_DIR in WORK_DIR/build with VMAR_BUILD_SHARED=ON
#       and tests, demo and checks off, build it, and install it as above
#       (shared). Used when the outer build does not build the .so itself.
#   check-packaging.sh consumer MODE SOURCE_DIR PREFIX WORK_DIR
#       Configure, build and run tests/packaging/consumer in an emptied
#       WORK_DIR, MODE being package (find_package from PREFIX), pkgconfig
#       (pkg-config from PREFIX; also a plain `cc $(pkg-config ...)` build,
#       which checks the Libs order of the static archives), subdirectory
#       or fetchcontent (libvmar from SOURCE_DIR as a subproject): all four
#       must link the static archives (no libvmar in the program's NEEDED).
#       package-shared and pkgconfig-shared do the same against the shared
#       libraries (vmar::core_shared + vmar::sim_shared; vmar.pc with the
#       linker picking the .so, plus -rpath for the plain cc build) and
#       check that the program needs libvmar_core.so.SOVERSION and
#       libvmar_mmu_sim.so.SOVERSION and that ldd finds them in PREFIX.
#
# The environment passes the outer build's tools and flags on:
# VMAR_PKG_GENERATOR, VMAR_PKG_MAKE_PROGRAM, VMAR_PKG_CC, VMAR_PKG_CFLAGS
# and VMAR_PKG_LDFLAGS (the sanitizer flags: archives built with
# -fsanitize=address need its runtime when the consumer links);
# VMAR_PKG_BUILD_TYPE, VMAR_PKG_SANITIZE and VMAR_PKG_WERROR for
# shared-install; VMAR_PKG_NM and VMAR_PKG_READELF (default nm, readelf).
set -euo pipefail

die() {
    echo "check-packaging: $*" >&2
    exit 2
}

NM=${VMAR_PKG_NM:-nm}
READELF=${VMAR_PKG_READELF:-readelf}

# The functions and objects include/vmar/*.h declares (what the shared
# libraries may export; cmake/shared.cmake reads the headers the same way).
public_names() { # INCLUDE_DIR
    {
        cat "$1"/*.h | grep -oE '(^|[^A-Za-z0-9_])vmar_[a-z0-9_]+[[:space:]]*\(' |
            grep -oE 'vmar_[a-z0-9_]+' || true
        cat "$1"/*.h |
            grep -oE 'extern[[:space:]]+(const[[:space:]]+)?(struct[[:space:]]+)?[A-Za-z0-9_]+[[:space:]]+vmar_[a-z0-9_]+[[:space:]]*[;[]' |
            grep -oE 'vmar_[a-z0-9_]+[[:space:]]*[;[]$' | grep -oE 'vmar_[a-z0-9_]+' || true
    } | grep -v '__' | sort -u
}

# The SOVERSION for a project version: MAJOR.MINOR while MAJOR is 0.
soversion() { # VERSION
    local major minor rest
    IFS=. read -r major minor rest <<<"$1"
    if [ "$major" = 0 ]; then echo "$major.$minor"; else echo "$major"; fi
}

prefix_version() { # PREFIX
    sed -n 's/^Version: *//p' "$(pc_dir "$1")/vmar.pc"
}

# The shared libraries in PREFIX: one per installed archive, the link
# chain libvmar_X.so -> .so.SOVERSION (the SONAME) -> .so.VERSION, and
# the exports: exactly the public functions and objects the archive
# defines, no internal symbol (vmar__*, vmar__sim_*, vmar__iset_*, ...)
# except the radix walker's vmar__radix_*, which libvmar's other
# libraries call.
check_shared() { # PREFIX
    local prefix=$1 ver sov libdir public a lib so f bad=0
    ver=$(prefix_version "$prefix")
    sov=$(soversion "$ver")
    libdir=$(dirname "$(find "$prefix" -name libvmar_core.a | head -n 1)")
    public=$(public_names "$prefix/include/vmar")
    echo "== shared libraries in $libdir (version $ver, SOVERSION $sov)"
    for a in "$libdir"/libvmar_*.a; do
        lib=$(basename "$a" .a)
        so=$libdir/$lib.so
        if [ ! -L "$so" ] || [ "$(readlink "$so")" != "$lib.so.$sov" ] ||
            [ "$(readlink "$so.$sov")" != "$lib.so.$ver" ] ||
            [ ! -f "$so.$ver" ] || [ -L "$so.$ver" ]; then
            echo "FAIL: $lib: want $lib.so -> $lib.so.$sov -> $lib.so.$ver"
            find "$libdir" -name "$lib.so*" -printf '  %f -> %l\n'
            bad=1
            continue
        fi
        f=$("$READELF" -d "$so.$ver" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
        if [ "$f" != "$lib.so.$sov" ]; then
            echo "FAIL: $lib: SONAME '$f', want $lib.so.$sov"
            bad=1
        fi
        local exports allowed missing extra internal
        exports=$("$NM" -D --defined-only "$so" | awk 'NF >= 3 {print $3}' |
            sed 's/@.*//' | sort -u)
        allowed=$public
        case "$lib" in
        libvmar_mmu_radix)
            allowed=$(printf '%s\n%s\n' "$allowed" \
                "$(grep -E '^vmar__radix_' <<<"$exports" || true)")
            ;;
        esac
        allowed=$(sort -u <<<"$allowed")
        extra=$(comm -23 <(echo "$exports") <(echo "$allowed") | grep . || true)
        # What the archive defines and the headers declare must be there.
        missing=$(comm -12 <("$NM" -g --defined-only "$a" |
            awk 'NF == 3 {print $3}' | sort -u) <(echo "$public") |
            comm -23 - <(echo "$exports") | grep . || true)
        internal=$(grep -c '__' <<<"$exports" || true)
        if [ -n "$extra" ]; then
            echo "FAIL: $lib.so exports what is not public API: $(echo "$extra" | tr '\n' ' ')"
            bad=1
        fi
        if [ -n "$missing" ]; then
            echo "FAIL: $lib.so does not export: $(echo "$missing" | tr '\n' ' ')"
            bad=1
        fi
        echo "  $lib.so.$ver: SONAME $f, NEEDED" \
            "$("$READELF" -d "$so" | sed -n 's/.*Shared library: \[\(.*\)\].*/\1/p' | tr '\n' ' ')" \
            "exports $(grep -c . <<<"$exports"), of them internal $internal" \
            "($(grep '__' <<<"$exports" | tr '\n' ' '))"
    done
    [ "$bad" -eq 0 ] || return 1
    echo "OK: shared libraries, SONAMEs and exports"
}

do_install() {
    local build=$1 config=$2 prefix=$3 src=$4 kind=${5:-static}
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
        libvmar_sim_machine.a libvmar_linux.a \
        cmake/vmar/vmarConfig.cmake cmake/vmar/vmarConfigVersion.cmake \
        cmake/vmar/vmarTargets.cmake pkgconfig/vmar.pc pkgconfig/vmar-sim.pc; do
        compgen -G "$prefix/lib*/$f" >/dev/null ||
            compgen -G "$prefix/lib*/*/$f" >/dev/null || missing+=("lib/$f")
    done
    if [ ${#missing[@]} -ne 0 ]; then
        echo "FAIL: not installed: ${missing[*]}"
        return 1
    fi
    echo "OK: headers, archives, CMake package, vmar.pc and vmar-sim.pc installed"

    local so
    so=$(find "$prefix" -name 'libvmar_*.so*' | sort)
    if [ "$kind" = static ]; then
        if [ -n "$so" ]; then
            echo "FAIL: shared libraries installed without VMAR_BUILD_SHARED:" \
                "$(echo "$so" | tr '\n' ' ')"
            return 1
        fi
        echo "OK: static only (VMAR_BUILD_SHARED is off)"
    else
        check_shared "$prefix"
    fi
}

do_shared_install() {
    local src=$1 prefix=$2 work=$3
    local type=${VMAR_PKG_BUILD_TYPE:-Debug}
    local args=(-S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE="$type"
        -DCMAKE_C_COMPILER="${VMAR_PKG_CC:-cc}"
        -DVMAR_BUILD_SHARED=ON -DVMAR_SANITIZE="${VMAR_PKG_SANITIZE:-}"
        -DVMAR_WERROR="${VMAR_PKG_WERROR:-ON}"
        -DVMAR_BUILD_TESTS=OFF -DVMAR_BUILD_DEMO=OFF
        -DVMAR_BUILD_BENCHMARKS=OFF -DVMAR_FREESTANDING_CHECK=OFF
        -DVMAR_FORMAT_CHECK=OFF -DVMAR_DOCS_CHECK=OFF)
    [ -n "${VMAR_PKG_GENERATOR:-}" ] && args+=(-G "$VMAR_PKG_GENERATOR")
    [ -n "${VMAR_PKG_MAKE_PROGRAM:-}" ] &&
        args+=(-DCMAKE_MAKE_PROGRAM="$VMAR_PKG_MAKE_PROGRAM")
    rm -rf "$work"
    mkdir -p "$work"
    echo "== configure libvmar with VMAR_BUILD_SHARED=ON"
    cmake "${args[@]}" >"$work/configure.log" ||
        { cat "$work/configure.log"; return 1; }
    echo "== build"
    cmake --build "$work/build" --config "$type"
    do_install "$work/build" "$type" "$prefix" "$src" shared
}

# The program's NEEDED entries: static modes must not need any libvmar;
# shared ones need libvmar_core and libvmar_mmu_sim of the SOVERSION,
# and ldd must find them in PREFIX.
check_linkage() { # PROGRAM static|shared PREFIX
    local bin=$1 kind=$2 prefix=$3 needed
    needed=$("$READELF" -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\].*/\1/p')
    echo "== $(basename "$bin") NEEDED: $(echo "$needed" | tr '\n' ' ')"
    if [ "$kind" = static ]; then
        if grep -q libvmar <<<"$needed"; then
            echo "FAIL: the static link needs a libvmar shared library"
            return 1
        fi
        echo "OK: libvmar linked statically"
        return 0
    fi
    local sov lib libdir resolved
    sov=$(soversion "$(prefix_version "$prefix")")
    libdir=$(cd "$(dirname "$(find "$prefix" -name libvmar_core.a | head -n 1)")" && pwd -P)
    for lib in libvmar_core libvmar_mmu_sim; do
        if ! grep -qx "$lib.so.$sov" <<<"$needed"; then
            echo "FAIL: $(basename "$bin") does not need $lib.so.$sov"
            return 1
        fi
    done
    if command -v ldd >/dev/null; then
        ldd "$bin" | grep -E 'libvmar|not found' | sed 's/^[[:space:]]*/  /'
        if ldd "$bin" | grep -q 'not found'; then
            echo "FAIL: ldd cannot resolve every library"
            return 1
        fi
        for lib in libvmar_core libvmar_mmu_sim libvmar_mmu_radix; do
            resolved=$(ldd "$bin" | sed -n "s/^[[:space:]]*$lib\.so\.$sov => \([^ ]*\) .*/\1/p")
            if [ -z "$resolved" ] ||
                [ "$(cd "$(dirname "$resolved")" && pwd -P)" != "$libdir" ]; then
                echo "FAIL: $lib.so.$sov resolves to '$resolved', not $libdir"
                return 1
            fi
        done
    fi
    echo "OK: linked against the shared libraries in $libdir"
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

    local kind=static
    case "$mode" in *-shared) kind=shared ;; esac

    rm -rf "$work"
    mkdir -p "$work"
    case "$mode" in
    package | package-shared)
        [ -d "$prefix" ] || die "no install prefix $prefix"
        args+=(-DCMAKE_PREFIX_PATH="$prefix")
        ;;
    pkgconfig | pkgconfig-shared)
        local pcd libs
        pcd=$(pc_dir "$prefix")
        export PKG_CONFIG_PATH="$pcd"
        # vmar.pc is the library alone; vmar-sim.pc adds the simulated
        # machine (and -pthread) this program runs on.
        case " $(pkg-config --libs vmar) " in
        *sim* | *pthread*) die "vmar.pc names the sim or pthread" ;;
        esac
        libs=$(pkg-config --libs vmar-sim)
        if [ "$kind" = shared ]; then
            # The linker picks the .so; the program must find them at run
            # time: -rpath here, LD_LIBRARY_PATH or ld.so.conf otherwise.
            libs="$libs -Wl,-rpath,$(pkg-config --variable=libdir vmar)"
        elif compgen -G "$pcd/../libvmar_core.so*" >/dev/null; then
            # A prefix with both: ask for the archives explicitly.
            libs="-Wl,-Bstatic $libs -Wl,-Bdynamic"
        fi
        echo "== pkg-config --cflags --libs vmar-sim: $(pkg-config --cflags --libs vmar-sim)"
        echo "== cc ... $libs"
        # shellcheck disable=SC2046,SC2086 # word splitting is wanted
        "$cc" -std=c11 $cflags "$src/tests/packaging/consumer/main.c" \
            $(pkg-config --cflags vmar) $libs $ldflags -o "$work/consumer-cc"
        check_linkage "$work/consumer-cc" "$kind" "$prefix"
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
    check_linkage "$work/build/consumer" "$kind" "$prefix"
    echo "== run ($mode)"
    "$work/build/consumer"
    echo "OK: consumer built and ran ($mode)"
}

case "${1:-}" in
install)
    [ $# -eq 5 ] || [ $# -eq 6 ] ||
        die "usage: $0 install BUILD_DIR CONFIG PREFIX SOURCE_DIR [static|shared]"
    do_install "$2" "$3" "$4" "$5" "${6:-static}"
    ;;
shared-install)
    [ $# -eq 4 ] || die "usage: $0 shared-install SOURCE_DIR PREFIX WORK_DIR"
    do_shared_install "$2" "$3" "$4"
    ;;
consumer)
    [ $# -eq 5 ] || die "usage: $0 consumer MODE SOURCE_DIR PREFIX WORK_DIR"
    do_consumer "$2" "$3" "$4" "$5"
    ;;
*)
    die "usage: $0 install BUILD_DIR CONFIG PREFIX SOURCE_DIR [static|shared] |" \
        "shared-install SOURCE_DIR PREFIX WORK_DIR |" \
        "consumer MODE SOURCE_DIR PREFIX WORK_DIR"
    ;;
esac
