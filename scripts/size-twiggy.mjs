#!/usr/bin/env node
// Usage: node scripts/size-twiggy.mjs NAMED.wasm SHIPPED.wasm
//
// Where the bytes of a module go, for scripts/size.sh, from twiggy's items (`twiggy top`,
// shallow sizes). NAMED.wasm is SHIPPED.wasm with its names: the same wasm-opt run with -g
// (scripts/build-wasm.sh, WASM_NAMES_DIR; its function names without similar-order's rank
// prefixes), so the same code plus custom sections (the name
// section's subsections, `producers`, `target_features`) that the shipped module lacks:
// those are left out, and shares are of SHIPPED.wasm's size. Prints:
//   * the ten largest functions (twiggy's items minus data segments and the module's
//     structure: exports, tables, types);
//   * the ten largest crates: every item (data and structure included) summed by the crate
//     its demangled name starts with, then the crate's own bytes split by top module;
//   * what the code of each crate and of each of imcore's modules costs gzip -9,
//     leave-one-out;
//   * the module without its shell (imcore::web and the JS binding crates), gzip -9 and
//     brotli, and the rest's code alone: an estimate of what moving the shell (into JS,
//     say) would leave.
// How a name gives its crate:
//   `imcore::session::Session::poll` -> imcore; `core[5930c…]::fmt::…` -> core (std's v0
//   names carry a hash); `<T as Trait>::f` and `<T>::f` -> T's crate (the impl's type:
//   `<imcore::mqtt::Packet as core::fmt::Debug>::fmt` is imcore's), or Trait's when T has
//   none (`<(A,B) as imcore::json::read::FromJson>::read`); `core::ptr::drop_in_place<T>`
//   -> T's crate. Other generics stay with the crate that defines them
//   (`<alloc::vec::Vec<T> as …>` is alloc's, whatever T is), but for those that run one of
//   imcore's closures (`LocalKey::with::<…, imcore::web::session_api::mqtt_poll::{closure#0}>`,
//   whose body is mostly the closure's): imcore's.
//   The exports wasm-bindgen writes for #[wasm_bindgen] items (`chatclient_create`,
//   `__wbg_chatclient_free`) and the session's C ABI (`mqtt_poll`, src/web/session_api.rs)
//   -> imcore; its runtime and shims
//   (`__wbindgen_*`, `__externref_*`, `… externref shim`) -> (wasm-bindgen); data segments,
//   exports, tables, types -> (data, wasm structure); other bare names (memcpy, memcmp,
//   __multi3: LLVM's compiler builtins) -> (builtins).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { brotli, gzip } from "./lib/compress.cjs";
import { functions as moduleFunctions, sections } from "./lib/wasm.cjs";

const [named, shipped] = process.argv.slice(2);
const shippedBytes = fs.statSync(shipped).size;
const items = JSON.parse(
  execFileSync("twiggy", ["top", "-n", "1000000", "--format", "json", named], { maxBuffer: 1 << 28 }),
);

