#!/usr/bin/env bash
# Usage: scripts/build-wasm.sh [release|dev|bench]      (default: release)
#
# Builds the browser package into pkg/ (generated, git-ignored):
#   pkg/imcore.js, pkg/imcore.d.ts       wasm-bindgen glue, `--target web` (ES module,
#                                         default export `init`)
#   pkg/imcore_bg.wasm(.d.ts)             the module (features chat,indexeddb: ChatClient; no
#                                         key-value layout, no MqttClient class: that is
#                                         imcore/mqtt's); in release shrunk in place by npm's
#                                         binaryen wasm-opt (not Debian's binaryen 108: its
#                                         output fails in Chromium), flags below
#   pkg/mqtt/imcore.js, .d.ts, _bg.wasm   the MQTT client alone (the crate built
#                                         --no-default-features: no chat, JSON or storage
#                                         code, no wasm-bindgen) and its JS class, which
#                                         loads it, exported as `imcore/mqtt`
#   pkg/miniprogram/imcore_wx.js, imcore_bg.wasm.br
#                                         the WeChat mini-program's module (features
#                                         chat,kv,mqtt-client: no IndexedDB, and MqttClient
#                                         beside ChatClient) and its glue, derived from a build
#                                         in target/…/miniprogram-module/ (last section)
#   + everything in pkg-template/ copied over it (package.json, README, …), if any.
# dev: debug build, wasm-bindgen --debug, no wasm-opt.
# bench: only the web module, built like release but with the `browser-bench` feature (the
# bench-only exports of src/web/bench.rs), into $PKG_DIR (default build/bench-pkg; never
# shipped), for the in-page benchmarks (scripts/bench-browser.sh).
# WASM_NAMES_DIR=dir (release): also dir/imcore.wasm, dir/mqtt.wasm and dir/miniprogram.wasm,
# the same modules with their function names, for twiggy (scripts/size.sh).
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
  release | bench) cargo_flags=(--release); profile_dir=release; bindgen_flags=() ;;
  dev) cargo_flags=(); profile_dir=debug; bindgen_flags=(--debug --keep-debug) ;;
  *) echo "usage: $0 [release|dev|bench]" >&2; exit 2 ;;
esac

# Tools come from scripts/install.sh; run it if this is called on its own on a bare machine.
if ! command -v wasm-bindgen >/dev/null 2>&1 || [ ! -x node_modules/.bin/wasm-opt ] \
  || ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  scripts/install.sh
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
# PKG_DIR: where the package goes (default pkg/), so parallel builds need not share it.
out="${PKG_DIR:-pkg}"
[ "$mode" = bench ] && out="${PKG_DIR:-build/bench-pkg}"
wasm="$target_dir/wasm32-unknown-unknown/$profile_dir/imcore.wasm"
# WASM_NAMES_DIR (release, set by scripts/size.sh): also write each module as wasm-opt makes
# it but with its function names kept (`-g`), as DIR/<name>.wasm, for twiggy. Same passes,
# same code, imports renamed alike: only the name section differs from the shipped module.
names_dir="${WASM_NAMES_DIR:-}"

# wasm-opt flags, measured on this module (gzip -9 / brotli of the result): -Os compresses
# better than -Oz (a little larger raw, ~0.4 KB smaller gzipped); --converge repeats the
# passes while they still shrink it; --low-memory-unused lets binaryen fold constant
# offsets into loads and stores, which is sound when nothing reads or writes the first
# 1 KB of memory. Rust's wasm32 layout puts the 1 MB stack at [0, 1 MB) growing down and
# data above it, so the low 1 KB is the far end of the stack, reached only by a stack
# 1023 KB deep (the next 1 KB traps anyway). Together ~1.7 KB off the gzipped module.
# -ocimfs=20 (--one-caller-inline-max-function-size): a function with one caller is
# inlined into it only up to 20 instructions, like any other (binaryen's default inlines
# every one-caller function, whatever its size). Raw it adds ~10 KB, but gzip -9 shrinks by
# ~13 KB: the async state machines stay separate functions with few locals each, instead
# of merging into giant ones whose many locals need long indices and repeat less
# (measured: 10 -> 195,767, 15-25 -> 195,612, 40 -> 196,281, unlimited -> 208,512 B).
# --strip-producers --strip-target-features: the two custom sections rustc and LLVM leave
# (toolchain versions, the features it was compiled with) are read by no engine; ~190 B of
# each gzipped module.
wasm_features=(--enable-bulk-memory --enable-bulk-memory-opt
  --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
  --enable-reference-types --enable-call-indirect-overlong --enable-multivalue)
