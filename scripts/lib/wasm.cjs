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
      if (shift >= 35) this.bad('a LEB128 number is too long');
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

  // Limits: flags (bit 0: a maximum follows; 1: shared; 2: 64-bit), minimum, maximum.
  limits() {
    const flags = this.byte();
    if (flags & ~7) this.bad(`limits with unknown flags ${flags}`);
    this.uleb();
    if (flags & 1) this.uleb();
  }

  // A value or reference type of one byte (the GC proposal's two-part reference types are
  // not read here).
  valueType() {
    const t = this.byte();
    if (t === 0x63 || t === 0x64) this.bad('a GC reference type, which these scripts do not read');
    return t;
  }

  // The description of an import after its two names; returns its kind (0 = function).
  importDesc(what) {
    const kind = this.byte();
    if (kind === 0) this.uleb(); // function: type index
    else if (kind === 1) { this.valueType(); this.limits(); } // table: reference type, limits
    else if (kind === 2) this.limits(); // memory
    else if (kind === 3) { this.valueType(); this.byte(); } // global: value type, mutability
    else if (kind === 4) { this.byte(); this.uleb(); } // tag
    else this.bad(`import ${what} has an unknown kind ${kind}`);
    return kind;
  }
}

// The sections of a module: { id, start, end, bodyStart } each (`start` at the id byte,
// `bodyStart` after the size), plus `name` for a custom section (id 0).
function sections(wasm, bad) {
  if (wasm.length < 8 || wasm.readUInt32LE(0) !== MAGIC) bad('not a wasm module');
  if (wasm.readUInt32LE(4) !== 1) bad(`binary format version ${wasm.readUInt32LE(4)}, not 1`);
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
    if (id === 0) {
      section.name = r.name();
      if (r.at > end) bad('a custom section name runs past its section');
    }
    out.push(section);
    r.at = end;
  }
  return out;
}

// The subsections of a name section `s` (one of `sections`): { id, start, end } each, the
// content after the id and size.
function nameSubsections(wasm, bad, s) {
  const r = new Reader(wasm, bad, s.bodyStart);
  r.name();
  const out = [];
  while (r.at < s.end) {
    const id = r.byte();
    const len = r.uleb();
    const end = r.at + len;
    if (end > s.end) bad(`name subsection ${id} runs past the name section`);
    out.push({ id, start: r.at, end });
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
      if (r.at !== s.end) bad('the import section has bytes after its entries');
    } else if (s.id === 10) {
      for (let n = r.uleb(), i = 0; i < n; i++) {
        const len = r.uleb();
        if (r.at + len > s.end) bad('a function body runs past the code section');
        bodies.push([r.at, r.at + len]);
        r.at += len;
      }
    } else if (s.id === 0 && s.name === 'name') {
      for (const sub of nameSubsections(wasm, bad, s)) {
        if (sub.id !== 1) continue;
        r.at = sub.start;
        for (let n = r.uleb(), i = 0; i < n; i++) names.set(r.uleb(), r.name());
        if (r.at !== sub.end) bad('the function names run past their subsection');
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

// `wasm` with the function names of its name section replaced by `names` (index -> name);
// the section's other subsections (local, global, data segment names, …) stay as they were,
// in order, and a module without a name section gets one, last (after the data section,
// where the format puts it).
function withFunctionNames(wasm, bad, names) {
  const entries = [...names].sort((a, b) => a[0] - b[0]);
  const functionNames = sectionBytes(1, Buffer.concat([
    ulebBytes(entries.length),
    ...entries.map(([i, n]) => Buffer.concat([ulebBytes(i), nameBytes(n)])),
  ]));
  const all = sections(wasm, bad);
  const old = all.find((s) => s.id === 0 && s.name === 'name');
  const subs = old ? nameSubsections(wasm, bad, old) : [];
  const body = [nameBytes('name')];
  let placed = false;
  for (const sub of subs) {
    if (sub.id >= 1 && !placed) {
      body.push(functionNames);
      placed = true;
    }
    if (sub.id !== 1) body.push(sectionBytes(sub.id, wasm.subarray(sub.start, sub.end)));
  }
  if (!placed) body.push(functionNames);
  const nameSection = sectionBytes(0, Buffer.concat(body));
  const parts = [wasm.subarray(0, 8)];
  for (const s of all) parts.push(s === old ? nameSection : wasm.subarray(s.start, s.end));
  if (!old) parts.push(nameSection);
  return Buffer.concat(parts);
}

module.exports = { Reader, sections, functions, ulebBytes, nameBytes, sectionBytes, withFunctionNames };
