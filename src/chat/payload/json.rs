//! The JSON payloads of PROTOCOL.md (seed 000), plus the room extensions (7, 8).
//!
//! ```text
//! 1–3, 7, other  {"id", "conversation_id"?, "sender_id", "receiver_id"?, "msg_type",
//!                 "msg_content", "weight", "is_read"?, "status"?, "avatar"?, "nick_name"?,
//!                 "create_time"? (ignored)}
//! 5 revoke       {"msg_id", "msg_type": 5, "conversation_id"}
//! 6 read         {"sender_id", "msg_type": 6, "is_read": 1, "conversation_id",
//!                 "weight"? | "read_weight"?}
//! 8 members      {"msg_type": 8, "conversation_id": "room_…", "members": [ids]}
//! ```
//!
//! Decoding is lenient where real backends differ: integers may be JSON numbers or
//! decimal strings (64-bit ids do not survive a JS `number`); `msg_content` may be an
//! object or a string holding one (the seed's DB stores it as text); `is_read` may be
//! 0/1 or a bool; `null` counts as absent; unknown fields are ignored. A message without
//! `conversation_id` is a 1:1 message between `sender_id` and `receiver_id`; a message
//! without `receiver_id` goes to the sender's peer (or the room). Encoding is canonical
//! and always writes both.

use super::{check_route, utc_date_time, PayloadError, PayloadFormat};
use crate::chat::ids::ConversationId;
use crate::chat::model::{msg_type, Content, Incoming, WireMessage};
use crate::json::{self, Doc, Id, Kind, Number, Writer};

/// The largest integer a JavaScript `number` holds exactly: 2^53 − 1.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `status` of a revoked message.
const STATUS_REVOKED: i64 = 3;

