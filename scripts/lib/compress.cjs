// The compressions a download is measured (and the mini-program's module shipped) with,
// in one place for scripts/build-wasm.sh and scripts/size.sh.
'use strict';
const zlib = require('zlib');

const C = zlib.constants;

// Brotli at quality 11, with a distance-code layout [NPOSTFIX, NDIRECT] (how the stream
// codes match distances; any value decodes with any brotli decoder); [0, 0] is brotli's
// default.
function brotli(bytes, [postfix, direct] = [0, 0]) {
  return zlib.brotliCompressSync(bytes, { params: {
    [C.BROTLI_PARAM_QUALITY]: 11,
    [C.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    [C.BROTLI_PARAM_NPOSTFIX]: postfix,
    [C.BROTLI_PARAM_NDIRECT]: direct,
  } });
}

// Brotli at quality 11 with a few layouts, the smallest kept: the best one depends on the
// module (on the one measured, the four besides the default each saved 100-180 B); the
// default is among them, so the result is never larger than `brotli(bytes)`.
function smallestBrotli(bytes) {
  return [[0, 0], [0, 15], [1, 8], [2, 0], [3, 120]]
    .map((layout) => brotli(bytes, layout))
    .reduce((best, b) => (b.length < best.length ? b : best));
}

// gzip -9.
function gzip(bytes) {
  return zlib.gzipSync(bytes, { level: 9 });
}

module.exports = { brotli, smallestBrotli, gzip };
