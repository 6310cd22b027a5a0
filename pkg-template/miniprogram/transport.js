// `wxTransport`: imcore's TransportFactory on wx.connectSocket (a SocketTask per call).
// The client assigns onopen / onmessage / onclose / onerror right after the factory returns
// and unhooks them (sets them to null) before close(), so every report reads them late.
'use strict';

// wx.connectSocket takes ws:// (devtools, debug) or wss:// (required in production).
// MQTT.js spells these wx:// and wxs:// in mini-programs; accept its spelling too.
function wxSocketUrl(url) {
  return String(url).replace(/^wxs:\/\//i, 'wss://').replace(/^wx:\/\//i, 'ws://');
}

function errorText(res, fallback) {
  return (res && (res.errMsg || res.message)) || fallback;
}

function wxTransport(url, protocols) {
  var ended = false;
  var queue = []; // ArrayBuffers not yet handed to the SocketTask
  var sending = false;
  var transport = {
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
    send: function (data) {
      if (ended) return;
      queue.push(data);
      pump();
    },
    close: function () {
      if (ended) return;
      ended = true;
      queue = [];
      // close() before the socket opened can fail: nothing to do about it then.
      try { task.close({ code: 1000, fail: function () {} }); } catch (e) { /* already gone */ }
    },
  };

  // Reports the end once: a failed socket may raise onError and then onClose.
  function end(kind, reason) {
    if (ended) return;
    ended = true;
    queue = [];
    var handler = kind === 'error' ? transport.onerror : transport.onclose;
    if (handler) handler(reason);
  }

  // One send in flight at a time, the next after its callback (as MQTT.js's wx transport
  // does): keeps frames in order and applies the SocketTask's backpressure.
  function pump() {
    if (sending || ended || queue.length === 0) return;
    sending = true;
    task.send({
      data: queue.shift(),
      success: function () { sending = false; pump(); },
      fail: function (res) {
        sending = false;
        end('error', 'wx SocketTask send failed: ' + errorText(res, 'unknown error'));
      },
    });
  }

  var task = wx.connectSocket({
    url: wxSocketUrl(url),
    protocols: protocols,
    // e.g. the domain is not in the mini-program's socket whitelist
    fail: function (res) { end('error', 'wx.connectSocket failed: ' + errorText(res, 'unknown error')); },
  });
  task.onOpen(function () {
    if (!ended && transport.onopen) transport.onopen();
  });
  task.onMessage(function (res) {
    // An ArrayBuffer for binary frames; a string (text frame) is rejected by the client.
    if (!ended && transport.onmessage) transport.onmessage(res.data);
  });
  task.onClose(function (res) {
    var code = res && res.code;
    var reason = res && res.reason;
    end('close', 'WebSocket closed' + (code ? ' (code ' + code + (reason ? ': ' + reason : '') + ')' : ''));
  });
  task.onError(function (res) {
    end('error', 'WebSocket error: ' + errorText(res, 'unknown error'));
  });
  return transport;
}

module.exports = { wxTransport: wxTransport, wxSocketUrl: wxSocketUrl };
