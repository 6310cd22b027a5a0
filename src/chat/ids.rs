//! Identifiers of PROTOCOL.md: users, messages, conversations (`a_b` and `room_{id}`).
//!
//! 64-bit ids are `u64` here; at the JS boundary they cross as decimal strings, never as a
//! lossy `number`.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::json::write::push_digits;
use crate::json::{self, Doc, FromJson, Id, ToJson, Writer};

/// A user id.
pub type UserId = u64;
/// A message id assigned by the backend.
pub type ServerId = u64;

/// A conversation: a 1:1 chat between two users or a group room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversationId {
    /// `"{low}_{high}"`, `low < high`.
    Direct { low: UserId, high: UserId },
    /// `"room_{id}"`.
    Room(u64),
}

/// Why a string is not a conversation id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid conversation id '{0}'")]
pub struct InvalidConversationId(pub String);

impl ConversationId {
    /// The 1:1 conversation of two users, in either order. `None` for a user with themself.
    pub fn direct(a: UserId, b: UserId) -> Option<Self> {
        match a.cmp(&b) {
            std::cmp::Ordering::Less => Some(ConversationId::Direct { low: a, high: b }),
            std::cmp::Ordering::Greater => Some(ConversationId::Direct { low: b, high: a }),
            std::cmp::Ordering::Equal => None,
        }
    }

    /// The other member of a 1:1 conversation, seen from `me`.
    pub fn peer_of(self, me: UserId) -> Option<UserId> {
        match self {
            ConversationId::Direct { low, high } if low == me => Some(high),
            ConversationId::Direct { low, high } if high == me => Some(low),
            _ => None,
        }
    }

    /// The MQTT topic a message in this conversation is published to, seen from `me`:
    /// `chat_{peer}` or `room_{id}`.
    pub fn topic_from(self, me: UserId) -> Option<String> {
        match self {
            ConversationId::Room(id) => Some(format!("room_{id}")),
            direct => direct.peer_of(me).map(|peer| format!("chat_{peer}")),
        }
    }
}

impl ConversationId {
    /// Its string form (`"1_2"`, `"room_5"`), appended to `out` without the formatting
    /// machinery: records, message events and storage keys write one per message.
    pub(crate) fn push_to(self, out: &mut String) {
        match self {
            ConversationId::Direct { low, high } => {
                push_digits(out, low);
                out.push('_');
                push_digits(out, high);
            }
            ConversationId::Room(id) => {
                out.push_str("room_");
                push_digits(out, id);
            }
        }
    }
}

/// The string form of [`ConversationId::push_to`].
impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(48);
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

impl FromStr for ConversationId {
    type Err = InvalidConversationId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidConversationId(s.to_string());
        if let Some(room) = s.strip_prefix("room_") {
            return room.parse().map(ConversationId::Room).map_err(|_| bad());
        }
        let (a, b) = s.split_once('_').ok_or_else(bad)?;
        let a: u64 = a.parse().map_err(|_| bad())?;
        let b: u64 = b.parse().map_err(|_| bad())?;
        if a >= b {
            return Err(bad());
        }
        Ok(ConversationId::Direct { low: a, high: b })
    }
}

/// Persisted as its string form (`"1_2"`, `"room_5"`).
impl ToJson for ConversationId {
    fn write(&self, w: &mut Writer) {
        w.quoted(|out| self.push_to(out));
    }
}

impl FromJson for ConversationId {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        doc.string(n)?.parse().map_err(|e| doc.error(n, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_normalise() {
        let c = ConversationId::direct(7, 3).unwrap();
        assert_eq!(c.to_string(), "3_7");
        assert_eq!("3_7".parse::<ConversationId>(), Ok(c));
        assert_eq!("room_42".parse(), Ok(ConversationId::Room(42)));
        assert_eq!(ConversationId::direct(5, 5), None);
        for (id, text) in [
            (ConversationId::Room(42), "room_42"),
            (ConversationId::Room(0), "room_0"),
            (
                ConversationId::direct(0, u64::MAX).unwrap(),
                "0_18446744073709551615",
            ),
        ] {
            assert_eq!(id.to_string(), text);
            let mut pushed = String::from("x");
            id.push_to(&mut pushed);
            assert_eq!(pushed, format!("x{text}"));
            assert_eq!(text.parse(), Ok(id));
        }
        for bad in ["7_3", "3_3", "x_1", "1_", "room_", "room_x", "", "1_2_3"] {
            assert!(bad.parse::<ConversationId>().is_err(), "{bad}");
        }
        assert_eq!(c.topic_from(3).as_deref(), Some("chat_7"));
        assert_eq!(
            ConversationId::Room(9).topic_from(3).as_deref(),
            Some("room_9")
        );
        assert_eq!(c.peer_of(4), None);
    }
}
