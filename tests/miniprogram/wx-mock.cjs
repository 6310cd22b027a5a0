// A `wx` and a `WXWebAssembly` for Node that keep to the mini-program's documented limits
// (/work/shared/MINIPROGRAM.md), so the glue is tested against them:
//   connectSocket   Node's WebSocket (binaryType arraybuffer); ws:// and wss:// only;
//                   at most 5 sockets at once; send() only once open
//   *Storage        an in-memory map holding JSON copies: 1 MB per key and 10 MB in all,
//                   measured (strictly) as key + JSON of the value in UTF-8 bytes
//   request         Node's http / https
//   WXWebAssembly   instantiate(path, imports) with a code-package path (.wasm / .wasm.br)
// Every callback is asynchronous, as on the device. `real` holds the host globals the test
// hides from the glue (WebSocket, WebAssembly), which the mock itself still needs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const http = require('node:http');
const https = require('node:https');

const MB = 1024 * 1024;
const later = (fn, ...args) => setTimeout(() => fn && fn(...args), 0);

function createWx(real) {
  const sockets = new Set();
  const storage = new Map(); // key -> { json, size }
  const appShow = [];
  const stats = {
    socketUrls: [], // every url passed to connectSocket
    maxSendsInFlight: 0,
    storageFailures: [], // errMsg of every refused setStorage
    largestValue: 0, // bytes, of any value stored
  };

  const storageSize = () => [...storage.values()].reduce((n, e) => n + e.size, 0);

  const wx = {
    connectSocket(opts) {
      stats.socketUrls.push(opts.url);
      const handlers = { open: [], message: [], close: [], error: [] };
      const emit = (kind, res) => handlers[kind].forEach((h) => h(res));
      let ws = null;
      let inFlight = 0;
      const task = {
        get readyState() { return ws ? ws.readyState : 3; },
        onOpen: (h) => handlers.open.push(h),
        onMessage: (h) => handlers.message.push(h),
        onClose: (h) => handlers.close.push(h),
        onError: (h) => handlers.error.push(h),
        send({ data, success, fail, complete }) {
          if (!ws || ws.readyState !== 1) {
            later(fail, { errMsg: 'sendSocketMessage:fail WebSocket is not connected' });
            later(complete);
            return;
          }
          if (!(data instanceof ArrayBuffer) && typeof data !== 'string') {
            later(fail, { errMsg: 'sendSocketMessage:fail data must be a string or an ArrayBuffer' });
            return;
          }
          inFlight++;
          stats.maxSendsInFlight = Math.max(stats.maxSendsInFlight, inFlight);
          ws.send(data);
          setTimeout(() => { inFlight--; success && success({ errMsg: 'sendSocketMessage:ok' }); complete && complete(); }, 0);
        },
        close({ code, reason, success, fail } = {}) {
          if (!ws || ws.readyState >= 2) { later(fail, { errMsg: 'closeSocket:fail WebSocket is not connected' }); return; }
          ws.close(code || 1000, reason);
          later(success, { errMsg: 'closeSocket:ok' });
        },
      };
      if (!/^wss?:\/\//.test(opts.url)) {
        later(opts.fail, { errMsg: `connectSocket:fail invalid url "${opts.url}"` });
        later(emit, 'error', { errMsg: 'connectSocket:fail invalid url' });
        return task;
      }
      if (sockets.size >= 5) {
        later(opts.fail, { errMsg: 'connectSocket:fail exceed max task count' });
        return task;
      }
      ws = new real.WebSocket(opts.url, opts.protocols);
      ws.binaryType = 'arraybuffer';
      sockets.add(ws);
      ws.onopen = (e) => emit('open', { header: {}, profile: {} });
      ws.onmessage = (e) => emit('message', { data: e.data });
      ws.onerror = (e) => emit('error', { errMsg: String((e && e.message) || 'WebSocket error') });
      ws.onclose = (e) => { sockets.delete(ws); emit('close', { code: e.code, reason: e.reason }); };
      later(opts.success, { errMsg: 'connectSocket:ok' });
      return task;
    },

    setStorage({ key, data, success, fail, complete }) {
      const json = JSON.stringify(data);
      const size = Buffer.byteLength(key) + Buffer.byteLength(json);
      const old = storage.get(key);
      let errMsg = null;
      if (size > MB) errMsg = 'setStorage:fail entry size limit reached (1 MB per key)';
      else if (storageSize() - (old ? old.size : 0) + size > 10 * MB) errMsg = 'setStorage:fail exceed storage max size 10MB';
      if (errMsg) {
        stats.storageFailures.push(`${errMsg}: ${key} (${size} bytes)`);
        later(fail, { errMsg });
      } else {
        storage.set(key, { json, size });
        stats.largestValue = Math.max(stats.largestValue, size);
        later(success, { errMsg: 'setStorage:ok' });
      }
      later(complete);
    },
    getStorage({ key, success, fail, complete }) {
      const e = storage.get(key);
      if (e) later(success, { data: JSON.parse(e.json), errMsg: 'getStorage:ok' });
      else later(fail, { errMsg: 'getStorage:fail data not found' });
      later(complete);
    },
    removeStorage({ key, success, complete }) {
      storage.delete(key);
      later(success, { errMsg: 'removeStorage:ok' });
      later(complete);
    },
    getStorageInfo({ success, complete }) {
      later(success, {
        keys: [...storage.keys()],
        currentSize: Math.ceil(storageSize() / 1024), // KB, as wx reports it
        limitSize: 10 * 1024,
        errMsg: 'getStorageInfo:ok',
      });
      later(complete);
    },

    request({ url, method = 'GET', header = {}, data, dataType = 'json', success, fail, complete }) {
      const u = new URL(url);
      const req = (u.protocol === 'https:' ? https : http).request(u, { method, headers: header }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let body = Buffer.concat(chunks).toString('utf8');
          if (dataType === 'json') { try { body = JSON.parse(body); } catch { /* stays text, as wx does */ } }
          success && success({ data: body, statusCode: res.statusCode, header: res.headers, errMsg: 'request:ok' });
          complete && complete();
        });
      });
      req.on('error', (e) => { fail && fail({ errMsg: `request:fail ${e.message}` }); complete && complete(); });
      if (data !== undefined) req.write(typeof data === 'string' ? data : JSON.stringify(data));
      req.end();
    },

    onAppShow: (h) => appShow.push(h),
    offAppShow: (h) => { const i = appShow.indexOf(h); if (i >= 0) appShow.splice(i, 1); },

    // Test helpers (not wx API).
    __stats: stats,
    __storage: storage,
    __showApp: () => appShow.forEach((h) => h({ scene: 1001 })),
    __closeAllSockets: () => sockets.forEach((ws) => ws.close()),
  };
  return wx;
}

// WXWebAssembly: a path inside the code package (`root`), .wasm or brotli'd .wasm.br.
function createWXWebAssembly(realWebAssembly, root) {
  return {
    instantiate(p, imports) {
      if (typeof p !== 'string' || !/\.wasm(\.br)?$/.test(p)) {
        return Promise.reject(new TypeError('WXWebAssembly.instantiate: path must be a .wasm / .wasm.br path in the code package'));
      }
      let bytes;
      try {
        bytes = fs.readFileSync(path.join(root, p));
      } catch (e) {
        return Promise.reject(new Error(`WXWebAssembly.instantiate: no file ${p} in the code package`));
      }
      if (p.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
      return realWebAssembly.instantiate(bytes, imports);
    },
    Memory: realWebAssembly.Memory,
    Table: realWebAssembly.Table,
    Global: realWebAssembly.Global,
  };
}

module.exports = { createWx, createWXWebAssembly };
