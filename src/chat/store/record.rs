//! The records the store keeps, shows and persists.

use std::sync::Arc;

use crate::chat::ids::{ConversationId, ServerId, UserId};
use crate::chat::model::Content;
use crate::json::{self, Doc, FromJson, Id, ToJson, Writer};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Mine, handed to the network, no server id yet.
    Sending,
    /// Stored by the server (every received message is `Sent`).
    Sent,
    /// Mine, the send failed: it can be resent.
    Failed,
    /// Revoked by its sender: the content is gone, a notice remains.
    Revoked,
}

impl Status {
    /// The seed's numeric status: 0 not sent, 1 sent, 2 failed, 3 revoked.
    pub fn code(self) -> u8 {
        match self {
            Status::Sending => 0,
            Status::Sent => 1,
            Status::Failed => 2,
            Status::Revoked => 3,
        }
    }
}

/// The identity of a message: its server id once it has one, its client-generated local
/// id before.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageRef {
    Server(ServerId),
    Local(String),
}

/// `server id 12`, `local id 'l1f'` (for error texts).
impl std::fmt::Display for MessageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageRef::Server(id) => write!(f, "server id {id}"),
            MessageRef::Local(id) => write!(f, "local id '{id}'"),
        }
    }
}

/// The position of a message in its conversation: ascending `(weight, sender, id)`, a
/// total order consistent with weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey {
    pub weight: u64,
    pub sender_id: UserId,
    pub id: MessageRef,
}

/// A message as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub key: MessageKey,
    pub conversation_id: ConversationId,
    /// The client-generated id of a message I sent from this client (kept after the server
    /// id arrives, so the UI can match its optimistic copy).
    pub local_id: Option<String>,
    pub receiver_id: u64,
    /// `None` once revoked. Shared like the sender's name: the store's copy, its event's
    /// and its conversation's newest hold one content instead of a copy each.
    pub content: Option<Arc<Content>>,
    pub status: Status,
    /// Mine and read by the peer (from a read receipt or the server's history).
    pub read: bool,
    /// The server said so in a history page (kept so receipts and pages merge in any order).
    pub server_read: bool,
    /// Shared: every copy of a message (the store's, its event's, its conversation's
    /// newest) holds the same text instead of copying it. `Arc`, not `Rc`, so messages stay
    /// `Send`; without threads (wasm32) its counts are plain additions.
    pub sender_name: Option<Arc<str>>,
    pub sender_avatar: Option<Arc<str>>,
}

impl StoredMessage {
    pub fn server_id(&self) -> Option<ServerId> {
        match self.key.id {
            MessageRef::Server(id) => Some(id),
            MessageRef::Local(_) => None,
        }
    }

    pub fn weight(&self) -> u64 {
        self.key.weight
    }

    pub fn sender_id(&self) -> UserId {
        self.key.sender_id
    }

    pub fn is_revoked(&self) -> bool {
        self.status == Status::Revoked
    }
}

/// A conversation as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub id: ConversationId,
    /// The newest message (a revoked one shows as a notice).
    pub last_message: Option<StoredMessage>,
    /// Weight of the newest message, or when the conversation was created.
    pub last_activity: u64,
    pub unread: u32,
    /// Room members, when known.
    pub members: Vec<UserId>,
}

/// What is persisted per conversation besides its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    pub id: ConversationId,
    /// Messages of the peer up to this weight are read by me.
    pub my_read_mark: u64,
    /// Messages of mine up to this weight are read by the peer.
    pub peer_read_mark: u64,
    /// Messages at or below this weight were deleted locally (with the conversation).
    pub cleared_mark: u64,
    pub created_at: u64,
    pub members: Vec<UserId>,
    /// In a room: how far each other member has read, `(user, weight)` by user id.
    pub member_reads: Vec<(UserId, u64)>,
    /// Unread messages, kept so a store holding only part of the history knows the count.
    pub unread: u32,
    /// Shown in the conversation list (a room joined before any message, a chat whose
    /// last message was deleted), so a restart lists exactly what was listed.
    /// (Absent from records written before it existed: `false`.)
    pub listed: bool,
    /// The newest message, kept with the record so that start-up lists every
    /// conversation from these records alone, without reading any message.
    pub newest: Newest,
}

