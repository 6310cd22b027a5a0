// The package's web entry: everything of the wasm module. `ChatClient.create` gives a client
// that every tab of the user shares (one connection per browser profile; see `ChatRole`).
export * from "./imcore.js";
export { default } from "./imcore.js";
