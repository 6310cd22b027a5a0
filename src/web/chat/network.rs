//! The backend's side of the session: running requests, clock calibration, conn-config
//! before every connection attempt, and catching up after a reconnect.

use super::*;

/// Runs a backend request; an error in direct mode.
pub(super) async fn call(sh: &Shared, request: &Request) -> Result<(u16, Vec<u8>), ApiError> {
    let backend = with(sh, |st| st.backend())
        .flatten()
        .ok_or_else(|| ApiError::Network("no backend in direct mode".into()))?;
    http::run(&backend, request).await
}

/// Calibrates the clock against `GET /time` (backend mode), and keeps the offset for the
/// next start.
pub(super) async fn calibrate(sh: Rc<Shared>) {
    let Some(Some(token)) = with(&sh, |st| {
        if st.calibrating || st.backend().is_none() {
            return None;
        }
        st.calibrating = true;
        Some(st.clock.begin_sample(st.now_mono(), wall_ms() as u64))
    }) else {
        return;
    };
    let answer = call(&sh, &api::time())
        .await
        .and_then(|(status, body)| api::parse_time(status, &body));
    act(&sh, |st| {
        st.calibrating = false;
        match answer {
            Ok(server) => {
                let mono = st.now_mono();
                match st
                    .clock
                    .finish_sample(token, server, mono, wall_ms() as u64)
                {
                    Ok(c) => {
                        st.log(
                            LogLevel::Debug,
                            &format!("clock offset {} ms ± {}", c.offset_ms, c.error_bound_ms),
                        );
                        st.persister.push(crate::storage::StorageBatch {
                            store: Default::default(),
                            put_meta: vec![(
                                meta::CLOCK_OFFSET.to_string(),
                                c.offset_ms.to_string(),
                            )],
                        });
                    }
                    Err(e) => st.log(LogLevel::Warn, &format!("clock sample dropped: {e}")),
                }
            }
            Err(e) => st.log(LogLevel::Warn, &format!("GET /time failed: {e}")),
        }
    });
}

/// Backend mode's credential source: a fresh conn-config before every attempt.
pub(super) fn conn_config_source(weak: Weak<Shared>) -> CredentialSource {
    CredentialSource::Rust(Rc::new(move || -> CredentialsFuture {
        let weak = weak.clone();
        Box::pin(async move {
            let sh = weak.upgrade().ok_or("the ChatClient was freed")?;
            let config = call(&sh, &api::conn_config())
                .await
                .and_then(|(status, body)| api::parse_conn_config(status, &body))
                .map_err(|e| format!("conn-config: {e}"))?;
            let secure = global_property("location")
                .and_then(|l| Reflect::get(&l, &"protocol".into()).ok())
                .and_then(|p| p.as_string())
                // No page (a mini-program): production brokers are wss://.
                .is_none_or(|p| p == "https:");
            let url = with(&sh, |st| {
                st.topics = config.sub_topics.clone();
                if st.topics.is_empty() {
                    st.topics.push(topics::chat(st.me));
                }
                st.backend()
                    .and_then(|b| b.mqtt_url)
                    .unwrap_or_else(|| config.url(secure))
            })
            .ok_or("the ChatClient is busy")?;
            if let Some(mqtt) = sh.mqtt.get() {
                mqtt.set_url(url);
            }
            Ok(Credentials {
                username: Some(config.user_id.to_string()),
                password: Some(config.password.into_bytes()),
            })
        })
    }))
}

/// After a reconnect in backend mode: the newest page of every conversation whose last
/// message this client does not hold, in case the broker lost something while down.
pub(super) async fn catch_up(sh: Rc<Shared>) {
    let list = call(
        &sh,
        &Request {
            method: api::Method::Get,
            path: "/conversations".into(),
            body: None,
        },
    )
    .await;
    let Ok((200, body)) = list else {
        return;
    };
    let Some(rows) = conversation_rows(&body) else {
        return;
    };
    for (conversation_id, last) in rows {
        let Ok(conversation) = conversation_id.parse::<ConversationId>() else {
            continue;
        };
        let known = with(&sh, |st| {
            last.is_none_or(|id| st.store.message(&MessageRef::Server(id)).is_some())
        });
        if known == Some(false) {
            let page_size = with(&sh, |st| st.page_size).unwrap_or(30);
            let page = call(&sh, &api::history(conversation, None, page_size))
                .await
                .and_then(|(s, b)| api::parse_history(s, &b));
            if let Ok(page) = page {
                enqueue(&sh, page.into_iter().map(Incoming::Message).collect());
            }
        }
    }
}

/// The rows of `GET /conversations`, read as the struct `{"data": [{"conversation_id",
/// "last_msg_id"?}]}` (`data` and `last_msg_id` optional): each conversation id with its
/// last message id when that is an unsigned integer or a decimal string. `None` when the
/// body is not that.
fn conversation_rows(body: &[u8]) -> Option<Vec<(String, Option<u64>)>> {
    use crate::json::{self, Kind, Number};
    let doc = json::parse(body).ok()?;
    let top = doc.fields(doc.root(), "Rows", &["data"]).ok()?;
    let Some(data) = top.dflt(0) else {
        return Some(Vec::new());
    };
    doc.array(data, |row| {
        let f = doc.fields(row, "Row", &["conversation_id", "last_msg_id"])?;
        let id = doc.string(f.req(&doc, 0, "conversation_id")?)?;
        let last = match f.dflt(1) {
            None => None,
            Some(v) => {
                // Read as a serde_json `Value` three levels deep.
                doc.check_value(v, 3)?;
                match doc.kind(v) {
                    Kind::Num => match doc.number(v)? {
                        Number::U(n) => Some(n),
                        _ => None,
                    },
                    Kind::Str => doc.string(v)?.parse().ok(),
                    _ => None,
                }
            }
        };
        Ok((id, last))
    })
    .ok()
}
