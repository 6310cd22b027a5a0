//! Decoding: every field read leniently into one raw record first, then typed by
//! `msg_type`, so that a bad value is reported with its field name.

use std::borrow::Cow;
use std::sync::Arc;

use super::super::{check_route, PayloadError};
use super::content::decode_content;
use super::STATUS_REVOKED;
use crate::chat::ids::ConversationId;
use crate::chat::model::{msg_type, Incoming, WireMessage};
use crate::collections::try_collect;
use crate::json::{self, Doc, Id, Kind, Number};

/// A JSON scalar as a payload field holds it. Typed later, by the field's meaning, so a
/// wrong value is reported with its field name rather than as a serde message.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(String),
}

/// A scalar as serde's `deserialize_any` handed it over: a bool, a `u64`, a negative
/// `i64`, a float, a string; anything else is "invalid type".
fn scalar(doc: &Doc<'_>, n: Id) -> Result<Scalar, json::Error> {
    match doc.kind(n) {
        Kind::Bool(b) => Ok(Scalar::Bool(b)),
        Kind::Num => Ok(match doc.number(n)? {
            Number::U(u) => Scalar::Unsigned(u),
            Number::I(i) => Scalar::Signed(i),
            Number::F(f) => Scalar::Float(f),
        }),
        Kind::Str => Ok(Scalar::Text(doc.string(n)?)),
        _ => Err(doc.invalid_type(n, "a number, a string or a bool")),
    }
}

impl Scalar {
    /// The value for an error message, abridged.
    fn found(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Unsigned(u) => u.to_string(),
            Scalar::Signed(i) => i.to_string(),
            // Not the value: float formatting would add some 14 KB of wasm.
            Scalar::Float(_) => "a floating-point number".to_string(),
            Scalar::Text(s) if s.chars().count() > 32 => {
                format!("\"{}…\"", s.chars().take(32).collect::<String>())
            }
            Scalar::Text(s) => format!("\"{s}\""),
        }
    }

    /// A non-negative integer: a JSON number or a string of decimal digits.
    fn to_u64(&self, field: &'static str) -> Result<u64, PayloadError> {
        let parsed = match self {
            Scalar::Unsigned(u) => Some(*u),
            Scalar::Text(s) if is_decimal(s) => s.parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| PayloadError::BadNumber {
            field,
            found: self.found(),
        })
    }

    /// An integer: a JSON number or a string of decimal digits with an optional `-`.
    fn to_i64(&self, field: &'static str) -> Result<i64, PayloadError> {
        let parsed = match self {
            Scalar::Unsigned(u) => i64::try_from(*u).ok(),
            Scalar::Signed(i) => Some(*i),
            Scalar::Text(s) if is_decimal(s.strip_prefix('-').unwrap_or(s)) => s.parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| PayloadError::BadNumber {
            field,
            found: self.found(),
        })
    }

    /// A flag: `true`/`false`, `0`/`1` or `"0"`/`"1"`.
    fn to_flag(&self, field: &'static str) -> Result<bool, PayloadError> {
        match self {
            Scalar::Bool(b) => Ok(*b),
            Scalar::Unsigned(0) => Ok(false),
            Scalar::Unsigned(1) => Ok(true),
            Scalar::Text(s) if s == "0" || s == "false" => Ok(false),
            Scalar::Text(s) if s == "1" || s == "true" => Ok(true),
            _ => Err(PayloadError::BadFlag {
                field,
                found: self.found(),
            }),
        }
    }
}

/// One or more ASCII digits, nothing else (no sign, no spaces).
fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Every field any payload may carry; which ones matter depends on `msg_type`.
/// `msg_content` is the node of its value in the document.
#[derive(Debug, Default)]
struct RawPayload<'a> {
    id: Option<Scalar>,
    msg_id: Option<Scalar>,
    conversation_id: Option<Cow<'a, str>>,
    sender_id: Option<Scalar>,
    receiver_id: Option<Scalar>,
    msg_type: Option<Scalar>,
    msg_content: Option<Id>,
    is_read: Option<Scalar>,
    status: Option<Scalar>,
    weight: Option<Scalar>,
    read_weight: Option<Scalar>,
    avatar: Option<Arc<str>>,
    nick_name: Option<Arc<str>>,
    members: Option<Vec<Scalar>>,
}

const FIELDS: [&str; 14] = [
    "id",
    "msg_id",
    "conversation_id",
    "sender_id",
    "receiver_id",
    "msg_type",
    "msg_content",
    "is_read",
    "status",
    "weight",
    "read_weight",
    "avatar",
    "nick_name",
    "members",
];

/// Reads the top-level object: every field optional (`null` is absent), unknown ones
/// skipped, a repeated one refused; `msg_content` any JSON value.
fn raw_payload<'a>(doc: &Doc<'a>) -> Result<RawPayload<'a>, json::Error> {
    let f = doc.fields(doc.root(), "RawPayload", &FIELDS)?;
    let scalar_at = |at: usize| match f.dflt(at) {
        Some(n) => doc.option(n, |n| scalar(doc, n)),
        None => Ok(None),
    };
    // Borrowed from the payload when unescaped: no copy for a conversation id that is
    // only parsed, one (the `Arc`) for a name or avatar.
    let text_at = |at: usize| match f.dflt(at) {
        Some(n) => doc.option(n, |n| doc.text(n)),
        None => Ok(None),
    };
    Ok(RawPayload {
        id: scalar_at(0)?,
        msg_id: scalar_at(1)?,
        conversation_id: text_at(2)?,
        sender_id: scalar_at(3)?,
        receiver_id: scalar_at(4)?,
        msg_type: scalar_at(5)?,
        msg_content: match f.dflt(6) {
            // A serde_json `Value` inside the payload object.
            Some(n) => doc.option(n, |n| doc.check_value(n, 1).map(|()| n))?,
            None => None,
        },
        is_read: scalar_at(7)?,
        status: scalar_at(8)?,
        weight: scalar_at(9)?,
        read_weight: scalar_at(10)?,
        avatar: text_at(11)?.as_deref().map(Arc::from),
        nick_name: text_at(12)?.as_deref().map(Arc::from),
        members: match f.dflt(13) {
            Some(n) => doc.option(n, |n| doc.array(n, |m| scalar(doc, m)))?,
            None => None,
        },
    })
}

