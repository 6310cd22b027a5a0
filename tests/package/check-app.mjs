#!/usr/bin/env node
// Checks tests/package/app after `vite build` (run by scripts/test-package.sh):
//   1. dist/ holds the two wasm assets, byte-identical to the installed package's
//      imcore_bg.wasm (imcore) and mqtt/imcore_bg.wasm (imcore/mqtt), and JS that refers to
//      each by its hashed name;
//   2. the built app runs: dist/ served on 127.0.0.1 (application/wasm), loaded in headless
//      Chromium (playwright-core, /usr/bin/chromium or $CHROMIUM) with `?broker=` the real
//      Mosquitto at $IMCORE_BROKER_URL; both entries load, ChatClient sends a text through
//      the broker, MqttClient gets a QoS 1 message back, and window.__imcoreResult holds
//      what main.ts saw;
//   3. the same app under the Vite dev server (dependency pre-bundling on) runs too.
// Usage: IMCORE_BROKER_URL=ws://… node tests/package/check-app.mjs APP_DIR
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import { createServer } from "vite";
import { CHROMIUM, CHROMIUM_ARGS } from "../chromium.mjs";

const app = path.resolve(process.argv[2] || ".");
const dist = path.join(app, "dist");
// The package's two modules, imcore's and imcore/mqtt's.
const MODULES = ["imcore_bg.wasm", "mqtt/imcore_bg.wasm"];
const installed = MODULES.map((f) => fs.readFileSync(path.join(app, "node_modules", "imcore", f)));
const broker = process.env.IMCORE_BROKER_URL;
assert.ok(broker, "IMCORE_BROKER_URL: the broker's WebSocket URL (scripts/test-package.sh sets it)");

// ---- 1. the files ------------------------------------------------------------------------
const files = fs.readdirSync(dist, { recursive: true }).map(String);
const wasm = files.filter((f) => f.endsWith(".wasm"));
const js = files.filter((f) => f.endsWith(".js"));
assert.equal(wasm.length, 2, `two .wasm assets in dist/: ${files.join(", ")}`);
assert.ok(js.length >= 1, `a JS chunk in dist/: ${files.join(", ")}`);
const assets = wasm.map((f) => fs.readFileSync(path.join(dist, f)));
for (const [i, bytes] of installed.entries()) {
  const at = assets.findIndex((a) => a.equals(bytes));
  assert.ok(at >= 0, `dist/ has the package's ${MODULES[i]}`);
  const wasmName = path.basename(wasm[at]);
  const referring = js.filter((f) => fs.readFileSync(path.join(dist, f), "utf8").includes(wasmName));
  assert.ok(referring.length >= 1, `a JS chunk refers to ${wasmName}`);
}
const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");
assert.ok(js.some((f) => html.includes(path.basename(f))), "index.html loads the JS chunk");
const size = (f) => fs.statSync(path.join(dist, f)).size;
console.log(`[check-app] ${wasm.map((f) => `${f} ${size(f)} B`).join(", ")}; JS ${js.map((f) => `${f} ${size(f)} B`).join(", ")}`);

// ---- 2. the built app runs, 3. the dev server's app runs ----------------------------------
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url, "http://x").pathname).slice(1) || "index.html";
  const file = path.resolve(dist, rel);
  if (!file.startsWith(dist + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "Content-Type": types[path.extname(file)] || "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
let vite;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS,
});

async function runApp(url, what) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(`${url}?broker=${encodeURIComponent(broker)}`);
    const result = await (await page.waitForFunction(() => window.__imcoreResult, null, { timeout: 30_000 })).jsonValue();
    assert.equal(result.failed, undefined, `${what}: the app failed: ${result.failed}`);
    assert.deepEqual(problems, [], what);
    assert.equal(result.conversation, "1_2");
    assert.equal(result.status, "idle");
    assert.equal(result.sendingStatus, "sending");
    assert.equal(result.settled, "sent", "the text went out through the broker");
    assert.equal(result.statusAfter, "connected");
    assert.equal(result.mqtt, "hello from imcore/mqtt", "imcore/mqtt's QoS 1 round trip");
    assert.equal(result.mine, true);
    assert.deepEqual(result.pageTexts, ["hello from vite"]);
    assert.deepEqual(result.conversations, ["1_2"]);
    assert.equal(result.badEvent, "invalid-argument");
    assert.equal(result.badOptions, "invalid-options");
    assert.ok(result.seen.includes("1_2#0:hello from vite"), `message event: ${JSON.stringify(result.seen)}`);
    assert.ok(
      (await page.locator("#conversations li").allTextContents()).some((t) => t.startsWith("1_2 (direct, 0)")),
      `${what}: the conversations listener rendered the list`,
    );
    console.log(`[check-app] ${what} ran in Chromium: ${JSON.stringify(result)}`);
  } finally {
    await context.close();
  }
}

try {
  await runApp(`http://127.0.0.1:${server.address().port}/`, "the vite build");
  vite = await createServer({
    root: app,
    configFile: false,
    logLevel: "warn",
    clearScreen: false,
    server: { host: "127.0.0.1", port: 0, strictPort: true, hmr: false },
  });
  await vite.listen();
  await runApp(vite.resolvedUrls.local[0], "the vite dev server");
} finally {
  await browser.close();
  server.close();
  await vite?.close();
}
