#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Check every tracked (or new, not ignored) .c/.h file against .clang-format
# with `clang-format --dry-run -Werror`; fail on any difference. Run from
# anywhere; ctest runs it as the test `format`. Files may be given as
# arguments instead. It never rewrites a file: to fix one, run
# `clang-format-14 -i FILE`.
#
# CLANG_FORMAT picks the binary; otherwise clang-format-14, then
# clang-format. Formatting differs between major versions, so the pinned
# version is 14 (Debian 12's).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
    cf=$(command -v clang-format-14 || command -v clang-format || true)
fi
if [ -z "$cf" ] || ! command -v "$cf" >/dev/null; then
    echo "check-format: clang-format not found" \
        "(apt-get install clang-format, or set CLANG_FORMAT)" >&2
    exit 2
fi
version=$("$cf" --version)
case "$version" in
*"version 14."*) ;;
*) echo "check-format: warning: CI pins clang-format 14, this is: $version" >&2 ;;
esac

files=()
if [ $# -gt 0 ]; then
    files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do
        [ -f "$f" ] && files+=("$f")
    done < <(git ls-files -z --cached --others --exclude-standard -- '*.c' '*.h')
else
    while IFS= read -r -d '' f; do
        files+=("${f#./}")
    done < <(find . -path ./build -prune -o -path ./.git -prune -o \
        -type f -name '*.[ch]' -print0)
fi
if [ ${#files[@]} -eq 0 ]; then
    echo "check-format: no .c/.h files found" >&2
    exit 2
fi

# One run over everything; only on failure a second, per-file run names
# the files.
if "$cf" --style=file --dry-run -Werror "${files[@]}" >/dev/null 2>&1; then
    echo "OK: ${#files[@]} files match .clang-format ($(basename "$cf"))"
    exit 0
fi

bad=()
for f in "${files[@]}"; do
    if ! out=$("$cf" --style=file --dry-run -Werror "$f" 2>&1); then
        bad+=("$f")
        # The first few differences, as clang-format reports them.
        printf '%s\n' "$out" | head -n 12
        echo
    fi
done

if [ ${#bad[@]} -ne 0 ]; then
    echo "FAIL: ${#bad[@]} of ${#files[@]} files differ from .clang-format:"
    printf '  %s\n' "${bad[@]}"
    echo "Fix with: $(basename "$cf") -i <file>"
    exit 1
fi
echo "check-format: clang-format failed on the file list but on no single" \
    "file" >&2
exit 2
