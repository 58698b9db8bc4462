#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ctest test `layering` (label "lint"):
#   check-layering.sh NM ARCHIVE
# The file-level call graph of the core: for every member X.o of ARCHIVE
# (libvmar_core.a), an edge X -> Y for each undefined symbol of X that Y
# defines. Fails when the graph has a cycle (two files that call each
# other, directly or around a loop), naming the files in it; else prints
# the files in an order where each calls only files before it (lowest
# layer first).
set -euo pipefail

[ $# -eq 2 ] || {
    echo "usage: $0 NM ARCHIVE" >&2
    exit 2
}
nm=$1 archive=$2
[ -f "$archive" ] || {
    echo "check-layering: no archive $archive" >&2
    exit 2
}

# POSIX format: "archive[member]: name type [value size]".
edges=$("$nm" -A -P "$archive" | awk '
    {
        m = $1; sub(/:$/, "", m); sub(/^.*\[/, "", m); sub(/\]$/, "", m)
        sub(/\.c\.o(bj)?$/, "", m); sub(/\.o(bj)?$/, "", m)
        files[m] = 1
        if ($3 == "U") uses[m, $2] = 1
        else if ($3 ~ /^[TDBRCGSV]$/) def[$2] = m
    }
    END {
        for (k in uses) {
            split(k, p, SUBSEP)
            if ((p[2] in def) && def[p[2]] != p[1])
                print p[1], def[p[2]]
        }
        for (f in files) print f, f
    }' | sort -u)

err=$(mktemp)
trap 'rm -f "$err"' EXIT
# tsort orders "X Y" pairs with X before Y; callers first, so reverse.
order=$( (tsort <<<"$edges" 2>"$err" || true) | tac)
if [ -s "$err" ]; then
    echo "FAIL: core files that call each other in a loop:"
    sed 's/^tsort: /  /' "$err"
    echo "Move the shared part into a file both call (docs/DESIGN.md,"
    echo "\"Source layout\")."
    exit 1
fi
echo "OK: $(grep -c . <<<"$order") core files, no call cycle; layers" \
    "(callees first): $(tr '\n' ' ' <<<"$order")"
