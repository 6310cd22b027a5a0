//! What arrives: session events, publishes on chat / room / presence topics, and the
//! queue that applies network inputs in order (reading stored copies back first).

use super::*;

pub(super) fn on_session_event(sh: &Rc<Shared>, event: Event) {
    match event {
        Event::Status(s) => {
            act(sh, |st| {
                st.log(LogLevel::Info, &format!("status {}", s.name()));
                st.note("status", |_| convert::status(Some(s)));
            });
        }
        Event::Connected { .. } => on_connected(sh),
        Event::Disconnected { error, .. } => {
            act(sh, |st| {
                if st.offline_since.is_none() {
                    st.offline_since = Some(st.now_server());
                }
                let refused = matches!(
                    error,
                    crate::session::ConnectionError::Refused(_)
                        | crate::session::ConnectionError::Credentials(_)
                        | crate::session::ConnectionError::Protocol(_)
                        | crate::session::ConnectionError::Malformed(_)
                );
                if refused {
                    st.error(chat_error("mqtt", &error.to_string()));
                } else {
                    st.log(LogLevel::Info, &format!("disconnected: {error}"));
                }
            });
        }
        Event::Message(publish) => on_publish(sh, *publish),
        Event::PublishDone { id, reason } => {
            act(sh, |st| {
                let Some(p) = st.publishes.remove(&id) else {
                    return;
                };
                let outcome = if reason.is_error() {
                    st.log(
                        LogLevel::Warn,
                        &format!("publish refused: 0x{:02x}", reason.as_u8()),
                    );
                    st.store
                        .send_failed(&MessageRef::Local(p.local_id.clone()))
                        .map(|_| ())
                } else {
                    st.store
                        .send_succeeded(&p.local_id, p.server_id, p.weight)
                        .map(|_| ())
                };
                if let Err(e) = outcome {
                    st.log(LogLevel::Debug, &e.to_string());
                }
                st.settle_send(&p.local_id);
            });
        }
        Event::Subscribed { reasons, .. } => {
            if reasons.iter().any(|r| r.is_error()) {
                act(sh, |st| {
                    st.error(chat_error("mqtt", "the broker refused a subscription"))
                });
            }
        }
        Event::Unsubscribed { .. } => {}
    }
}

pub(super) fn on_connected(sh: &Rc<Shared>) {
    let Some((subscribe, presence, backend)) = act(sh, |st| {
        st.clock.on_reconnect();
        let mut wanted = st.topics.clone();
        if st.presence {
            wanted.extend(st.contacts.iter().map(|c| topics::presence(*c)));
        }
        let subscribe: Vec<SubscribeFilter> = wanted
            .into_iter()
            .filter(|t| st.subscribed.insert(t.clone(), ()).is_none())
            .map(|t| SubscribeFilter::new(t, QoS::AtLeastOnce))
            .collect();
        let presence = st.presence.then(|| topics::presence(st.me));
        let offline_since = st.offline_since.take();
        (
            subscribe,
            presence,
            st.backend().is_some().then_some(offline_since),
        )
    }) else {
        return;
    };
    let Some(mqtt) = sh.mqtt.get() else {
        return;
    };
    if !subscribe.is_empty() {
        if let Err(e) = mqtt.call(|s, now| s.subscribe(now, subscribe), |_| {}) {
            act(sh, |st| st.error(chat_error("mqtt", &e.to_string())));
        }
    }
    if let Some(topic) = presence {
        let _ = mqtt.call(
            |s, now| s.publish(now, &topic, topics::ONLINE.to_vec(), QoS::AtLeastOnce, true),
            |_| {},
        );
    }
    if let Some(offline_since) = backend {
        spawn_local(calibrate(sh.clone()));
        spawn_local(catch_up(sh.clone(), offline_since));
    }
}

pub(super) fn on_publish(sh: &Rc<Shared>, publish: Publish) {
    let topic = Topic::parse(&publish.topic);
    let decoded = act(sh, |st| match topic {
        Topic::Presence(user) => {
            if user != st.me {
                if let Some(online) = topics::parse_presence(&publish.payload) {
                    st.note("presence", |_| {
                        convert::object(&[
                            ("userId", user.to_string().into()),
                            ("online", online.into()),
                        ])
                    });
                }
            }
            None
        }
        Topic::Chat(_) | Topic::Room(_) => match payload::decode(st.format, &publish.payload) {
            Ok(incoming) => Some(incoming),
            Err(e) => {
                st.error(chat_error(
                    "payload",
                    &format!("bad payload on {}: {e}", publish.topic),
                ));
                None
            }
        },
        Topic::Other => {
            st.log(
                LogLevel::Debug,
                &format!("ignored a message on {}", publish.topic),
            );
            None
        }
    })
    .flatten();
    if let Some(incoming) = decoded {
        enqueue(sh, vec![Queued::Net(incoming)]);
    }
}

/// What the queue of network inputs holds.
pub(super) enum Queued {
    /// A payload from the broker.
    Net(Incoming),
    /// What `GET /conversations` said of one conversation: the newest page of its history
    /// (when this client missed its last message) and the backend's unread count as of its
    /// message at weight `up_to`. Applied at once, so the list never shows a count that the
    /// backend's then corrects.
    CatchUp {
        conversation: ConversationId,
        page: Vec<WireMessage>,
        unread: Option<(u32, u64)>,
    },
}

/// Queues network inputs and starts the task that applies them, if not running.
pub(super) fn enqueue(sh: &Rc<Shared>, items: Vec<Queued>) {
    let start = with(sh, |st| {
        st.incoming.extend(items);
        !std::mem::replace(&mut st.draining, true)
    });
    if start == Some(true) {
        spawn_local(drain_incoming(sh.clone()));
    }
}

