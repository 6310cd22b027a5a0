//! What leaves: my messages (HTTP in backend mode, QoS 1 publishes in direct mode) and
//! other publishes.

use super::*;

/// A QoS 1 publish whose completion nobody waits for.
pub(super) fn publish(sh: &Shared, topic: &str, payload: Vec<u8>) -> Result<(), JsValue> {
    let mqtt = sh
        .mqtt
        .get()
        .ok_or_else(|| chat_error("closed", "no session"))?;
    mqtt.call(
        |s, now| s.publish(now, topic, payload, QoS::AtLeastOnce, false),
        |_| {},
    )
    .map_err(|e| chat_error("mqtt", &e.to_string()))
}

/// Hands a message of mine to the network; the store hears how it went.
pub(super) fn transmit(sh: &Rc<Shared>, out: Outgoing) {
    let Some(direct) = with(sh, |st| match st.mode {
        Mode::Backend(_) => None,
        Mode::Direct { .. } => Some((st.me, st.format, st.nick_name.clone(), st.avatar.clone())),
    }) else {
        return;
    };
    match direct {
        None => {
            let sh = sh.clone();
            spawn_local(async move {
                let me = with(&sh, |st| st.me).unwrap_or(0);
                let answer = match api::send(me, out.conversation, &out.content, out.weight) {
                    Ok(request) => call(&sh, &request)
                        .await
                        .and_then(|(s, b)| api::parse_sent(s, &b)),
                    Err(e) => Err(ApiError::Payload(e)),
                };
                act(&sh, |st| {
                    let outcome = match answer {
                        Ok(Some(m)) => st
                            .store
                            .send_succeeded(&out.local_id, m.id, m.weight)
                            .map(|_| ()),
                        Ok(None) => {
                            st.log(LogLevel::Warn, "the backend stored the message as failed");
                            st.store
                                .send_failed(&MessageRef::Local(out.local_id.clone()))
                        }
                        Err(e) => {
                            st.log(LogLevel::Warn, &format!("send failed: {e}"));
                            st.store
                                .send_failed(&MessageRef::Local(out.local_id.clone()))
                        }
                    };
                    if let Err(e) = outcome {
                        st.log(LogLevel::Debug, &e.to_string());
                    }
                    st.settle_send(&out.local_id);
                });
            });
        }
        Some((me, format, nick, avatar)) => {
            let server_id = out
                .local_id
                .parse::<u64>()
                .unwrap_or_else(|_| (random_seed() & MAX_SAFE).max(1));
            let receiver_id = match out.conversation {
                ConversationId::Room(id) => id,
                direct => direct.peer_of(me).unwrap_or(0),
            };
            let wire = WireMessage {
                id: server_id,
                conversation_id: out.conversation,
                sender_id: me,
                receiver_id,
                content: out.content,
                weight: out.weight,
                is_read: false,
                revoked: false,
                sender_name: nick,
                sender_avatar: avatar,
            };
            let topic = out.conversation.topic_from(me);
            let encoded = payload::encode(format, &Incoming::Message(wire));
            let result = match (topic, encoded, sh.mqtt.get()) {
                (Some(topic), Ok(bytes), Some(mqtt)) => mqtt
                    .call(
                        |s, now| s.publish(now, &topic, bytes, QoS::AtLeastOnce, false),
                        |id| {
                            with(sh, |st| {
                                st.publishes.insert(
                                    id,
                                    Publication {
                                        local_id: out.local_id.clone(),
                                        server_id,
                                        weight: out.weight,
                                    },
                                )
                            });
                        },
                    )
                    .map_err(|e| e.to_string()),
                (None, _, _) => Err("no topic for this conversation".into()),
                (_, Err(e), _) => Err(e.to_string()),
                (_, _, None) => Err("no session".into()),
            };
            if let Err(e) = result {
                act(sh, |st| {
                    st.error(chat_error("mqtt", &format!("send failed: {e}")));
                    let _ = st
                        .store
                        .send_failed(&MessageRef::Local(out.local_id.clone()));
                    st.settle_send(&out.local_id);
                });
            }
        }
    }
}
