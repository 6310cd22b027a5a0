//! Conversation records and blocks of messages packed as bytes: how the IndexedDB layout
//! stores them (feature `indexeddb`; conversation records from schema V4 on, blocks from
//! V5 on), so start-up and a page of history read them without a JSON parse.
//!
//! Start-up reads every conversation record before the list can show. As JSON texts,
//! 1,000 of them (each with its newest message) took 8–15 ms to parse in the page and
//! 2–6 ms to cross into wasm as one string (`make bench`'s cold start, timed in the
//! module): about half of the time from `ChatClient.create` to the list. Packed, they
//! cross as bytes (`Uint8Array`s copied into wasm memory, no text encoding) and decode in
//! one pass with no key look-ups.
//!
//! The form: a version byte ([`FORMAT`]), then the fields in declaration order.
//! Unsigned integers are LEB128 varints, `msg_type` zigzag first; strings a varint byte
//! length and UTF-8; an `Option` or enum a tag byte; lists a varint count. A block is its
//! own version byte ([`BLOCK_FORMAT`]) and the list of its messages, where a sender's name
//! or avatar equal to the message before's is a tag byte alone (and read back shares that
//! message's copy). Both forms write a message alike: a change to it is a new
//! [`FORMAT`] and a new [`BLOCK_FORMAT`]. Records that stay JSON (outbox, tombstones,
//! meta, the key-value layout) keep their JSON form.
//!
//! Reading checks everything a JSON read checks (tags, UTF-8, conversation ids, the end
//! of the record) and returns [`PackError`]; it never panics, whatever the bytes.

use std::sync::Arc;

use thiserror::Error;

use crate::chat::ids::ConversationId;
use crate::chat::model::Content;
use crate::chat::store::{
    ConversationRecord, MessageKey, MessageRef, Newest, Status, StoredMessage,
};
use crate::storage::StorageError;

/// Bytes that are not a packed record are a corrupt record, with the reason.
impl From<PackError> for StorageError {
    fn from(e: PackError) -> Self {
        StorageError::Corrupt(e.to_string())
    }
}

/// The version byte every packed record starts with.
pub const FORMAT: u8 = 1;

/// The version byte every packed block starts with.
pub const BLOCK_FORMAT: u8 = 1;

