#!/usr/bin/env node
// A tiny static server for the browser acceptance tests (Node 20, no dependencies).
//
//   /pkg/…   the built package ($PKG_DIR, default pkg/), .wasm as application/wasm
//   /…       tests/browser/ (page.html)
//
// Usage: node tests/browser/server.mjs [--pkg DIR] [--port N]
// Listens on 127.0.0.1 (default: a free port) and prints exactly one line `READY <port>`.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const pkgDir = path.resolve(root, arg("--pkg", process.env.PKG_DIR || "pkg"));
const port = Number(arg("--port", "0"));

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
};

function resolve(urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const [base, rel] = p.startsWith("/pkg/") ? [pkgDir, p.slice(5)] : [here, p.slice(1) || "page.html"];
  const file = path.resolve(base, rel);
  return file === base || file.startsWith(base + path.sep) ? file : null;
}

const server = http.createServer((req, res) => {
  const file = resolve(new URL(req.url, "http://127.0.0.1").pathname);
  if (!file || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(file ? 405 : 403).end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end(`not found: ${req.url}\n`);
      return;
    }
    res.writeHead(200, {
      "Content-Type": types[path.extname(file)] || "application/octet-stream",
      "Content-Length": st.size,
      "Cache-Control": "no-store",
    });
    if (req.method === "HEAD") return res.end();
    fs.createReadStream(file).pipe(res);
  });
});

for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => process.exit(0));
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
