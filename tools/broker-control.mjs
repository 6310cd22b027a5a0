#!/usr/bin/env node
// broker-control: a Mosquitto that browser tests can crash and restart over HTTP.
//
// The wasm tests run inside headless Chromium and cannot spawn processes, so this small
// server (Node 20, no dependencies) owns one Mosquitto and exposes, on 127.0.0.1 with
// `Access-Control-Allow-Origin: *`:
//
//   GET  /info     {"ws_url":"ws://127.0.0.1:PORT/mqtt","ws_port":…,"tcp_port":…,"running":…,"pid":…}
//   POST /restart  SIGKILL, then start again on the same ports (and persistence folder);
//                  answers once the WebSocket port accepts connections
//   POST /stop     SIGKILL (like a crash); the ports stay reserved for /start
//   POST /start    start again on the same ports (no-op if running)
//   POST /freeze   SIGSTOP (connections stay open, nothing is answered)
//   POST /thaw     SIGCONT
//   GET  /log      the tail of Mosquitto's log (text/plain)
//   GET  /log/all  the whole log of this run (tests count connections by client id in it)
// POST answers are the /info JSON; errors are 500 with a text body.
//
// Usage: node tools/broker-control.mjs [--port N] [--pid-file F] [--info-file F]
//                                      [--persistence] [--exit-with PID]
//   --port N       HTTP port (default 0: a free one)
//   --pid-file F   write this process's PID to F (removed on exit)
//   --info-file F  write the /info JSON to F once ready (the demo serves it as config.json)
//   --persistence  persistence on (autosave on every change), so /restart keeps sessions
//   --exit-with P  exit when process P is gone (checked every second)
// When ready it prints exactly one line `READY <http port>` to stdout. Mosquitto is
// configured like tests/support/broker.rs (`user root`, log to stderr — kept in a file in
// its temporary folder —, a TCP and a `protocol websockets` listener on free ports,
// allow_anonymous true). On exit (SIGTERM, SIGINT, SIGHUP, an error) it SIGKILLs Mosquitto
// and removes that folder.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const args = parseArgs(process.argv.slice(2));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imcore-broker-"));
const confPath = path.join(dir, "mosquitto.conf");
const logPath = path.join(dir, "mosquitto.log");
const mosquittoBin = findTool("mosquitto", "/usr/sbin/mosquitto");
let child = null; // the running Mosquitto, or null
let tcpPort = 0;
let wsPort = 0;

function parseArgs(argv) {
  const out = { port: 0, pidFile: null, infoFile: null, persistence: false, exitWith: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--port") out.port = Number(value());
    else if (a === "--pid-file") out.pidFile = value();
    else if (a === "--info-file") out.infoFile = value();
    else if (a === "--persistence") out.persistence = true;
    else if (a === "--exit-with") out.exitWith = Number(value());
    else fail(`unknown argument ${a}`);
  }
  return out;
}

function fail(msg) {
  process.stderr.write(`broker-control: ${msg}\n`);
  process.exit(2);
}

