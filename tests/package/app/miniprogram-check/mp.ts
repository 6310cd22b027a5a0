// Type-checked only (not bundled): the mini-program entry `imcore/miniprogram` resolves its
// types through package.json's exports, and they agree with the main declarations.
// scripts/test-package.sh adds this folder to the tsc run when the package ships
// miniprogram/index.d.ts.
import {
  ChatClient,
  MqttClient,
  createChatClient,
  loadImcore,
  wakeOnAppShow,
  wxFetch,
  wxKeyValueStore,
  wxSocketUrl,
  wxTransport,
  type Imcore,
} from "imcore/miniprogram";
import type { FetchLike, KeyValueStore, TransportFactory } from "imcore";

export async function startMiniProgramChat(): Promise<() => void> {
  const kv: KeyValueStore = wxKeyValueStore("im:", { maxTotalBytes: 5 << 20 });
  const max: number = wxKeyValueStore().maxValueBytes;
  const transport: TransportFactory = wxTransport;
  const fetchLike: FetchLike = wxFetch;
  const url: string = wxSocketUrl("wxs://broker.example.com/mqtt");
  const mod: Imcore = await loadImcore({ wasmPath: "/pkg/imcore_bg.wasm.br" });
  const chat: ChatClient = await createChatClient({
    userId: "1",
    direct: { url },
    wasmPath: "/pkg/imcore_bg.wasm.br",
  });
  const again: ChatClient = await mod.ChatClient.create({ userId: "2", direct: { url }, storage: kv, transport });
  chat.on("message", (e) => console.log(e.message.text?.length ?? 0, max));
  // @ts-expect-error not an event name
  chat.on("nope", () => {});
  // MqttClient's types come from the MQTT-only entry's declarations (same class).
  const mqtt: MqttClient = new mod.MqttClient({ url, clientId: "mp-1", transport });
  mqtt.on("status", (status) => console.log(status.length));
  void fetchLike;
  void again;
  chat.connect();
  return wakeOnAppShow(chat);
}
