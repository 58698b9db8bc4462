#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Sourced by demo.sh and test.sh: vmar_ensure_packages PKG... installs the
# Debian packages that are missing, with apt-get (as root, or through sudo
# when there is one). On a system without dpkg it only checks that the
# commands it knows about exist and leaves the rest to the user.

vmar_ensure_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 ||
        ! command -v apt-get >/dev/null 2>&1; then
        local c
        for c in cmake ninja cc pkg-config; do
            command -v "$c" >/dev/null 2>&1 ||
                echo "warning: no dpkg/apt-get here and no '$c' on PATH" >&2
        done
        return 0
    fi

    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null |
            grep -qx installed || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: missing packages: ${missing[*]}" >&2
            echo "  run as root, or: apt-get install ${missing[*]}" >&2
            return 1
        fi
        as_root=(sudo)
    fi
    echo "== installing: ${missing[*]}"
    # env passes the variable through sudo too.
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
}