/// The `msg_type`s this codec gives a meaning to; [`Content::Custom`] cannot use them.
const KNOWN_TYPES: [i64; 7] = [
    msg_type::TEXT,
    msg_type::IMAGE,
    msg_type::VIDEO,
    msg_type::REVOKE,
    msg_type::READ,
    msg_type::SYSTEM,
    msg_type::MEMBERS,
];

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

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
struct RawPayload {
    id: Option<Scalar>,
    msg_id: Option<Scalar>,
    conversation_id: Option<String>,
    sender_id: Option<Scalar>,
    receiver_id: Option<Scalar>,
    msg_type: Option<Scalar>,
    msg_content: Option<Id>,
    is_read: Option<Scalar>,
    status: Option<Scalar>,
    weight: Option<Scalar>,
    read_weight: Option<Scalar>,
    avatar: Option<String>,
    nick_name: Option<String>,
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
fn raw_payload(doc: &Doc<'_>) -> Result<RawPayload, json::Error> {
    let f = doc.fields(doc.root(), "RawPayload", &FIELDS)?;
    let scalar_at = |at: usize| match f.dflt(at) {
        Some(n) => doc.option(n, |n| scalar(doc, n)),
        None => Ok(None),
    };
    let string_at = |at: usize| match f.dflt(at) {
        Some(n) => doc.option(n, |n| doc.string(n)),
        None => Ok(None),
    };
    Ok(RawPayload {
        id: scalar_at(0)?,
        msg_id: scalar_at(1)?,
        conversation_id: string_at(2)?,
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
        avatar: string_at(11)?,
        nick_name: string_at(12)?,
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
pub(super) fn decode(bytes: &[u8]) -> Result<Incoming, PayloadError> {
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

fn decode_read(raw: &RawPayload) -> Result<Incoming, PayloadError> {
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

fn decode_members(raw: &RawPayload) -> Result<Incoming, PayloadError> {
    let conversation_id = required_conversation(raw.conversation_id.as_deref())?;
    if let ConversationId::Direct { .. } = conversation_id {
        return Err(PayloadError::NotARoom(conversation_id));
    }
    let members = raw
        .members
        .as_ref()
        .ok_or(PayloadError::MissingField("members"))?
        .iter()
        .map(|m| m.to_u64("members"))
        .collect::<Result<_, _>>()?;
    Ok(Incoming::Members {
        conversation_id,
        members,
    })
}

fn decode_message(
    doc: &Doc<'_>,
    kind: i64,
    raw: RawPayload,
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

/// The content of a message of type `kind`; `payload` is the whole payload, from which a
/// custom message's `msg_content` is kept verbatim.
fn decode_content(
    doc: &Doc<'_>,
    kind: i64,
    msg_content: Option<Id>,
    payload: &[u8],
) -> Result<Content, PayloadError> {
    match kind {
        msg_type::TEXT | msg_type::SYSTEM => {
            let (text, _) = body(doc, kind, msg_content, "content", false)?;
            Ok(if kind == msg_type::TEXT {
                Content::Text { text }
            } else {
                Content::System { text }
            })
        }
        msg_type::IMAGE | msg_type::VIDEO => {
            let (url, cover) = body(doc, kind, msg_content, "url", true)?;
            Ok(if kind == msg_type::IMAGE {
                Content::Image { url, cover }
            } else {
                Content::Video { url, cover }
            })
        }
        _ => {
            let verbatim = std::str::from_utf8(payload)
                .ok()
                .and_then(|text| member_text(text, "msg_content"));
            let raw = match (verbatim, msg_content) {
                (Some(text), _) => text.to_string(),
                // Unreachable for text the parser accepted; kept to never panic.
                (None, Some(value)) => {
                    let mut w = Writer::default();
                    doc.write_canonical(value, &mut w)
                        .map_err(|e| PayloadError::Json(e.to_string()))?;
                    w.out
                }
                (None, None) => "null".to_string(),
            };
            Ok(Content::Custom {
                msg_type: kind,
                raw,
            })
        }
    }
}

/// The `msg_content` object of a known message type, given as an object or as a string
/// holding one: its string field `first` (`content` or `url`) and, `with_cover`, its
/// optional `cover`. As a serde_json `Value` map holds them: a repeated key counts once,
/// the last time.
fn body(
    doc: &Doc<'_>,
    kind: i64,
    msg_content: Option<Id>,
    first: &str,
    with_cover: bool,
) -> Result<(String, Option<String>), PayloadError> {
    let bad = |reason: String| PayloadError::BadContent {
        msg_type: kind,
        reason,
    };
    let n = msg_content.ok_or(PayloadError::MissingField("msg_content"))?;
    if doc.kind(n) != Kind::Str {
        return body_fields(doc, n, first, with_cover).map_err(bad);
    }
    let text = doc.string(n).map_err(|e| bad(e.to_string()))?;
    let inner = json::parse(text.as_bytes())
        .and_then(|d| d.check_value(d.root(), 0).map(|()| d))
        .map_err(|e| bad(format!("a string that is not a JSON object ({e})")))?;
    body_fields(&inner, inner.root(), first, with_cover).map_err(bad)
}

fn body_fields(
    doc: &Doc<'_>,
    n: Id,
    first: &str,
    with_cover: bool,
) -> Result<(String, Option<String>), String> {
    if doc.kind(n) != Kind::Obj {
        return Err("not an object".to_string());
    }
    let value = doc
        .get(n, first)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("missing field `{first}`"))?;
    let value = doc.string(value).map_err(|e| e.to_string())?;
    let cover = match doc.get(n, "cover").map_err(|e| e.to_string())? {
        Some(c) if with_cover => doc
            .option(c, |c| doc.string(c))
            .map_err(|e| e.to_string())?,
        _ => None,
    };
    Ok((value, cover))
}

/// JSON's insignificant whitespace.
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The exact text of the value of the top-level member `key` of `json`, an object
/// serde_json has already accepted (so this scan need not validate). `None` if absent.
///
/// Without serde_json's `raw_value` feature this is how a custom `msg_content` is kept
/// byte for byte: re-serializing a `Value` would sort keys and round floats.
fn member_text<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let b = json.as_bytes();
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_space(b, i);
        if b.get(i) != Some(&b'"') {
            return None; // the `}` of an object without `key`
        }
        let name_end = skip_string(b, i)?;
        let name_doc = json::parse(json.get(i..name_end)?.as_bytes()).ok()?;
        let name = name_doc.string(name_doc.root()).ok()?;
        i = skip_space(b, name_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_space(b, i + 1);
        let end = skip_value(b, start)?;
        if name == key {
            return json.get(start..end);
        }
        i = skip_space(b, end);
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_json_space) {
        i += 1;
    }
    i
}

/// The end of the JSON value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|&c| !matches!(c, b',' | b'}' | b']') && !is_json_space(c))
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The end of the string whose opening quote is at `i`.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// An unsigned integer as a JSON number when a JS `number` holds it exactly, else as a
/// decimal string.
/// An id (or `weight`): a JSON number up to 2^53 − 1, a decimal string above.
fn write_id(w: &mut Writer, n: u64) {
    if n <= MAX_SAFE_INTEGER {
        w.u64(n);
    } else {
        w.str(&n.to_string());
    }
}

/// A `msg_type`: a JSON number within ±(2^53 − 1), a decimal string beyond.
fn write_int(w: &mut Writer, n: i64) {
    if n.unsigned_abs() <= MAX_SAFE_INTEGER {
        w.i64(n);
    } else {
        w.str(&n.to_string());
    }
}

fn not_expressible(what: &'static str) -> PayloadError {
    PayloadError::NotExpressible {
        format: PayloadFormat::Json,
        what,
    }
}

/// Encodes one payload in the shapes of PROTOCOL.md.
pub(super) fn encode(incoming: &Incoming) -> Result<Vec<u8>, PayloadError> {
    let mut w = Writer::default();
    w.open('{');
    match incoming {
        Incoming::Message(m) => {
            check_message(m)?;
            encode_message(&mut w, m)?;
        }
        Incoming::Revoke {
            msg_id,
            conversation_id,
        } => {
            w.key("msg_id");
            write_id(&mut w, *msg_id);
            w.key("msg_type");
            w.i64(msg_type::REVOKE);
            w.key("conversation_id");
            w.str(&conversation_id.to_string());
        }
        Incoming::Read {
            sender_id,
            conversation_id,
            up_to_weight,
        } => {
            if let ConversationId::Direct { .. } = conversation_id {
                if conversation_id.peer_of(*sender_id).is_none() {
                    return Err(PayloadError::NotAMember {
                        conversation_id: *conversation_id,
                        user_id: *sender_id,
                    });
                }
            }
            w.key("sender_id");
            write_id(&mut w, *sender_id);
            w.key("msg_type");
            w.i64(msg_type::READ);
            w.key("is_read");
            w.u64(1);
            w.key("conversation_id");
            w.str(&conversation_id.to_string());
            if let Some(weight) = up_to_weight {
                w.key("weight");
                write_id(&mut w, *weight);
            }
        }
        Incoming::Members {
            conversation_id,
            members,
        } => {
            if let ConversationId::Direct { .. } = conversation_id {
                return Err(PayloadError::NotARoom(*conversation_id));
            }
            w.key("msg_type");
            w.i64(msg_type::MEMBERS);
            w.key("conversation_id");
            w.str(&conversation_id.to_string());
            w.key("members");
            w.open('[');
            for m in members {
                w.item();
                write_id(&mut w, *m);
            }
            w.close(']');
        }
    }
    w.close('}');
    Ok(w.out.into_bytes())
}

/// Which of the two shapes of `msg_content` is written: a published payload's (PROTOCOL.md
/// order, no `cover` when there is none, custom content verbatim: `check_message` has
/// checked it), or the `POST /messages` body's (keys sorted and `cover: null`, as the
/// serde_json `Map` the backend was written against wrote them; custom content
/// re-written canonically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentForm {
    Payload,
    Request,
}

/// The `msg_content` object of `content`, in one of its two shapes. Only custom content
/// in the request shape can fail (it is parsed there).
pub(crate) fn write_msg_content(
    w: &mut Writer,
    content: &Content,
    form: ContentForm,
) -> Result<(), PayloadError> {
    match content {
        Content::Text { text } | Content::System { text } => {
            w.open('{');
            w.key("content");
            w.str(text);
            w.close('}');
        }
        Content::Image { url, cover } | Content::Video { url, cover } => {
            w.open('{');
            match form {
                ContentForm::Payload => {
                    w.key("url");
                    w.str(url);
                    if let Some(cover) = cover {
                        w.key("cover");
                        w.str(cover);
                    }
                }
                ContentForm::Request => {
                    w.key("cover");
                    match cover {
                        Some(c) => w.str(c),
                        None => w.null(),
                    }
                    w.key("url");
                    w.str(url);
                }
            }
            w.close('}');
        }
        Content::Custom { raw, .. } => match form {
            ContentForm::Payload => w.raw(raw),
            ContentForm::Request => {
                let custom = |e: json::Error| PayloadError::Json(format!("custom content: {e}"));
                let doc = json::parse(raw.as_bytes()).map_err(custom)?;
                doc.check_value(doc.root(), 0).map_err(custom)?;
                doc.write_canonical(doc.root(), w).map_err(custom)?;
            }
        },
    }
    Ok(())
}

/// The members of a message payload, in the order of PROTOCOL.md.
fn encode_message(w: &mut Writer, m: &WireMessage) -> Result<(), PayloadError> {
    w.key("id");
    write_id(w, m.id);
    w.key("conversation_id");
    w.str(&m.conversation_id.to_string());
    w.key("sender_id");
    write_id(w, m.sender_id);
    w.key("receiver_id");
    write_id(w, m.receiver_id);
    w.key("msg_type");
    write_int(w, m.content.msg_type());
    w.key("msg_content");
    write_msg_content(w, &m.content, ContentForm::Payload)?;
    w.key("create_time");
    w.str(&utc_date_time(m.weight));
    w.key("is_read");
    w.u64(u64::from(m.is_read));
    w.key("weight");
    write_id(w, m.weight);
    if m.revoked {
        w.key("status");
        w.i64(STATUS_REVOKED);
    }
    if let Some(avatar) = &m.sender_avatar {
        w.key("avatar");
        w.str(avatar);
    }
    if let Some(name) = &m.sender_name {
        w.key("nick_name");
        w.str(name);
    }
    Ok(())
}

fn check_message(m: &WireMessage) -> Result<(), PayloadError> {
    check_route(m.conversation_id, m.sender_id, m.receiver_id)?;
    match &m.content {
        Content::Custom { msg_type, .. } if KNOWN_TYPES.contains(msg_type) => {
            Err(not_expressible("custom content with a known msg_type"))
        }
        Content::Custom { raw, .. } if !is_single_json_value(raw) => Err(not_expressible(
            "custom content whose raw is not one JSON value",
        )),
        _ => Ok(()),
    }
}

/// `raw` is one JSON value without surrounding whitespace, nested shallowly enough to
/// parse as a member of the payload object.
fn is_single_json_value(raw: &str) -> bool {
    let trimmed = raw.as_bytes().first().is_some_and(|&b| !is_json_space(b))
        && raw.as_bytes().last().is_some_and(|&b| !is_json_space(b));
    // Parsed as a `Value` one level down, as the decoder will (`IgnoredAny` would not
    // count the depth the same way).
    trimmed
        && json::parse(format!("[{raw}]").as_bytes())
            .and_then(|d| d.check_value(d.root(), 0))
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::payload::{decode as decode_as, encode as encode_as};

    const J: PayloadFormat = PayloadFormat::Json;

    fn dec(s: &str) -> Result<Incoming, PayloadError> {
        decode_as(J, s.as_bytes())
    }

    fn enc(x: &Incoming) -> String {
        String::from_utf8(encode_as(J, x).unwrap()).unwrap()
    }

    fn conv(s: &str) -> ConversationId {
        s.parse().unwrap()
    }

    /// A plain 1:1 text message 1 → 2 in "1_2".
    fn text(id: u64, text: &str, weight: u64) -> WireMessage {
        crate::test_support::text_message(id, conv("1_2"), 1, 2, text, weight)
    }

    #[test]
    fn protocol_examples_decode() {
        let new_message = r#"{"id": 123, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2, "msg_type": 1,
 "msg_content": {"content": "hi"}, "create_time": "2024-06-01 12:00:00",
 "is_read": 0, "weight": 1717214400123, "avatar": "…", "nick_name": "…"}"#;
        assert_eq!(
            dec(new_message),
            Ok(Incoming::Message(WireMessage {
                sender_name: Some("…".into()),
                sender_avatar: Some("…".into()),
                ..text(123, "hi", 1_717_214_400_123)
            }))
        );

        let image = r#"{"id": 124, "conversation_id": "1_2", "sender_id": 2, "receiver_id": 1,
            "msg_type": 2, "msg_content": {"url": "https://x/a.png", "cover": "https://x/a_s.png"},
            "is_read": 1, "weight": 5}"#;
        assert_eq!(
            dec(image),
            Ok(Incoming::Message(WireMessage {
                sender_id: 2,
                receiver_id: 1,
                content: Content::Image {
                    url: "https://x/a.png".into(),
                    cover: Some("https://x/a_s.png".into()),
                },
                is_read: true,
                ..text(124, "", 5)
            }))
        );

        let video = r#"{"id": 125, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
            "msg_type": 3, "msg_content": {"url": "v.mp4"}, "weight": 6}"#;
        assert_eq!(
            dec(video),
            Ok(Incoming::Message(WireMessage {
                content: Content::Video {
                    url: "v.mp4".into(),
                    cover: None,
                },
                ..text(125, "", 6)
            }))
        );

        assert_eq!(
            dec(r#"{"msg_id": 123, "msg_type": 5, "conversation_id": "1_2"}"#),
            Ok(Incoming::Revoke {
                msg_id: 123,
                conversation_id: conv("1_2"),
            })
        );
        assert_eq!(
            dec(r#"{"sender_id": 1, "msg_type": 6, "is_read": 1, "conversation_id": "1_2"}"#),
            Ok(Incoming::Read {
                sender_id: 1,
                conversation_id: conv("1_2"),
                up_to_weight: None,
            })
        );
        assert_eq!(
            dec(r#"{"msg_type": 8, "conversation_id": "room_1", "members": [1, 2]}"#),
            Ok(Incoming::Members {
                conversation_id: conv("room_1"),
                members: vec![1, 2],
            })
        );

        let notice = r#"{"id": 9, "conversation_id": "room_1", "sender_id": 3, "msg_type": 7,
            "msg_content": {"content": "alice joined"}, "weight": 7}"#;
        assert_eq!(
            dec(notice),
            Ok(Incoming::Message(WireMessage {
                conversation_id: conv("room_1"),
                sender_id: 3,
                receiver_id: 1,
                content: Content::System {
                    text: "alice joined".into(),
                },
                ..text(9, "", 7)
            }))
        );
    }

    #[test]
    fn ids_may_be_decimal_strings_and_64_bit() {
        let big = 1u64 << 63;
        let payload = format!(
            r#"{{"id": "{big}", "sender_id": "{}", "receiver_id": {}, "msg_type": "1",
                "msg_content": {{"content": "x"}}, "weight": "{}"}}"#,
            u64::MAX,
            big + 1,
            u64::MAX - 1
        );
        assert_eq!(
            dec(&payload),
            Ok(Incoming::Message(WireMessage {
                conversation_id: ConversationId::direct(u64::MAX, big + 1).unwrap(),
                sender_id: u64::MAX,
                receiver_id: big + 1,
                ..text(big, "x", u64::MAX - 1)
            }))
        );
        // Revoke, read and member ids too.
        assert_eq!(
            dec(&format!(
                r#"{{"msg_id": "{big}", "msg_type": 5, "conversation_id": "1_{big}"}}"#
            )),
            Ok(Incoming::Revoke {
                msg_id: big,
                conversation_id: ConversationId::direct(1, big).unwrap(),
            })
        );
        assert_eq!(
            dec(&format!(
                r#"{{"msg_type": 8, "conversation_id": "room_{big}", "members": ["{big}", 1]}}"#
            )),
            Ok(Incoming::Members {
                conversation_id: ConversationId::Room(big),
                members: vec![big, 1],
            })
        );
    }

    #[test]
    fn msg_content_may_be_a_string_holding_the_object() {
        let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
            "msg_type": 1, "msg_content": "{\"content\": \"hi\"}", "weight": 2}"#;
        assert_eq!(dec(payload), Ok(Incoming::Message(text(1, "hi", 2))));
        let image = r#"{"id": 1, "sender_id": 1, "receiver_id": 2, "msg_type": 2,
            "msg_content": "{\"url\": \"u\", \"cover\": null}", "weight": 2}"#;
        assert_eq!(
            dec(image),
            Ok(Incoming::Message(WireMessage {
                content: Content::Image {
                    url: "u".into(),
                    cover: None,
                },
                ..text(1, "", 2)
            }))
        );
    }

    #[test]
    fn unknown_fields_and_create_time_are_ignored() {
        let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
            "msg_type": 1, "msg_content": {"content": "hi", "extra": [1, {"a": null}]},
            "weight": 2, "create_time": 1717214400, "status": 1, "future": {"x": [true]},
            "avatar": null, "nick_name": null, "read_weight": "not looked at"}"#;
        assert_eq!(dec(payload), Ok(Incoming::Message(text(1, "hi", 2))));
    }

    #[test]
    fn unknown_msg_type_is_kept_as_custom() {
        let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
            "msg_type": 42, "msg_content": {"z": 1, "a": [true, null, 2.5, "s"]}, "weight": 2}"#;
        let custom = |msg_type, raw: &str| {
            Ok(Incoming::Message(WireMessage {
                content: Content::Custom {
                    msg_type,
                    raw: raw.into(),
                },
                ..text(1, "", 2)
            }))
        };
        // Verbatim: key order, spacing and number spelling as the sender wrote them.
        assert_eq!(
            dec(payload),
            custom(42, r#"{"z": 1, "a": [true, null, 2.5, "s"]}"#)
        );
        let payload = r#"{"msg_content" :	18446744073709551616123 ,"id": 1, "sender_id": 1,
            "receiver_id": 2, "msg_type": 42, "weight": 2, "z": "\"}"}"#;
        assert_eq!(dec(payload), custom(42, "18446744073709551616123"));
        let payload = r#"{"a\"b": "\"msg_content\"", "msg_content": {"x": "}\"]"}, "id": 1,
            "sender_id": 1, "receiver_id": 2, "msg_type": 42, "weight": 2}"#;
        assert_eq!(dec(payload), custom(42, r#"{"x": "}\"]"}"#));
        let payload = r#"{"id": 1, "sender_id": 1, "receiver_id": 2, "msg_type": -4,
            "msg_content": "{\"a\": 1}", "weight": 2}"#;
        assert_eq!(dec(payload), custom(-4, r#""{\"a\": 1}""#));
        let payload = r#"{"id": 1, "sender_id": 1, "receiver_id": 2, "msg_type": 4, "weight": 2}"#;
        assert_eq!(dec(payload), custom(4, "null"));
    }

    #[test]
    fn routes_are_completed_from_what_is_given() {
        // No conversation_id: the 1:1 conversation of sender and receiver.
        let payload = r#"{"id": 1, "sender_id": 2, "receiver_id": 1, "msg_type": 1,
            "msg_content": {"content": "hi"}, "weight": 2}"#;
        assert_eq!(
            dec(payload),
            Ok(Incoming::Message(WireMessage {
                sender_id: 2,
                receiver_id: 1,
                ..text(1, "hi", 2)
            }))
        );
        // No receiver_id: the sender's peer.
        let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "msg_type": 1,
            "msg_content": {"content": "hi"}, "weight": 2}"#;
        assert_eq!(dec(payload), Ok(Incoming::Message(text(1, "hi", 2))));
    }

    #[test]
    fn flags_status_and_read_positions() {
        let with = |extra: &str| {
            dec(&format!(
                r#"{{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
                    "msg_type": 1, "msg_content": {{"content": "hi"}}, "weight": 2{extra}}}"#
            ))
        };
        let flags = |is_read, revoked| {
            Ok(Incoming::Message(WireMessage {
                is_read,
                revoked,
                ..text(1, "hi", 2)
            }))
        };
        assert_eq!(with(r#", "is_read": true"#), flags(true, false));
        assert_eq!(with(r#", "is_read": "1""#), flags(true, false));
        assert_eq!(
            with(r#", "is_read": false, "status": 2"#),
            flags(false, false)
        );
        assert_eq!(with(r#", "is_read": 1, "status": "3""#), flags(true, true));
        assert_eq!(with(r#", "status": 3"#), flags(false, true));

        let read = |extra: &str| {
            dec(&format!(
                r#"{{"sender_id": 2, "msg_type": 6, "conversation_id": "1_2"{extra}}}"#
            ))
        };
        let up_to = |up_to_weight| {
            Ok(Incoming::Read {
                sender_id: 2,
                conversation_id: conv("1_2"),
                up_to_weight,
            })
        };
        assert_eq!(read(r#", "weight": 10"#), up_to(Some(10)));
        assert_eq!(read(r#", "read_weight": "11""#), up_to(Some(11)));
        assert_eq!(
            read(r#", "weight": 10, "read_weight": 11"#),
            up_to(Some(10))
        );
        assert_eq!(read(r#", "is_read": "whatever""#), up_to(None));
    }

    #[test]
    fn encode_writes_the_protocol_shapes() {
        let message = Incoming::Message(WireMessage {
            sender_name: Some("Al".into()),
            sender_avatar: Some("a.png".into()),
            ..text(123, "hi", 1_717_214_400_123)
        });
        assert_eq!(
            enc(&message),
            r#"{"id":123,"conversation_id":"1_2","sender_id":1,"receiver_id":2,"msg_type":1,"msg_content":{"content":"hi"},"create_time":"2024-06-01 04:00:00","is_read":0,"weight":1717214400123,"avatar":"a.png","nick_name":"Al"}"#
        );
        let revoke = Incoming::Revoke {
            msg_id: 123,
            conversation_id: conv("1_2"),
        };
        assert_eq!(
            enc(&revoke),
            r#"{"msg_id":123,"msg_type":5,"conversation_id":"1_2"}"#
        );
        let read = Incoming::Read {
            sender_id: 1,
            conversation_id: conv("1_2"),
            up_to_weight: None,
        };
        assert_eq!(
            enc(&read),
            r#"{"sender_id":1,"msg_type":6,"is_read":1,"conversation_id":"1_2"}"#
        );
        let members = Incoming::Members {
            conversation_id: conv("room_1"),
            members: vec![1, 2],
        };
        assert_eq!(
            enc(&members),
            r#"{"msg_type":8,"conversation_id":"room_1","members":[1,2]}"#
        );
        let media = Incoming::Message(WireMessage {
            content: Content::Video {
                url: "v".into(),
                cover: Some("c".into()),
            },
            is_read: true,
            revoked: true,
            ..text(1, "", 0)
        });
        assert_eq!(
            enc(&media),
            r#"{"id":1,"conversation_id":"1_2","sender_id":1,"receiver_id":2,"msg_type":3,"msg_content":{"url":"v","cover":"c"},"create_time":"1970-01-01 00:00:00","is_read":1,"weight":0,"status":3}"#
        );
        for x in [message, revoke, read, members, media] {
            assert_eq!(dec(&enc(&x)), Ok(x));
        }
    }

    #[test]
    fn encode_writes_unsafe_integers_as_strings() {
        let safe = MAX_SAFE_INTEGER;
        let x = Incoming::Message(WireMessage {
            conversation_id: ConversationId::direct(safe, safe + 1).unwrap(),
            sender_id: safe,
            receiver_id: safe + 1,
            content: Content::Custom {
                msg_type: i64::MIN,
                raw: "[]".into(),
            },
            ..text(u64::MAX, "", 1 << 63)
        });
        let json = enc(&x);
        for field in [
            r#""id":"18446744073709551615""#,
            r#""conversation_id":"9007199254740991_9007199254740992""#,
            r#""sender_id":9007199254740991,"#,
            r#""receiver_id":"9007199254740992""#,
            r#""msg_type":"-9223372036854775808""#,
            r#""weight":"9223372036854775808""#,
        ] {
            assert!(json.contains(field), "{field} in {json}");
        }
        assert_eq!(dec(&json), Ok(x));
    }

    #[test]
    fn encode_refuses_what_would_not_decode_back() {
        const ONE_VALUE: &str = "custom content whose raw is not one JSON value";
        let not = |what| Err(PayloadError::NotExpressible { format: J, what });
        let custom = |msg_type, raw: &str| {
            Incoming::Message(WireMessage {
                content: Content::Custom {
                    msg_type,
                    raw: raw.into(),
                },
                ..text(1, "", 2)
            })
        };
        let cases: Vec<(Incoming, Result<Vec<u8>, PayloadError>)> = vec![
            (custom(1, "{}"), not("custom content with a known msg_type")),
            (custom(8, "{}"), not("custom content with a known msg_type")),
            (custom(42, "{"), not(ONE_VALUE)),
            (custom(42, ""), not(ONE_VALUE)),
            (custom(42, " 1"), not(ONE_VALUE)),
            (custom(42, "1\n"), not(ONE_VALUE)),
            (custom(42, "1 2"), not(ONE_VALUE)),
            (custom(42, "{} x"), not(ONE_VALUE)),
            (
                Incoming::Message(WireMessage {
                    receiver_id: 1,
                    ..text(1, "", 2)
                }),
                Err(PayloadError::SelfMessage(1)),
            ),
            (
                Incoming::Message(WireMessage {
                    sender_id: 3,
                    ..text(1, "", 2)
                }),
                Err(PayloadError::NotAMember {
                    conversation_id: conv("1_2"),
                    user_id: 3,
                }),
            ),
            (
                Incoming::Message(WireMessage {
                    conversation_id: conv("room_7"),
                    ..text(1, "", 2)
                }),
                Err(PayloadError::ConversationMismatch {
                    conversation_id: conv("room_7"),
                    sender_id: 1,
                    receiver_id: 2,
                }),
            ),
            (
                Incoming::Read {
                    sender_id: 3,
                    conversation_id: conv("1_2"),
                    up_to_weight: None,
                },
                Err(PayloadError::NotAMember {
                    conversation_id: conv("1_2"),
                    user_id: 3,
                }),
            ),
            (
                Incoming::Members {
                    conversation_id: conv("1_2"),
                    members: vec![1],
                },
                Err(PayloadError::NotARoom(conv("1_2"))),
            ),
        ];
        for (x, expected) in cases {
            assert_eq!(encode_as(J, &x), expected, "{x:?}");
        }
        // Any single JSON value goes through verbatim.
        for raw in [
            r#"{"b": 1,"a":[1.50, -0e3, "é\n", "\u00e9"]}"#,
            "null",
            "-2.3952573480200564e+206",
            "184467440737095516160",
            r#""{\"content\": \"hi\"}""#,
        ] {
            let x = custom(42, raw);
            assert_eq!(dec(&enc(&x)), Ok(x));
        }
        // Nesting: whatever encodes decodes back (serde_json stops at 128 levels).
        let mut encoded = 0;
        for depth in 120..135 {
            let x = custom(42, &format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
            if let Ok(bytes) = encode_as(J, &x) {
                encoded += 1;
                assert_eq!(decode_as(J, &bytes), Ok(x), "depth {depth}");
            }
        }
        assert!((1..15).contains(&encoded), "{encoded}");
    }

    /// What a malformed payload must give: an exact error, or, for messages from serde,
    /// the variant and a fragment of the message.
    enum Want {
        Is(PayloadError),
        Json(&'static str),
        Content(i64, &'static str),
    }

    #[rustfmt::skip]
    fn malformed() -> Vec<(&'static str, &'static str, Want)> {
        use PayloadError as E;
        use Want::*;
        let bad_number = |field, found: &str| Is(E::BadNumber { field, found: found.into() });
        let mismatch = |c: &str, sender_id, receiver_id| Is(E::ConversationMismatch {
            conversation_id: conv(c), sender_id, receiver_id,
        });
        let not_member = |c: &str, user_id| Is(E::NotAMember { conversation_id: conv(c), user_id });
        vec![
            ("empty", "", Is(E::Empty)),
            ("whitespace", " \r\n\t", Is(E::Empty)),
            ("array", "[1]", Is(E::NotAnObject)),
            ("number", "42", Is(E::NotAnObject)),
            ("string", r#""{}""#, Is(E::NotAnObject)),
            ("null", "null", Is(E::NotAnObject)),
            ("not JSON", "hello", Is(E::NotAnObject)),
            ("unterminated", r#"{"msg_type": 1"#, Json("EOF")),
            ("trailing comma", r#"{"msg_type": 1,}"#, Json("trailing comma")),
            ("trailing data", r#"{"msg_type": 5} {}"#, Json("trailing characters")),
            ("duplicate field", r#"{"msg_type": 1, "msg_type": 1}"#, Json("duplicate field")),
            ("object msg_type", r#"{"msg_type": {}}"#, Json("invalid type: map")),
            ("string avatar", r#"{"msg_type": 1, "avatar": 5}"#, Json("invalid type: integer")),
            ("numeric conversation", r#"{"msg_type": 5, "conversation_id": 12}"#, Json("invalid type")),
            ("null member", r#"{"msg_type": 8, "conversation_id": "room_1", "members": [null]}"#, Json("invalid type: null")),
            ("members not a list", r#"{"msg_type": 8, "conversation_id": "room_1", "members": "1,2"}"#, Json("invalid type: string")),
            ("no msg_type", "{}", Is(E::MissingField("msg_type"))),
            ("null msg_type", r#"{"msg_type": null}"#, Is(E::MissingField("msg_type"))),
            ("word msg_type", r#"{"msg_type": "text"}"#, bad_number("msg_type", r#""text""#)),
            ("float msg_type", r#"{"msg_type": 1.5}"#, bad_number("msg_type", "a floating-point number")),
            ("bool msg_type", r#"{"msg_type": true}"#, bad_number("msg_type", "true")),
            ("huge msg_type", r#"{"msg_type": 9223372036854775808}"#, bad_number("msg_type", "9223372036854775808")),
            ("no id", r#"{"msg_type": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("id"))),
            ("negative id", r#"{"msg_type": 1, "id": -1}"#, bad_number("id", "-1")),
            ("float id", r#"{"msg_type": 1, "id": 1.0}"#, bad_number("id", "a floating-point number")),
            ("id past u64", r#"{"msg_type": 1, "id": 18446744073709551616}"#, bad_number("id", "a floating-point number")),
            ("id string past u64", r#"{"msg_type": 1, "id": "18446744073709551616"}"#, bad_number("id", r#""18446744073709551616""#)),
            ("id with letters", r#"{"msg_type": 1, "id": "12a"}"#, bad_number("id", r#""12a""#)),
            ("id with a sign", r#"{"msg_type": 1, "id": "+12"}"#, bad_number("id", r#""+12""#)),
            ("id with a space", r#"{"msg_type": 1, "id": " 12"}"#, bad_number("id", r#"" 12""#)),
            ("empty id", r#"{"msg_type": 1, "id": ""}"#, bad_number("id", r#""""#)),
            ("long id", r#"{"msg_type": 1, "id": "0123456789abcdefghijklmnopqrstuvwxyz"}"#, bad_number("id", r#""0123456789abcdefghijklmnopqrstuv…""#)),
            ("no sender", r#"{"msg_type": 1, "id": 1, "receiver_id": 2}"#, Is(E::MissingField("sender_id"))),
            ("no receiver nor conversation", r#"{"msg_type": 1, "id": 1, "sender_id": 1}"#, Is(E::MissingField("receiver_id"))),
            ("bad receiver", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": "x"}"#, bad_number("receiver_id", r#""x""#)),
            ("self message", r#"{"msg_type": 1, "id": 1, "sender_id": 4, "receiver_id": 4}"#, Is(E::SelfMessage(4))),
            ("self message in conversation", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 1}"#, Is(E::SelfMessage(1))),
            ("unordered conversation", r#"{"msg_type": 1, "id": 1, "conversation_id": "2_1", "sender_id": 1}"#, Is(E::BadConversationId(crate::chat::ids::InvalidConversationId("2_1".into())))),
            ("garbage conversation", r#"{"msg_type": 5, "msg_id": 1, "conversation_id": "chat_1"}"#, Is(E::BadConversationId(crate::chat::ids::InvalidConversationId("chat_1".into())))),
            ("sender outside", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 3, "receiver_id": 1}"#, not_member("1_2", 3)),
            ("sender outside, no receiver", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 3}"#, not_member("1_2", 3)),
            ("receiver outside", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 3}"#, mismatch("1_2", 1, 3)),
            ("room receiver", r#"{"msg_type": 1, "id": 1, "conversation_id": "room_5", "sender_id": 1, "receiver_id": 6}"#, mismatch("room_5", 1, 6)),
            ("no weight", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("weight"))),
            ("no weight, custom", r#"{"msg_type": 42, "id": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("weight"))),
            ("bad weight", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": "soon"}"#, bad_number("weight", r#""soon""#)),
            ("is_read 2", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "is_read": 2}"#, Is(E::BadFlag { field: "is_read", found: "2".into() })),
            ("is_read yes", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "is_read": "yes"}"#, Is(E::BadFlag { field: "is_read", found: r#""yes""#.into() })),
            ("bad status", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "status": "revoked"}"#, bad_number("status", r#""revoked""#)),
            ("no content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1}"#, Is(E::MissingField("msg_content"))),
            ("null content", r#"{"msg_type": 7, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": null}"#, Is(E::MissingField("msg_content"))),
            ("empty content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {}}"#, Content(1, "missing field `content`")),
            ("plain string content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": "hi"}"#, Content(1, "a string that is not a JSON object")),
            ("list content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": [1]}"#, Content(1, "not an object")),
            ("string of a list", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": "[1]"}"#, Content(1, "not an object")),
            ("numeric text", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {"content": 5}}"#, Content(1, "invalid type: integer")),
            ("image without url", r#"{"msg_type": 2, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {"cover": "c"}}"#, Content(2, "missing field `url`")),
            ("video with numeric cover", r#"{"msg_type": 3, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {"url": "u", "cover": 1}}"#, Content(3, "invalid type: integer")),
            ("revoke without msg_id", r#"{"msg_type": 5, "id": 1, "conversation_id": "1_2"}"#, Is(E::MissingField("msg_id"))),
            ("revoke without conversation", r#"{"msg_type": 5, "msg_id": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("conversation_id"))),
            ("read without sender", r#"{"msg_type": 6, "is_read": 1, "conversation_id": "1_2"}"#, Is(E::MissingField("sender_id"))),
            ("read without conversation", r#"{"msg_type": 6, "sender_id": 1}"#, Is(E::MissingField("conversation_id"))),
            ("read by a stranger", r#"{"msg_type": 6, "sender_id": 3, "conversation_id": "1_2"}"#, not_member("1_2", 3)),
            ("read with a bad weight", r#"{"msg_type": 6, "sender_id": 1, "conversation_id": "1_2", "weight": -5}"#, bad_number("weight", "-5")),
            ("read with a bad read_weight", r#"{"msg_type": 6, "sender_id": 1, "conversation_id": "1_2", "read_weight": true}"#, bad_number("read_weight", "true")),
            ("members of a 1:1", r#"{"msg_type": 8, "conversation_id": "1_2", "members": [1, 2]}"#, Is(E::NotARoom(conv("1_2")))),
            ("members missing", r#"{"msg_type": 8, "conversation_id": "room_1"}"#, Is(E::MissingField("members"))),
            ("bad member", r#"{"msg_type": 8, "conversation_id": "room_1", "members": [1, "x"]}"#, bad_number("members", r#""x""#)),
        ]
    }

    #[test]
    fn malformed_payloads_give_their_error() {
        for (what, payload, want) in malformed() {
            let got = dec(payload);
            let ok = match (&want, &got) {
                (Want::Is(e), got) => got.as_ref() == Err(e),
                (Want::Json(fragment), Err(PayloadError::Json(m))) => m.contains(fragment),
                (
                    Want::Content(t, fragment),
                    Err(PayloadError::BadContent { msg_type, reason }),
                ) => msg_type == t && reason.contains(fragment),
                _ => false,
            };
            assert!(ok, "{what}: {payload} gave {got:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_malformed_json() {
        let got = decode_as(J, b"{\"msg_type\": 1, \"avatar\": \"\xff\"}");
        assert!(matches!(got, Err(PayloadError::Json(_))), "{got:?}");
    }

    #[test]
    fn member_text_finds_top_level_members_only() {
        let json = r#" { "a" : {"msg_content": 1, "s": "}{\\\"" } ,
            "msg\u005fcontent"	:	[ "]" , {"x":[]} ]	, "b": -1.5e-3 , "c":true}"#;
        assert_eq!(
            member_text(json, "msg_content"),
            Some(r#"[ "]" , {"x":[]} ]"#)
        );
        assert_eq!(member_text(json, "b"), Some("-1.5e-3"));
        assert_eq!(member_text(json, "c"), Some("true"));
        assert_eq!(member_text(json, "s"), None);
        assert_eq!(member_text("{}", "a"), None);
        assert_eq!(member_text("[]", "a"), None);
        // Not validated, but never out of bounds.
        for broken in [
            r#"{"a"#,
            r#"{"a":"#,
            r#"{"a":"x"#,
            r#"{"a":[{"#,
            r#"{"a":]]]"#,
            "{\"a\\",
        ] {
            assert_eq!(member_text(broken, "a"), None, "{broken}");
        }
    }

    #[test]
    fn errors_read_well() {
        let e = dec(r#"{"msg_type": 1, "id": "x"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"field `id` is not an integer in range: "x""#
        );
        let e = dec(r#"{"msg_type": 6, "sender_id": 1, "conversation_id": "2_1"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad conversation_id: invalid conversation id '2_1'"
        );
    }
}