const NOT_SHIPPED = /^("[a-z ]+" subsection|custom section )/;
const STRUCTURE = /^(data segment |data\[|type\[|import |export |elem\[|table\[|global\[|memory\[|start|code section|wasm magic|section headers)/;

// The type between `<` and its matching ` as ` (then also the trait) or `>` at depth 0.
function implParts(s) {
  let depth = 0;
  let as = -1;
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (c === "<" || c === "(" || c === "[") depth++;
    else if (c === ">" || c === ")" || c === "]") {
      if (depth === 0) return as < 0 ? [s.slice(1, i), ""] : [s.slice(1, as), s.slice(as + 4, i)];
      depth--;
    } else if (depth === 0 && as < 0 && s.startsWith(" as ", i)) as = i;
  }
  return [s.slice(1), ""];
}

// The leading path segment of a type or function name: `&mut [imcore::x::Y]` -> imcore.
function leading(s) {
  s = s.replace(/^(&|\*const |\*mut |mut |dyn |\[|\s)+/, "");
  if (s.startsWith("<")) return leading(implParts(s)[0]) || leading(implParts(s)[1]);
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::/.exec(s);
  return m ? m[1] : null;
}

// The exports wasm-bindgen writes for imcore's classes, the session's C ABI, and
// wasm-bindgen's own runtime and shims.
const EXPORTS = /^((__wbg_)?chatclient_[A-Za-z]+|mqtt_[a-z]+)$/;
const BINDGEN = /^(__wbindgen|__externref|__wbg_|__instance_terminated)|shim$/;
// Drop glue, `core::ptr::drop_in_place<T>`: T is group 2.
const DROP_GLUE = /^core(\[[0-9a-f]+\])?::ptr::drop_in_place<(.*)>(::h[0-9a-f]+)?$/;

// One of imcore's closures, among a generic function's arguments.
const IMCORE_CLOSURE = /\bimcore(\[[0-9a-f]+\])?::([A-Za-z_]\w*::)+\{closure#\d+\}/;

function crateOf(name) {
  if (STRUCTURE.test(name)) return "(data, wasm structure)";
  if (EXPORTS.test(name)) return "imcore";
  if (BINDGEN.test(name)) return "(wasm-bindgen)";
  const crate = crateOfPath(name);
  return crate !== "imcore" && IMCORE_CLOSURE.test(name) ? "imcore" : crate;
}

function crateOfPath(name) {
  let s = name;
  const glue = DROP_GLUE.exec(s);
  if (glue) s = glue[2];
  if (s.startsWith("<")) {
    const [self, trait] = implParts(s);
    return leading(self) || leading(trait) || "(builtins)";
  }
  return leading(s) || "(builtins)";
}

// imcore's top module of an item it owns (`imcore::web::client::…` -> web; with std
// rebuilt (scripts/build-wasm.sh) every crate's names are v0: `imcore[a9d1…]::web::…`).
function moduleOf(name) {
  const m = /imcore(?:\[[0-9a-f]+\])?::([a-z_]+)::/.exec(name);
  return m ? m[1] : "(exports)";
}

const kept = items.filter((i) => !NOT_SHIPPED.test(i.name));
const counted = kept.reduce((n, i) => n + i.shallow_size, 0);
const pct = (b) => `${((b * 100) / shippedBytes).toFixed(2)}%`;
const row = (bytes, share, what) => console.log(`${String(bytes).padStart(14)} ┊ ${share.padStart(7)} ┊ ${what}`);
const head = (what) => {
  console.log(` Shallow Bytes │ Shipped │ ${what}`);
  console.log("───────────────┼─────────┼────────────────────────────────────────────");
};
const table = (rows, what) => {
  head(what);
  for (const [name, bytes] of rows.slice(0, 10)) row(bytes, pct(bytes), name);
  const rest = rows.slice(10).reduce((n, [, b]) => n + b, 0);
  if (rows.length > 10) row(rest, pct(rest), `... and ${rows.length - 10} more`);
};
const sum = (pairs) => {
  const m = new Map();
  for (const [k, b] of pairs) m.set(k, (m.get(k) || 0) + b);
  return [...m].sort((a, b) => b[1] - a[1]);
};

const functions = kept.filter((i) => crateOf(i.name) !== "(data, wasm structure)");
table(functions.map((i) => [i.name, i.shallow_size]), "Function");
console.log();
const crates = sum(kept.map((i) => [crateOf(i.name), i.shallow_size]));
table(crates, "Crate");
row(counted, pct(counted), `Σ twiggy's items (the shipped module is ${shippedBytes} B)`);
const modules = sum(kept.filter((i) => crateOf(i.name) === "imcore").map((i) => [moduleOf(i.name), i.shallow_size]));
console.log(`imcore by module: ${modules.map(([m, b]) => `${m} ${b}`).join(", ")}`);

// What each group's code costs compressed: gzip -9 of the module's bytes as shipped (its
// custom sections left out) against the same bytes without the group's function bodies
// (read from NAMED.wasm's code and name sections). Raw bytes overstate code that repeats
// (monomorphic copies compress well) and understate code that does not; this is what a
// download saves if the group went. The groups overlap in context, so their costs do not
// add up to the total.
const wasm = fs.readFileSync(named);
const bad = (why) => {
  throw new Error(`${named}: ${why}`);
};
const fns = moduleFunctions(wasm, bad);
// A module wasm-bindgen never saw (imcore/mqtt) keeps the mangled names rustc gave its
// functions (twiggy demangles its own items): demangled here by tools/demangle, with the
// crate wasm-bindgen demangles the other modules' names with.
const names = [...fns.names];
if (names.some(([, n]) => /^_(R|ZN)/.test(n))) {
  const input = names.map(([, n]) => n).join("\n") + "\n";
  try {
    const out = execFileSync("cargo", ["run", "-q", "--release", "-p", "imcore-demangle"], {
      input,
      maxBuffer: 1 << 28,
    }).toString().split("\n");
    if (out.length !== names.length + 1) throw new Error(`${out.length - 1} names for ${names.length}`);
    names.forEach(([i], k) => fns.names.set(i, out[k]));
  } catch (e) {
    // The shares below then count every function as (builtins); the tables above stand.
    console.log(`(tools/demangle failed, names stay mangled: ${e.message})`);
  }
}
const bodies = fns.bodies.map(([start, end], i) => [start, end, fns.names.get(fns.imported + i) || ""]);
// [start, end) of every section shipped (custom sections are not).
bodies.keep = sections(wasm, bad)
  .filter((s) => s.id !== 0)
  .map((s) => [s.start, s.end]);
// The shipped bytes minus the bodies `drop` selects.
const without = (drop) => {
  const parts = [];
  let i = 0;
  const sorted = bodies.filter(([, , name]) => drop(name)).sort((a, b) => a[0] - b[0]);
  for (const [start, end] of bodies.keep) {
    let at = start;
    while (i < sorted.length && sorted[i][0] < end) {
      parts.push(wasm.subarray(at, sorted[i][0]));
      at = sorted[i][1];
      i++;
    }
    parts.push(wasm.subarray(at, end));
  }
  return Buffer.concat(parts);
};
const gzipWithout = (drop) => gzip(without(drop)).length;
const whole = gzipWithout(() => false);
const costs = (groups, groupOf) =>
  groups
    .map((g) => [g, whole - gzipWithout((name) => groupOf(name) === g)])
    .sort((a, b) => b[1] - a[1])
    .map(([g, b]) => `${g} ${b}`)
    .join(", ");
const owned = (name) => (crateOf(name) === "imcore" ? moduleOf(name) : null);
console.log(
  `gzip -9 of the code of each, leave-one-out (of ${whole} B): crates ${costs(
    crates.map(([c]) => c).filter((c) => c !== "(data, wasm structure)").slice(0, 7),
    crateOf,
  )}; imcore's modules ${costs(modules.map(([m]) => m), owned)}`,
);

// The module without its shell, an estimate of what moving the shell (into JS, say) leaves:
// the function bodies of the shell taken out, the shell being imcore's `web` module (by the
// item's own path: a method's type, drop glue's type, not generic arguments, so imcore code
// made for a shell type, `KvStorage<JsKv>`, stays), other crates' generic code made for its
// types (`Rc<web::client::Inner>`), the crates it runs on (wasm-bindgen, js-sys, web-sys,
// wasm-bindgen-futures, gloo-timers) and the exports and shims wasm-bindgen writes. What is
// left is the MQTT codec, session, chat engine, store, storage layouts, JSON and std, with
// all the data and the module's structure: the shell's strings and exports stay in, and a
// shell elsewhere would add a boundary of its own, so this is no exact floor. The rest's
// code alone (its function bodies, nothing else) is printed beside it.
const SHELL_CRATES = new Set(["wasm_bindgen", "js_sys", "web_sys", "wasm_bindgen_futures", "gloo_timers"]);
// A name that mentions the shell: its module, or one of those crates.
const MENTIONS_SHELL = new RegExp(`::web::|\\b(${[...SHELL_CRATES].join("|")})\\b`);
// The path of the item a name is of: the function's, or for `<T as Trait>::f`, `<T>::f` and
// drop glue, T's (with its generic arguments after it).
function ownPath(name) {
  const glue = DROP_GLUE.exec(name);
  const s = (glue ? glue[2] : name).replace(/^(&|\*const |\*mut |mut |dyn |\[|\s)+/, "");
  return s.startsWith("<") ? ownPath(implParts(s)[0]) : s;
}
function isShell(name) {
  const crate = crateOf(name);
  if (SHELL_CRATES.has(crate) || crate === "(wasm-bindgen)" || EXPORTS.test(name)) return true;
  const own = ownPath(name);
  if (/^imcore(\[[0-9a-f]+\])?::/.test(own)) return /^imcore(\[[0-9a-f]+\])?::web::/.test(own);
  // Other crates' generic code (std's `Vec<T>`, `Rc<T>`, `LocalKey::with`, …) made for a
  // shell type or closure is the shell's.
  return MENTIONS_SHELL.test(name);
}
const rest = without(isShell);
const restBodies = bodies.filter(([, , n]) => !isShell(n));
const restCode = Buffer.concat(restBodies.map(([start, end]) => wasm.subarray(start, end)));
console.log(
  `without its shell, an estimate (${bodies.length - restBodies.length} functions of imcore::web ` +
    `and the JS binding crates out, all data kept): ${gzip(rest).length} B gzip -9, ${brotli(rest).length} B brotli, ` +
    `of ${whole} B gzip -9; the rest's code alone: ${gzip(restCode).length} B gzip -9, ` +
    `${brotli(restCode).length} B brotli`,
);
