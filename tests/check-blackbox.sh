#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ctest test `blackbox_includes` (tests/CMakeLists.txt):
#   check-blackbox.sh SOURCE_DIR INC_DIR TARGET...
# Black-box tests see only include/vmar/ (CONTRIBUTING.md, "Tests").
#  1. No source under tests/ outside tests/whitebox/ includes a private
#     header: a path starting with src/, core/ or mmu/, or one that names
#     a header of src/ (by its path below src/, src/mmu/ or its folder,
#     or by its file name) and no header of tests/.
#  2. No TARGET has a directory of SOURCE_DIR/src on its include path
#     (INC_DIR/TARGET.inc, one directory a line, written by CMake).
# Prints every violation; exits 1 if there is one.
set -euo pipefail

[ $# -ge 2 ] || {
    echo "usage: $0 SOURCE_DIR INC_DIR TARGET..." >&2
    exit 2
}
root=$1 incdir=$2
shift 2
cd "$root"
bad=0

# Names a private header can be included by: its file name and its paths
# below src/, src/mmu/ and its own folder's parent.
private=$(find src -name '*.h' | sed -E 's|^src/||' |
    awk '{ print; n = split($0, p, "/"); print p[n];
           if (p[1] == "mmu") print substr($0, 5);
           if (n > 1) print p[n - 1] "/" p[n] }' | sort -u)
# Headers the tests own (a test header may share a name with none of src/).
owned=$(find tests -path tests/whitebox -prune -o -name '*.h' -print |
    sed -E 's|.*/||' | sort -u)

while IFS= read -r f; do
    while IFS=: read -r line inc; do
        name=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$inc")
        case $name in
        src/* | core/* | mmu/* | */src/*)
            ;;
        *)
            grep -qxF -- "$name" <<<"$private" || continue
            grep -qxF -- "${name##*/}" <<<"$owned" && continue
            ;;
        esac
        echo "$f:$line: black-box source includes private header $name"
        bad=1
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f" |
        sed -E 's/^([0-9]+):/\1:/' || true)
done < <(find tests -path tests/whitebox -prune -o \
    \( -name '*.c' -o -name '*.h' \) -print | sort)

for t in "$@"; do
    inc=$incdir/$t.inc
    if [ ! -f "$inc" ]; then
        echo "$t: no include list $inc (reconfigure)"
        bad=1
        continue
    fi
    while IFS= read -r d; do
        case $d in
        "$root"/src | "$root"/src/*)
            echo "$t: black-box target has $d on its include path"
            bad=1
            ;;
        esac
    done <"$inc"
done

[ "$bad" -eq 0 ] && echo "black-box: $# targets, no private header, no src/ path"
exit "$bad"
