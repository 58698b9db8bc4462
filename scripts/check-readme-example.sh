#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ctest test `readme_example` (label "docs", see cmake/readme.cmake):
#   check-readme-example.sh README OUTDIR CC "CFLAGS" INCLUDE_DIR LIB...
# 1. Extracts the first ```c block under the heading "## Using it" of
#    README (up to the next "## " heading) into OUTDIR/readme_example.c.
# 2. Compiles it with CC -std=c11 -Wall -Wextra -Wpedantic -Werror and
#    CFLAGS (the build's sanitizer flags) against INCLUDE_DIR and the
#    static archives LIB... (in link order); any compiler or linker
#    output, warning or not, fails the test.
# 3. Runs it; a non-zero exit fails the test.
set -euo pipefail

[ $# -ge 6 ] || {
    echo "usage: $0 README OUTDIR CC CFLAGS INCLUDE_DIR LIB..." >&2
    exit 2
}
readme=$1 out=$2 cc=$3 cflags=$4 inc=$5
shift 5

mkdir -p "$out"
src=$out/readme_example.c exe=$out/readme_example log=$out/compile.log
rm -f "$src" "$exe" "$log"

awk '
    inblk && /^```[[:space:]]*$/ { exit }
    inblk { print; next }
    /^## / { insec = ($0 ~ /^## Using it[[:space:]]*$/); next }
    insec && /^```c[[:space:]]*$/ { inblk = 1; found = 1 }
    END { if (!found) exit 1 }
' "$readme" >"$src" || {
    echo "FAIL: no \`\`\`c block under \"## Using it\" in $readme" >&2
    exit 1
}
[ -s "$src" ] || {
    echo "FAIL: the \`\`\`c block under \"## Using it\" in $readme is empty" >&2
    exit 1
}

# shellcheck disable=SC2086 # CFLAGS is a list of flags
if ! "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror $cflags -I"$inc" \
    "$src" "$@" -o "$exe" >"$log" 2>&1 || [ -s "$log" ]; then
    cat "$log" >&2
    echo "FAIL: the README example ($src) does not compile cleanly" >&2
    exit 1
fi

status=0
"$exe" || status=$?
if [ "$status" -ne 0 ]; then
    echo "FAIL: the README example exited with status $status" >&2
    exit 1
fi
echo "OK: the README example compiles without warnings and runs"
