//! The MQTT topics of the chat (PROTOCOL.md): `chat_{user}` (a user's inbox), `room_{id}`
//! (a group room) and `presence_{user}` (retained `online` / `offline`, with the last will
//! publishing `offline` when a client drops without saying goodbye).

use super::ids::UserId;

/// The retained payload of a user who is connected.
pub const ONLINE: &[u8] = b"online";
/// The retained payload (and last will) of a user who is not.
pub const OFFLINE: &[u8] = b"offline";

/// What a topic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// `chat_{user}`.
    Chat(UserId),
    /// `room_{id}`.
    Room(u64),
    /// `presence_{user}`.
    Presence(UserId),
    /// Anything else.
    Other,
}

impl Topic {
    pub fn parse(topic: &str) -> Topic {
        let id = |rest: &str| {
            // Canonical decimal only: "chat_01" (or "chat_+1") is not user 1's topic.
            let canonical =
                rest.bytes().all(|b| b.is_ascii_digit()) && (rest == "0" || !rest.starts_with('0'));
            rest.parse::<u64>().ok().filter(|_| canonical)
        };
        if let Some(n) = topic.strip_prefix("chat_").and_then(id) {
            Topic::Chat(n)
        } else if let Some(n) = topic.strip_prefix("room_").and_then(id) {
            Topic::Room(n)
        } else if let Some(n) = topic.strip_prefix("presence_").and_then(id) {
            Topic::Presence(n)
        } else {
            Topic::Other
        }
    }
}

pub fn chat(user: UserId) -> String {
    format!("chat_{user}")
}

pub fn room(id: u64) -> String {
    format!("room_{id}")
}

pub fn presence(user: UserId) -> String {
    format!("presence_{user}")
}

/// Whether a presence payload says online (`None`: neither word; an empty retained payload
/// clears the topic and means offline).
pub fn parse_presence(payload: &[u8]) -> Option<bool> {
    match payload {
        ONLINE => Some(true),
        OFFLINE | b"" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_classified_by_prefix_and_canonical_id() {
        assert_eq!(Topic::parse("chat_12"), Topic::Chat(12));
        assert_eq!(Topic::parse("room_3"), Topic::Room(3));
        assert_eq!(
            Topic::parse("presence_18446744073709551615"),
            Topic::Presence(u64::MAX)
        );
        for other in [
            "chat_",
            "chat_01",
            "chat_00",
            "chat_-1",
            "chat_+1",
            "chat_ 1",
            "chat_1x",
            "chat_18446744073709551616",
            "rooms_1",
            "presence",
            "x",
        ] {
            assert_eq!(Topic::parse(other), Topic::Other, "{other}");
        }
        assert_eq!(Topic::parse("chat_0"), Topic::Chat(0));
        assert_eq!(Topic::parse(&chat(7)), Topic::Chat(7));
        assert_eq!(Topic::parse(&room(7)), Topic::Room(7));
        assert_eq!(Topic::parse(&presence(7)), Topic::Presence(7));
    }

    #[test]
    fn presence_payloads() {
        assert_eq!(parse_presence(ONLINE), Some(true));
        assert_eq!(parse_presence(OFFLINE), Some(false));
        assert_eq!(parse_presence(b""), Some(false));
        assert_eq!(parse_presence(b"away"), None);
    }
}
