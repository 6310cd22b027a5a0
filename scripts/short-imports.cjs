// Usage: node scripts/short-imports.cjs DIR [COPY.wasm...]
//
// Gives the wasm imports that DIR/imcore.js provides (module "./imcore_bg.js") short names,
// in DIR/imcore_bg.wasm and in the glue's import object alike. wasm-bindgen names each
// import after its JS function plus a 16-digit hash (`__wbg_new_from_slice_b8daf545a41c6aa0`):
// 134 of them in the web module, each spelled once in the module and once in the glue, and
// the hashes do not compress. The names are the module's private contract with its own
// glue: nothing else sees them.
//
// The exports, which `init()` returns and InitOutput types, keep their names, but for
// wasm-bindgen's closure shims: each is named after the Rust types of its closure, hashes
// included (`wasm_bindgen_a283fd348162c721___convert__closures_____invoke___js_sys_…`, up
// to 334 bytes), and only the glue calls them. They become `$a`, `$b`, … in the module, in
// the glue and in the InitOutput types of imcore.d.ts and imcore_bg.wasm.d.ts.
//
// The import and export sections are rewritten in place (names only; every other byte and
// section as it was). A glue that does not name each import exactly once, or a shim at
// least once, is an error: wasm-bindgen's output changed, and a half-renamed pair would
// fail at instantiation.
//
// Each COPY.wasm (the same module with its names kept, for twiggy and profiles) gets the
// same names, so that it still runs with the renamed glue; a copy whose imports differ from
// the module's is an error.
'use strict';
const fs = require('fs');
const path = require('path');
const { Reader, sections, ulebBytes, nameBytes, sectionBytes } = require('./lib/wasm.cjs');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: short-imports.cjs DIR [COPY.wasm...]');
  process.exit(2);
}
const wasmFile = path.join(dir, 'imcore_bg.wasm');
const glueFile = path.join(dir, 'imcore.js');
const fail = (why) => {
  console.error(`[short-imports] ${dir}: ${why}`);
  process.exit(1);
};
const GLUE_MODULE = './imcore_bg.js';
const SHORT_MODULE = 'a';

let glue = fs.readFileSync(glueFile, 'utf8');

// Short names: a, b, …, Z, aa, ab, … (JS identifiers, no `$`/`_` needed).
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const shortName = (i) => {
  let s = '';
  do {
    s = ALPHABET[i % ALPHABET.length] + s;
    i = Math.floor(i / ALPHABET.length) - 1;
  } while (i >= 0);
  return s;
};

// wasm-bindgen's closure shims among the exports.
const SHIM = /^wasm_bindgen_[0-9a-f]+___convert__closures_/;

// `wasm` with the field of each import from GLUE_MODULE renamed by `rename(field)` and its
// module by SHORT_MODULE, and each closure shim export renamed by `renameShim(name)`; every
// other byte as it was.
function renameImports(file, wasm, rename, renameShim) {
  const bad = (why) => fail(`${file}: ${why}`);
  const parts = [wasm.subarray(0, 8)];
  for (const s of sections(wasm, bad)) {
    const r = new Reader(wasm, bad, s.bodyStart);
    if (s.id !== 2 && s.id !== 7) {
      parts.push(wasm.subarray(s.start, s.end));
      continue;
    }
    const count = r.uleb();
    const entries = [ulebBytes(count)];
    for (let i = 0; i < count; i++) {
      if (s.id === 7) {
        let field = r.name();
        const descStart = r.at;
        r.byte(); // kind
        r.uleb(); // index
        if (SHIM.test(field)) field = renameShim(field);
        entries.push(nameBytes(field), wasm.subarray(descStart, r.at));
        continue;
      }
      let module = r.name();
      let field = r.name();
      const descStart = r.at;
      r.importDesc(`${module}.${field}`);
      if (module === GLUE_MODULE) {
        module = SHORT_MODULE;
        field = rename(field);
      }
      entries.push(nameBytes(module), nameBytes(field), wasm.subarray(descStart, r.at));
    }
    if (r.at !== s.end) bad(`the ${s.id === 2 ? 'import' : 'export'} section has bytes after its entries`);
    parts.push(sectionBytes(s.id, Buffer.concat(entries)));
  }
  return Buffer.concat(parts);
}