/// Why bytes are not a packed conversation record or block.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PackError {
    #[error("packed record: ends inside {0}")]
    Truncated(&'static str),
    #[error("packed record: format {0} unknown")]
    Format(u8),
    #[error("packed record: tag {tag} is no {what}")]
    Tag { what: &'static str, tag: u8 },
    #[error("packed record: varint of {0} too long")]
    Varint(&'static str),
    #[error("packed record: {0} is not UTF-8")]
    Utf8(&'static str),
    #[error("packed record: conversation {0}_{1} is not low_high")]
    Conversation(u64, u64),
    #[error("packed record: {0} bytes after its end")]
    Trailing(usize),
}

/// `record` packed, appended to `out`.
pub fn pack(record: &ConversationRecord, out: &mut Vec<u8>) {
    // Destructured, so that a new field does not compile until it is packed too.
    let ConversationRecord {
        id,
        my_read_mark,
        peer_read_mark,
        cleared_mark,
        created_at,
        members,
        member_reads,
        unread,
        listed,
        newest,
    } = record;
    let mut w = Packer(out);
    w.byte(FORMAT);
    w.conversation(*id);
    for n in [my_read_mark, peer_read_mark, cleared_mark, created_at] {
        w.uint(*n);
    }
    w.uint(members.len() as u64);
    for m in members {
        w.uint(*m);
    }
    w.uint(u64::from(*unread));
    w.byte(u8::from(*listed));
    w.uint(member_reads.len() as u64);
    for (user, mark) in member_reads {
        w.uint(*user);
        w.uint(*mark);
    }
    match newest {
        Newest::Unknown => w.byte(0),
        Newest::Empty => w.byte(1),
        Newest::Message(m) => {
            w.byte(2);
            w.message(m, None);
        }
    }
}

/// The messages of a block packed, appended to `out`.
pub fn pack_block(messages: &[StoredMessage], out: &mut Vec<u8>) {
    let mut w = Packer(out);
    w.byte(BLOCK_FORMAT);
    w.uint(messages.len() as u64);
    let mut before = None;
    for m in messages {
        w.message(m, before);
        before = Some(m);
    }
}

/// The messages of the block `bytes` hold (all of them).
pub fn unpack_block(bytes: &[u8]) -> Result<Vec<StoredMessage>, PackError> {
    let mut r = Unpacker { rest: bytes };
    let format = r.byte("format")?;
    if format != BLOCK_FORMAT {
        return Err(PackError::Format(format));
    }
    let n = r.count("messages")?;
    let mut out: Vec<StoredMessage> = Vec::with_capacity(n);
    for _ in 0..n {
        let m = r.message(out.last())?;
        out.push(m);
    }
    if !r.rest.is_empty() {
        return Err(PackError::Trailing(r.rest.len()));
    }
    Ok(out)
}

/// The record `bytes` hold (all of them).
pub fn unpack(bytes: &[u8]) -> Result<ConversationRecord, PackError> {
    let mut r = Unpacker { rest: bytes };
    let format = r.byte("format")?;
    if format != FORMAT {
        return Err(PackError::Format(format));
    }
    let id = r.conversation()?;
    let my_read_mark = r.uint("my_read_mark")?;
    let peer_read_mark = r.uint("peer_read_mark")?;
    let cleared_mark = r.uint("cleared_mark")?;
    let created_at = r.uint("created_at")?;
    let members = r.list("members", |r| r.uint("members"))?;
    let unread = u32::try_from(r.uint("unread")?).map_err(|_| PackError::Varint("unread"))?;
    let listed = r.flag("listed")?;
    let member_reads = r.list("member_reads", |r| {
        Ok((r.uint("member_reads")?, r.uint("member_reads")?))
    })?;
    let newest = match r.byte("newest")? {
        0 => Newest::Unknown,
        1 => Newest::Empty,
        2 => Newest::Message(Box::new(r.message(None)?)),
        tag => {
            return Err(PackError::Tag {
                what: "newest",
                tag,
            })
        }
    };
    if !r.rest.is_empty() {
        return Err(PackError::Trailing(r.rest.len()));
    }
    Ok(ConversationRecord {
        id,
        my_read_mark,
        peer_read_mark,
        cleared_mark,
        created_at,
        members,
        member_reads,
        unread,
        listed,
        newest,
    })
}

struct Packer<'a>(&'a mut Vec<u8>);

impl Packer<'_> {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn uint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.byte(0),
            Some(s) => {
                self.byte(1);
                self.str(s);
            }
        }
    }

    fn conversation(&mut self, id: ConversationId) {
        match id {
            ConversationId::Direct { low, high } => {
                self.byte(0);
                self.uint(low);
                self.uint(high);
            }
            ConversationId::Room(room) => {
                self.byte(1);
                self.uint(room);
            }
        }
    }

    /// `before`: the message packed right before it in a block, whose name and avatar an
    /// equal one refers to.
    fn message(&mut self, m: &StoredMessage, before: Option<&StoredMessage>) {
        let StoredMessage {
            key,
            conversation_id,
            local_id,
            receiver_id,
            content,
            status,
            read,
            server_read,
            sender_name,
            sender_avatar,
        } = m;
        self.uint(key.weight);
        self.uint(key.sender_id);
        match &key.id {
            MessageRef::Server(id) => {
                self.byte(0);
                self.uint(*id);
            }
            MessageRef::Local(id) => {
                self.byte(1);
                self.str(id);
            }
        }
        self.conversation(*conversation_id);
        self.opt_str(local_id.as_deref());
        self.uint(*receiver_id);
        match content.as_deref() {
            None => self.byte(0),
            Some(Content::Text { text }) => {
                self.byte(1);
                self.str(text);
            }
            Some(Content::System { text }) => {
                self.byte(2);
                self.str(text);
            }
            Some(Content::Image { url, cover }) => {
                self.byte(3);
                self.str(url);
                self.opt_str(cover.as_deref());
            }
            Some(Content::Video { url, cover }) => {
                self.byte(4);
                self.str(url);
                self.opt_str(cover.as_deref());
            }
            Some(Content::Custom { msg_type, raw }) => {
                self.byte(5);
                // Zigzag: small negative types stay short.
                self.uint(((msg_type << 1) ^ (msg_type >> 63)) as u64);
                self.str(raw);
            }
        }
        self.byte(status.code());
        self.byte(u8::from(*read) | u8::from(*server_read) << 1);
        self.shared_str(sender_name, before.map(|b| &b.sender_name));
        self.shared_str(sender_avatar, before.map(|b| &b.sender_avatar));
    }

    /// [`Packer::opt_str`], or tag 2 alone when `s` is some and equal to `before`.
    fn shared_str(&mut self, s: &Option<Arc<str>>, before: Option<&Option<Arc<str>>>) {
        match (s, before) {
            (Some(s), Some(Some(b))) if s == b => self.byte(SAME_AS_BEFORE),
            _ => self.opt_str(s.as_deref()),
        }
    }
}

/// The tag of a name or avatar equal to the one of the message before (in a block).
const SAME_AS_BEFORE: u8 = 2;

struct Unpacker<'a> {
    rest: &'a [u8],
}

