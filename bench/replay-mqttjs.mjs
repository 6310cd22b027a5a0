// Baseline for benches/replay.rs: MQTT.js 5.16 replaying N QoS 1 publishes from its outgoing
// store after connecting (they were published while offline). Its store replay sends the
// next stored packet only from the previous one's PUBACK callback: one per round trip.
// Usage: node bench/replay-mqttjs.mjs WS_URL N  → prints {"ms": …, "acked": N}
import mqtt from "mqtt";

const [url, countText] = process.argv.slice(2);
const n = Number(countText ?? 1000);
const client = mqtt.connect(url, {
  clientId: `mqttjs-replay-${process.pid}`,
  protocolVersion: 4,
  clean: false,
  manualConnect: true,
  reconnectPeriod: 0,
});
let acked = 0;
let connectedAt = 0;
const done = () => {
  console.log(JSON.stringify({ ms: performance.now() - connectedAt, acked }));
  client.end(true, () => process.exit(0));
};
for (let i = 0; i < n; i++) {
  client.publish("bench/mqttjs", String(i), { qos: 1 }, (err) => {
    if (err) {
      console.error(String(err));
      process.exit(1);
    }
    acked += 1;
    if (acked === n) done();
  });
}
client.on("connect", () => {
  connectedAt = performance.now();
});
client.on("error", (e) => {
  console.error(String(e));
  process.exit(1);
});
setTimeout(() => {
  console.error(`timeout: ${acked}/${n} acknowledged`);
  process.exit(1);
}, 120_000);
client.connect();
