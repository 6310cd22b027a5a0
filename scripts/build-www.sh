#!/usr/bin/env bash
# Usage: scripts/build-www.sh
#
# Builds the demo chat page www/ (Vite + TypeScript) into www/dist/ (git-ignored), which
# imcore-server serves with `--www www/dist`. Offline: only the root node_modules/.bin tools.
#   IMCORE_PKG  the imcore package to bundle (default pkg/, from scripts/build-wasm.sh)
#   VITE, TSC   override the tool binaries (default node_modules/.bin/vite, …/tsc)
# Type-checks first (`tsc --noEmit -p www`, strict) when TypeScript is installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

vite="${VITE:-$root/node_modules/.bin/vite}"
tsc="${TSC:-$root/node_modules/.bin/tsc}"
pkg="$(realpath -m "${IMCORE_PKG:-pkg}")"
export IMCORE_PKG="$pkg"

if [ ! -f "$pkg/imcore.js" ]; then
  echo "[build-www] no $pkg/imcore.js: run scripts/build-wasm.sh first (or set IMCORE_PKG)" >&2
  exit 1
fi
if [ ! -x "$vite" ]; then
  echo "[build-www] $vite is missing: run npm install (scripts/install.sh)" >&2
  exit 1
fi

if [ -x "$tsc" ]; then
  echo "[build-www] tsc --noEmit -p www (imcore types from $pkg)"
  if [ "$pkg" = "$root/pkg" ]; then
    "$tsc" --noEmit -p www
  else
    # Same config, with 'imcore' pointing at IMCORE_PKG.
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/build-www.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    cat >"$tmp/tsconfig.json" <<JSON
{ "extends": "$root/www/tsconfig.json",
  "compilerOptions": { "paths": { "imcore": ["$pkg/index.d.ts"] } },
  "include": ["$root/www/src"] }
JSON
    "$tsc" --noEmit -p "$tmp/tsconfig.json"
  fi
else
  echo "[build-www] warning: $tsc is missing, skipping the type check" >&2
fi

echo "[build-www] vite build (imcore from $pkg) -> www/dist/"
"$vite" build --config www/vite.config.ts --logLevel warn
ls -l www/dist www/dist/assets | sed 's/^/[build-www]   /'
