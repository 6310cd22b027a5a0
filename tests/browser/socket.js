// A TransportFactory's transport (see MqttTransport in the package's types) over the
// browser WebSocket, for the test pages that wrap it: `onSend(data)` sees every write,
// `ws` is returned too so a page can close it from under the client.
export function socketTransport(url, protocols, onSend = () => {}) {
  const t = { onopen: null, onmessage: null, onclose: null, onerror: null };
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  t.send = (data) => {
    onSend(data);
    ws.send(data);
  };
  t.close = () => ws.close();
  ws.onopen = () => t.onopen && t.onopen();
  ws.onmessage = (e) => t.onmessage && t.onmessage(e.data);
  ws.onclose = (e) => t.onclose && t.onclose(e.reason || `code ${e.code}`);
  ws.onerror = () => t.onerror && t.onerror("websocket error");
  return { transport: t, ws };
}
