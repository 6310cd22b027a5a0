//! What the keys hold: the root (index + record parts), message chunks, record blobs.

use std::ops::Range;
use std::rc::Rc;

use crate::chat::store::Tombstone;
use crate::chat::store::{ConversationRecord, MessageKey, MessageRef, OutboxEntry, StoredMessage};
use crate::chat::{ConversationId, ServerId};
use crate::collections::{try_collect, Gather};
use crate::json::{self, Doc, FromJson, Id, ToJson, Writer};
use crate::storage::StorageError;

/// The layout version the root is written with.
pub(super) const VERSION: u32 = 1;

/// A data key's part: `(id, bytes of key + value)`.
pub(super) type Part = (u64, usize);

/// The root key's value: everything needed to find the data, and the only key an
/// [`apply`](crate::storage::Storage::apply) overwrites (its commit point).
#[derive(Debug, Clone, Default)]
pub(super) struct Root {
    pub version: u32,
    /// The next data key id (ids are never reused while referenced).
    pub next: u64,
    /// Every message chunk, by conversation then key: a conversation's chunks cover
    /// ascending, disjoint key ranges.
    pub chunks: Vec<Chunk>,
    /// The parts of each record blob, concatenated in order.
    pub conversations: Vec<Part>,
    pub outbox: Vec<Part>,
    pub tombstones: Vec<Part>,
    pub meta: Vec<Part>,
}

// The root and its chunks are JSON arrays, not objects: a smaller index to rewrite on
// every apply. (They were written with serde's tuple forms; the text is unchanged.)

/// `[version, next, [chunk…], conversations, outbox, tombstones, meta]`, a part being
/// `[id, bytes]`.
impl ToJson for Root {
    fn write(&self, w: &mut Writer) {
        w.open('[');
        w.item();
        w.u64(u64::from(self.version));
        w.item();
        w.u64(self.next);
        w.item();
        self.chunks.write(w);
        for parts in [
            &self.conversations,
            &self.outbox,
            &self.tombstones,
            &self.meta,
        ] {
            w.item();
            w.open('[');
            for (id, bytes) in parts {
                w.item();
                w.open('[');
                w.u64(*id);
                w.item();
                w.u64(*bytes as u64);
                w.close(']');
            }
            w.close(']');
        }
        w.close(']');
    }
}

fn usize_at(doc: &Doc<'_>, n: Id) -> Result<usize, json::Error> {
    Ok(doc.unsigned(n, usize::MAX as u64, "usize")? as usize)
}

fn parts(doc: &Doc<'_>, n: Id) -> Result<Vec<Part>, json::Error> {
    doc.array(n, |p| match doc.tuple(p, 2)?.as_slice() {
        [id, bytes] => Ok((doc.u64(*id)?, usize_at(doc, *bytes)?)),
        _ => Err(doc.invalid_type(p, "a tuple of size 2")),
    })
}

impl FromJson for Root {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        match doc.tuple(n, 7)?.as_slice() {
            [version, next, chunks, conversations, outbox, tombstones, meta] => Ok(Root {
                version: doc.unsigned(*version, u64::from(u32::MAX), "u32")? as u32,
                next: doc.u64(*next)?,
                chunks: doc.array(*chunks, |c| Chunk::read(doc, c))?,
                conversations: parts(doc, *conversations)?,
                outbox: parts(doc, *outbox)?,
                tombstones: parts(doc, *tombstones)?,
                meta: parts(doc, *meta)?,
            }),
            _ => Err(doc.invalid_type(n, "a tuple of size 7")),
        }
    }
}

/// `[id, conversation, lo weight, lo sender, lo id, newest, bytes, [min, max server id] or
/// null, flags (1: pending, 2: local)]`.
impl ToJson for Chunk {
    fn write(&self, w: &mut Writer) {
        let flags = u8::from(self.pending) | (u8::from(self.local) << 1);
        let lo = &self.lo;
        w.open('[');
        w.u64(self.id);
        w.item();
        self.conversation.write(w);
        w.item();
        w.u64(lo.weight);
        w.item();
        w.u64(lo.sender_id);
        w.item();
        lo.id.write(w);
        w.item();
        w.u64(self.newest);
        w.item();
        w.u64(self.bytes as u64);
        w.item();
        self.server_ids.write(w);
        w.item();
        w.u64(u64::from(flags));
        w.close(']');
    }
}