/// The newest message of a conversation as its record keeps it (see
/// `Store::take_persist`, which keeps it current).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Newest {
    /// Not known: a record written before the field existed, or the newest message was
    /// deleted while older ones sat unloaded in storage. Start-up reads it back.
    #[default]
    Unknown,
    /// The conversation has no message (none yet, or all deleted or cleared).
    Empty,
    Message(Box<StoredMessage>),
}

/// A message of mine waiting to be sent: survives a reload and goes out after the next
/// connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub local_id: String,
    pub conversation_id: ConversationId,
    pub receiver_id: u64,
    pub content: Content,
    pub weight: u64,
}

// ---- JSON, as serde's derives wrote and read these records --------------------------------

const STATUSES: [(&str, Status); 4] = [
    ("sending", Status::Sending),
    ("sent", Status::Sent),
    ("failed", Status::Failed),
    ("revoked", Status::Revoked),
];

impl ToJson for Status {
    fn write(&self, w: &mut Writer) {
        let name = STATUSES
            .iter()
            .find(|(_, s)| s == self)
            .map_or("", |(n, _)| n);
        w.str(name);
    }
}

impl FromJson for Status {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let (name, value) = doc.variant(n, "Status")?;
        let status = STATUSES
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, status)| *status)
            .ok_or_else(|| {
                doc.unknown_variant(n, &name, "one of `sending`, `sent`, `failed`, `revoked`")
            })?;
        doc.unit_variant(value)?;
        Ok(status)
    }
}

impl ToJson for MessageRef {
    fn write(&self, w: &mut Writer) {
        w.open('{');
        match self {
            MessageRef::Server(id) => {
                w.key("server");
                w.u64(*id);
            }
            MessageRef::Local(id) => {
                w.key("local");
                w.str(id);
            }
        }
        w.close('}');
    }
}

impl FromJson for MessageRef {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let (name, value) = doc.variant(n, "MessageRef")?;
        match name.as_str() {
            "server" => Ok(MessageRef::Server(doc.u64(doc.variant_value(n, value)?)?)),
            "local" => Ok(MessageRef::Local(doc.string(doc.variant_value(n, value)?)?)),
            other => Err(doc.unknown_variant(n, other, "`server` or `local`")),
        }
    }
}

impl ToJson for MessageKey {
    fn write(&self, w: &mut Writer) {
        w.open('{');
        w.key("weight");
        w.u64(self.weight);
        w.key("sender_id");
        w.u64(self.sender_id);
        w.key("id");
        self.id.write(w);
        w.close('}');
    }
}

impl FromJson for MessageKey {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let f = doc.fields(n, "MessageKey", &["weight", "sender_id", "id"])?;
        Ok(MessageKey {
            weight: doc.u64(f.req(doc, 0, "weight")?)?,
            sender_id: doc.u64(f.req(doc, 1, "sender_id")?)?,
            id: MessageRef::read(doc, f.req(doc, 2, "id")?)?,
        })
    }
}

/// An `Option` field without a default: missing from an object is `None`.
fn opt_field<T: FromJson>(
    doc: &Doc<'_>,
    f: &json::Fields,
    at: usize,
) -> Result<Option<T>, json::Error> {
    match f.opt(doc, at)? {
        Some(n) => Option::<T>::read(doc, n),
        None => Ok(None),
    }
}

impl ToJson for StoredMessage {
    fn write(&self, w: &mut Writer) {
        w.open('{');
        w.key("key");
        self.key.write(w);
        w.key("conversation_id");
        self.conversation_id.write(w);
        w.key("local_id");
        self.local_id.write(w);
        w.key("receiver_id");
        w.u64(self.receiver_id);
        w.key("content");
        self.content.write(w);
        w.key("status");
        self.status.write(w);
        w.key("read");
        w.bool(self.read);
        w.key("server_read");
        w.bool(self.server_read);
        w.key("sender_name");
        self.sender_name.write(w);
        w.key("sender_avatar");
        self.sender_avatar.write(w);
        w.close('}');
    }
}

