#!/usr/bin/env bash
# Vendors uPlot, the console's charting library, into the package so the console draws its
# charts with no internet: an operator's browser may reach callmask but not a CDN, and no
# page should load code from a third party.
#
# Why uPlot: about 50 KB minified with no dependencies (the console stays light), it draws
# long time series on a canvas quickly, and it is MIT-licensed (its LICENSE ships beside it).
#
# To update: pick the version (`npm view uplot versions`), set VERSION below and INTEGRITY
# to `npm view uplot@VERSION dist.integrity`, run this script, read the changes of uPlot's
# API between the two versions, and commit the script with the files it rewrote
# (tests/console/test_vendor.py checks them against SHA256SUMS).
#
# Idempotent: running it again with the same pin writes the same bytes.
set -euo pipefail

VERSION=1.6.32
INTEGRITY=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==

cd "$(dirname "$0")/.."
target=src/callmask/http/console/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --ignore-scripts: packing runs nothing from the package; only the registry is contacted.
tarball=$(cd "$work" && npm pack --silent --ignore-scripts "uplot@$VERSION" | tail -n 1)
actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w 0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "vendor-uplot: uplot@$VERSION does not match the pinned integrity" >&2
  echo "  pinned:     $INTEGRITY" >&2
  echo "  downloaded: $actual" >&2
  exit 1
fi

tar -xzf "$work/$tarball" -C "$work" \
  package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE
mkdir -p "$target"
install -m 0644 "$work/package/dist/uPlot.iife.min.js" "$target/uPlot.iife.min.js"
install -m 0644 "$work/package/dist/uPlot.min.css" "$target/uPlot.min.css"
install -m 0644 "$work/package/LICENSE" "$target/uPlot.LICENSE"
(cd "$target" && sha256sum uPlot.iife.min.js uPlot.min.css uPlot.LICENSE > SHA256SUMS)
echo "vendor-uplot: uplot@$VERSION in $target"