impl FromJson for Chunk {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        match doc.tuple(n, 9)?.as_slice() {
            [id, conversation, weight, sender_id, lo_id, newest, bytes, server_ids, flags] => {
                let flags = doc.unsigned(*flags, u64::from(u8::MAX), "u8")?;
                Ok(Chunk {
                    id: doc.u64(*id)?,
                    conversation: ConversationId::read(doc, *conversation)?,
                    lo: MessageKey {
                        weight: doc.u64(*weight)?,
                        sender_id: doc.u64(*sender_id)?,
                        id: MessageRef::read(doc, *lo_id)?,
                    },
                    newest: doc.u64(*newest)?,
                    bytes: usize_at(doc, *bytes)?,
                    server_ids: Option::<(ServerId, ServerId)>::read(doc, *server_ids)?,
                    pending: flags & 1 != 0,
                    local: flags & 2 != 0,
                })
            }
            _ => Err(doc.invalid_type(n, "a tuple of size 9")),
        }
    }
}

impl Root {
    fn parts(&self) -> impl Iterator<Item = &Part> {
        [
            &self.conversations,
            &self.outbox,
            &self.tombstones,
            &self.meta,
        ]
        .into_iter()
        .flatten()
    }

    /// Every data key id the root references.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        let chunks = self.chunks.iter().map(|c| c.id);
        chunks.chain(self.parts().map(|p| p.0))
    }

    /// Bytes of every data key the root references.
    pub fn data_bytes(&self) -> usize {
        let chunks: usize = self.chunks.iter().map(|c| c.bytes).sum();
        chunks + self.parts().map(|p| p.1).sum::<usize>()
    }

    /// Where the chunks of `conversation` are.
    pub fn range(&self, conversation: ConversationId) -> Range<usize> {
        let start = self
            .chunks
            .partition_point(|c| c.conversation < conversation);
        let end = self
            .chunks
            .partition_point(|c| c.conversation <= conversation);
        start..end
    }

    /// The chunks of `conversation`.
    pub fn of(&self, conversation: ConversationId) -> &[Chunk] {
        self.chunks.get(self.range(conversation)).unwrap_or(&[])
    }
}

/// One message chunk: [`StoredMessage`]s in ascending key order, as JSON Lines.
#[derive(Debug, Clone)]
pub(super) struct Chunk {
    pub id: u64,
    pub conversation: ConversationId,
    /// The smallest key: a message goes to the last chunk whose `lo` is not above its key.
    pub lo: MessageKey,
    /// The weight of the largest key (the trimming order).
    pub newest: u64,
    /// Bytes of key + value.
    pub bytes: usize,
    /// The smallest and largest server id, when it holds any.
    pub server_ids: Option<(ServerId, ServerId)>,
    /// Holds a message keyed by its local id (not yet acknowledged).
    pub pending: bool,
    /// Holds a message with a local id (for lookups by local id).
    pub local: bool,
}

impl Chunk {
    /// A chunk not written yet, for a conversation that has none.
    pub fn placeholder(id: u64, m: &StoredMessage) -> Self {
        Chunk {
            id,
            conversation: m.conversation_id,
            newest: m.key.weight,
            lo: m.key.clone(),
            bytes: 0,
            server_ids: None,
            pending: false,
            local: false,
        }
    }

    /// Whether the message `id` may be in this chunk.
    pub fn may_hold(&self, id: &MessageRef) -> bool {
        match id {
            MessageRef::Server(n) => self.server_ids.is_some_and(|(lo, hi)| lo <= *n && *n <= hi),
            MessageRef::Local(_) => self.pending,
        }
    }

    /// The summary of `messages` (ascending, not empty) stored as `bytes`.
    fn of(id: u64, messages: &[StoredMessage], bytes: usize) -> Option<Self> {
        let first = messages.first()?;
        let last = messages.last()?;
        let server_ids = messages
            .iter()
            .filter_map(StoredMessage::server_id)
            .fold(None, |r: Option<(u64, u64)>, n| {
                Some(r.map_or((n, n), |(lo, hi)| (lo.min(n), hi.max(n))))
            });
        Some(Chunk {
            id,
            conversation: first.conversation_id,
            lo: first.key.clone(),
            newest: last.key.weight,
            bytes,
            server_ids,
            pending: messages
                .iter()
                .any(|m| matches!(m.key.id, MessageRef::Local(_))),
            local: messages.iter().any(|m| m.local_id.is_some()),
        })
    }
}