impl FromJson for StoredMessage {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let f = doc.fields(
            n,
            "StoredMessage",
            &[
                "key",
                "conversation_id",
                "local_id",
                "receiver_id",
                "content",
                "status",
                "read",
                "server_read",
                "sender_name",
                "sender_avatar",
            ],
        )?;
        Ok(StoredMessage {
            key: MessageKey::read(doc, f.req(doc, 0, "key")?)?,
            conversation_id: ConversationId::read(doc, f.req(doc, 1, "conversation_id")?)?,
            local_id: opt_field(doc, &f, 2)?,
            receiver_id: doc.u64(f.req(doc, 3, "receiver_id")?)?,
            content: opt_field(doc, &f, 4)?,
            status: Status::read(doc, f.req(doc, 5, "status")?)?,
            read: doc.bool(f.req(doc, 6, "read")?)?,
            server_read: doc.bool(f.req(doc, 7, "server_read")?)?,
            sender_name: opt_field(doc, &f, 8)?,
            sender_avatar: opt_field(doc, &f, 9)?,
        })
    }
}

impl ToJson for ConversationRecord {
    fn write(&self, w: &mut Writer) {
        w.open('{');
        w.key("id");
        self.id.write(w);
        w.key("my_read_mark");
        w.u64(self.my_read_mark);
        w.key("peer_read_mark");
        w.u64(self.peer_read_mark);
        w.key("cleared_mark");
        w.u64(self.cleared_mark);
        w.key("created_at");
        w.u64(self.created_at);
        w.key("members");
        self.members.write(w);
        if !self.member_reads.is_empty() {
            w.key("member_reads");
            self.member_reads.write(w);
        }
        w.key("unread");
        w.u64(u64::from(self.unread));
        w.key("listed");
        w.bool(self.listed);
        // Unknown stays absent, as in records written before the field existed.
        match &self.newest {
            Newest::Unknown => {}
            Newest::Empty => {
                w.key("newest");
                w.null();
            }
            Newest::Message(m) => {
                w.key("newest");
                m.write(w);
            }
        }
        w.close('}');
    }
}

impl FromJson for ConversationRecord {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let f = doc.fields(
            n,
            "ConversationRecord",
            &[
                "id",
                "my_read_mark",
                "peer_read_mark",
                "cleared_mark",
                "created_at",
                "members",
                "unread",
                "listed",
                "member_reads",
                "newest",
            ],
        )?;
        Ok(ConversationRecord {
            id: ConversationId::read(doc, f.req(doc, 0, "id")?)?,
            my_read_mark: doc.u64(f.req(doc, 1, "my_read_mark")?)?,
            peer_read_mark: doc.u64(f.req(doc, 2, "peer_read_mark")?)?,
            cleared_mark: doc.u64(f.req(doc, 3, "cleared_mark")?)?,
            created_at: doc.u64(f.req(doc, 4, "created_at")?)?,
            members: Vec::<UserId>::read(doc, f.req(doc, 5, "members")?)?,
            unread: doc.unsigned(f.req(doc, 6, "unread")?, u64::from(u32::MAX), "u32")? as u32,
            listed: match f.dflt(7) {
                Some(v) => doc.bool(v)?,
                None => false,
            },
            // Records written before room receipts have none.
            member_reads: match f.dflt(8) {
                Some(v) => Vec::<(UserId, u64)>::read(doc, v)?,
                None => Vec::new(),
            },
            newest: match f.dflt(9) {
                Some(v) => match Option::<StoredMessage>::read(doc, v)? {
                    Some(m) => Newest::Message(Box::new(m)),
                    None => Newest::Empty,
                },
                None => Newest::Unknown,
            },
        })
    }
}

impl ToJson for OutboxEntry {
    fn write(&self, w: &mut Writer) {
        w.open('{');
        w.key("local_id");
        w.str(&self.local_id);
        w.key("conversation_id");
        self.conversation_id.write(w);
        w.key("receiver_id");
        w.u64(self.receiver_id);
        w.key("content");
        self.content.write(w);
        w.key("weight");
        w.u64(self.weight);
        w.close('}');
    }
}

