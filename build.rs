//! One name for one rule: `cfg(mqtt_class)` is set when the module ships the `MqttClient`
//! class, the JS shell src/web/mqtt_client.js over the session's C ABI
//! (src/web/session_api.rs): always without the `chat` feature (the MQTT-only module, where
//! the class is all there is), and under `chat` with `mqtt-client` (the mini-program's
//! module). The web module (`chat` without `mqtt-client`) leaves it to
//! `imcore/mqtt`. Cargo features only add, so "without `chat`" cannot be a feature; the
//! code says `cfg(mqtt_class)` instead of repeating the two-feature condition.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(mqtt_class)");
    let chat = std::env::var_os("CARGO_FEATURE_CHAT").is_some();
    let class = std::env::var_os("CARGO_FEATURE_MQTT_CLIENT").is_some();
    if class || !chat {
        println!("cargo::rustc-cfg=mqtt_class");
    }
}