function findTool(name, fallback) {
  for (const d of (process.env.PATH || "").split(path.delimiter)) {
    const p = path.join(d || ".", name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return fallback;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
}

async function freePortPair() {
  const a = await freePort();
  const b = await freePort(); // both held at once, so they differ
  const ports = [a.address().port, b.address().port];
  await Promise.all([a, b].map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(200, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

function writeConfig() {
  const lines = [
    "# Written by tools/broker-control.mjs",
    "user root", // else 2.0.11 started as root switches to user mosquitto
    "log_dest stderr",
    "log_timestamp_format %H:%M:%S",
    "per_listener_settings false",
    "allow_anonymous true",
  ];
  if (args.persistence) {
    lines.push("persistence true", `persistence_location ${dir}/`);
    lines.push("autosave_interval 1", "autosave_on_changes true");
  } else {
    lines.push("persistence false");
  }
  lines.push(`listener ${tcpPort} 127.0.0.1`, `listener ${wsPort} 127.0.0.1`, "protocol websockets");
  fs.writeFileSync(confPath, lines.join("\n") + "\n");
}

function logTail(n = 40) {
  try {
    return fs.readFileSync(logPath, "utf8").split("\n").slice(-n - 1).join("\n");
  } catch {
    return "(no log)";
  }
}

function logSince(offset) {
  try {
    return fs.readFileSync(logPath).subarray(offset).toString("utf8");
  } catch {
    return "";
  }
}

// Spawns Mosquitto with the current config; resolves once it is up, rejects (process
// gone) if it exits or is not ready within 10 s.
async function spawnAndWait() {
  const offset = fs.existsSync(logPath) ? fs.statSync(logPath).size : 0;
  const fd = fs.openSync(logPath, "a");
  const p = spawn(mosquittoBin, ["-c", confPath], { stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  let exited = false;
  p.on("exit", () => {
    exited = true;
    if (child === p) child = null;
  });
  p.on("error", () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`mosquitto exited (tcp ${tcpPort}, ws ${wsPort}):\n${logTail()}`);
    // "running" is logged once every listener is open.
    if (logSince(offset).includes(" running") && (await portAccepts(wsPort))) {
      if (exited) continue;
      child = p;
      return;
    }
    await sleep(20);
  }
  p.kill("SIGKILL");
  throw new Error(`mosquitto did not accept connections on ws port ${wsPort} in 10 s:\n${logTail()}`);
}

async function startFresh() {
  let last;
  for (let attempt = 0; attempt < 5; attempt++) {
    [tcpPort, wsPort] = await freePortPair();
    writeConfig();
    try {
      return await spawnAndWait();
    } catch (e) {
      last = e; // another process took a port between our probe and Mosquitto's bind
    }
  }
  throw last;
}

async function startSamePorts() {
  if (child) return;
  const deadline = Date.now() + 5_000; // the old sockets may linger for a moment
  for (;;) {
    try {
      return await spawnAndWait();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await sleep(200);
    }
  }
}

async function stop() {
  const p = child;
  if (!p) return;
  child = null;
  const gone = new Promise((r) => p.once("exit", r));
  if (p.exitCode === null && p.signalCode === null) {
    p.kill("SIGKILL");
    await gone;
  }
}

function signalBroker(sig) {
  if (!child) throw new Error("mosquitto is not running");
  child.kill(sig);
}

function info() {
  return {
    ws_url: `ws://127.0.0.1:${wsPort}/mqtt`,
    ws_port: wsPort,
    tcp_port: tcpPort,
    running: child !== null,
    pid: child ? child.pid : null,
  };
}

// One operation at a time.
let queue = Promise.resolve();
const serialized = (fn) => {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
};

const routes = {
  "GET /info": async () => info(),
  "GET /log": async () => logTail(200),
  // The whole log of this run (tests count connections by client id in it).
  "GET /log/all": async () => logSince(0),
  "POST /restart": async () => {
    await stop();
    await startSamePorts();
    return info();
  },
  "POST /stop": async () => {
    await stop();
    return info();
  },
  "POST /start": async () => {
    await startSamePorts();
    return info();
  },
  "POST /freeze": async () => {
    signalBroker("SIGSTOP");
    return info();
  },
  "POST /thaw": async () => {
    signalBroker("SIGCONT");
    return info();
  },
};

const cors = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Allow-Headers": "*",
  "Cache-Control": "no-store",
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  req.resume(); // bodies are ignored
  if (req.method === "OPTIONS") {
    res.writeHead(204, cors);
    return res.end();
  }
  const route = routes[`${req.method} ${url.pathname}`];
  if (!route) {
    res.writeHead(404, { ...cors, "Content-Type": "text/plain" });
    return res.end(`no route ${req.method} ${url.pathname}\n`);
  }
  serialized(route).then(
    (body) => {
      const text = typeof body === "string";
      res.writeHead(200, { ...cors, "Content-Type": text ? "text/plain" : "application/json" });
      res.end(text ? body : JSON.stringify(body) + "\n");
    },
    (err) => {
      res.writeHead(500, { ...cors, "Content-Type": "text/plain" });
      res.end(`${err && err.message ? err.message : err}\n`);
    },
  );
});

// --- lifetime -----------------------------------------------------------------------
let cleanedUp = false;
function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  if (child) {
    try {
      process.kill(child.pid, "SIGCONT");
      process.kill(child.pid, "SIGKILL");
    } catch {}
  }
  for (const f of [args.pidFile]) {
    if (f) fs.rmSync(f, { force: true });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
process.on("exit", cleanup);
// Reap Mosquitto before exiting (a SIGKILLed child that is never waited for stays a
// zombie where PID 1 does not reap), then exit; the "exit" handler is the fallback.
async function shutdown(code) {
  const p = child;
  if (p) {
    try {
      p.kill("SIGCONT");
    } catch {}
    await Promise.race([stop(), sleep(2000)]);
  }
  process.exit(code);
}
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(sig, () => shutdown(0));
}
process.on("uncaughtException", (e) => {
  process.stderr.write(`broker-control: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
process.on("unhandledRejection", (e) => {
  process.stderr.write(`broker-control: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});

if (args.exitWith) {
  setInterval(() => {
    try {
      process.kill(args.exitWith, 0);
    } catch {
      shutdown(0);
    }
  }, 1000).unref();
}

await startFresh();
server.listen(args.port, "127.0.0.1", () => {
  const port = server.address().port;
  if (args.pidFile) fs.writeFileSync(args.pidFile, `${process.pid}\n`);
  if (args.infoFile) fs.writeFileSync(args.infoFile, JSON.stringify(info()) + "\n");
  process.stdout.write(`READY ${port}\n`);
});