impl FromJson for OutboxEntry {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let f = doc.fields(
            n,
            "OutboxEntry",
            &[
                "local_id",
                "conversation_id",
                "receiver_id",
                "content",
                "weight",
            ],
        )?;
        Ok(OutboxEntry {
            local_id: doc.string(f.req(doc, 0, "local_id")?)?,
            conversation_id: ConversationId::read(doc, f.req(doc, 1, "conversation_id")?)?,
            receiver_id: doc.u64(f.req(doc, 2, "receiver_id")?)?,
            content: Content::read(doc, f.req(doc, 3, "content")?)?,
            weight: doc.u64(f.req(doc, 4, "weight")?)?,
        })
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;
    use crate::chat::store::Tombstone;
    use crate::json;

    /// Records as serde_json wrote them before `crate::json` replaced it (byte for byte:
    /// stored data from earlier versions reads back, new data is the same text).
    #[test]
    fn records_are_the_text_serde_json_wrote() {
        let c = ConversationId::Direct { low: 1, high: 2 };
        let m = StoredMessage {
            key: MessageKey {
                weight: 9007199254740993,
                sender_id: 1,
                id: MessageRef::Server(u64::MAX),
            },
            conversation_id: c,
            local_id: Some("L\"\\\n\u{1}\u{7f}é😀".into()),
            receiver_id: 2,
            content: Some(
                Content::Image {
                    url: "u".into(),
                    cover: None,
                }
                .into(),
            ),
            status: Status::Failed,
            read: true,
            server_read: false,
            sender_name: None,
            sender_avatar: Some("a".into()),
        };
        let mut m2 = m.clone();
        m2.key.id = MessageRef::Local("x".into());
        m2.content = None;
        m2.status = Status::Revoked;
        let mut m3 = m.clone();
        m3.content = Some(
            Content::Custom {
                msg_type: -42,
                raw: "{\"a\": 1.50}".into(),
            }
            .into(),
        );
        let mut m4 = m.clone();
        m4.content = Some(Content::Text { text: "hi".into() }.into());
        m4.conversation_id = ConversationId::Room(7);
        let mut m5 = m.clone();
        m5.content = Some(
            Content::Video {
                url: "v".into(),
                cover: Some("c".into()),
            }
            .into(),
        );
        m5.status = Status::Sending;
        let mut m6 = m.clone();
        m6.content = Some(Content::System { text: "s".into() }.into());
        m6.status = Status::Sent;
        let r = ConversationRecord {
            id: c,
            my_read_mark: 1,
            peer_read_mark: 2,
            cleared_mark: 3,
            created_at: 4,
            members: vec![1, 2],
            member_reads: Vec::new(),
            unread: 5,
            listed: true,
            newest: Newest::Unknown,
        };
        let o = OutboxEntry {
            local_id: "L".into(),
            conversation_id: c,
            receiver_id: 2,
            content: Content::Text { text: "t".into() },
            weight: 5,
        };
        let golden = [
            r#"{"key":{"weight":9007199254740993,"sender_id":1,"id":{"server":18446744073709551615}},"conversation_id":"1_2","local_id":"L\"\\\n\u0001é😀","receiver_id":2,"content":{"image":{"url":"u","cover":null}},"status":"failed","read":true,"server_read":false,"sender_name":null,"sender_avatar":"a"}"#,
            r#"{"key":{"weight":9007199254740993,"sender_id":1,"id":{"local":"x"}},"conversation_id":"1_2","local_id":"L\"\\\n\u0001é😀","receiver_id":2,"content":null,"status":"revoked","read":true,"server_read":false,"sender_name":null,"sender_avatar":"a"}"#,
            r#"{"key":{"weight":9007199254740993,"sender_id":1,"id":{"server":18446744073709551615}},"conversation_id":"1_2","local_id":"L\"\\\n\u0001é😀","receiver_id":2,"content":{"custom":{"msg_type":-42,"raw":"{\"a\": 1.50}"}},"status":"failed","read":true,"server_read":false,"sender_name":null,"sender_avatar":"a"}"#,
            r#"{"key":{"weight":9007199254740993,"sender_id":1,"id":{"server":18446744073709551615}},"conversation_id":"room_7","local_id":"L\"\\\n\u0001é😀","receiver_id":2,"content":{"text":{"text":"hi"}},"status":"failed","read":true,"server_read":false,"sender_name":null,"sender_avatar":"a"}"#,
            r#"{"key":{"weight":9007199254740993,"sender_id":1,"id":{"server":18446744073709551615}},"conversation_id":"1_2","local_id":"L\"\\\n\u0001é😀","receiver_id":2,"content":{"video":{"url":"v","cover":"c"}},"status":"sending","read":true,"server_read":false,"sender_name":null,"sender_avatar":"a"}"#,
            r#"{"key":{"weight":9007199254740993,"sender_id":1,"id":{"server":18446744073709551615}},"conversation_id":"1_2","local_id":"L\"\\\n\u0001é😀","receiver_id":2,"content":{"system":{"text":"s"}},"status":"sent","read":true,"server_read":false,"sender_name":null,"sender_avatar":"a"}"#,
        ];
        for (m, text) in [&m, &m2, &m3, &m4, &m5, &m6].into_iter().zip(golden) {
            assert_eq!(json::to_string(m), text);
            assert_eq!(json::from_str::<StoredMessage>(text).as_ref(), Ok(m));
        }
        let text = r#"{"id":"1_2","my_read_mark":1,"peer_read_mark":2,"cleared_mark":3,"created_at":4,"members":[1,2],"unread":5,"listed":true}"#;
        assert_eq!(json::to_string(&r), text);
        assert_eq!(json::from_str::<ConversationRecord>(text), Ok(r.clone()));
        // Written before `listed` existed.
        let text = text.replace(r#","listed":true"#, "");
        let unlisted = ConversationRecord {
            listed: false,
            ..r.clone()
        };
        assert_eq!(json::from_str::<ConversationRecord>(&text), Ok(unlisted));
        // `newest`: absent is unknown (as written before it existed), null is none.
        let empty = ConversationRecord {
            newest: Newest::Empty,
            ..r.clone()
        };
        let text = text.replace('}', r#","listed":true,"newest":null}"#);
        assert_eq!(json::to_string(&empty), text);
        assert_eq!(json::from_str::<ConversationRecord>(&text), Ok(empty));
        let with = ConversationRecord {
            newest: Newest::Message(Box::new(m6.clone())),
            ..r
        };
        let text = text.replace("null}", &format!("{}}}", golden[5]));
        assert_eq!(json::to_string(&with), text);
        assert_eq!(json::from_str::<ConversationRecord>(&text), Ok(with));
        let text = r#"{"local_id":"L","conversation_id":"1_2","receiver_id":2,"content":{"text":{"text":"t"}},"weight":5}"#;
        assert_eq!(json::to_string(&o), text);
        assert_eq!(json::from_str::<OutboxEntry>(text), Ok(o));
        assert_eq!(json::to_string(&Tombstone::Revoked), r#""revoked""#);
        assert_eq!(
            json::to_string(&(77u64, Tombstone::Deleted)),
            r#"[77,"deleted"]"#
        );
        let meta = ("k".to_string(), "v".to_string());
        assert_eq!(json::to_string(&meta), r#"["k","v"]"#);
        assert_eq!(
            json::from_str::<(u64, Tombstone)>(r#"[77,{"deleted":null}]"#),
            Ok((77, Tombstone::Deleted))
        );
        for bad in [
            r#"{"key":1}"#,
            r#""failed""#,
            r#"[77,"gone"]"#,
            r#"{"id":"1_2","id":"1_2"}"#,
        ] {
            assert!(json::from_str::<StoredMessage>(bad).is_err(), "{bad}");
            assert!(json::from_str::<(u64, Tombstone)>(bad).is_err(), "{bad}");
        }
    }
}
