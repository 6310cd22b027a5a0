#!/usr/bin/env bash
# Usage: scripts/build-wasm.sh [release|dev]      (default: release)
#
# Builds the browser package into pkg/ (generated, git-ignored):
#   pkg/imcore.js, pkg/imcore.d.ts        wasm-bindgen glue, `--target web` (ES module,
#                                         default export `init`)
#   pkg/imcore_bg.wasm(.d.ts)             the module; in release shrunk in place by npm's
#                                         binaryen wasm-opt -Oz (not Debian's binaryen 108:
#                                         its output fails in Chromium)
#   + everything in pkg-template/ copied over it (package.json, README, …), if any.
# dev: debug build, wasm-bindgen --debug, no wasm-opt.
#
# wasm-opt features = what rustc 1.95 enables by default for wasm32-unknown-unknown
# (`rustc --print cfg --target wasm32-unknown-unknown`): bulk-memory (+ LLVM's
# bulk-memory-opt), multivalue, mutable-globals, nontrapping-fptoint, reference-types (+
# call-indirect-overlong), sign-ext. Enabling fewer makes wasm-opt reject the input.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

mode="${1:-release}"
case "$mode" in
  release) cargo_flags=(--release); profile_dir=release; bindgen_flags=() ;;
  dev) cargo_flags=(); profile_dir=debug; bindgen_flags=(--debug --keep-debug) ;;
  *) echo "usage: $0 [release|dev]" >&2; exit 2 ;;
esac

# Tools come from scripts/install.sh; run it if this is called on its own on a bare machine.
if ! command -v wasm-bindgen >/dev/null 2>&1 || [ ! -x node_modules/.bin/wasm-opt ] \
  || ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  scripts/install.sh
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
wasm="$target_dir/wasm32-unknown-unknown/$profile_dir/imcore.wasm"

echo "[build-wasm] cargo build --lib --target wasm32-unknown-unknown ${cargo_flags[*]}"
cargo build --lib --target wasm32-unknown-unknown "${cargo_flags[@]}"

echo "[build-wasm] wasm-bindgen --target web --out-dir pkg"
rm -rf pkg
wasm-bindgen --target web --typescript --out-dir pkg "${bindgen_flags[@]}" "$wasm"

# wasm-bindgen types the raw exports of the module (InitOutput, imcore_bg.wasm.d.ts) with
# `any`; the package promises exact types, and `unknown` is what those values are to a caller.
sed -i -E '/^export interface InitOutput/,/^}/ s/\bany\b/unknown/g' pkg/imcore.d.ts
sed -i -E 's/\bany\b/unknown/g' pkg/imcore_bg.wasm.d.ts
if grep -nE '([:<|,(]|=>)[[:space:]]*any\b' pkg/imcore.d.ts pkg/imcore_bg.wasm.d.ts; then
  echo "[build-wasm] error: the type declarations above still say 'any'" >&2
  exit 1
fi

if [ "$mode" = release ]; then
  before=$(wc -c <pkg/imcore_bg.wasm)
  node_modules/.bin/wasm-opt -Oz \
    --enable-bulk-memory --enable-bulk-memory-opt \
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-call-indirect-overlong --enable-multivalue \
    pkg/imcore_bg.wasm -o pkg/imcore_bg.wasm.opt
  mv pkg/imcore_bg.wasm.opt pkg/imcore_bg.wasm
  echo "[build-wasm] wasm-opt -Oz: $before -> $(wc -c <pkg/imcore_bg.wasm) bytes"
fi

if [ -d pkg-template ] && [ -n "$(ls -A pkg-template)" ]; then
  cp -R pkg-template/. pkg/
  echo "[build-wasm] copied pkg-template/ into pkg/"
fi
echo "[build-wasm] pkg/ ($mode):"
ls -l pkg | tail -n +2