pub(super) async fn drain_incoming(sh: Rc<Shared>) {
    loop {
        let next = with(&sh, |st| {
            let (items, unread) = match st.incoming.pop_front() {
                Some(Queued::Net(incoming)) => (vec![incoming], None),
                Some(Queued::CatchUp {
                    conversation,
                    page,
                    unread,
                }) => (
                    page.into_iter().map(Incoming::Message).collect(),
                    unread.map(|(n, up_to)| (conversation, n, up_to)),
                ),
                None => {
                    st.draining = false;
                    return None;
                }
            };
            let lookups: Vec<_> = items
                .iter()
                .map(|incoming| st.lookup_needed(incoming).map(|id| (id, st.storage())))
                .collect();
            Some((items, lookups, unread))
        })
        .flatten();
        let Some((items, lookups, unread)) = next else {
            return;
        };
        let mut stored = Vec::with_capacity(lookups.len());
        for lookup in lookups {
            stored.push(match lookup {
                Some((id, storage)) => storage.message_by_server_id(id).await.ok().flatten(),
                None => None,
            });
        }
        let read = act(&sh, |st| {
            let mut read: Vec<ConversationId> = Vec::new();
            for (incoming, stored) in items.into_iter().zip(stored) {
                if let Some(c) = apply_incoming(st, incoming, stored) {
                    if !read.contains(&c) {
                        read.push(c);
                    }
                }
            }
            if let Some((conversation, n, up_to)) = unread {
                st.store.apply_server_unread(conversation, n, up_to);
            }
            read
        })
        .unwrap_or_default();
        for conversation in read {
            // The conversation is open: the peer should see their message read. One
            // receipt at a time per conversation; messages that arrive meanwhile are
            // covered by one more after it.
            read_soon(&sh, conversation);
        }
    }
}

/// Applies one network input (after its stored copy, if storage had one the store has
/// not loaded); the open conversation it makes due for a read receipt, if any.
fn apply_incoming(
    st: &mut State,
    incoming: Incoming,
    stored: Option<crate::chat::store::StoredMessage>,
) -> Option<ConversationId> {
    if let Some(m) = stored {
        if st.store.message(&m.key.id).is_none() {
            st.store.insert_loaded(m);
        }
    }
    let me = st.me;
    let mut read = None;
    match &incoming {
        Incoming::Revoke {
            msg_id,
            conversation_id,
        } => {
            let (c, id) = (conversation_id.to_string(), msg_id.to_string());
            st.note("revoke", |_| {
                convert::object(&[("conversationId", c.into()), ("id", id.into())])
            });
        }
        Incoming::Read {
            sender_id,
            conversation_id,
            up_to_weight,
        } if *sender_id == me => {
            let reader = conversation_id.peer_of(me).unwrap_or(0).to_string();
            let upto = up_to_weight.unwrap_or_else(|| st.now_server());
            let c = conversation_id.to_string();
            st.note("read", |_| {
                convert::object(&[
                    ("conversationId", c.into()),
                    ("readerId", reader.into()),
                    ("upToWeight", (upto as f64).into()),
                ])
            });
        }
        Incoming::Message(m)
            if m.sender_id != me && st.store.open_conversation() == Some(m.conversation_id) =>
        {
            read = Some(m.conversation_id);
        }
        _ => {}
    }
    let received = st.now_server();
    st.store.apply(incoming, received);
    read
}

/// Sends a read receipt for `conversation` unless one is under way; if more arrived while
/// it was, one more follows.
pub(super) fn read_soon(sh: &Rc<Shared>, conversation: ConversationId) {
    let start = with(sh, |st| match st.reads.get_mut(&conversation) {
        Some(again) => {
            *again = true;
            false
        }
        None => {
            st.reads.insert(conversation, false);
            true
        }
    });
    if start != Some(true) {
        return;
    }
    let sh = sh.clone();
    spawn_local(async move {
        loop {
            if let Err(e) = send_read(&sh, conversation).await {
                act(&sh, |st| st.log(LogLevel::Warn, &describe(&e)));
            }
            let again = with(&sh, |st| {
                let again = st.reads.get(&conversation).copied().unwrap_or(false);
                if again {
                    st.reads.insert(conversation, false);
                } else {
                    st.reads.remove(&conversation);
                }
                again
            });
            if again != Some(true) {
                return;
            }
        }
    });
}

/// Tells the peer (backend: the server) that I read `conversation`.
pub(super) async fn send_read(
    sh: &Rc<Shared>,
    conversation: ConversationId,
) -> Result<(), JsValue> {
    let direct = with(sh, |st| match st.mode {
        Mode::Backend(_) => None,
        Mode::Direct { .. } => Some((st.me, st.format, st.store.conversation(conversation))),
    })
    .flatten();
    match direct {
        None => call(sh, &api::read(conversation))
            .await
            .and_then(|(s, b)| api::parse_ok(s, &b))
            .map_err(|e| api_error(&e)),
        Some((me, format, summary)) => {
            let Some(peer) = conversation.peer_of(me) else {
                return Ok(()); // rooms: receipts are the backend's business
            };
            let up_to = summary.map(|c| c.last_activity);
            let payload = payload::encode(
                format,
                &Incoming::Read {
                    sender_id: peer,
                    conversation_id: conversation,
                    up_to_weight: up_to,
                },
            )
            .map_err(|e| chat_error("payload", &e.to_string()))?;
            publish(sh, &topics::chat(peer), payload)
        }
    }
}
