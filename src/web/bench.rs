//! Bench-only exports (feature `browser-bench`, which no shipped build enables): what the
//! in-page benchmarks of bench/browser/ (scripts/bench-browser.sh, `make bench`) drive
//! beside their plain-JS baselines.

use wasm_bindgen::prelude::*;

use crate::mqtt::{Packet, ProtocolVersion, StreamDecoder};

/// imcore's MQTT stream decoder as the client runs it (what a server sends, MQTT 3.1.1),
/// fed the chunks a WebSocket delivers.
#[wasm_bindgen(js_name = BenchDecoder)]
pub struct BenchDecoder {
    inner: StreamDecoder<true>,
    payload_bytes: f64,
}

impl Default for BenchDecoder {
    fn default() -> Self {
        BenchDecoder {
            inner: StreamDecoder::from_server(ProtocolVersion::V311, 1024 * 1024),
            payload_bytes: 0.0,
        }
    }
}

#[wasm_bindgen(js_class = BenchDecoder)]
impl BenchDecoder {
    #[wasm_bindgen(constructor)]
    pub fn new() -> BenchDecoder {
        BenchDecoder::default()
    }

    /// Appends one chunk and decodes every whole packet in the buffer; returns how many.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<u32, JsError> {
        self.inner.push(chunk);
        let mut n = 0;
        while let Some(packet) = self
            .inner
            .next_packet()
            .map_err(|e| JsError::new(&e.to_string()))?
        {
            if let Packet::Publish(p) = &packet {
                self.payload_bytes += p.payload.len() as f64;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Payload bytes of every PUBLISH decoded so far (so the work is observed).
    #[wasm_bindgen(getter, js_name = payloadBytes)]
    pub fn payload_bytes(&self) -> f64 {
        self.payload_bytes
    }
}
