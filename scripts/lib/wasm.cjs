// Reading and writing the parts of a wasm module's binary format that the build scripts
// touch (sections, imports, function bodies, function names), in one place for
// scripts/short-imports.cjs, scripts/similar-order.cjs and scripts/size-twiggy.mjs.
// Every read is bounds-checked: a malformed module is an error naming what was wrong,
// never a silent misread.
'use strict';

const MAGIC = 0x6d736100; // "\0asm"

// Sequential reads of `wasm` from `at`; `bad(why)` reports a malformed module (it throws
// or exits).
class Reader {
  constructor(wasm, bad, at = 0) {
    this.wasm = wasm;
    this.bad = bad;
    this.at = at;
  }

  byte() {
    if (this.at >= this.wasm.length) this.bad('the module ends early');
    return this.wasm[this.at++];
  }

  // An unsigned LEB128 number (at most 35 bits: wasm's u32).
  uleb() {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return n;
      if (shift > 35) this.bad('a LEB128 number is too long');
    }
  }

  // A length-prefixed UTF-8 name.
  name() {
    const n = this.uleb();
    if (this.at + n > this.wasm.length) this.bad('a name runs past the end');
    const s = this.wasm.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }

  limits() {
    const flags = this.byte();
    this.uleb();
    if (flags & 1) this.uleb();
  }

  // The description of an import after its two names; returns its kind (0 = function).
  importDesc(what) {
    const kind = this.byte();
    if (kind === 0) this.uleb(); // function: type index
    else if (kind === 1) { this.byte(); this.limits(); } // table: reference type, limits
    else if (kind === 2) this.limits(); // memory
    else if (kind === 3) { this.byte(); this.byte(); } // global: value type, mutability
    else if (kind === 4) { this.byte(); this.uleb(); } // tag
    else this.bad(`import ${what} has an unknown kind ${kind}`);
    return kind;
  }
}

// The sections of a module: { id, start, end, bodyStart } each (`start` at the id byte,
// `bodyStart` after the size), plus `name` for a custom section (id 0).
function sections(wasm, bad) {
  if (wasm.length < 8 || wasm.readUInt32LE(0) !== MAGIC) bad('not a wasm module');
  const r = new Reader(wasm, bad, 8);
  const out = [];
  while (r.at < wasm.length) {
    const start = r.at;
    const id = r.byte();
    const size = r.uleb();
    const bodyStart = r.at;
    const end = bodyStart + size;
    if (end > wasm.length) bad(`section ${id} runs past the end`);
    const section = { id, start, end, bodyStart };
    if (id === 0) section.name = r.name();
    out.push(section);
    r.at = end;
  }
  return out;
}

// What the function index space holds: `imported` functions first, then one defined
// function per code-section body ([start, end) of each, in `bodies`), and the names the
// name section gives (`names`: index -> name; empty without one).
function functions(wasm, bad) {
  let imported = 0;
  const bodies = [];
  const names = new Map();
  for (const s of sections(wasm, bad)) {
    const r = new Reader(wasm, bad, s.bodyStart);
    if (s.id === 2) {
      for (let n = r.uleb(), i = 0; i < n; i++) {
        const what = `${r.name()}.${r.name()}`;
        if (r.importDesc(what) === 0) imported++;
      }
    } else if (s.id === 10) {
      for (let n = r.uleb(), i = 0; i < n; i++) {
        const len = r.uleb();
        if (r.at + len > s.end) bad('a function body runs past the code section');
        bodies.push([r.at, r.at + len]);
        r.at += len;
      }
    } else if (s.id === 0 && s.name === 'name') {
      r.at = s.bodyStart;
      r.name();
      while (r.at < s.end) {
        const sub = r.byte();
        const len = r.uleb();
        const subEnd = r.at + len;
        if (sub === 1) for (let n = r.uleb(), i = 0; i < n; i++) names.set(r.uleb(), r.name());
        r.at = subEnd;
      }
    }
  }
  return { imported, bodies, names };
}

function ulebBytes(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function nameBytes(s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([ulebBytes(b.length), b]);
}

// A section: its id, its size, its body.
function sectionBytes(id, body) {
  return Buffer.concat([Buffer.from([id]), ulebBytes(body.length), body]);
}

// `wasm` with its name section replaced by one that names the functions `names` maps
// (index -> name) and nothing else; every other section as it was.
function withFunctionNames(wasm, bad, names) {
  const entries = [...names].sort((a, b) => a[0] - b[0]);
  const map = Buffer.concat([ulebBytes(entries.length), ...entries.map(([i, n]) => Buffer.concat([ulebBytes(i), nameBytes(n)]))]);
  const nameSection = sectionBytes(0, Buffer.concat([nameBytes('name'), sectionBytes(1, map)]));
  const kept = sections(wasm, bad)
    .filter((s) => !(s.id === 0 && s.name === 'name'))
    .map((s) => wasm.subarray(s.start, s.end));
  return Buffer.concat([wasm.subarray(0, 8), ...kept, nameSection]);
}

module.exports = { Reader, sections, functions, ulebBytes, nameBytes, sectionBytes, withFunctionNames };
