// Usage: node scripts/similar-order.cjs IN.wasm OUT.wasm
//        node scripts/similar-order.cjs --unrank IN.wasm OUT.wasm
//
// Puts look-alike function bodies next to each other, for gzip and brotli: OUT.wasm is
// IN.wasm (an optimised module) with each defined function named `NNNNNN <its name>`,
// NNNNNN its place in the new order, so that `wasm-opt --reorder-functions-by-name` (run by
// scripts/build-wasm.sh, with the usual passes) moves them there; the module's code and the
// name section's other subsections are unchanged. gzip finds repeats only within its last
// 32 KB, so two copies of one generic function, or two async state machines built alike,
// compress against each other only if they sit close; sorting by name (build-wasm's other
// order) groups the copies of one generic but not look-alikes with different names.
//
// The order: each body's 5-byte shingles give it a MinHash signature of 128 values, whose
// share of equal values between two bodies estimates how much of their byte sequences
// they share. Starting from the input's first function, the next is the unplaced function
// most like the last one placed, if they share at least 20 of 128 values; otherwise the
// first unplaced function in the input's order, which the rest keeps. Deterministic: the
// hashes have fixed seeds, ties go to the earlier function. On the web module of d069f8a
// (2,591 functions, by-name order, 179,582 B gzip -9), reordered and optimised once more:
// 177,367 B; optimised once more in its own order: 179,566 B, so the order makes the
// difference. Shingles of 4 or 6 bytes and thresholds of 10-30 gave 177.4-178.3 KB.
//
// --unrank: IN.wasm's function names without the `NNNNNN ` prefix, for the copy of the
// module that keeps its names (twiggy reads it).
'use strict';
const fs = require('fs');
const { functions, withFunctionNames } = require('./lib/wasm.cjs');

const args = process.argv.slice(2);
const unrank = args[0] === '--unrank';
const [input, output] = unrank ? args.slice(1) : args;
if (!input || !output) {
  console.error('usage: similar-order.cjs [--unrank] IN.wasm OUT.wasm');
  process.exit(2);
}
const bad = (why) => {
  console.error(`[similar-order] ${input}: ${why}`);
  process.exit(1);
};
const wasm = fs.readFileSync(input);
const { imported, bodies, names } = functions(wasm, bad);

if (unrank) {
  const plain = new Map();
  for (const [index, name] of names) plain.set(index, name.replace(/^\d{6} /, ''));
  fs.writeFileSync(output, withFunctionNames(wasm, bad, plain));
  process.exit(0);
}

const HASHES = 128;
const SHINGLE = 5;
const THRESHOLD = 20;
const n = bodies.length;
if (n >= 1e6) bad('too many functions for six-digit ranks');

// MinHash: for each of HASHES seeded hash functions, the least hash of any shingle.
const seeds = Uint32Array.from({ length: HASHES }, (_, i) => Math.imul(i + 1, 0x9e3779b1) | 1);
const signatures = new Uint32Array(n * HASHES).fill(0xffffffff);
bodies.forEach(([start, end], f) => {
  const sig = signatures.subarray(f * HASHES, (f + 1) * HASHES);
  for (let i = start; i + SHINGLE <= end; i++) {
    let h = 2166136261; // FNV-1a of the shingle
    for (let j = 0; j < SHINGLE; j++) h = Math.imul(h ^ wasm[i + j], 16777619);
    for (let k = 0; k < HASHES; k++) {
      const v = (Math.imul(h, seeds[k]) ^ (h >>> 15)) >>> 0;
      if (v < sig[k]) sig[k] = v;
    }
  }
});
const likeness = (a, b) => {
  let same = 0;
  for (let k = 0, i = a * HASHES, j = b * HASHES; k < HASHES; k++) if (signatures[i + k] === signatures[j + k]) same++;
  return same;
};

const placed = new Uint8Array(n);
const order = [];
let firstUnplaced = 0;
let alike = 0; // functions placed after a look-alike
for (let last = -1; order.length < n; ) {
  let next = -1;
  let best = THRESHOLD - 1;
  if (last >= 0) {
    for (let f = 0; f < n; f++) {
      if (placed[f]) continue;
      const l = likeness(last, f);
      if (l > best) [best, next] = [l, f];
    }
  }
  if (next < 0) {
    while (placed[firstUnplaced]) firstUnplaced++;
    next = firstUnplaced;
  } else alike++;
  placed[next] = 1;
  order.push(next);
  last = next;
}

const ranked = new Map(names);
order.forEach((f, place) => {
  const index = imported + f;
  ranked.set(index, `${String(place).padStart(6, '0')} ${names.get(index) || ''}`);
});
const out = withFunctionNames(wasm, bad, ranked);
// The output read back: the same functions, each defined one with its own rank, so that
// sorting by name gives exactly this order.
const back = functions(out, bad);
const ranks = new Set();
for (let f = 0; f < n; f++) {
  const rank = /^(\d{6}) /.exec(back.names.get(imported + f) || '');
  if (rank) ranks.add(rank[1]);
}
if (back.imported !== imported || back.bodies.length !== n || ranks.size !== n) {
  bad('the ranked module read back does not rank each of its functions once');
}
fs.writeFileSync(output, out);
console.error(`[similar-order] ${input}: ${n} functions, ${alike} placed after a look-alike`);
