// imcore demo: one MqttClient (Rust compiled to wasm) talking MQTT over WebSocket to the
// demo's Mosquitto. Served by scripts/demo.sh next to ./pkg/ (the built npm package) and
// ./config.json ({"ws_url": ...}). Plain ES module, no build step; text is rendered with
// textContent only.
//
// URL parameters: ?topic=… (default imcore/demo/chat), ?autosend=… (publish this once
// connected: lets a headless browser check a round trip without clicking).
import init, { MqttClient } from "./pkg/imcore.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const decoder = new TextDecoder();

function log(kind, text) {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date().toLocaleTimeString();
  const label = document.createElement("span");
  label.className = "kind";
  label.textContent = kind;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(time, label, body);
  const list = $("log");
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

function showStatus(status) {
  const el = $("status");
  el.dataset.status = status;
  el.textContent = status;
  const connected = status === "connected";
  $("send").disabled = !connected;
  const toggle = $("toggle");
  toggle.disabled = false;
  const stopped = status === "idle" || status === "offline";
  toggle.textContent = stopped ? "Connect" : "Disconnect";
  toggle.classList.toggle("secondary", !stopped);
}

async function main() {
  await init();
  const config = await (await fetch("./config.json")).json();
  const topic = params.get("topic") || "imcore/demo/chat";
  const clientId = "demo-" + crypto.getRandomValues(new Uint32Array(1))[0].toString(16);
  $("broker").textContent = config.ws_url;
  $("client-id").textContent = clientId;
  $("subscription").textContent = topic + "  (QoS 1)";
  $("topic").value = topic;

  const client = new MqttClient({
    url: config.ws_url,
    clientId,
    keepAlive: 30,
    reconnect: { initialDelayMs: 500, maxDelayMs: 10000 },
  });

  client.on("status", (status) => {
    showStatus(status);
    log("status", status);
  });
  client.on("connect", ({ sessionPresent }) => {
    log("connect", sessionPresent ? "connected (session resumed)" : "connected (new session)");
  });
  client.on("disconnect", ({ reason, reconnectAt }) => {
    const retry = reconnectAt === null ? "" : ` — retrying in ${Math.max(0, Math.round((reconnectAt - Date.now()) / 100) / 10)} s`;
    log("disconnect", reason + retry);
  });
  client.on("error", ({ code, message }) => log("error", `${code}: ${message}`));
  client.on("message", ({ topic, payload, qos, retain }) => {
    log("received", `[${topic}] q${qos}${retain ? " retained" : ""}: ${decoder.decode(payload)}`);
  });

  let subscribed = false;
  client.on("connect", async () => {
    if (subscribed) return; // the client renews its subscriptions by itself
    subscribed = true;
    try {
      const granted = await client.subscribe(topic, 1);
      log("subscribe", `subscribed to ${topic}, granted QoS ${granted.join(", ")}`);
      const autosend = params.get("autosend");
      if (autosend) await send(topic, autosend);
    } catch (e) {
      subscribed = false;
      log("failed", `subscribe: ${e.code ?? ""} ${e.message}`);
    }
  });

  async function send(to, text) {
    log("sent", `[${to}] ${text}`);
    try {
      await client.publish(to, text, 1);
      log("sent", `PUBACK for “${text}”`);
    } catch (e) {
      log("failed", `publish: ${e.code ?? ""} ${e.message}`);
    }
  }

  $("compose").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = $("topic").value.trim();
    const text = $("text").value;
    if (!to || !text) return;
    $("text").value = "";
    send(to, text);
  });

  $("toggle").addEventListener("click", () => {
    if (client.status === "idle" || client.status === "offline") client.connect();
    else client.disconnect();
  });

  showStatus(client.status);
  client.connect();
}

main().catch((e) => {
  showStatus("error");
  $("status").textContent = "error";
  log("error", e && e.message ? e.message : String(e));
});
