#!/usr/bin/env bash
# Fetches QuickFIX's stock data dictionaries (FIX40 … FIX50SP2, FIXT11) from PyPI's
# quickfix==1.16.0 source archive into .cache/quickfix-spec/, once. They are QuickFIX's
# files: read by the tests, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.cache/quickfix-spec
if [[ -f "$target/FIX44.xml" && -f "$target/FIXT11.xml" && -f "$target/FIX50SP2.xml" ]]; then exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: quickfix==1.16.0 -d "$work"
tar xzf "$work"/quickfix-1.16.0.tar.gz -C "$work" quickfix-1.16.0/spec
mkdir -p "$target"
cp "$work"/quickfix-1.16.0/spec/*.xml "$target"/
echo "counterfoil setup: QuickFIX dictionaries in $target"
