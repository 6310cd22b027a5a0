//! Messages and conversations as JS objects, built in JS from a tape: one string holding
//! every string field back to back and one list of numbers (string lengths in UTF-16
//! units, numbers, flags). The JS reader below lays the objects out with object
//! literals, in the field order of `chat_client.d.ts`.
//!
//! Why not JSON: a 10,000-message backlog spent about a fifth of its time "to the page"
//! in one `TextDecoder` call and one `JSON.parse` per message event (51 of 234 ms of CPU
//! in `scripts/bench-browser.sh --only backlog --profile FILE`). In the same Chromium,
//! 10,000 such messages take 27.8 ms as JSON texts one by one, 11.5 ms as JSON arrays
//! of 50 and 2.8 ms as tapes of 50 read by this reader. The message events of a run of
//! events are one tape (`driver::emit_run`: a backlog frame's), a page of history or the
//! conversation list another.
//!
//! The writer (Rust) and the reader (JS) are the two halves of one format, kept in this
//! file: each `Tape` method says what the reader reads for it.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::chat::store::{ConversationSummary, StoredMessage};
use crate::chat::{Content, ConversationId};
use crate::client::{key_source, ChatEngine, KeySource};
use crate::json::write::push_digits;

use super::convert::status_name;

#[wasm_bindgen(inline_js = r#"
export function imcoreTape(shape, s, f) {
  let i = 0, p = 0;
  const str = () => {
    const n = f[i++];
    return n < 0 ? null : s.slice(p, (p += n));
  };
  const num = () => f[i++];
  const flag = () => f[i++] === 1;
  const ids = () => {
    const a = [];
    for (let n = f[i++]; n > 0; n--) a.push(str());
    return a;
  };
  const message = () => ({
    key: str(), id: str(), localId: str(), conversationId: str(), senderId: str(),
    receiverId: str(), kind: str(), msgType: num(), text: str(), url: str(), cover: str(),
    raw: str(), weight: num(), status: str(), mine: flag(), read: flag(), revoked: flag(),
    senderName: str(), senderAvatar: str(), readBy: ids(),
  });
  const event = () => ({ conversationId: str(), index: num(), message: message() });
  const conversation = () => ({
    id: str(), kind: str(), peerId: str(), lastMessage: flag() ? message() : null,
    lastActivity: num(), unread: num(), members: ids(),
  });
  const read = shape === 0 ? message : shape === 1 ? event : conversation;
  const out = [];
  while (i < f.length) out.push(read());
  return out;
}
"#)]
extern "C" {
    /// The records of a tape, each read as `shape` (a [`Shape`]).
    #[wasm_bindgen(js_name = imcoreTape)]
    fn read_tape(shape: u32, text: &str, numbers: &[f64]) -> Array;
}

/// What each record of a tape is.
#[derive(Clone, Copy)]
pub(super) enum Shape {
    /// `Message`.
    Message = 0,
    /// `MessageEvent`: `{ conversationId, index, message }`.
    Event = 1,
    /// `Conversation`.
    Conversation = 2,
}

/// Records being written; [`Tape::finish`] makes them a JS array.
pub(super) struct Tape<'e> {
    shape: Shape,
    text: String,
    numbers: Vec<f64>,
    engine: &'e ChatEngine,
}

