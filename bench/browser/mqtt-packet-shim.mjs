// Injected by esbuild into the browser bundle of mqtt-packet (scripts/bench-browser.sh):
// the Node globals it and its dependencies use, from the npm polyfills MQTT.js's own
// browser bundle uses.
export { Buffer } from "buffer";
import process from "process/browser.js";
export { process };
