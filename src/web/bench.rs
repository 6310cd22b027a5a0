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

/// Fills the IndexedDB of user `user_id` (deleted first) with `conversations` 1:1 chats
/// (peers `user_id + 1…`) of `per_conversation` text messages each, from the peer, unread,
/// their weights interleaved across the conversations: the store applies them and its
/// persist batches (messages and conversation records, imcore's own layout) are written
/// every 10,000 messages. Resolves once everything is written.
#[wasm_bindgen(js_name = benchSeed)]
pub async fn bench_seed(
    user_id: u32,
    conversations: u32,
    per_conversation: u32,
) -> Result<(), JsError> {
    use crate::chat::store::Store;
    use crate::chat::{ConversationId, Incoming};
    use crate::storage::{Storage, StorageBatch};
    use crate::test_support::{text_message, T0};
    use crate::web::storage::IndexedDbStorage;

    let me = u64::from(user_id);
    let err = |e: crate::storage::StorageError| JsError::new(&e.to_string());
    let _ = IndexedDbStorage::delete_database(me).await;
    let storage = IndexedDbStorage::open(me).await.map_err(err)?;
    let mut store = Store::new(me);
    let total = u64::from(conversations) * u64::from(per_conversation);
    for i in 0..total {
        let peer = me + 1 + i % u64::from(conversations);
        let conversation_id =
            ConversationId::direct(me, peer).ok_or_else(|| JsError::new("same user"))?;
        let message = text_message(
            i + 1,
            conversation_id,
            peer,
            me,
            format!("message number {i} of the history"),
            T0 + i * 10,
        );
        store.apply(Incoming::Message(message), 0);
        while store.poll_event().is_some() {}
        if (i + 1) % 10_000 == 0 || i + 1 == total {
            storage
                .apply(StorageBatch::from(store.take_persist()))
                .await
                .map_err(err)?;
        }
    }
    storage.close();
    Ok(())
}
