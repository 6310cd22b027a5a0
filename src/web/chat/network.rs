//! The backend's side of the session: running requests, clock calibration, conn-config
//! before every connection attempt, and catching up after a reconnect.

use super::*;

/// The most messages one history request may ask for (the reference backend's limit).
const HISTORY_LIMIT: usize = 100;
/// How far before a lost connection the catch-up looks: messages in flight at the drop,
/// and a drop noticed late (a dead link is found by the keepalive, 1.5 × 60 s).
const CATCH_UP_MARGIN_MS: u64 = 120_000;
/// At most this many history pages per conversation in one catch-up.
const CATCH_UP_MAX_PAGES: usize = 10;

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

/// After every connect in backend mode, from `GET /conversations`: history of every
/// conversation this client may have missed something of, then the backend's unread count
/// of each (what was read on another device is read here too).
///
/// * A conversation whose last message this client does not hold (a first start on this
///   device): its newest page, big enough for the unread ones.
/// * After a connection was lost at `offline_since` (server time): every conversation with
///   a message since then, paged back to `offline_since - CATCH_UP_MARGIN_MS`. The broker
///   does not keep every message for an offline client: a Mosquitto restarted after a
///   crash drops what is published to a restored session before its client is back, and
///   anything in flight at the crash is gone. A gap may sit before a last message this
///   client holds (its own, sent over HTTP), so knowing the last one is not enough.
pub(super) async fn catch_up(sh: Rc<Shared>, offline_since: Option<u64>) {
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
    let page_size = with(&sh, |st| st.page_size).unwrap_or(30);
    let from = offline_since.map(|t| t.saturating_sub(CATCH_UP_MARGIN_MS));
    for row in rows {
        let Ok(conversation) = row.conversation_id.parse::<ConversationId>() else {
            continue;
        };
        let known = with(&sh, |st| {
            row.last_msg_id
                .is_none_or(|id| st.store.message(&MessageRef::Server(id)).is_some())
        });
        let active = matches!((from, row.last_msg_time), (Some(f), Some(t)) if t >= f);
        let mut page = Vec::new();
        if known == Some(false) || active {
            // Enough for the unread ones to show their count (the backend's limit is 100).
            let limit = page_size
                .max(row.unread.unwrap_or(0) as usize)
                .clamp(1, HISTORY_LIMIT);
            let mut before = None;
            let mut complete = true;
            for _ in 0..CATCH_UP_MAX_PAGES {
                match call(&sh, &api::history(conversation, before, limit))
                    .await
                    .and_then(|(s, b)| api::parse_history(s, &b))
                {
                    Ok(p) => {
                        let oldest = p.iter().map(|m| m.weight).min();
                        let full = p.len() >= limit;
                        page.extend(p);
                        match (oldest, from) {
                            (Some(w), Some(f)) if full && w >= f => before = Some(w),
                            _ => break,
                        }
                    }
                    Err(_) => {
                        complete = false;
                        break;
                    }
                }
            }
            // Without the page the count cannot be matched to messages.
            if !complete && page.is_empty() {
                continue;
            }
        }
        enqueue(
            &sh,
            vec![Queued::CatchUp {
                conversation,
                page,
                unread: row.unread.zip(row.last_msg_time),
            }],
        );
    }
}

/// A row of `GET /conversations`, as far as the catch-up reads it.
struct Row {
    conversation_id: String,
    /// The last message's id, when an unsigned integer or a decimal string.
    last_msg_id: Option<u64>,
    /// The last message's weight.
    last_msg_time: Option<u64>,
    /// The caller's own unread count.
    unread: Option<u32>,
}

/// The rows of `GET /conversations`, read as the struct `{"data": [{"conversation_id",
/// "last_msg_id"?, "last_msg_time"?, "unread"?}]}` (all but `conversation_id` optional,
/// `null` allowed). `None` when the body is not that.
fn conversation_rows(body: &[u8]) -> Option<Vec<Row>> {
    use crate::json::{self, Kind, Number};
    let doc = json::parse(body).ok()?;
    let top = doc.fields(doc.root(), "Rows", &["data"]).ok()?;
    let Some(data) = top.dflt(0) else {
        return Some(Vec::new());
    };
    doc.array(data, |row| {
        let f = doc.fields(
            row,
            "Row",
            &["conversation_id", "last_msg_id", "last_msg_time", "unread"],
        )?;
        let conversation_id = doc.string(f.req(&doc, 0, "conversation_id")?)?;
        let last_msg_id = match f.dflt(1) {
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
        let last_msg_time = match f.dflt(2) {
            Some(v) => doc.option(v, |v| doc.u64(v))?,
            None => None,
        };
        let unread = match f.dflt(3) {
            // At most u32::MAX, so the cast is exact.
            Some(v) => doc.option(v, |v| {
                doc.unsigned(v, u32::MAX.into(), "u32").map(|n| n as u32)
            })?,
            None => None,
        };
        Ok(Row {
            conversation_id,
            last_msg_id,
            last_msg_time,
            unread,
        })
    })
    .ok()
}
