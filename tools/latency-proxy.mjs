// A TCP proxy on 127.0.0.1 that delays every chunk by --delay-ms in each direction, so a
// benchmark on loopback sees a real network's round trip (2 × delay).
// Usage: node tools/latency-proxy.mjs --target 127.0.0.1:PORT --delay-ms 25
// Prints "READY <port>" once listening; exits on SIGTERM/SIGINT or when stdin closes.
import net from "node:net";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const [host, portText] = String(args.target ?? "").split(":");
const targetPort = Number(portText);
const delay = Number(args["delay-ms"] ?? 25);
if (!host || !Number.isInteger(targetPort)) {
  console.error("usage: latency-proxy.mjs --target HOST:PORT --delay-ms N");
  process.exit(2);
}

function pipeDelayed(from, to) {
  from.on("data", (chunk) => setTimeout(() => to.writable && to.write(chunk), delay));
  from.on("end", () => setTimeout(() => to.end(), delay));
  from.on("error", () => to.destroy());
}

const server = net.createServer((client) => {
  client.setNoDelay(true);
  const upstream = net.connect(targetPort, host);
  upstream.setNoDelay(true);
  pipeDelayed(client, upstream);
  pipeDelayed(upstream, client);
  upstream.on("close", () => client.destroy());
  client.on("close", () => upstream.destroy());
});
server.listen(0, "127.0.0.1", () => console.log(`READY ${server.address().port}`));
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 200);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
