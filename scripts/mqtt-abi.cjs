// Usage: node scripts/mqtt-abi.cjs MODULE.wasm [--standalone [COPY.wasm...]]
//
// Checks the contract between the session's C ABI (src/web/session_api.rs, the `mqtt_*`
// exports) and the class that calls it (src/web/mqtt_client.js), which no generated glue
// keeps in step, so that a mismatch fails the build instead of a client:
//   * every variant of Rust's `Out` and `Input` enums says its number, and the numbers are
//     the class's OUT_* and IN_* constants, name for name (`Out::Transmit = 3` is
//     `OUT_TRANSMIT = 3`), none missing and none extra;
//   * MODULE.wasm exports, as functions, exactly the `mqtt_*` names the class calls
//     (`w.mqtt_poll`, …), and a memory named `memory`;
//   * each of those functions takes only i32 and f64 (what a JS number becomes; an i64
//     would want a BigInt) and returns at most one of them, and every call passes as many
//     arguments as the function has parameters (a `...put(a, b)` argument counts as its own
//     arguments, one length each): one too few would reach Rust as 0 or NaN, unseen.
// (The order of the arguments is the tests' to check: tests/mqtt-shell, the browser tests
// and session_api.rs's own.)
// With --standalone (imcore/mqtt's module, which wasm-bindgen never sees): the module
// imports nothing and exports nothing else but for the two globals rustc's linker adds
// (`__data_end`, `__heap_base`, for tools like wasm-bindgen; nothing here reads them),
// which are dropped from MODULE.wasm and from each COPY.wasm (the same module with its
// names, for twiggy), in place: ~30 B. Every other byte stays as it was.
'use strict';
const fs = require('fs');
const path = require('path');
const { Reader, sections, ulebBytes, sectionBytes } = require('./lib/wasm.cjs');

const root = path.join(__dirname, '..');
const [file, flag, ...copies] = process.argv.slice(2);
if (!file || (flag !== undefined && flag !== '--standalone')) {
  console.error('usage: mqtt-abi.cjs MODULE.wasm [--standalone [COPY.wasm...]]');
  process.exit(2);
}
const fail = (why) => {
  console.error(`[mqtt-abi] ${why}`);
  process.exit(1);
};
const LINKER_GLOBALS = new Set(['__data_end', '__heap_base']);
const I32 = 0x7f;
const F64 = 0x7c;