wasm_opt_flags=(-Os --converge --low-memory-unused -ocimfs=20
  --strip-producers --strip-target-features "${wasm_features[@]}")
# The order of the functions, which wasm-opt keeps: rustc's, or sorted by name before the
# passes (--reorder-functions-by-name). By name, the monomorphic copies of one generic
# function and the methods of one type sit side by side, and their look-alike bodies fall
# within gzip's 32 KB window. Which order compresses better depends on the module, so both
# are made and the smaller kept, measured as it ships (gzip -9; the mini-program's brotli at
# quality 11, COMPRESSED_BY=brotli), before scripts/short-imports.cjs renames the imports
# alike in both. Measured: web 187,601 -> 185,641 B gzip, mini-program 150,005 ->
# 148,306 B brotli by name; imcore/mqtt 49,338 -> 49,533, so it keeps rustc's.
# A third order starts from the better of these two as optimised and moves each function
# next to the one it most looks like, byte for byte (scripts/similar-order.cjs): look-alikes
# with different names (async state machines, decoders of similar records) then compress
# against each other too. The module is then optimised once more (a bare reorder leaves
# binaryen's writer ~0.7 KB of looser code), and the order kept if smaller than the two
# others. Measured on the modules of d069f8a, gzip -9 of the wasm: web 179,582 (optimised
# once more in its own order: 179,566) -> 177,367 B; imcore/mqtt 46,416 -> 46,236 B.
similar_flags=("${wasm_features[@]}" --reorder-functions-by-name "${wasm_opt_flags[@]}")

# Release and bench modules are built with the standard library rebuilt from source
# (rust-src, from scripts/install.sh) at the crate's opt-level "z", with panics that abort
# at once: a panic in a module that ships is a bug anyway (nothing reachable from the
# network may panic), and wasm32-unknown-unknown prints no panic message, so the
# formatting and location data behind panic messages is dead weight. Measured on the
# three modules, gzip -9 (mini-program: brotli):
#   web 198,097 -> 190,729, imcore/mqtt 58,130 -> 54,722, mini-program 151,868 -> 146,601 B
# (-Zbuild-std alone: 192,995 / 55,842 / 147,940; -Zlocation-detail=none and std's
# optimize_for_size make the rest). These are unstable flags of the stable toolchain,
# enabled by RUSTC_BOOTSTRAP for this build only; a toolchain that refuses them (or lacks
# rust-src) builds as before, with a warning, so the package still builds.
# With them, -Cllvm-args=-inline-threshold=15: LLVM's inliner with an explicit threshold of
# 15 in place of the size thresholds it applies at opt-level "z". Measured on the modules of
# 5d3ed09, gzip -9 of each optimised in name order: web 177,232 -> 175,994, imcore/mqtt
# 47,410 -> 47,149, mini-program 171,061 -> 169,827 B. The modules change in steps (13 and
# 15 make the same module, 17 and 20 another): 10: 176,549 / 47,173; 17-20: 178,047 /
# 47,169; 30: 179,808 / -; 0: +1.6 KB (web). As shipped (make size, every order tried): web
# 182,308 -> 181,303, imcore/mqtt 48,655 -> 48,276 B gzip -9, mini-program 147,468 ->
# 146,529 B brotli.
std_env=()
if [ "$mode" != dev ]; then
  sysroot=$(rustc --print sysroot)
  if [ -n "${RUSTFLAGS:-}" ]; then
    # RUSTFLAGS would override the target's flags below (the size gain silently lost).
    echo "[build-wasm] warning: RUSTFLAGS is set: std not rebuilt for size, no inline threshold" >&2
  elif [ -d "$sysroot/lib/rustlib/src/rust/library/std" ] && RUSTC_BOOTSTRAP=1 rustc \
      -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none \
      --target wasm32-unknown-unknown --print cfg >/dev/null 2>&1; then
    std_env=(RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort
      CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
      "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS=-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Cllvm-args=-inline-threshold=15")
  else
    echo "[build-wasm] warning: no rust-src, or rustc refuses -Cpanic=immediate-abort: std not rebuilt, no inline threshold (modules ~3-8 KB larger)" >&2
  fi
fi

