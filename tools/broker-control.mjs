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
//                                      [--persistence] [--exit-with PID] [--broker rabbitmq]
//   --port N       HTTP port (default 0: a free one)
//   --pid-file F   write this process's PID to F (removed on exit)
//   --info-file F  write the /info JSON to F once ready (the demo serves it as config.json)
//   --persistence  persistence on (autosave on every change), so /restart keeps sessions
//   --exit-with P  exit when process P is gone (checked every second)
//   --broker rabbitmq  a one-node RabbitMQ 3.10 (scripts/rabbitmq.sh: MQTT 3.1.1 over
//                  WebSocket at ws://127.0.0.1:PORT/ws, durable queues, so /restart keeps
//                  sessions) instead of Mosquitto. Its HTTP auth backend is this server's
//                  POST /auth/{user,vhost,resource,topic}, which allows everything, like
//                  Mosquitto's allow_anonymous here. /freeze and /thaw stop the node's VM.
// When ready it prints exactly one line `READY <http port>` to stdout. Mosquitto is
// configured like tests/support/broker.rs (`user root`, log to stderr — kept in a file in
// its temporary folder —, a TCP and a `protocol websockets` listener on free ports,
// allow_anonymous true). On exit (SIGTERM, SIGINT, SIGHUP, an error) it SIGKILLs Mosquitto
// and removes that folder.

import { execFile, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const args = parseArgs(process.argv.slice(2));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imcore-broker-"));
const rabbit = args.broker === "rabbitmq";
const rabbitScript = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "scripts", "rabbitmq.sh");
const confPath = path.join(dir, "mosquitto.conf");
const logPath = path.join(dir, "mosquitto.log");
const mosquittoBin = findTool("mosquitto", "/usr/sbin/mosquitto");
let child = null; // the running Mosquitto, or null
let tcpPort = 0;
let wsPort = 0;

function parseArgs(argv) {
  const out = { port: 0, pidFile: null, infoFile: null, persistence: false, exitWith: null, broker: "mosquitto" };
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
    else if (a === "--broker") {
      out.broker = value();
      if (!["mosquitto", "rabbitmq"].includes(out.broker)) fail(`--broker: mosquitto or rabbitmq, not ${out.broker}`);
    }
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
    // Mosquitto holds 1,000 QoS 1/2 messages per client beyond those in flight, and drops
    // the rest. The replay tests send 1,000 publishes and then, after the reconnect, up to
    // 1,000 again with DUP (and the broker may read the first copies from the dead
    // socket too): a subscriber's queue may pass 1,000 while it acknowledges, and
    // then the broker, not the client, loses messages. Room for both copies.
    "max_queued_messages 4000",
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

// ---- RabbitMQ (--broker rabbitmq) -----------------------------------------------------
// One node started and stopped by scripts/rabbitmq.sh (the script the reference stack uses
// for its cluster), in `dir`. `rabbitEnv` is its rabbitmq.env; `rabbitUp` whether the node
// runs (a SIGKILLed one is started again on the same ports and data by `start-node`).
const pexec = promisify(execFile);
let rabbitEnv = {};
let rabbitUp = false;
let authUrl = "";

async function rabbitSh(...a) {
  try {
    await pexec(rabbitScript, a, { timeout: 240_000, maxBuffer: 4 << 20 });
  } catch (e) {
    throw new Error(`scripts/rabbitmq.sh ${a.join(" ")} failed: ${e.stderr || e.message}`);
  }
  rabbitEnv = readEnv(path.join(dir, "rabbitmq.env"));
}

/** A sourceable KEY=VALUE file (values plain or as printf %q writes simple paths). */
function readEnv(file) {
  const env = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2].replace(/^'(.*)'$/, "$1").replace(/\\(.)/g, "$1");
  }
  return env;
}

const rabbitPid = () => Number(rabbitEnv.NODE_PID_1) || null;