/// Everything but messages: small, kept in memory, one blob (of zero or more parts) each.
#[derive(Debug, Clone, Default)]
pub(super) struct Records {
    pub conversations: Vec<ConversationRecord>,
    pub outbox: Vec<OutboxEntry>,
    pub tombstones: Vec<(ServerId, Tombstone)>,
    pub meta: Vec<(String, String)>,
}

/// A new chunk: its summary, its value, its messages.
pub(super) type NewChunk = (Chunk, String, Rc<Vec<StoredMessage>>);

pub(super) fn encode<T: ToJson + ?Sized>(v: &T) -> Result<String, StorageError> {
    Ok(json::to_string(v))
}

pub(super) use crate::storage::from_json as decode;

/// Records as JSON Lines (every newline inside a value is escaped): each line decodes
/// with the same code as the IndexedDB backend's records.
pub(super) fn lines<T: ToJson>(items: &[T]) -> Result<String, StorageError> {
    let mut text = String::new();
    for item in items {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&encode(item)?);
    }
    Ok(text)
}

pub(super) fn unlines<T: FromJson>(text: &str) -> Result<Vec<T>, StorageError> {
    let mut out = Vec::new();
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        out.push(decode(line)?);
    }
    Ok(out)
}

pub(super) fn too_large(what: &str, bytes: usize, limit: usize) -> StorageError {
    StorageError::QuotaExceeded(format!(
        "{what} of {bytes} bytes above the per-key limit {limit}"
    ))
}

/// Packs `messages` (ascending) into chunks filled up to `target` bytes (key + value;
/// `key_len` is the longest key), a lone message larger than that up to `limit`. The
/// chunk left partly filled is the last one, or the first one `from_end` (where a
/// conversation's first chunk grows: older pages come in before it). `id` hands out the
/// key id of each chunk and the length of its key.
pub(super) fn pack(
    messages: Vec<StoredMessage>,
    from_end: bool,
    (target, limit, key_len): (usize, usize, usize),
    mut id: impl FnMut() -> (u64, usize),
) -> Result<Vec<NewChunk>, StorageError> {
    let items = try_collect(
        messages
            .into_iter()
            .map(|m| encode(&m).map(|json| (m, json))),
    )?;
    let mut lens: Vec<usize> = items.iter().map(|(_, json)| json.len()).gather();
    if from_end {
        lens.reverse();
    }
    // How many messages each chunk takes, in scan order.
    let mut counts = Vec::new();
    let (mut n, mut size) = (0, 0);
    for len in lens {
        if n > 0 && key_len + size + len > target {
            counts.push(n);
            (n, size) = (0, 0);
        }
        n += 1;
        size += len + 1;
    }
    if n > 0 {
        counts.push(n);
    }
    if from_end {
        counts.reverse();
    }
    let mut items = items.into_iter();
    let mut out = Vec::with_capacity(counts.len());
    for n in counts {
        let (messages, json): (Vec<StoredMessage>, Vec<String>) = items.by_ref().take(n).unzip();
        let text = json.join("\n");
        let (id, key) = id();
        let bytes = key + text.len();
        if bytes > limit {
            return Err(too_large("a message chunk", bytes, limit));
        }
        if let Some(chunk) = Chunk::of(id, &messages, bytes) {
            out.push((chunk, text, Rc::new(messages)));
        }
    }
    Ok(out)
}

/// `text` cut at character boundaries into pieces of at most `max` bytes.
pub(super) fn split(text: &str, max: usize) -> Result<Vec<&str>, StorageError> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while end > 0 && !rest.is_char_boundary(end) {
            end -= 1;
        }
        let Some((head, tail)) = rest.split_at_checked(end).filter(|_| end > 0) else {
            return Err(too_large("a record part", max, max));
        };
        out.push(head);
        rest = tail;
    }
    Ok(out)
}