# smallest_order DIR ORDER…: the ORDER whose DIR/ORDER.out.wasm is smallest as it ships
# (gzip -9, or brotli at quality 11 with COMPRESSED_BY=brotli); the first on a tie.
smallest_order() {
  node - "${COMPRESSED_BY:-gzip}" "$@" <<'NODE'
const fs = require('fs');
const { brotli, gzip } = require('./scripts/lib/compress.cjs');
const [by, dir, ...orders] = process.argv.slice(2);
const sizes = orders.map((order) => {
  const b = fs.readFileSync(`${dir}/${order}.out.wasm`);
  return (by === 'brotli' ? brotli(b) : gzip(b)).length;
});
const best = sizes.indexOf(Math.min(...sizes));
console.error(`[build-wasm] function order, ${by}: ${orders.map((o, i) => `${o} ${sizes[i]} B`).join(', ')}`);
console.log(orders[best]);
NODE
}

# build_glue DIR: wasm-bindgen --target web of the module rustc made, into DIR (imcore.js,
# imcore.d.ts, imcore_bg.wasm(.d.ts)), with the crate's inline JS pasted into the glue and
# exact types.
build_glue() {
  local dir=$1
  echo "[build-wasm] wasm-bindgen --target web --out-dir $dir"
  wasm-bindgen --target web --typescript --out-dir "$dir" "${bindgen_flags[@]}" "$wasm"

  # The crate's inline JS (`#[wasm_bindgen(inline_js)]`, e.g. src/web/chat/tape.rs) comes
  # out as snippets/*/inline*.js, imported by imcore.js. Pasted into imcore.js instead:
  # the package, the minifier, `make size` and the mini-program's CommonJS transform then
  # deal with one glue file, as before.
  node - "$dir" <<'NODE'
const fs = require('fs'), path = require('path');
const dir = process.argv[2], file = path.join(dir, 'imcore.js');
const fail = (why) => { console.error(`[build-wasm] ${file}: ${why}`); process.exit(1); };
let js = fs.readFileSync(file, 'utf8');
// Each snippet in a scope of its own, so that its helpers cannot clash with the glue's names.
js = js.replace(/^import \{ ([^}]+) \} from '\.\/(snippets\/[^']+)';\n/gm, (_, list, rel) => {
  const code = fs.readFileSync(path.join(dir, rel), 'utf8');
  const names = list.split(',').map((n) => n.trim());
  for (const name of names) {
    if (!/^[A-Za-z_]\w*$/.test(name)) fail(`import of ${rel}: "${name}" is not a plain name`);
    if (!new RegExp(`^export function ${name}\\(`, 'm').test(code)) fail(`${rel} exports no function ${name}`);
  }
  if (/^(import|export (?!function ))/m.test(code)) fail(`${rel}: only exported functions can be pasted`);
  const body = code.replace(/^export function /gm, 'function ');
  return `const { ${names.join(', ')} } = (() => {\n${body}\nreturn { ${names.join(', ')} };\n})();\n`;
});
if (/^import\b/m.test(js)) fail('an import other than a snippet is left');
fs.writeFileSync(file, js);
fs.rmSync(path.join(dir, 'snippets'), { recursive: true, force: true });
NODE

  # wasm-bindgen types the raw exports of the module (InitOutput, imcore_bg.wasm.d.ts) with
  # `any`; the package promises exact types, and `unknown` is what those values are to a
  # caller.
  sed -i -E '/^export interface InitOutput/,/^}/ s/\bany\b/unknown/g' "$dir"/imcore.d.ts
  sed -i -E 's/\bany\b/unknown/g' "$dir"/imcore_bg.wasm.d.ts
  if grep -nE '([:<|,(]|=>)[[:space:]]*any\b' "$dir"/imcore.d.ts "$dir"/imcore_bg.wasm.d.ts; then
    echo "[build-wasm] error: the type declarations above still say 'any'" >&2
    exit 1
  fi
}