const rabbitBroker = {
  async startFresh() {
    await rabbitSh("start", dir, "--nodes", "1", "--auth-http-url", authUrl, "--allow-anonymous");
    rabbitUp = true;
  },
  async startSamePorts() {
    if (rabbitUp) return;
    await rabbitSh("start-node", dir, "1");
    rabbitUp = true;
  },
  async stop() {
    if (!rabbitUp) return;
    rabbitUp = false;
    await rabbitSh("kill-node", dir, "1");
  },
  signal(sig) {
    if (!rabbitUp || !rabbitPid()) throw new Error("the RabbitMQ node is not running");
    process.kill(rabbitPid(), sig);
  },
  info() {
    return {
      ws_url: rabbitEnv.WS_URL_1,
      ws_port: Number(rabbitEnv.WS_PORT_1),
      tcp_port: Number(rabbitEnv.MQTT_PORT_1),
      running: rabbitUp,
      pid: rabbitUp ? rabbitPid() : null,
    };
  },
  log() {
    try {
      return fs.readFileSync(path.join(rabbitEnv.NODE_DIR_1, "node.log"), "utf8");
    } catch {
      return "(no log)";
    }
  },
};

const mosquittoBroker = {
  startFresh,
  startSamePorts,
  stop,
  signal: signalBroker,
  info,
  log: () => logSince(0),
};

const broker = rabbit ? rabbitBroker : mosquittoBroker;

// The HTTP auth backend of the RabbitMQ node: everything allowed.
const allow = async () => "allow";

// One operation at a time.
let queue = Promise.resolve();
const serialized = (fn) => {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
};

const routes = {
  "GET /info": async () => broker.info(),
  "GET /log": async () => broker.log().split("\n").slice(-201).join("\n"),
  // The whole log of this run (tests count connections by client id in it).
  "GET /log/all": async () => broker.log(),
  "POST /restart": async () => {
    await broker.stop();
    await broker.startSamePorts();
    return broker.info();
  },
  "POST /stop": async () => {
    await broker.stop();
    return broker.info();
  },
  "POST /start": async () => {
    await broker.startSamePorts();
    return broker.info();
  },
  "POST /freeze": async () => {
    broker.signal("SIGSTOP");
    return broker.info();
  },
  "POST /thaw": async () => {
    broker.signal("SIGCONT");
    return broker.info();
  },
};
// Not serialized: RabbitMQ asks while a /restart waits for it.
const authRoutes = {
  "POST /auth/user": allow,
  "POST /auth/vhost": allow,
  "POST /auth/resource": allow,
  "POST /auth/topic": allow,
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
  const key = `${req.method} ${url.pathname}`;
  const route = routes[key] ?? authRoutes[key];
  if (!route) {
    res.writeHead(404, { ...cors, "Content-Type": "text/plain" });
    return res.end(`no route ${req.method} ${url.pathname}\n`);
  }
  (authRoutes[key] ? route() : serialized(route)).then(
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
  if (rabbit && fs.existsSync(path.join(dir, "rabbitmq.env"))) {
    try {
      if (rabbitPid()) process.kill(rabbitPid(), "SIGCONT");
    } catch {}
    // Every node, epmd and their folders, by the PIDs the script wrote.
    spawnSync(rabbitScript, ["stop", dir], { stdio: "ignore", timeout: 60_000 });
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
  if (rabbit) process.exit(code); // the "exit" handler stops the node
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

function ready() {
  const port = server.address().port;
  if (args.pidFile) fs.writeFileSync(args.pidFile, `${process.pid}\n`);
  if (args.infoFile) fs.writeFileSync(args.infoFile, JSON.stringify(broker.info()) + "\n");
  process.stdout.write(`READY ${port}\n`);
}

if (rabbit) {
  // RabbitMQ asks this server for every login: it listens first.
  await new Promise((r) => server.listen(args.port, "127.0.0.1", r));
  authUrl = `http://127.0.0.1:${server.address().port}/auth`;
  await broker.startFresh();
  ready();
} else {
  await startFresh();
  server.listen(args.port, "127.0.0.1", ready);
}
