// The entry of build/mqtt-packet.js, mqtt-packet (the MQTT codec of MQTT.js) bundled for the
// browser by esbuild at bench time (scripts/bench-browser.sh).
import mqttPacket from "mqtt-packet";
import { Buffer } from "buffer";

export const parser = mqttPacket.parser;
export const generate = mqttPacket.generate;
export { Buffer };