const wasm = fs.readFileSync(wasmFile);
const renamed = new Map();
const shims = new Map();
const out = renameImports(wasmFile, wasm, (field) => {
  if (renamed.has(field)) fail(`import ${field} appears twice`);
  const short = shortName(renamed.size);
  renamed.set(field, short);
  return short;
}, (shim) => {
  if (shims.has(shim)) fail(`export ${shim} appears twice`);
  const short = `$${shortName(shims.size)}`;
  shims.set(shim, short);
  return short;
});
if (renamed.size === 0) fail(`the module imports nothing from ${GLUE_MODULE}`);
const copies = process.argv.slice(3).map((file) => {
  const seen = new Set();
  const seenShims = new Set();
  const copy = renameImports(file, fs.readFileSync(file), (field) => {
    const short = renamed.get(field);
    if (short === undefined || seen.has(field)) fail(`${file}: import ${field} is not one of the module's`);
    seen.add(field);
    return short;
  }, (shim) => {
    const short = shims.get(shim);
    if (short === undefined || seenShims.has(shim)) fail(`${file}: export ${shim} is not one of the module's`);
    seenShims.add(shim);
    return short;
  });
  if (seen.size !== renamed.size) fail(`${file}: imports ${seen.size} of the module's ${renamed.size}`);
  if (seenShims.size !== shims.size) fail(`${file}: exports ${seenShims.size} of the module's ${shims.size} closure shims`);
  return [file, copy];
});

// The glue: each import is a key of the import object, written once; the object itself is
// the value of the key "./imcore_bg.js".
const token = (s) => new RegExp(`(?<![\\w$])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w$])`, 'g');
for (const [long, short] of renamed) {
  const hits = glue.match(token(long));
  if (!hits || hits.length !== 1) fail(`the glue names import ${long} ${hits ? hits.length : 0} times, not once`);
  glue = glue.replace(token(long), short);
}
// The glue calls each shim as `wasm.<name>` (maybe more than once); the declarations type
// each once, in InitOutput.
const types = ['imcore.d.ts', 'imcore_bg.wasm.d.ts'].map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
const decls = types.map((f) => [f, fs.readFileSync(f, 'utf8')]);
for (const [long, short] of shims) {
  const hits = glue.match(token(long));
  if (!hits) fail(`the glue never calls closure shim ${long}`);
  glue = glue.replace(token(long), short);
  for (const d of decls) {
    const typed = d[1].match(token(long));
    if (!typed || typed.length !== 1) fail(`${d[0]} types closure shim ${long} ${typed ? typed.length : 0} times, not once`);
    d[1] = d[1].replace(token(long), short);
  }
}
// A shim wasm-bindgen named some other way would keep its long name (and its bytes) unseen.
if (/___convert__closures_/.test(glue)) fail('the glue still names a closure shim this script does not know');
const moduleKey = /(["'])\.\/imcore_bg\.js\1(?=\s*:)/g;
const keys = glue.match(moduleKey);
if (!keys || keys.length !== 1) fail(`the glue has ${keys ? keys.length : 0} "${GLUE_MODULE}" keys, not one`);
glue = glue.replace(moduleKey, `"${SHORT_MODULE}"`);

fs.writeFileSync(wasmFile, out);
fs.writeFileSync(glueFile, glue);
for (const [f, text] of decls) fs.writeFileSync(f, text);
for (const [file, copy] of copies) fs.writeFileSync(file, copy);
console.log(`[short-imports] ${dir}: ${renamed.size} imports and ${shims.size} closure shims renamed; wasm ${wasm.length} -> ${out.length} bytes`);
