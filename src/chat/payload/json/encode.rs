//! Encoding: the canonical shapes of PROTOCOL.md, refusing what would not decode back.

use super::super::{check_route, utc_date_time, PayloadError, PayloadFormat};
use super::content::{is_single_json_value, write_msg_content, ContentForm};
use super::{KNOWN_TYPES, MAX_SAFE_INTEGER, STATUS_REVOKED};
use crate::chat::ids::ConversationId;
use crate::chat::model::{msg_type, Content, Incoming, WireMessage};
use crate::json::Writer;

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
pub(in crate::chat::payload) fn encode(incoming: &Incoming) -> Result<Vec<u8>, PayloadError> {
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