# build_module DIR NAME [cargo flags…]: the crate built with the given features, through
# wasm-bindgen --target web into DIR (emptied first; imcore.js, imcore.d.ts,
# imcore_bg.wasm(.d.ts)), and in release the module shrunk by
# wasm-opt. NAME labels the log lines and the WASM_NAMES_DIR copy. With STANDALONE=1
# (imcore/mqtt): no wasm-bindgen, DIR gets imcore_bg.wasm alone.
build_module() {
  local dir=$1 name=$2
  shift 2
  echo "[build-wasm] $name: cargo build --lib --target wasm32-unknown-unknown ${cargo_flags[*]} $*"
  if ! env "${std_env[@]}" cargo build --lib --target wasm32-unknown-unknown "${cargo_flags[@]}" "$@"; then
    # A std that does not build here (its own dependencies unreachable, say) must not stop
    # the package: once more with the prebuilt std. A real error fails again.
    [ ${#std_env[@]} -gt 0 ] || exit 1
    echo "[build-wasm] warning: the build with std rebuilt failed; building with the prebuilt std (modules ~3-7 KB larger)" >&2
    std_env=()
    cargo build --lib --target wasm32-unknown-unknown "${cargo_flags[@]}" "$@"
  fi

  rm -rf "$dir"
  if [ -n "${STANDALONE:-}" ]; then
    # imcore/mqtt's module: no wasm-bindgen (src/web/session_api.rs says why), so no glue;
    # the module as rustc made it, checked against its class by scripts/mqtt-abi.cjs below.
    echo "[build-wasm] $name: no wasm-bindgen: the module alone, into $dir"
    mkdir -p "$dir"
    cp "$wasm" "$dir"/imcore_bg.wasm
    if [ "$mode" = dev ]; then node scripts/mqtt-abi.cjs "$dir"/imcore_bg.wasm --standalone; fi
  else
    build_glue "$dir"
  fi

  [ "$mode" != dev ] || return 0
  local before order
  before=$(wc -c <"$dir"/imcore_bg.wasm)
  # (-g: the input's function names stay, for the WASM_NAMES_DIR copy made from it.)
  node_modules/.bin/wasm-opt "${wasm_features[@]}" --reorder-functions-by-name -g \
    "$dir"/imcore_bg.wasm -o "$dir"/by-name.in.wasm
  mv "$dir"/imcore_bg.wasm "$dir"/rustc.in.wasm
  for order in rustc by-name; do
    node_modules/.bin/wasm-opt "${wasm_opt_flags[@]}" "$dir/$order.in.wasm" -o "$dir/$order.out.wasm"
  done
  order=$(smallest_order "$dir" rustc by-name)
  # Then look-alike bodies side by side (scripts/similar-order.cjs), from the better of the
  # two as optimised, with its names (-g, which is also the WASM_NAMES_DIR copy of that
  # order), reordered and optimised once more; kept if it compresses better still. If the
  # script fails, the two orders are all there is (a warning says so).
  local named="$dir/$order.named.wasm" candidates=("$order")
  node_modules/.bin/wasm-opt "${wasm_opt_flags[@]}" -g "$dir/$order.in.wasm" -o "$named"
  if node scripts/similar-order.cjs "$named" "$dir"/similar.in.wasm; then
    node_modules/.bin/wasm-opt "${similar_flags[@]}" "$dir"/similar.in.wasm -o "$dir"/similar.out.wasm
    candidates+=(similar)
  else
    echo "[build-wasm] warning: $name: scripts/similar-order.cjs failed; keeping $order's order" >&2
  fi
  order=$(smallest_order "$dir" "${candidates[@]}")
  mv "$dir/$order.out.wasm" "$dir"/imcore_bg.wasm
  if [ -n "$names_dir" ]; then
    mkdir -p "$names_dir"
    if [ "$order" = similar ]; then
      node_modules/.bin/wasm-opt "${similar_flags[@]}" -g "$dir"/similar.in.wasm -o "$dir"/similar.named.wasm
      node scripts/similar-order.cjs --unrank "$dir"/similar.named.wasm "$names_dir/$name.wasm"
    else
      cp "$named" "$names_dir/$name.wasm"
    fi
  fi
  rm -f "$dir"/*.in.wasm "$dir"/*.out.wasm "$dir"/*.named.wasm
  echo "[build-wasm] $name: wasm-opt ${wasm_opt_flags[*]:0:4}, $order's order: $before -> $(wc -c <"$dir"/imcore_bg.wasm) bytes"
  if [ -n "${STANDALONE:-}" ]; then
    # The module's interface checked against the class that calls it, and the linker's two
    # exported globals dropped (here and in the WASM_NAMES_DIR copy).
    node scripts/mqtt-abi.cjs "$dir"/imcore_bg.wasm --standalone ${names_dir:+"$names_dir/$name.wasm"}
    return 0
  fi
  # The imports the glue provides get short names in both (wasm-bindgen's carry a hash
  # each, which does not compress): scripts/short-imports.cjs. gzip -9 of wasm + glue:
  # imcore -4.4 KB, imcore/mqtt -2.3 KB (when it had a glue).
  # The WASM_NAMES_DIR copy gets the same names: it still runs with this glue (the
  # profiles of scripts/bench-browser.sh --profile), and its imports stay the shipped ones.
  node scripts/short-imports.cjs "$dir" ${names_dir:+"$names_dir/$name.wasm"}
}

# The web package (ChatClient on IndexedDB; MqttClient is imcore/mqtt's) into $out/.
if [ "$mode" = bench ]; then
  build_module "$out" imcore-bench --no-default-features --features chat,indexeddb,browser-bench
  node scripts/minify-js.cjs esm "$out"/imcore.js
  exit 0
fi
build_module "$out" imcore --no-default-features --features chat,indexeddb

# ---- MQTT only ------------------------------------------------------------------------------
# $out/mqtt/: the crate without its default `chat` feature — the codec and the session,
# exported as a C ABI of numbers and bytes (src/web/session_api.rs), no chat, JSON or
# storage code, and no wasm-bindgen — and the MqttClient class over it,
# src/web/mqtt_client.js, which loads the module itself. package.json exports it as
# `imcore/mqtt`: mqtt/imcore.js is that class (and its .d.ts), beside imcore_bg.wasm.
# Measured (make size, gzip -9 of wasm + JS) against the same session through wasm-bindgen
# and its glue (mqtt/session.js, 2.4 KB): 37,043 -> 34,393 B.
# (Each cargo build overwrites target/…/imcore.wasm: every module is made from it by
# build_module before the next build, and the steps below use only the files in $out.)
STANDALONE=1 build_module "$out/mqtt" mqtt --no-default-features
cp src/web/mqtt_client.js "$out"/mqtt/imcore.js
cp src/web/mqtt_client.d.ts "$out"/mqtt/imcore.d.ts
echo "[build-wasm] $out/mqtt/ ($mode):"
ls -l "$out/mqtt" | tail -n +2
# ---- end of MQTT only ----------------------------------------------------------------------

if [ -d pkg-template ] && [ -n "$(ls -A pkg-template)" ]; then
  cp -R pkg-template/. "$out"/
  echo "[build-wasm] copied pkg-template/ into $out/"
fi
# Release: the ES module glue minified (terser, scripts/minify-js.cjs: exports, class names
# and every property name, so the wasm imports, kept; every comment but @ts-self-types goes,
# the JSDoc wasm-bindgen copies from the Rust docs included: the same text stays in
# imcore.d.ts, where editors and tsc read it): gzip -9 of imcore.js + index.js
# 13,160 -> 10,344 B, of mqtt/imcore.js (the MqttClient class with its loader) 9,038 -> 4,400 B.
if [ "$mode" = release ]; then
  node scripts/minify-js.cjs esm "$out"/imcore.js "$out"/mqtt/imcore.js \
    $( [ -f "$out"/index.js ] && echo "$out"/index.js )
fi
echo "[build-wasm] $out/ ($mode):"
ls -l "$out" | tail -n +2

# ---- WeChat mini-program (owner: mini-program shell; pkg-template/miniprogram/) ----------
# $out/miniprogram/ is what package.json's "miniprogram" field names; the devtools' "build
# npm" copies it into miniprogram_npm/imcore/. Next to the hand-written glue it gets:
#   imcore_wx.js       imcore.js as CommonJS without its loaders (fetch, the WebAssembly
#                      global, import.meta), exporting __wbg_get_imports and
#                      __wbg_finalize_init so index.js can instantiate with WXWebAssembly
#   imcore_bg.wasm.br  the module, brotli-compressed (WXWebAssembly reads .wasm.br; the
#                      2 MB code package limit counts every byte)
# The module is its own build: ChatClient on the key-value store and MqttClient (features
# chat,kv,mqtt-client), no IndexedDB. build_module puts it in a scratch folder (its imcore.js is the input of the
# transform below; nothing else of it ships).
mp_module="$target_dir/wasm32-unknown-unknown/$profile_dir/miniprogram-module"
COMPRESSED_BY=brotli build_module "$mp_module" miniprogram --no-default-features --features chat,kv,mqtt-client
# Its session exports (beside wasm-bindgen's) are the ones the MqttClient class calls.
node scripts/mqtt-abi.cjs "$mp_module"/imcore_bg.wasm
mkdir -p "$out"/miniprogram
node - "$out" "$mp_module" <<'NODE'
const fs = require('fs'), path = require('path'), zlib = require('zlib');
const out = process.argv[2], mod = process.argv[3];
const fail = (why) => { console.error(`[build-wasm] miniprogram: ${why}`); process.exit(1); };
let js = fs.readFileSync(path.join(mod, 'imcore.js'), 'utf8');
// Everything from __wbg_load on is the loaders and the ES export list: drop it.
const cut = js.indexOf('\nasync function __wbg_load(');
if (cut < 0) fail('no __wbg_load in imcore.js (wasm-bindgen output changed?)');
js = js.slice(0, cut);
if (/^import\b/m.test(js)) fail('imcore.js imports other modules (snippets): not handled');
const names = [];
js = js.replace(/^export (class|function|const|let) (\w+)/gm, (_, kind, name) => {
  names.push(name);
  return `${kind} ${name}`;
});
if (/^export\b/m.test(js)) fail('an export form this transform does not know is left');
for (const f of ['__wbg_get_imports', '__wbg_finalize_init']) {
  if (!new RegExp(`^function ${f}\\(`, 'm').test(js)) fail(`no function ${f} in imcore.js`);
}
const banned = js.match(/\bWebAssembly\b|\bfetch\(|import\.meta|\beval\(|new Function\b/);
if (banned) fail(`the glue still uses ${banned[0]}, which a mini-program lacks`);
js = '// Generated by scripts/build-wasm.sh from imcore.js (wasm-bindgen --target web).\n'
  + js.replace(/^\/\* @ts-self-types=.*\*\/\n/, '')
  + `\nmodule.exports = { ${[...names, '__wbg_get_imports', '__wbg_finalize_init'].join(', ')} };\n`;
fs.writeFileSync(path.join(out, 'miniprogram', 'imcore_wx.js'), js);
// MqttClient's shell (src/web/mqtt_client.js) as CommonJS over the module's `mqtt_*`
// exports: its loader section becomes `use(exports)`, which index.js calls once the module
// is loaded, and `export class` loses its `export`.
if (!names.includes('ChatClient')) fail('imcore.js exports no ChatClient (built without chat?)');
let shell = fs.readFileSync('src/web/mqtt_client.js', 'utf8');
const loader = /^\/\/ ---- loader: the web's; the mini-program's build replaces it ----\n[\s\S]*?^\/\/ ---- end of the loader ----\n/m;
if (!loader.test(shell)) fail('src/web/mqtt_client.js: its loader section\'s marker lines changed');
shell = shell.replace(loader, '// The module\'s exports, given by index.js once it is loaded.\nlet w;\n'
  + 'const use = (exports) => { w = exports; };\n');
if (!/^export class MqttClient /m.test(shell)) fail('src/web/mqtt_client.js: no `export class MqttClient`');
shell = shell.replace(/^export class MqttClient /m, 'class MqttClient ');
if (/^(import|export)\b|\bimport\s*[(.]/m.test(shell)) {
  fail('src/web/mqtt_client.js: an import or export this transform does not know');
}
const shellBanned = shell.match(/\bWebAssembly\b|\bfetch\(|\beval\(|new Function\b/);
if (shellBanned) fail(`src/web/mqtt_client.js uses ${shellBanned[0]}, which a mini-program lacks`);
fs.writeFileSync(path.join(out, 'miniprogram', 'mqtt_client.js'),
  '// Generated by scripts/build-wasm.sh from src/web/mqtt_client.js.\n"use strict";\n'
  + shell + '\nmodule.exports = { MqttClient, use };\n');
const wasm = fs.readFileSync(path.join(mod, 'imcore_bg.wasm'));
// Quality 11 with a few distance-code layouts, the smallest kept (scripts/lib/compress.cjs).
const br = require('./scripts/lib/compress.cjs').smallestBrotli(wasm);
if (!zlib.brotliDecompressSync(br).equals(wasm)) fail('imcore_bg.wasm.br does not decompress to the module');
fs.writeFileSync(path.join(out, 'miniprogram', 'imcore_bg.wasm.br'), br);
console.log(`[build-wasm] miniprogram/: imcore_wx.js (exports ${names.join(', ')}), `
  + `imcore_bg.wasm.br ${wasm.length} -> ${br.length} bytes`);
NODE
# Release: every .js file of the mini-program minified as CommonJS (brotli of the six files
# 11,229 -> 7,106 B). After the transform above, which reads imcore.js's unminified form.
if [ "$mode" = release ]; then
  node scripts/minify-js.cjs cjs "$out"/miniprogram/*.js
fi
# ---- end of the mini-program section ------------------------------------------------------

