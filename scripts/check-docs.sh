#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ctest test `docs` (label "docs", see cmake/docs.cmake):
#   check-docs.sh DOXYGEN DOXYFILE SOURCE_DIR
# 1. Runs Doxygen over include/vmar/ (docs/Doxyfile.in, WARN_AS_ERROR =
#    FAIL_ON_WARNINGS) and fails on any warning: an undocumented public
#    declaration or member, an undocumented parameter or return value.
# 2. Checks the header convention Doxygen cannot: the comment of every
#    public function has a "Locking:" and an "On failure:" line, and one
#    that returns a value a "Returns:" line (with the exact codes).
set -euo pipefail

[ $# -eq 3 ] || {
    echo "usage: $0 DOXYGEN DOXYFILE SOURCE_DIR" >&2
    exit 2
}
doxygen=$1 doxyfile=$2 src=$3
status=0

log=$(sed -n 's/^WARN_LOGFILE *= *//p' "$doxyfile")
out=$(sed -n 's/^OUTPUT_DIRECTORY *= *//p' "$doxyfile")
if [ -z "$log" ] || [ -z "$out" ]; then
    echo "check-docs: $doxyfile lacks WARN_LOGFILE or OUTPUT_DIRECTORY" >&2
    exit 2
fi
mkdir -p "$out"
rm -f "$log"
rc=0
"$doxygen" "$doxyfile" || rc=$?
nwarn=0
[ -s "$log" ] && nwarn=$(grep -c . "$log")
if [ "$rc" -ne 0 ] || [ "$nwarn" -ne 0 ]; then
    [ -s "$log" ] && cat "$log"
    echo "FAIL: doxygen exited $rc with $nwarn warnings ($("$doxygen" --version))"
    status=1
else
    echo "OK: doxygen $("$doxygen" --version): 0 warnings; $out/html/index.html"
fi

# Declarations at file scope (outside struct/enum bodies, extern "C" not
# counted) that name a vmar_* function, and the /** */ comment before them.
# shellcheck disable=SC2016 # $0 and friends belong to awk
awk '
    FNR == 1 { depth = 0; doc = ""; indoc = 0; prev = "" }
    indoc { doc = doc "\n" $0; if ($0 ~ /\*\//) indoc = 0; prev = $0; next }
    /^[ \t]*\/\*\*/ {
        doc = $0; if ($0 !~ /\*\//) indoc = 1; prev = $0; next
    }
    /^[ \t]*(#|\/\/|\/\*|\*)/ || /^[ \t]*$/ { prev = $0; next }
    /^extern "C" \{/ || (prev ~ /^#ifdef __cplusplus/ && /^\}/) {
        prev = $0; next
    }
    {
        line = $0; code = line
        if (depth == 0 && !indecl && code ~ /^[A-Za-z_].*[ *]vmar_[a-z0-9_]+\(/ &&
            code !~ /^(typedef|struct [a-z_]+ \{|enum|#)/) {
            indecl = 1; decl = code; declline = FNR; declfile = FILENAME
            d = doc
        } else if (indecl) {
            decl = decl " " code
        }
        if (indecl && code ~ /;[ \t]*$/) {
            indecl = 0
            name = decl; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
            isvoid = (decl ~ /^(_Noreturn )?void [a-z]/)
            miss = ""
            if (d == "") miss = miss " comment"
            if (!isvoid && d !~ /Returns:/) miss = miss " Returns:"
            if (d !~ /Locking:/) miss = miss " Locking:"
            if (d !~ /On failure:/) miss = miss " On failure:"
            if (miss != "") {
                printf "%s:%d: %s: missing%s\n", declfile, declline, name, miss
                bad++
            }
            nfun++
            doc = ""
        }
        n = gsub(/\{/, "{", code); depth += n
        n = gsub(/\}/, "}", code); depth -= n
        if (!indecl && code ~ /;[ \t]*$/ && depth == 0) doc = ""
        prev = $0
    }
    END {
        if (bad) {
            printf "FAIL: %d of %d public functions lack a Returns:, " \
                "Locking: or On failure: line\n", bad, nfun
            exit 1
        }
        printf "OK: %d public functions have Returns:, Locking: and " \
            "On failure:\n", nfun
    }' "$src"/include/vmar/*.h || status=1

exit "$status"
