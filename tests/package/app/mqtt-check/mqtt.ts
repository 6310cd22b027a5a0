// Type-checked only (not bundled: the app's dist/ holds the one module it imports): the
// MQTT-only entry `imcore/mqtt` resolves its types through package.json's exports, types
// MqttClient exactly, and exports nothing of the chat layer. scripts/test-package.sh adds
// this folder to both tsc runs (bundler and NodeNext resolution) when the package ships
// mqtt/imcore.d.ts.
import init, {
  initSync,
  MqttClient,
  type MqttClientOptions,
  type MqttCredentials,
  type MqttMessage,
  type MqttTransport,
  type QoS,
  type Status,
  type TransportFactory,
} from "imcore/mqtt";
import type * as Entry from "imcore/mqtt";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

expectType<Equal<MqttClient["status"], Status>>();
expectType<Equal<Parameters<MqttClient["subscribe"]>[1], QoS | undefined>>();
expectType<Equal<IsAny<MqttMessage>, false>>();
expectType<Equal<MqttMessage["payload"], Uint8Array>>();
expectType<Equal<IsAny<Parameters<MqttClient["on"]>[1]>, false>>();
// Nothing of the chat layer in this entry.
expectType<Equal<Extract<keyof typeof Entry, "ChatClient">, never>>();
void initSync;

// @ts-expect-error protocolVersion is 4 or 5
const badVersion: MqttClientOptions = { url: "ws://127.0.0.1:9/mqtt", clientId: "c", protocolVersion: 3 };
void badVersion;

export async function startMqtt(url: string): Promise<MqttClient> {
  await init();
  const transport: TransportFactory = (u, protocols): MqttTransport => {
    const ws = new WebSocket(u, protocols);
    ws.binaryType = "arraybuffer";
    const t: MqttTransport = {
      send: (data) => ws.send(data),
      close: () => ws.close(),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    ws.onopen = () => t.onopen?.();
    ws.onmessage = (e: MessageEvent<ArrayBuffer>) => t.onmessage?.(e.data);
    ws.onclose = (e) => t.onclose?.(e.reason);
    ws.onerror = () => t.onerror?.("websocket error");
    return t;
  };
  const credentials = async (): Promise<MqttCredentials> => ({ username: "u", password: "p" });
  const client = new MqttClient({ url, clientId: "types", protocolVersion: 5, credentials, transport });
  client.on("message", (m: MqttMessage) => {
    const topic: string = m.topic;
    const qos: QoS = m.qos;
    void [topic, qos];
  });
  client.connect();
  const granted: number[] = await client.subscribe("t/#", 1);
  await client.publish("t/1", new Uint8Array([1, 2]), 1);
  void granted;
  return client;
}
