// Usage: node scripts/mqtt-abi.cjs MODULE.wasm [--standalone [COPY.wasm...]]
//
// Checks the contract between the session's C ABI (src/web/session_api.rs, the `mqtt_*`
// exports) and the class that calls it (src/web/mqtt_client.js), which no generated glue
// keeps in step, so that a mismatch fails the build instead of a client:
//   * the numbers of Rust's `Out` and `Input` enums are the class's OUT_* and IN_*
//     constants, name for name (`Out::Transmit = 3` is `OUT_TRANSMIT = 3`), none missing
//     and none extra;
//   * MODULE.wasm exports, as functions, exactly the `mqtt_*` names the class calls
//     (`w.mqtt_poll`, …), and a memory named `memory`;
//   * every call passes as many arguments as the Rust function has parameters (a
//     `...put(a, b)` argument counts as its own arguments, which are one length each): one
//     too few would reach Rust as 0 or NaN, unseen.
// With --standalone (imcore/mqtt's module, which wasm-bindgen never sees): the module
// imports nothing and exports nothing else but for the two globals rustc's linker adds
// (`__data_end`, `__heap_base`, for tools like wasm-bindgen; nothing here reads them),
// which are dropped from MODULE.wasm and from each COPY.wasm (the same module with its
// names, for twiggy): ~30 B. Every other byte stays as it was.
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

// The enums' numbers, from the Rust source: `Name = 3,` lines between `pub enum X {` and `}`.
const rust = fs.readFileSync(path.join(root, 'src/web/session_api.rs'), 'utf8');
const js = fs.readFileSync(path.join(root, 'src/web/mqtt_client.js'), 'utf8');
const upper = (name) => name.replace(/(?<=[a-z])(?=[A-Z])/g, '_').toUpperCase();
for (const [enumName, prefix] of [['Out', 'OUT_'], ['Input', 'IN_']]) {
  const body = rust.match(new RegExp(`^pub enum ${enumName} \\{\\n([\\s\\S]*?)^\\}`, 'm'));
  if (!body) fail(`session_api.rs has no \`pub enum ${enumName}\``);
  const variants = [...body[1].matchAll(/^\s+(\w+) = (\d+),$/gm)].map(([, n, v]) => [prefix + upper(n), Number(v)]);
  if (variants.length === 0) fail(`session_api.rs: \`${enumName}\` has no \`Name = number\` variants`);
  const consts = new Map([...js.matchAll(new RegExp(`\\b(${prefix}[A-Z_]+) = (\\d+)\\b`, 'g'))]
    .map(([, n, v]) => [n, Number(v)]));
  for (const [name, value] of variants) {
    if (consts.get(name) !== value) fail(`mqtt_client.js: ${name} is ${consts.get(name)}, session_api.rs says ${value}`);
    consts.delete(name);
  }
  if (consts.size) fail(`mqtt_client.js: ${[...consts.keys()].join(', ')}: not in session_api.rs's ${enumName}`);
}

// Each call's arguments against the Rust function's parameters.
const arity = new Map([...rust.matchAll(/pub extern "C" fn (mqtt_\w+)\(([^)]*)\)/g)]
  .map(([, name, params]) => [name, params.split(',').filter((p) => p.trim()).length]));
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
for (const m of js.matchAll(/\bw\.(mqtt_\w+)\(/g)) {
  const open = m.index + m[0].length - 1;
  let count = 0;
  for (const arg of argsAt(js, open)) {
    if (arg.startsWith('...put(')) count += argsAt(arg, arg.indexOf('(')).length;
    else if (arg.startsWith('...')) fail(`mqtt_client.js: ${m[1]}(…${arg}): a spread this check cannot count`);
    else count++;
  }
  if (count !== arity.get(m[1])) {
    fail(`mqtt_client.js calls ${m[1]} with ${count} arguments; session_api.rs says ${arity.get(m[1])}`);
  }
}

// The module's imports and exports.
const bad = (f) => (why) => fail(`${f}: ${why}`);
function interfaceOf(f, wasm) {
  const imports = [];
  const exports = [];
  for (const s of sections(wasm, bad(f))) {
    if (s.id !== 2 && s.id !== 7) continue;
    const r = new Reader(wasm, bad(f), s.bodyStart);
    for (let n = r.uleb(), i = 0; i < n; i++) {
      if (s.id === 2) {
        const what = `${r.name()}.${r.name()}`;
        r.importDesc(what);
        imports.push(what);
      } else {
        const name = r.name();
        const kind = r.byte();
        r.uleb();
        exports.push({ name, kind });
      }
    }
  }
  return { imports, exports };
}

const wasm = fs.readFileSync(file);
const { imports, exports: exportList } = interfaceOf(file, wasm);
const called = new Set([...js.matchAll(/\bw\.(mqtt_\w+)\(/g)].map((m) => m[1]));
const exported = new Set(exportList.filter((e) => e.name.startsWith('mqtt_')).map((e) => e.name));
for (const name of called) if (!exported.has(name)) fail(`${file} does not export ${name}, which mqtt_client.js calls`);
for (const e of exportList) {
  if (!e.name.startsWith('mqtt_')) continue;
  if (e.kind !== 0) fail(`${file}: export ${e.name} is not a function`);
  if (!called.has(e.name)) fail(`${file} exports ${e.name}, which mqtt_client.js never calls`);
}
if (!exportList.some((e) => e.name === 'memory' && e.kind === 2)) fail(`${file} exports no memory named "memory"`);

if (flag === '--standalone') {
  if (imports.length) fail(`${file} imports ${imports.join(', ')}: imcore/mqtt's module must import nothing`);
  const others = exportList.filter((e) => !e.name.startsWith('mqtt_') && e.name !== 'memory'
    && !(e.kind === 3 && LINKER_GLOBALS.has(e.name)));
  if (others.length) fail(`${file} exports ${others.map((e) => e.name).join(', ')} beside the session's`);
  for (const f of [file, ...copies]) {
    const bytes = f === file ? wasm : fs.readFileSync(f);
    const parts = [bytes.subarray(0, 8)];
    for (const s of sections(bytes, bad(f))) {
      if (s.id !== 7) {
        parts.push(bytes.subarray(s.start, s.end));
        continue;
      }
      const r = new Reader(bytes, bad(f), s.bodyStart);
      const kept = [];
      for (let n = r.uleb(), i = 0; i < n; i++) {
        const start = r.at;
        const name = r.name();
        const kind = r.byte();
        r.uleb();
        if (!(kind === 3 && LINKER_GLOBALS.has(name))) kept.push(bytes.subarray(start, r.at));
      }
      parts.push(sectionBytes(7, Buffer.concat([ulebBytes(kept.length), ...kept])));
    }
    const out = Buffer.concat(parts);
    fs.writeFileSync(f, out);
    if (f === file) console.log(`[mqtt-abi] ${f}: ${called.size} exports as the class calls them, no imports; ${bytes.length} -> ${out.length} bytes`);
  }
} else {
  console.log(`[mqtt-abi] ${file}: the ${called.size} exports mqtt_client.js calls, their arguments and the enums match`);
}