impl<'a> Unpacker<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, PackError> {
        let (&b, rest) = self.rest.split_first().ok_or(PackError::Truncated(what))?;
        self.rest = rest;
        Ok(b)
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, PackError> {
        match self.byte(what)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(PackError::Tag { what, tag }),
        }
    }

    fn uint(&mut self, what: &'static str) -> Result<u64, PackError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte(what)?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte holds one bit: more would not fit in 64.
            if shift == 63 && bits > 1 {
                return Err(PackError::Varint(what));
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(PackError::Varint(what))
    }

    /// A count of items still to come: at most one per byte left, so a corrupt count
    /// cannot reserve room for more items than the record has bytes.
    fn count(&mut self, what: &'static str) -> Result<usize, PackError> {
        let n = self.uint(what)?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.rest.len())
            .ok_or(PackError::Truncated(what))
    }

    fn list<T>(
        &mut self,
        what: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<T, PackError>,
    ) -> Result<Vec<T>, PackError> {
        let n = self.count(what)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, PackError> {
        let n = self.count(what)?;
        let (text, rest) = self
            .rest
            .split_at_checked(n)
            .ok_or(PackError::Truncated(what))?;
        self.rest = rest;
        std::str::from_utf8(text).map_err(|_| PackError::Utf8(what))
    }

    fn opt_str(&mut self, what: &'static str) -> Result<Option<&'a str>, PackError> {
        Ok(if self.flag(what)? {
            Some(self.str(what)?)
        } else {
            None
        })
    }

    fn conversation(&mut self) -> Result<ConversationId, PackError> {
        const WHAT: &str = "conversation id";
        match self.byte(WHAT)? {
            0 => {
                let (low, high) = (self.uint(WHAT)?, self.uint(WHAT)?);
                if low >= high {
                    return Err(PackError::Conversation(low, high));
                }
                Ok(ConversationId::Direct { low, high })
            }
            1 => Ok(ConversationId::Room(self.uint(WHAT)?)),
            tag => Err(PackError::Tag { what: WHAT, tag }),
        }
    }

    /// `before`: the message read right before it in a block (see [`Packer::message`]).
    fn message(&mut self, before: Option<&StoredMessage>) -> Result<StoredMessage, PackError> {
        let weight = self.uint("weight")?;
        let sender_id = self.uint("sender_id")?;
        let id = match self.byte("message id")? {
            0 => MessageRef::Server(self.uint("message id")?),
            1 => MessageRef::Local(self.str("message id")?.to_owned()),
            tag => {
                return Err(PackError::Tag {
                    what: "message id",
                    tag,
                })
            }
        };
        let conversation_id = self.conversation()?;
        let local_id = self.opt_str("local_id")?.map(str::to_owned);
        let receiver_id = self.uint("receiver_id")?;
        let content = match self.byte("content")? {
            0 => None,
            1 => Some(Content::Text {
                text: self.str("text")?.to_owned(),
            }),
            2 => Some(Content::System {
                text: self.str("text")?.to_owned(),
            }),
            tag @ (3 | 4) => {
                let url = self.str("url")?.to_owned();
                let cover = self.opt_str("cover")?.map(str::to_owned);
                Some(if tag == 3 {
                    Content::Image { url, cover }
                } else {
                    Content::Video { url, cover }
                })
            }
            5 => {
                let z = self.uint("msg_type")?;
                Some(Content::Custom {
                    msg_type: ((z >> 1) as i64) ^ -((z & 1) as i64),
                    raw: self.str("raw")?.to_owned(),
                })
            }
            tag => {
                return Err(PackError::Tag {
                    what: "content",
                    tag,
                })
            }
        };
        let status = match self.byte("status")? {
            0 => Status::Sending,
            1 => Status::Sent,
            2 => Status::Failed,
            3 => Status::Revoked,
            tag => {
                return Err(PackError::Tag {
                    what: "status",
                    tag,
                })
            }
        };
        let flags = self.byte("read flags")?;
        if flags > 3 {
            return Err(PackError::Tag {
                what: "read flags",
                tag: flags,
            });
        }
        Ok(StoredMessage {
            key: MessageKey {
                weight,
                sender_id,
                id,
            },
            conversation_id,
            local_id,
            receiver_id,
            content: content.map(Arc::new),
            status,
            read: flags & 1 != 0,
            server_read: flags & 2 != 0,
            sender_name: self.shared_str("sender_name", before.map(|b| &b.sender_name))?,
            sender_avatar: self.shared_str("sender_avatar", before.map(|b| &b.sender_avatar))?,
        })
    }

    /// What [`Packer::shared_str`] wrote: tag 2 shares `before`'s copy (an error without
    /// one, as in a conversation record).
    fn shared_str(
        &mut self,
        what: &'static str,
        before: Option<&Option<Arc<str>>>,
    ) -> Result<Option<Arc<str>>, PackError> {
        match self.byte(what)? {
            0 => Ok(None),
            1 => Ok(Some(Arc::from(self.str(what)?))),
            SAME_AS_BEFORE => match before {
                Some(Some(b)) => Ok(Some(Arc::clone(b))),
                _ => Err(PackError::Tag {
                    what,
                    tag: SAME_AS_BEFORE,
                }),
            },
            tag => Err(PackError::Tag { what, tag }),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
