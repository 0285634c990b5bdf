#!/usr/bin/env bash
# Installs what Counterfoil needs on a Debian machine that has Swift, gcc, Python and apt.
# Idempotent: installs only what is missing, and asks nothing.
#   scripts/setup-debian.sh            # what the service and the test suite need
set -euo pipefail

# liblmdb-dev: the ledger's storage (found through pkg-config by the CLMDB target).
# libquickfix-dev, g++: QuickFIX as a test peer (validation agreement, the TLS platform).
# openssl: test certificates, and the development certificate made on the service's first start.
packages=(liblmdb-dev pkg-config libquickfix-dev g++ openssl)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    echo "counterfoil setup: installing ${missing[*]}"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