fn required_u64(field: &'static str, v: Option<&Scalar>) -> Result<u64, PayloadError> {
    v.ok_or(PayloadError::MissingField(field))?.to_u64(field)
}

fn optional_u64(field: &'static str, v: Option<&Scalar>) -> Result<Option<u64>, PayloadError> {
    v.map(|s| s.to_u64(field)).transpose()
}

fn optional_conversation(v: Option<&str>) -> Result<Option<ConversationId>, PayloadError> {
    Ok(v.map(str::parse).transpose()?)
}

fn required_conversation(v: Option<&str>) -> Result<ConversationId, PayloadError> {
    optional_conversation(v)?.ok_or(PayloadError::MissingField("conversation_id"))
}

/// Decodes one JSON payload.
pub(in crate::chat::payload) fn decode(bytes: &[u8]) -> Result<Incoming, PayloadError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(PayloadError::Empty),
        Some(b'{') => {}
        Some(_) => return Err(PayloadError::NotAnObject),
    }
    let json_error = |e: json::Error| PayloadError::Json(e.to_string());
    let doc = json::parse(bytes).map_err(json_error)?;
    let raw = raw_payload(&doc).map_err(json_error)?;
    let kind = raw
        .msg_type
        .as_ref()
        .ok_or(PayloadError::MissingField("msg_type"))?
        .to_i64("msg_type")?;
    match kind {
        msg_type::REVOKE => Ok(Incoming::Revoke {
            msg_id: required_u64("msg_id", raw.msg_id.as_ref())?,
            conversation_id: required_conversation(raw.conversation_id.as_deref())?,
        }),
        msg_type::READ => decode_read(&raw),
        msg_type::MEMBERS => decode_members(&raw),
        _ => decode_message(&doc, kind, raw, bytes),
    }
}

fn decode_read(raw: &RawPayload<'_>) -> Result<Incoming, PayloadError> {
    let sender_id = required_u64("sender_id", raw.sender_id.as_ref())?;
    let conversation_id = required_conversation(raw.conversation_id.as_deref())?;
    if let ConversationId::Direct { .. } = conversation_id {
        if conversation_id.peer_of(sender_id).is_none() {
            return Err(PayloadError::NotAMember {
                conversation_id,
                user_id: sender_id,
            });
        }
    }
    let up_to_weight = match optional_u64("weight", raw.weight.as_ref())? {
        Some(w) => Some(w),
        None => optional_u64("read_weight", raw.read_weight.as_ref())?,
    };
    Ok(Incoming::Read {
        sender_id,
        conversation_id,
        up_to_weight,
    })
}

fn decode_members(raw: &RawPayload<'_>) -> Result<Incoming, PayloadError> {
    let conversation_id = required_conversation(raw.conversation_id.as_deref())?;
    if let ConversationId::Direct { .. } = conversation_id {
        return Err(PayloadError::NotARoom(conversation_id));
    }
    let members = try_collect(
        raw.members
            .as_ref()
            .ok_or(PayloadError::MissingField("members"))?
            .iter()
            .map(|m| m.to_u64("members")),
    )?;
    Ok(Incoming::Members {
        conversation_id,
        members,
    })
}

fn decode_message(
    doc: &Doc<'_>,
    kind: i64,
    raw: RawPayload<'_>,
    bytes: &[u8],
) -> Result<Incoming, PayloadError> {
    let id = required_u64("id", raw.id.as_ref())?;
    let sender_id = required_u64("sender_id", raw.sender_id.as_ref())?;
    let receiver_id = optional_u64("receiver_id", raw.receiver_id.as_ref())?;
    let (conversation_id, receiver_id) = match (
        optional_conversation(raw.conversation_id.as_deref())?,
        receiver_id,
    ) {
        (None, None) => return Err(PayloadError::MissingField("receiver_id")),
        (None, Some(r)) => (
            ConversationId::direct(sender_id, r).ok_or(PayloadError::SelfMessage(sender_id))?,
            r,
        ),
        (Some(c), Some(r)) => (c, r),
        (Some(c @ ConversationId::Room(room)), None) => (c, room),
        (Some(c), None) => (
            c,
            c.peer_of(sender_id).ok_or(PayloadError::NotAMember {
                conversation_id: c,
                user_id: sender_id,
            })?,
        ),
    };
    check_route(conversation_id, sender_id, receiver_id)?;
    let weight = required_u64("weight", raw.weight.as_ref())?;
    let is_read = match &raw.is_read {
        Some(flag) => flag.to_flag("is_read")?,
        None => false,
    };
    let revoked = match &raw.status {
        Some(status) => status.to_i64("status")? == STATUS_REVOKED,
        None => false,
    };
    let content = decode_content(doc, kind, raw.msg_content, bytes)?;
    Ok(Incoming::Message(WireMessage {
        id,
        conversation_id,
        sender_id,
        receiver_id,
        content,
        weight,
        is_read,
        revoked,
        sender_name: raw.nick_name,
        sender_avatar: raw.avatar,
    }))
}