// The enums' numbers, from the Rust source: the variant lines between `pub enum X {` and
// `}` (doc comments and attributes aside), each `Name = 3,`.
const rust = fs.readFileSync(path.join(root, 'src/web/session_api.rs'), 'utf8');
// The class without its comment lines (a call named in a comment is none).
const js = fs.readFileSync(path.join(root, 'src/web/mqtt_client.js'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
const upper = (name) => name.replace(/(?<=[a-z])(?=[A-Z])/g, '_').toUpperCase();
for (const [enumName, prefix] of [['Out', 'OUT_'], ['Input', 'IN_']]) {
  const body = rust.match(new RegExp(`^pub enum ${enumName} \\{\\n([\\s\\S]*?)^\\}`, 'm'));
  if (!body) fail(`session_api.rs has no \`pub enum ${enumName}\``);
  const lines = body[1].split('\n').map((l) => l.trim()).filter((l) => l && !/^(\/\/|#\[)/.test(l));
  const variants = lines.map((line) => {
    const m = /^(\w+) = (\d+),$/.exec(line);
    if (!m) fail(`session_api.rs: \`${enumName}\`: "${line}" is not a \`Name = number,\` variant`);
    return [prefix + upper(m[1]), Number(m[2])];
  });
  if (variants.length === 0) fail(`session_api.rs: \`${enumName}\` has no variants`);
  const consts = new Map([...js.matchAll(new RegExp(`\\b(${prefix}[A-Z_]+) = (\\d+)\\b`, 'g'))]
    .map(([, n, v]) => [n, Number(v)]));
  for (const [name, value] of variants) {
    if (consts.get(name) !== value) fail(`mqtt_client.js: ${name} is ${consts.get(name)}, session_api.rs says ${value}`);
    consts.delete(name);
  }
  if (consts.size) fail(`mqtt_client.js: ${[...consts.keys()].join(', ')}: not in session_api.rs's ${enumName}`);
}

// The module's imports, its exports (each with its bytes' [start, end), and the export
// section's), and the type of each function it defines.
const bad = (f) => (why) => fail(`${f}: ${why}`);
function interfaceOf(f, wasm) {
  const imports = [];
  const exportList = [];
  let exportSection = null;
  const types = [];
  const functionTypes = [];
  let importedFunctions = 0;
  for (const s of sections(wasm, bad(f))) {
    const r = new Reader(wasm, bad(f), s.bodyStart);
    if (s.id === 1) {
      for (let n = r.uleb(), i = 0; i < n; i++) {
        if (r.byte() !== 0x60) bad(f)(`type ${i} is not a function type`);
        const params = Array.from({ length: r.uleb() }, () => r.valueType());
        const results = Array.from({ length: r.uleb() }, () => r.valueType());
        types.push({ params, results });
      }
    } else if (s.id === 2) {
      for (let n = r.uleb(), i = 0; i < n; i++) {
        const what = `${r.name()}.${r.name()}`;
        if (r.importDesc(what) === 0) importedFunctions++;
        imports.push(what);
      }
    } else if (s.id === 3) {
      for (let n = r.uleb(), i = 0; i < n; i++) functionTypes.push(r.uleb());
    } else if (s.id === 7) {
      exportSection = s;
      for (let n = r.uleb(), i = 0; i < n; i++) {
        const start = r.at;
        const name = r.name();
        const kind = r.byte();
        exportList.push({ name, kind, index: r.uleb(), start, end: r.at });
      }
    }
  }
  const typeOf = (e) => types[functionTypes[e.index - importedFunctions]];
  return { imports, exportList, exportSection, typeOf };
}

// The top-level arguments of the call whose `(` is at `open` in `src`.
function argsAt(src, open) {
  const args = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'" || c === '`') {
      for (i++; i < src.length && src[i] !== c; i++) if (src[i] === '\\') i++;
    } else if ('([{'.includes(c)) {
      depth++;
    } else if (')]}'.includes(c) && --depth === 0) {
      args.push(src.slice(start, i));
      return args.map((a) => a.trim()).filter(Boolean);
    } else if (c === ',' && depth === 1) {
      args.push(src.slice(start, i));
      start = i + 1;
    }
  }
  return fail(`mqtt_client.js: a call at ${open} never closes`);
}

const wasm = fs.readFileSync(file);
const parsed = interfaceOf(file, wasm);
const { imports, exportList, typeOf } = parsed;
const calls = [...js.matchAll(/\bw\.(mqtt_\w+)\(/g)];
const called = new Set(calls.map((m) => m[1]));
const exported = new Map(exportList.filter((e) => e.name.startsWith('mqtt_')).map((e) => [e.name, e]));
for (const name of called) if (!exported.has(name)) fail(`${file} does not export ${name}, which mqtt_client.js calls`);
for (const [name, e] of exported) {
  if (e.kind !== 0) fail(`${file}: export ${name} is not a function`);
  if (!called.has(name)) fail(`${file} exports ${name}, which mqtt_client.js never calls`);
  const type = typeOf(e);
  if (!type) fail(`${file}: export ${name} is no function the module defines`);
  const numbers = (list) => list.every((t) => t === I32 || t === F64);
  if (!numbers(type.params) || !numbers(type.results) || type.results.length > 1) {
    fail(`${file}: ${name} takes or returns something other than i32 and f64 (a JS number), or more than one result`);
  }
}
for (const m of calls) {
  const open = m.index + m[0].length - 1;
  let count = 0;
  for (const arg of argsAt(js, open)) {
    if (arg.startsWith('...put(')) count += argsAt(arg, arg.indexOf('(')).length;
    else if (arg.startsWith('...')) fail(`mqtt_client.js: ${m[1]}(…${arg}): a spread this check cannot count`);
    else count++;
  }
  const params = typeOf(exported.get(m[1])).params.length;
  if (count !== params) fail(`mqtt_client.js calls ${m[1]} with ${count} arguments; it takes ${params}`);
}
if (!exportList.some((e) => e.name === 'memory' && e.kind === 2)) fail(`${file} exports no memory named "memory"`);

if (flag === '--standalone') {
  if (imports.length) fail(`${file} imports ${imports.join(', ')}: imcore/mqtt's module must import nothing`);
  const others = exportList.filter((e) => !e.name.startsWith('mqtt_') && e.name !== 'memory'
    && !(e.kind === 3 && LINKER_GLOBALS.has(e.name)));
  if (others.length) fail(`${file} exports ${others.map((e) => e.name).join(', ')} beside the session's`);
  for (const f of [file, ...copies]) {
    const bytes = f === file ? wasm : fs.readFileSync(f);
    const { exportList: list, exportSection: s } = f === file ? parsed : interfaceOf(f, bytes);
    const kept = list.filter((e) => !(e.kind === 3 && LINKER_GLOBALS.has(e.name)))
      .map((e) => bytes.subarray(e.start, e.end));
    const out = Buffer.concat([bytes.subarray(0, s.start),
      sectionBytes(7, Buffer.concat([ulebBytes(kept.length), ...kept])), bytes.subarray(s.end)]);
    fs.writeFileSync(f, out);
    if (f === file) console.log(`[mqtt-abi] ${f}: ${exported.size} exports as the class calls them, no imports; ${bytes.length} -> ${out.length} bytes`);
  }
} else {
  console.log(`[mqtt-abi] ${file}: the ${exported.size} exports mqtt_client.js calls, their arguments and the enums match`);
}
