// The TextEncoder / TextDecoder polyfill of the mini-program glue against Node's own.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const fs = require('node:fs');
const os = require('node:os');

// The source in pkg-template/, no build needed. Copied out first: pkg-template/package.json
// says "type": "module", and this file is CommonJS (as a mini-program's files are).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imcore-text-'));
fs.copyFileSync(path.join(__dirname, '..', '..', 'pkg-template', 'miniprogram', 'text.js'), path.join(dir, 'text.js'));
const poly = require(path.join(dir, 'text.js'));
fs.rmSync(dir, { recursive: true, force: true });

const enc = new poly.TextEncoder();
const native = new TextEncoder();

function randomString(rng, len) {
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rng();
    if (r < 0.4) s += String.fromCharCode(Math.floor(rng() * 0x80));
    else if (r < 0.6) s += String.fromCharCode(0x80 + Math.floor(rng() * 0x780));
    else if (r < 0.75) s += String.fromCharCode(0x800 + Math.floor(rng() * 0xf7ff));
    else if (r < 0.9) s += String.fromCodePoint(0x10000 + Math.floor(rng() * 0xfffff));
    else s += String.fromCharCode(0xd800 + Math.floor(rng() * 0x800)); // lone surrogate (maybe)
  }
  return s;
}

function rng(seed) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
}

test('encode matches the native TextEncoder, lone surrogates included', () => {
  const r = rng(1);
  for (const s of ['', 'abc', 'é', '€', '😀', '\ud800', '\udc00x', 'a\ud83d', '\ud83d\ude00\ud83d']) {
    assert.deepEqual(enc.encode(s), native.encode(s), JSON.stringify(s));
  }
  for (let i = 0; i < 500; i++) {
    const s = randomString(r, Math.floor(r() * 50));
    assert.deepEqual(enc.encode(s), native.encode(s));
  }
});

test('encodeInto matches the native one, also when the buffer is too small', () => {
  const r = rng(2);
  for (let i = 0; i < 500; i++) {
    const s = randomString(r, Math.floor(r() * 20));
    const n = Math.floor(r() * 40);
    const a = new Uint8Array(n);
    const b = new Uint8Array(n);
    assert.deepEqual(enc.encodeInto(s, a), native.encodeInto(s, b), JSON.stringify(s));
    assert.deepEqual(a, b);
  }
});

test('decode matches the native TextDecoder on valid and invalid UTF-8', () => {
  const r = rng(3);
  const cases = [[], [0xef, 0xbb, 0xbf, 0x41], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x98], [0xf0, 0x9f, 0x98, 0x41], [0xff], [0x80, 0x41],
    [0xe2, 0x82], [0xe2, 0x82, 0xac], [0xc2]];
  for (let i = 0; i < 2000; i++) {
    const bytes = [];
    const n = Math.floor(r() * 12);
    for (let j = 0; j < n; j++) bytes.push(r() < 0.5 ? Math.floor(r() * 256) : 0x80 + Math.floor(r() * 64));
    cases.push(bytes);
  }
  for (const ignoreBOM of [false, true]) {
    const p = new poly.TextDecoder('utf-8', { ignoreBOM });
    const d = new TextDecoder('utf-8', { ignoreBOM });
    for (const bytes of cases) {
      const u8 = new Uint8Array(bytes);
      assert.equal(p.decode(u8), d.decode(u8), `${bytes} ignoreBOM=${ignoreBOM}`);
    }
  }
  // Views into a larger buffer (the glue decodes subarrays of wasm memory), and big inputs.
  const big = native.encode(randomString(r, 100000));
  const view = new Uint8Array(big.buffer, 7, big.length - 7);
  assert.equal(new poly.TextDecoder().decode(view), new TextDecoder().decode(view));
  assert.equal(new poly.TextDecoder().decode(), '');
});

test('fatal: invalid input throws, like the native decoder', () => {
  const p = new poly.TextDecoder('utf-8', { fatal: true });
  assert.throws(() => p.decode(new Uint8Array([0xff])), TypeError);
  assert.equal(p.decode(new Uint8Array([0xe2, 0x82, 0xac])), '€');
});

test('install() fills only missing globals', () => {
  const saved = [globalThis.TextEncoder, globalThis.TextDecoder];
  poly.install();
  assert.equal(globalThis.TextEncoder, saved[0]);
  delete globalThis.TextEncoder;
  delete globalThis.TextDecoder;
  try {
    poly.install();
    assert.equal(globalThis.TextEncoder, poly.TextEncoder);
    assert.equal(globalThis.TextDecoder, poly.TextDecoder);
  } finally {
    [globalThis.TextEncoder, globalThis.TextDecoder] = saved;
  }
});
