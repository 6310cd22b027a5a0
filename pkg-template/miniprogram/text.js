// UTF-8 TextEncoder / TextDecoder for hosts without them (the WeChat mini-program).
// The wasm-bindgen glue creates one of each when it is first required, so install() must
// run before that (index.js does it first thing). Only what the glue needs: UTF-8,
// `encode`, `encodeInto`, `decode(bytes)` with `fatal` / `ignoreBOM`; no `stream` option.
'use strict';

var REPLACEMENT = 0xfffd;

function MiniTextEncoder() {}
MiniTextEncoder.prototype.encoding = 'utf-8';

// Writes the UTF-8 of `str` into `dest` (a Uint8Array) from index 0 until it is full.
// Lone surrogates become U+FFFD, as the WHATWG encoder does. Returns { read, written }
// in UTF-16 code units / bytes, like TextEncoder.encodeInto.
function encodeInto(str, dest) {
  var read = 0;
  var written = 0;
  var room = dest.length;
  var n = str.length;
  while (read < n) {
    var c = str.charCodeAt(read);
    var units = 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      var next = read + 1 < n ? str.charCodeAt(read + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else {
        c = REPLACEMENT;
      }
    }
    var size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (written + size > room) break;
    if (size === 1) {
      dest[written++] = c;
    } else if (size === 2) {
      dest[written++] = 0xc0 | (c >> 6);
      dest[written++] = 0x80 | (c & 0x3f);
    } else if (size === 3) {
      dest[written++] = 0xe0 | (c >> 12);
      dest[written++] = 0x80 | ((c >> 6) & 0x3f);
      dest[written++] = 0x80 | (c & 0x3f);
    } else {
      dest[written++] = 0xf0 | (c >> 18);
      dest[written++] = 0x80 | ((c >> 12) & 0x3f);
      dest[written++] = 0x80 | ((c >> 6) & 0x3f);
      dest[written++] = 0x80 | (c & 0x3f);
    }
    read += units;
  }
  return { read: read, written: written };
}

MiniTextEncoder.prototype.encodeInto = function (str, dest) {
  return encodeInto(String(str), dest);
};

MiniTextEncoder.prototype.encode = function (str) {
  str = str === undefined ? '' : String(str);
  // At most 3 bytes per UTF-16 code unit; copy out the used part.
  var buf = new Uint8Array(str.length * 3);
  return buf.slice(0, encodeInto(str, buf).written);
};

function MiniTextDecoder(label, options) {
  label = label === undefined ? 'utf-8' : String(label).trim().toLowerCase();
  if (label !== 'utf-8' && label !== 'utf8' && label !== 'unicode-1-1-utf-8') {
    throw new RangeError('TextDecoder polyfill: only utf-8 is supported, not ' + label);
  }
  this.fatal = !!(options && options.fatal);
  this.ignoreBOM = !!(options && options.ignoreBOM);
}
MiniTextDecoder.prototype.encoding = 'utf-8';

// The WHATWG UTF-8 decoder: each maximal invalid subpart becomes one U+FFFD (or throws
// when `fatal`), so the output matches native TextDecoder byte for byte.
MiniTextDecoder.prototype.decode = function (input, options) {
  if (options && options.stream) {
    throw new TypeError('TextDecoder polyfill: the stream option is not supported');
  }
  if (input === undefined || input === null) return '';
  var bytes = input instanceof Uint8Array ? input
    : ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    : new Uint8Array(input);
  var fatal = this.fatal;
  var i = 0;
  var n = bytes.length;
  if (!this.ignoreBOM && n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  var out = '';
  var units = []; // UTF-16 code units, flushed in chunks (fromCharCode.apply has an arg limit)
  function bad() {
    if (fatal) throw new TypeError('The encoded data was not valid utf-8');
    units.push(REPLACEMENT);
  }
  while (i < n) {
    var b = bytes[i++];
    if (b < 0x80) {
      units.push(b);
    } else {
      var need, cp, lower = 0x80, upper = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) {
        need = 2; cp = b & 0x0f;
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f; // no surrogates
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3; cp = b & 0x07;
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f; // nothing above U+10FFFF
      } else { bad(); need = 0; }
      while (need > 0) {
        var c = i < n ? bytes[i] : -1;
        if (c < lower || c > upper) { bad(); break; } // c is not consumed
        cp = (cp << 6) | (c & 0x3f);
        lower = 0x80; upper = 0xbf;
        i++;
        if (--need === 0) {
          if (cp >= 0x10000) {
            cp -= 0x10000;
            units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
          } else {
            units.push(cp);
          }
        }
      }
    }
    if (units.length >= 8192) {
      out += String.fromCharCode.apply(null, units);
      units = [];
    }
  }
  return out + String.fromCharCode.apply(null, units);
};

// Sets globalThis.TextEncoder / TextDecoder where missing; never replaces native ones.
function install() {
  var g = typeof globalThis !== 'undefined' ? globalThis : undefined;
  if (!g) throw new Error('imcore: this host has no globalThis');
  if (typeof g.TextEncoder !== 'function') g.TextEncoder = MiniTextEncoder;
  if (typeof g.TextDecoder !== 'function') g.TextDecoder = MiniTextDecoder;
}

module.exports = { install: install, TextEncoder: MiniTextEncoder, TextDecoder: MiniTextDecoder };