/// Length of `s` in UTF-16 code units: what `String.prototype.slice` counts.
fn utf16_len(s: &str) -> usize {
    // Eight bytes at a time: `str::is_ascii` is a byte loop in the size-optimised std of
    // the release build, and was most of the tape's writing time in a backlog's profile.
    let mut words = s.as_bytes().chunks_exact(8);
    let ascii = words.all(|w| {
        <[u8; 8]>::try_from(w).is_ok_and(|w| u64::from_le_bytes(w) & 0x8080_8080_8080_8080 == 0)
    }) && words.remainder().is_ascii();
    if ascii {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

impl<'e> Tape<'e> {
    /// A tape of `records` records (a hint) of `shape`; `engine` knows who I am and who
    /// has read my room messages.
    pub(super) fn new(shape: Shape, records: usize, engine: &'e ChatEngine) -> Self {
        let (mut text, mut numbers) = SPARE.take();
        // About 200 bytes of strings and 30 numbers per message.
        text.reserve(records.saturating_mul(200));
        numbers.reserve(records.saturating_mul(32));
        Tape {
            shape,
            text,
            numbers,
            engine,
        }
    }

    /// The reader's `str()`: a string.
    fn str(&mut self, s: &str) {
        self.numbers.push(utf16_len(s) as f64);
        self.text.push_str(s);
    }

    /// The reader's `str()`: a string or `null`.
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.numbers.push(-1.0),
        }
    }

    /// The reader's `str()`: an id, written in place by `write`. Ids are ASCII: their byte
    /// length is their UTF-16 length.
    fn ascii_id(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        self.numbers
            .push(self.text.len().saturating_sub(start) as f64);
    }

    /// The reader's `str()`: a conversation id as its string ("1_2", "room_7").
    fn conversation(&mut self, id: ConversationId) {
        self.ascii_id(|text| id.push_to(text));
    }

    /// The reader's `str()`: a user or server id as its decimal string (64-bit safe).
    fn id(&mut self, id: u64) {
        self.ascii_id(|text| push_digits(text, id));
    }

    /// The reader's `num()`. Above 2^53 a u64 rounds to the nearest double, as JSON.parse
    /// rounds such an integer.
    fn num(&mut self, n: f64) {
        self.numbers.push(n);
    }

    /// The reader's `flag()`.
    fn flag(&mut self, b: bool) {
        self.numbers.push(if b { 1.0 } else { 0.0 });
    }

    /// The reader's `ids()`: a count, then each id.
    fn ids<'a>(&mut self, ids: impl ExactSizeIterator<Item = &'a u64>) {
        self.numbers.push(ids.len() as f64);
        for id in ids {
            self.id(*id);
        }
    }

    /// The reader's `message()`.
    fn message(&mut self, m: &StoredMessage) {
        let e = self.engine;
        let (kind, text, url, cover, raw) = match m.content.as_deref() {
            Some(Content::Text { text }) => ("text", Some(text.as_str()), None, None, None),
            Some(Content::System { text }) => ("system", Some(text.as_str()), None, None, None),
            Some(Content::Image { url, cover }) => {
                ("image", None, Some(url.as_str()), cover.as_deref(), None)
            }
            Some(Content::Video { url, cover }) => {
                ("video", None, Some(url.as_str()), cover.as_deref(), None)
            }
            Some(Content::Custom { raw, .. }) => ("custom", None, None, None, Some(raw.as_str())),
            None => ("text", None, None, None, None),
        };
        let msg_type = m.content.as_deref().map_or(1, Content::msg_type);
        match key_source(&m.key.id, m.local_id.as_deref()) {
            KeySource::Local(local) => self.str(local),
            KeySource::Server(id) => self.id(id),
        }
        match m.server_id() {
            Some(id) => self.id(id),
            None => self.opt_str(None),
        }
        self.opt_str(m.local_id.as_deref());
        self.conversation(m.conversation_id);
        self.id(m.sender_id());
        self.id(m.receiver_id);
        self.str(kind);
        self.num(msg_type as f64);
        self.opt_str(text);
        self.opt_str(url);
        self.opt_str(cover);
        self.opt_str(raw);
        self.num(m.weight() as f64);
        self.str(status_name(m.status));
        self.flag(m.sender_id() == e.me());
        self.flag(m.read);
        self.flag(m.is_revoked());
        self.opt_str(m.sender_name.as_deref());
        self.opt_str(m.sender_avatar.as_deref());
        let read_by = e.read_by(m);
        self.ids(read_by.iter());
    }

    /// A `Message` (on a tape of [`Shape::Message`]).
    pub(super) fn push_message(&mut self, m: &StoredMessage) {
        debug_assert!(matches!(self.shape, Shape::Message));
        self.message(m);
    }

    /// A `MessageEvent` (on a tape of [`Shape::Event`]).
    pub(super) fn push_event(
        &mut self,
        conversation: ConversationId,
        index: usize,
        m: &StoredMessage,
    ) {
        debug_assert!(matches!(self.shape, Shape::Event));
        self.conversation(conversation);
        self.num(index as f64);
        self.message(m);
    }

    /// A `Conversation` (on a tape of [`Shape::Conversation`]).
    pub(super) fn push_conversation(&mut self, c: &ConversationSummary) {
        debug_assert!(matches!(self.shape, Shape::Conversation));
        let me = self.engine.me();
        let (kind, peer) = match c.id {
            ConversationId::Room(id) => ("room", id),
            direct => ("direct", direct.peer_of(me).unwrap_or(0)),
        };
        self.conversation(c.id);
        self.str(kind);
        self.id(peer);
        self.flag(c.last_message.is_some());
        if let Some(m) = &c.last_message {
            self.message(m);
        }
        self.num(c.last_activity as f64);
        self.num(f64::from(c.unread));
        self.ids(c.members.iter());
    }

    /// The records as a JS array.
    pub(super) fn finish(self) -> Array {
        let Tape {
            shape,
            mut text,
            mut numbers,
            ..
        } = self;
        let records = read_tape(shape as u32, &text, &numbers);
        if text.capacity() <= SPARE_MAX_BYTES {
            text.clear();
            numbers.clear();
            SPARE.set((text, numbers));
        }
        records
    }
}

thread_local! {
    /// The buffers of the last tape, emptied, for the next one: a backlog makes a tape per
    /// WebSocket frame, and allocating its two big buffers anew each time took a twentieth
    /// of its time to the page (large blocks are slow to find in a fragmented heap).
    static SPARE: std::cell::Cell<(String, Vec<f64>)> = const { std::cell::Cell::new((String::new(), Vec::new())) };
}

/// The largest tape text whose buffers are kept for the next tape (a list of thousands
/// of conversations is not kept).
const SPARE_MAX_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::utf16_len;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn utf16_len_is_the_count_of_utf16_units() {
        for s in [
            "",
            "a",
            "1234567",
            "12345678",
            "123456789",
            "message number 1 of the backlog",
            "é",
            "1234567é",
            "12345678é",
            "你好, 世界",
            "👋🏽 ok",
            "ok 12345678 👋",
        ] {
            assert_eq!(utf16_len(s), s.encode_utf16().count(), "{s:?}");
        }
    }
}
