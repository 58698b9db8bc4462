#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The boundary between the simulated machine and the sim backend
# (src/mmu/sim/machine/, src/mmu/sim/backend/), ctest `sim_layers`:
#
#  1. includes: the machine's files include <vmar/...> public headers,
#     system headers and files of their own folder only; the backend's
#     the same plus the walker's "radix.h". Nothing of src/core, no
#     hwpt.h, no private header of the other half.
#  2. the machine names no backend: its objects reference no symbol the
#     backend defines and no backend ops table (vmar_mmu_*).
#  3. no circle: the files call each other (an undefined symbol of one
#     object defined by another, from nm) in one direction only, and the
#     files of a folder include each other without a loop (tsort).
#
# Usage: check-sim-layers.sh SRC NM MACHINE_OBJECT... -- BACKEND_OBJECT...
#   SRC is the source tree; the objects are the targets' object files
#   ($<TARGET_OBJECTS:...>, one word or ;-separated lists), named after
#   their sources (x.c.o or x.o).
set -u

if [ $# -lt 4 ]; then
    echo "usage: $0 SRC NM MACHINE_OBJECT... -- BACKEND_OBJECT..." >&2
    exit 2
fi
src=$1 nm=$2
shift 2
# ctest passes each generator-expression list as one ;-separated word.
machine_objs=() backend_objs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    IFS=';' read -r -a more <<<"$1"
    machine_objs+=("${more[@]}")
    shift
done
[ $# -gt 0 ] && shift
for a in "$@"; do
    IFS=';' read -r -a more <<<"$a"
    backend_objs+=("${more[@]}")
done
for o in "${machine_objs[@]}" "${backend_objs[@]}"; do
    if [ ! -f "$o" ]; then
        echo "FAIL: no object file $o (build first)" >&2
        exit 2
    fi
done
if [ ${#machine_objs[@]} -eq 0 ] || [ ${#backend_objs[@]} -eq 0 ]; then
    echo "FAIL: no object files given for one of the two halves" >&2
    exit 2
fi

machine_dir=$src/src/mmu/sim/machine
backend_dir=$src/src/mmu/sim/backend
bad=0
fail() {
    echo "FAIL: $*"
    bad=1
}

# ---- 1. includes --------------------------------------------------------
# check_includes DIR QUOTED_ALLOWED...: every #include of DIR/*.[ch] is
# <vmar/...>, a system header (no project path), a file of DIR, or one of
# QUOTED_ALLOWED.
check_includes() {
    local dir=$1 f line inc
    shift
    for f in "$dir"/*.[ch]; do
        while IFS= read -r line; do
            inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//' \
                <<<"$line")
            case $inc in
            \<vmar/*\>) ;;
            \<core/* | \<mmu/* | \<src/* | \<radix.h\> | \<hwpt.h\>)
                fail "${f#"$src"/}: $line (a private header)" ;;
            \<*\>) ;; # libc, POSIX
            \"*\")
                inc=${inc#\"}
                inc=${inc%\"}
                if [ -f "$dir/$inc" ] && [ "${inc#*/}" = "$inc" ]; then
                    continue
                fi
                local ok=0 a
                for a in "$@"; do
                    [ "$inc" = "$a" ] && ok=1
                done
                [ $ok = 1 ] || fail "${f#"$src"/}: $line (only <vmar/...>," \
                    "system headers, files of its own folder${*:+ and $*})"
                ;;
            *) fail "${f#"$src"/}: cannot read $line" ;;
            esac
        done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f")
    done
}
check_includes "$machine_dir"
check_includes "$backend_dir" radix.h

# ---- 2 and 3. the call graph from nm ------------------------------------
name_of() { # OBJECT -> source file name
    local b
    b=$(basename "$1")
    b=${b%.o}
    b=${b%.obj}
    echo "$b"
}
defined() { # OBJECT -> global symbols it defines
    "$nm" -g --defined-only "$1" | awk 'NF >= 3 { print $3 }'
}
undefined() { # OBJECT -> symbols it uses from elsewhere
    "$nm" -g --undefined-only "$1" | awk '{ print $NF }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/defs"
for o in "${machine_objs[@]}"; do
    defined "$o" | sed "s|\$| machine/$(name_of "$o")|" >>"$tmp/defs"
done
for o in "${backend_objs[@]}"; do
    defined "$o" | sed "s|\$| backend/$(name_of "$o")|" >>"$tmp/defs"
done
sort -u "$tmp/defs" -o "$tmp/defs"

: >"$tmp/edges"
edges_of() { # HALF OBJECT
    local from=$1/$(name_of "$2") sym to
    while read -r sym; do
        to=$(awk -v s="$sym" '$1 == s { print $2 }' "$tmp/defs")
        [ -n "$to" ] || continue
        [ "$to" = "$from" ] && continue
        echo "$from $to" >>"$tmp/edges"
        case $from/$to in
        machine/*/backend/*)
            fail "$from calls $sym of $to: the machine names no backend" ;;
        esac
    done < <(undefined "$2")
    # Backends' ops tables, whoever defines them.
    if [ "$1" = machine ] && undefined "$2" | grep -q '^vmar_mmu_'; then
        fail "$from references a backend: $(undefined "$2" |
            grep '^vmar_mmu_' | tr '\n' ' ')"
    fi
}
for o in "${machine_objs[@]}"; do edges_of machine "$o"; done
for o in "${backend_objs[@]}"; do edges_of backend "$o"; done
sort -u "$tmp/edges" -o "$tmp/edges"

# tsort reads "A B" as A before B and reports every loop on stderr.
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/loops"; then
    fail "the files call each other in a loop:"
    sed 's/^/  /' "$tmp/loops"
fi

# Include loops among the files of each folder.
for dir in "$machine_dir" "$backend_dir"; do
    : >"$tmp/incl"
    for f in "$dir"/*.[ch]; do
        sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"/]+)".*/\1/p' \
            "$f" | while read -r h; do
            [ -f "$dir/$h" ] && echo "${f##*/} $h" >>"$tmp/incl"
        done
        echo "${f##*/} ${f##*/}" >>"$tmp/incl" # every file is a node
    done
    if ! tsort "$tmp/incl" >/dev/null 2>"$tmp/loops"; then
        fail "${dir#"$src"/}: the headers include each other in a loop:"
        sed 's/^/  /' "$tmp/loops"
    fi
done

if [ $bad = 0 ]; then
    echo "OK: the machine sees only public headers and names no backend;" \
        "$(wc -l <"$tmp/edges") calls between files, all one way:"
    sed 's/^/  /; s/\([^ ]\) /\1 -> /' "$tmp/edges"
fi
exit $bad
