#!/usr/bin/env bash
# Usage: scripts/package.sh            (make package)
#
# Builds the release package (scripts/build-wasm.sh release into $PKG_DIR, default pkg/)
# and packs it with `npm pack` into build/ (git-ignored). Prints the tarball's path and size
# on the last line: `<path> <bytes> bytes`. IMCORE_SKIP_BUILD=1 packs $PKG_DIR as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

pkg="${PKG_DIR:-pkg}"
case "$pkg" in /*) ;; *) pkg="$root/$pkg" ;; esac
out="${IMCORE_PACK_DIR:-$root/build}"

if [ "${IMCORE_SKIP_BUILD:-0}" != 1 ]; then
  PKG_DIR="$pkg" scripts/build-wasm.sh release
fi
for f in package.json imcore.js imcore_bg.wasm imcore.d.ts; do
  [ -f "$pkg/$f" ] || { echo "[package] $pkg/$f is missing" >&2; exit 1; }
done

mkdir -p "$out"
name=$(cd "$pkg" && npm pack --pack-destination "$out" --loglevel=error | tail -n 1)
tarball="$out/$name"
[ -f "$tarball" ] || { echo "[package] npm pack made no tarball" >&2; exit 1; }
echo "[package] contents:"
tar -tzvf "$tarball" | awk '{ printf "  %9s  %s\n", $3, $6 }'
echo "$tarball $(wc -c <"$tarball") bytes"
