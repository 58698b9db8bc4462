#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The freestanding gate's checks (see cmake/freestanding.cmake).
#
#   check-freestanding.sh symbols NM ARCHIVE
#       Undefined symbols of ARCHIVE = `NM -u` minus every global symbol that
#       a member of ARCHIVE defines. Fails if any is outside ALLOWED_SYMBOLS.
#   check-freestanding.sh includes SRCROOT
#       Fails if src/core/, src/mmu/radix.[ch], src/mmu/hwpt.h or the
#       hardware backends (src/mmu/x86_64/, src/mmu/riscv64/) include
#       anything but <vmar/*.h> and ALLOWED_HEADERS, and names every libc
#       header it finds.
#   check-freestanding.sh cross PREFIX OUTDIR "CFLAGS" SOURCE...
#       Cross-compiles SOURCE... with PREFIXgcc and CFLAGS into
#       OUTDIR/libvmar_freestanding.a (PREFIXar), then runs the symbols
#       check on it with PREFIXnm. A missing tool is a failure.
set -euo pipefail

# What any freestanding environment provides (GCC may emit calls to these
# even with -ffreestanding -fno-builtin).
ALLOWED_SYMBOLS=(memset memcpy memmove memcmp)
# The compiler's own headers the core may use besides <vmar/*.h>, and
# libatomic_ops (header-only; its <assert.h> comes from the shim described
# in cmake/freestanding.cmake).
ALLOWED_HEADERS="stdint.h stddef.h stdbool.h atomic_ops.h"
# libc headers, named explicitly in the report (also caught in "..." form).
LIBC_HEADERS="stdio.h stdlib.h string.h strings.h pthread.h unistd.h malloc.h
assert.h errno.h"

die() {
    echo "check-freestanding: $*" >&2
    exit 2
}

in_list() { # word list...
    local w=$1 x
    shift
    for x in "$@"; do
        [ "$x" = "$w" ] && return 0
    done
    return 1
}

check_symbols() {
    local nm=$1 archive=$2 syms err
    [ -f "$archive" ] || die "no archive $archive (build the vmar_freestanding target)"

    # POSIX format: "archive[member]: name type [value size]", every symbol.
    err=$(mktemp)
    if ! syms=$("$nm" -A -P "$archive" 2>"$err"); then
        cat "$err" >&2
        rm -f "$err"
        die "$nm failed on $archive"
    fi
    rm -f "$err"

    # Undefined (U, weak w/v) minus what any member defines globally.
    local external
    external=$(awk '
        $3 ~ /^[Uwv]$/ { undef[$2] = 1; next }
        $3 ~ /^[A-Z]$/ { def[$2] = 1 }
        END { for (s in undef) if (!(s in def)) print s }' <<<"$syms" | sort)

    local bad=() allowed=() s
    for s in $external; do
        if in_list "$s" "${ALLOWED_SYMBOLS[@]}"; then
            allowed+=("$s")
        else
            bad+=("$s")
        fi
    done

    local nobj
    nobj=$(sed -n 's/: .*//p' <<<"$syms" | sort -u | grep -c . || true)
    if [ ${#bad[@]} -ne 0 ]; then
        echo "FAIL: the freestanding core needs symbols no kernel provides:"
        for s in "${bad[@]}"; do
            printf '  %-24s referenced by:' "$s"
            awk -v s="$s" '$2 == s && $3 ~ /^[Uwv]$/ {
                m = $1; sub(/:$/, "", m); sub(/^.*\[/, "", m); sub(/\]$/, "", m)
                printf " %s", m }' <<<"$syms"
            echo
        done
        echo "Allowed: ${ALLOWED_SYMBOLS[*]}. Use the compiler builtins through"
        echo "src/core/deps.h, or take the service from struct vmar_env."
        return 1
    fi
    echo "OK: $(basename "$archive") ($nobj objects with symbols) needs only:" \
        "${allowed[*]:-nothing}"
}

check_includes() {
    local root=$1
    [ -d "$root/src/core" ] || die "no $root/src/core"
    cd "$root"
    local files
    files=$(
        find src/core -name '*.[ch]' | sort
        ls src/mmu/radix.[ch] src/mmu/hwpt.h 2>/dev/null || true
        find src/mmu/x86_64 src/mmu/riscv64 -name '*.[ch]' 2>/dev/null | sort
    )
    [ -n "$files" ] || die "no freestanding sources under $root"

    # shellcheck disable=SC2086 # word splitting of the file list is wanted
    awk -v allowed="$ALLOWED_HEADERS" -v libc="$LIBC_HEADERS" '
        BEGIN {
            n = split(allowed, a, " "); for (i = 1; i <= n; i++) ok[a[i]] = 1
            n = split(libc, a, /[ \n]+/); for (i = 1; i <= n; i++) bad[a[i]] = 1
        }
        /^[ \t]*#[ \t]*include[ \t]*[<"]/ {
            line = $0
            sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
            kind = substr(line, 1, 1)
            name = substr(line, 2); sub(/[>"].*$/, "", name)
            base = name; sub(/^.*\//, "", base)
            where = FILENAME ":" FNR
            if (base in bad || name ~ /^(sys|bits)\//) {
                print "FAIL: " where " includes libc header " name; fails++
            } else if (kind == "<" && name !~ /^vmar\// && !(name in ok)) {
                print "FAIL: " where " includes <" name ">; freestanding code" \
                    " may include only <vmar/*.h> and: " allowed; fails++
            }
        }
        END {
            if (fails) exit 1
            print "OK: " ARGC - 1 " freestanding files include no libc header"
        }' $files
}

check_cross() {
    local prefix=$1 out=$2 cflags=$3 tool src obj objs=()
    shift 3
    for tool in gcc ar nm; do
        command -v "${prefix}$tool" >/dev/null 2>&1 ||
            die "FAIL: ${prefix}$tool not found (apt-get install gcc-riscv64-unknown-elf; scripts/test.sh installs it)"
    done
    mkdir -p "$out"
    rm -f "$out"/*.o "$out/libvmar_freestanding.a"
    for src in "$@"; do
        obj="$out/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o"
        # shellcheck disable=SC2086 # the flags are a word list
        "${prefix}gcc" $cflags -c "$src" -o "$obj" || {
            echo "FAIL: ${prefix}gcc could not compile $src"
            return 1
        }
        objs+=("$obj")
    done
    "${prefix}ar" rcs "$out/libvmar_freestanding.a" "${objs[@]}"
    check_symbols "${prefix}nm" "$out/libvmar_freestanding.a"
}

case "${1:-}" in
symbols)
    [ $# -eq 3 ] || die "usage: $0 symbols NM ARCHIVE"
    check_symbols "$2" "$3"
    ;;
includes)
    [ $# -eq 2 ] || die "usage: $0 includes SRCROOT"
    check_includes "$2"
    ;;
cross)
    [ $# -ge 5 ] || die "usage: $0 cross PREFIX OUTDIR CFLAGS SOURCE..."
    shift
    check_cross "$@"
    ;;
*)
    die "usage: $0 symbols NM ARCHIVE | includes SRCROOT | cross PREFIX OUTDIR CFLAGS SOURCE..."
    ;;
esac
