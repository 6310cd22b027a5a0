//! The HTTP API: the calls of PROTOCOL.md, login, users, rooms and the test hooks.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tower_http::cors::{Any, CorsLayer};

use crate::body::{as_u64, member_str, JsonBody};
use crate::clock::{real_now_ms, utc_date_time, Clock};
use crate::db::{self, Db, Membership, MessageRow, NewMessage, Unread, User, MAX_SAFE_INTEGER};
use crate::error::ApiError;
use crate::mqtt::Publisher;
use crate::{auth, broker};

/// Largest text content, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Largest media URL or cover, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Largest request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The revoke window, in ms of the server's clock: the client's, from the one place the
/// contract's rules live.
pub use imcore::chat::store::REVOKE_WINDOW_MS;
/// History page size: default and maximum.
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = imcore::chat::api::HISTORY_LIMIT;

/// Everything a handler reaches.
#[derive(Debug)]
pub struct AppState {
    pub db: Db,
    pub clock: Clock,
    pub signer: auth::Signer,
    pub security: broker::Security,
    pub publisher: Publisher,
    /// Advertised in conn-config.
    pub ws_host: String,
    pub ws_port: u16,
    /// Advertised in conn-config as `urls` when not empty.
    pub broker_urls: Vec<String>,
    /// Serve RabbitMQ's HTTP auth calls at `/broker/auth/*`.
    pub rabbitmq: bool,
    pub test_hooks: bool,
}

pub type Shared = Arc<AppState>;

type ApiResult = Result<Response, ApiError>;

/// `{"code": 0, "data": …}`
fn ok(data: impl Serialize) -> ApiResult {
    Ok(Json(json!({ "code": 0, "data": data })).into_response())
}

pub fn router(state: Shared, www: Option<std::path::PathBuf>) -> Router {
    let mut app = Router::new()
        .route("/login", post(login))
        .route("/users", get(users))
        .route("/time", get(time))
        .route("/mqtt/conn-config", get(conn_config))
        .route("/messages", post(send).get(history))
        .route("/messages/resend", post(resend))
        .route("/messages/revoke", post(revoke))
        .route("/messages/read", post(read))
        .route("/conversations", get(conversations))
        .route("/rooms", get(rooms))
        .route("/rooms/join", post(join))
        .route("/rooms/leave", post(leave))
        .route("/avatars/{file}", get(avatar));
    if state.rabbitmq {
        app = app.route("/broker/auth/{question}", post(broker_auth));
    }
    if state.test_hooks {
        app = app
            .route("/test/clock", post(test_clock))
            .route("/test/reset", post(test_reset));
    }
    let app = match www {
        Some(dir) => app.fallback_service(tower_http::services::ServeDir::new(dir)),
        None => app.fallback(not_found),
    };
    app.method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([AUTHORIZATION, CONTENT_TYPE])
                .max_age(std::time::Duration::from_secs(600)),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

/// The user of a valid `Authorization: Bearer <token>`.
#[derive(Debug)]
pub struct Caller(pub User);

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("missing `Authorization: Bearer <token>`".into())
        })?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::Unauthorized("expected a Bearer token".into()))?;
        let user_id = state
            .signer
            .verify(token, real_now_ms())
            .ok_or_else(|| ApiError::Unauthorized("bad or expired token".into()))?;
        let user = state
            .db
            .user(user_id)?
            .ok_or_else(|| ApiError::Unauthorized("unknown user".into()))?;
        Ok(Caller(user))
    }
}

fn user_view(u: &User) -> Value {
    json!({ "user_id": u.id.to_string(), "nick_name": u.nick_name, "avatar": u.avatar })
}

async fn login(State(state): State<Shared>, body: JsonBody) -> ApiResult {
    let id = body.u64("user_id")?;
    let user = state
        .db
        .user(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no user {id}")))?;
    let token = state
        .signer
        .issue(user.id, real_now_ms().saturating_add(auth::TOKEN_TTL_MS));
    let mut view = user_view(&user);
    if let Value::Object(m) = &mut view {
        m.insert("token".into(), token.into());
    }
    ok(view)
}

async fn users(State(state): State<Shared>, _caller: Caller) -> ApiResult {
    let list: Vec<Value> = state.db.users()?.iter().map(user_view).collect();
    ok(list)
}

async fn time(State(state): State<Shared>) -> ApiResult {
    ok(json!({ "time": state.clock.now_ms() }))
}

/// A fresh 32-character password, enforced by the broker before the answer leaves.
async fn conn_config(State(state): State<Shared>, Caller(me): Caller) -> ApiResult {
    let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
    let hash = broker::hash_password(&password);
    state.db.set_mqtt_hash(me.id, &hash)?;
    state.security.set_password(me.id, hash).await?;
    let mut sub_topics = vec![format!("chat_{}", me.id)];
    sub_topics.extend(
        state
            .db
            .rooms_of(me.id)?
            .into_iter()
            .map(|r| format!("room_{r}")),
    );
    let mut config = json!({
        "user_id": me.id.to_string(),
        "password": password,
        "server": state.ws_host,
        "port": state.ws_port,
        "client_id": format!("chat_{}", me.id),
        "sub_topics": sub_topics,
    });
    if let (Some(map), false) = (config.as_object_mut(), state.broker_urls.is_empty()) {
        map.insert("urls".into(), json!(home_first(&state.broker_urls, me.id)));
    }
    ok(config)
}

/// The cluster's nodes for `user`, starting with its home node: user N begins at node
/// `(N - 1) mod len`, so users spread over the nodes (1 on the first, 2 on the second, …)
/// and each client, trying the list in order, moves on only when its node fails.
fn home_first(urls: &[String], user: u64) -> Vec<String> {
    let mut v = urls.to_vec();
    // `None` for an empty list.
    let home = user
        .saturating_sub(1)
        .checked_rem(v.len() as u64)
        .and_then(|h| usize::try_from(h).ok());
    if let Some(home) = home {
        v.rotate_left(home);
    }
    v
}

/// `POST /broker/auth/{user,vhost,resource,topic}`: RabbitMQ's `rabbitmq_auth_backend_http`
/// asks; the answer is `allow` or `deny` (see [`crate::rabbit`]). Denials are logged with
/// `IMCORE_DEBUG=1`, every call with `IMCORE_DEBUG=2`.
async fn broker_auth(
    State(state): State<Shared>,
    Path(question): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(path) = crate::rabbit::AuthPath::from_segment(&question) else {
        return (axum::http::StatusCode::NOT_FOUND, "deny").into_response();
    };
    let request = crate::rabbit::AuthRequest::parse(path, &body);
    let allowed = state.security.answer(&request).await;
    let level = crate::debug_level();
    if level >= 2 || (level >= 1 && !allowed) {
        crate::log(&format!(
            "broker auth: {} {}",
            if allowed { "allow" } else { "deny" },
            request.describe()
        ));
    }
    (
        [(CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        if allowed { "allow" } else { "deny" },
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

/// A conversation id: `"{low}_{high}"` or `"room_{id}"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    Direct { low: u64, high: u64 },
    Room(u64),
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Conv {
    pub fn parse(s: &str) -> Result<Conv, ApiError> {
        let bad = || {
            ApiError::bad(format!(
                "bad conversation_id {:?}: expected \"{{low}}_{{high}}\" or \"room_{{id}}\"",
                s.chars().take(40).collect::<String>()
            ))
        };
        if let Some(room) = s.strip_prefix("room_") {
            return digits(room).map(Conv::Room).ok_or_else(bad);
        }
        let (a, b) = s.split_once('_').ok_or_else(bad)?;
        match (digits(a), digits(b)) {
            (Some(low), Some(high)) if low < high => Ok(Conv::Direct { low, high }),
            _ => Err(bad()),
        }
    }

    fn direct(a: u64, b: u64) -> Conv {
        Conv::Direct {
            low: a.min(b),
            high: a.max(b),
        }
    }

    fn id(self) -> String {
        match self {
            Conv::Direct { low, high } => format!("{low}_{high}"),
            Conv::Room(r) => format!("room_{r}"),
        }
    }
}

/// Where a message goes: its conversation, receiver id and topics.
struct Route {
    conv: Conv,
    receiver_id: u64,
}

impl Route {
    fn topics(&self, sender: u64) -> Vec<String> {
        match self.conv {
            Conv::Room(r) => vec![format!("room_{r}")],
            Conv::Direct { .. } => vec![
                format!("chat_{}", self.receiver_id),
                format!("chat_{sender}"),
            ],
        }
    }
}

fn route_of(row: &MessageRow) -> Result<Route, ApiError> {
    Ok(Route {
        conv: Conv::parse(&row.conversation_id)
            .map_err(|_| ApiError::Internal("stored conversation id is malformed".into()))?,
        receiver_id: row.receiver_id,
    })
}

/// Checks that `me` belongs to `conv` (and that its other user or room exists).
fn check_member(state: &AppState, me: u64, conv: Conv) -> Result<(), ApiError> {
    match conv {
        Conv::Room(r) => {
            state
                .db
                .room(r)?
                .ok_or_else(|| ApiError::NotFound(format!("no room {r}")))?;
            if !state.db.is_member(r, me)? {
                return Err(ApiError::Forbidden(format!("you are not in room {r}")));
            }
        }
        Conv::Direct { low, high } => {
            let peer = if low == me {
                high
            } else if high == me {
                low
            } else {
                return Err(ApiError::Forbidden(format!(
                    "conversation {} is not yours",
                    conv.id()
                )));
            };
            if state.db.user(peer)?.is_none() {
                return Err(ApiError::NotFound(format!("no user {peer}")));
            }
        }
    }
    Ok(())
}

/// The route of a new message from its `conversation_id` and/or `receiver_id`.
fn route_for(state: &AppState, me: u64, body: &JsonBody) -> Result<Route, ApiError> {
    let receiver = body.opt_u64("receiver_id")?;
    let conv = match body.opt_str("conversation_id")? {
        Some(c) => Conv::parse(c)?,
        None => {
            let r = receiver.ok_or_else(|| {
                ApiError::bad("missing field `receiver_id` (or `conversation_id`)")
            })?;
            if r == me {
                return Err(ApiError::bad("you cannot message yourself"));
            }
            Conv::direct(me, r)
        }
    };
    check_member(state, me, conv)?;
    let receiver_id = match conv {
        Conv::Room(r) => r,
        // `check_member` made sure `me` is one of the two (and `parse` that they differ).
        Conv::Direct { low, high } => {
            if low == me {
                high
            } else {
                low
            }
        }
    };
    if let Some(r) = receiver {
        if r != receiver_id {
            return Err(ApiError::bad(format!(
                "receiver_id {r} does not match conversation {}",
                conv.id()
            )));
        }
    }
    Ok(Route { conv, receiver_id })
}

/// `msg_content` to store, checked: `{"content"}` for text, `{"url", "cover"?}` for media.
fn content_for(msg_type: i64, body: &JsonBody) -> Result<Value, ApiError> {
    let content = body.opt_object("msg_content")?;
    match msg_type {
        1 => {
            let content = content.ok_or_else(|| {
                ApiError::bad("missing field `msg_content` ({\"content\": \"…\"})")
            })?;
            let text = member_str(&content, "msg_content", "content")?
                .ok_or_else(|| ApiError::bad("missing field `msg_content.content`"))?;
            if text.trim().is_empty() {
                return Err(ApiError::bad("`msg_content.content` is empty"));
            }
            if text.len() > MAX_TEXT_BYTES {
                return Err(ApiError::TooLarge(format!(
                    "text of {} bytes; at most {MAX_TEXT_BYTES}",
                    text.len()
                )));
            }
            Ok(json!({ "content": text }))
        }
        2 | 3 => {
            let empty = Map::new();
            let content = content.as_ref().unwrap_or(&empty);
            let url = match member_str(content, "msg_content", "url")? {
                Some(u) => Some(u),
                None => body.opt_str("msg_url")?,
            }
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| ApiError::bad("missing `msg_content.url` (or `msg_url`)"))?;
            let cover = match member_str(content, "msg_content", "cover")? {
                Some(c) => Some(c),
                None => body.opt_str("msg_cover")?,
            };
            for (what, v) in [("url", Some(url)), ("cover", cover)] {
                if v.is_some_and(|v| v.len() > MAX_URL_BYTES) {
                    return Err(ApiError::TooLarge(format!(
                        "{what} longer than {MAX_URL_BYTES} bytes"
                    )));
                }
            }
            Ok(match cover {
                Some(c) => json!({ "url": url, "cover": c }),
                None => json!({ "url": url }),
            })
        }
        other => Err(ApiError::bad(format!(
            "msg_type {other} cannot be sent: 1 (text), 2 (image) or 3 (video)"
        ))),
    }
}

fn weight_of(state: &AppState, body: &JsonBody) -> Result<u64, ApiError> {
    let weight = body
        .opt_u64("weight")?
        .unwrap_or_else(|| state.clock.now_ms());
    if weight > MAX_SAFE_INTEGER {
        return Err(ApiError::bad("`weight` must be below 2^53 (Unix ms)"));
    }
    Ok(weight)
}

/// A message as PROTOCOL.md shows it (revoked: `status` 3 and empty content).
#[derive(Serialize)]
struct MessageOut<'a> {
    id: u64,
    conversation_id: &'a str,
    sender_id: u64,
    receiver_id: u64,
    msg_type: i64,
    msg_content: Value,
    create_time: String,
    is_read: u8,
    weight: u64,
    status: i64,
    avatar: &'a str,
    nick_name: &'a str,
}

fn message_out(state: &AppState, row: &MessageRow) -> Result<Value, ApiError> {
    let sender = state.db.user(row.sender_id)?;
    let msg_content = if row.status == db::STATUS_REVOKED {
        // No content, but still the shape of its type so every client decodes it.
        match row.msg_type {
            1 | 7 => json!({ "content": "" }),
            2 | 3 => json!({ "url": "" }),
            _ => json!({}),
        }
    } else {
        serde_json::from_str(&row.msg_content).unwrap_or(Value::Null)
    };
    let out = MessageOut {
        id: row.id,
        conversation_id: &row.conversation_id,
        sender_id: row.sender_id,
        receiver_id: row.receiver_id,
        msg_type: row.msg_type,
        msg_content,
        create_time: utc_date_time(row.create_time),
        is_read: u8::from(row.is_read),
        weight: row.weight,
        status: row.status,
        avatar: sender.as_ref().map_or("", |u| u.avatar.as_str()),
        nick_name: sender.as_ref().map_or("", |u| u.nick_name.as_str()),
    };
    serde_json::to_value(out).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Publishes `payload` to every topic; `false` if one could not be queued.
fn publish(state: &AppState, topics: &[String], payload: &Value) -> bool {
    let bytes = payload.to_string().into_bytes();
    let mut all = true;
    for topic in topics {
        all &= state.publisher.publish(topic, bytes.clone());
    }
    all
}

async fn send(State(state): State<Shared>, Caller(me): Caller, body: JsonBody) -> ApiResult {
    let msg_type = match body.0.get("msg_type") {
        None | Some(Value::Null) => return Err(ApiError::bad("missing field `msg_type`")),
        Some(v) => as_u64("msg_type", v)?,
    };
    let msg_type = i64::try_from(msg_type).map_err(|_| ApiError::bad("bad `msg_type`"))?;
    let route = route_for(&state, me.id, &body)?;
    let content = content_for(msg_type, &body)?;
    let weight = weight_of(&state, &body)?;
    let unread = match route.conv {
        Conv::Room(r) => Unread::Room(r),
        Conv::Direct { low, high } => Unread::Direct {
            low,
            high,
            receiver: route.receiver_id,
        },
    };
    let mut row = state.db.insert_message(NewMessage {
        conversation_id: route.conv.id(),
        sender_id: me.id,
        receiver_id: route.receiver_id,
        msg_type,
        msg_content: content.to_string(),
        weight,
        now: state.clock.now_ms(),
        unread,
    })?;
    let payload = message_out(&state, &row)?;
    if !publish(&state, &route.topics(me.id), &payload) {
        state.db.set_status(row.id, db::STATUS_FAILED)?;
        row.status = db::STATUS_FAILED;
        return ok(message_out(&state, &row)?);
    }
    ok(payload)
}

/// The caller's own message by `id`.
fn own_message(state: &AppState, me: u64, body: &JsonBody) -> Result<MessageRow, ApiError> {
    let id = body.u64("id")?;
    let row = state
        .db
        .message(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no message {id}")))?;
    if row.sender_id != me {
        return Err(ApiError::Forbidden(format!("message {id} is not yours")));
    }
    Ok(row)
}

async fn resend(State(state): State<Shared>, Caller(me): Caller, body: JsonBody) -> ApiResult {
    let mut row = own_message(&state, me.id, &body)?;
    if row.status == db::STATUS_REVOKED {
        return Err(ApiError::Conflict(format!(
            "message {} was revoked",
            row.id
        )));
    }
    if let Some(r) = body.opt_u64("receiver_id")? {
        if r != row.receiver_id {
            return Err(ApiError::bad(format!(
                "receiver_id {r} is not the message's receiver"
            )));
        }
    }
    if let Some(c) = body.opt_str("conversation_id")? {
        if c != row.conversation_id {
            return Err(ApiError::bad(format!(
                "conversation_id {c:?} is not the message's conversation"
            )));
        }
    }
    let weight = weight_of(&state, &body)?;
    state.db.reweigh(row.id, weight)?;
    row.weight = weight;
    row.status = db::STATUS_SENT;
    let route = route_of(&row)?;
    if !publish(&state, &route.topics(me.id), &message_out(&state, &row)?) {
        state.db.set_status(row.id, db::STATUS_FAILED)?;
        row.status = db::STATUS_FAILED;
    }
    ok(json!({ "status": row.status, "weight": row.weight }))
}

async fn revoke(State(state): State<Shared>, Caller(me): Caller, body: JsonBody) -> ApiResult {
    let id = body.u64("id")?;
    let row = state
        .db
        .message(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no message {id}")))?;
    if row.sender_id != me.id {
        return Err(ApiError::RevokeRefused(format!(
            "message {id} is not yours to revoke"
        )));
    }
    if !(1..=3).contains(&row.msg_type) {
        return Err(ApiError::RevokeRefused(format!(
            "message {id} cannot be revoked"
        )));
    }
    if row.status == db::STATUS_REVOKED {
        return ok(json!({}));
    }
    let age = state.clock.now_ms().saturating_sub(row.create_time);
    if age > REVOKE_WINDOW_MS {
        return Err(ApiError::RevokeRefused(format!(
            "message {id} is older than 2 minutes"
        )));
    }
    state.db.set_status(id, db::STATUS_REVOKED)?;
    let route = route_of(&row)?;
    let payload = json!({ "msg_id": id, "msg_type": 5, "conversation_id": row.conversation_id });
    publish(&state, &route.topics(me.id), &payload);
    ok(json!({}))
}

async fn read(State(state): State<Shared>, Caller(me): Caller, body: JsonBody) -> ApiResult {
    let conv = Conv::parse(body.str("conversation_id")?)?;
    check_member(&state, me.id, conv)?;
    // The receipt covers every message stored so far. A message's weight is its sender's
    // calibrated clock, which may run a little ahead of this one: a receipt weighed by
    // this clock alone could leave the newest message unread on its sender's side.
    let up_to = state
        .db
        .newest_weight(&conv.id())?
        .map_or(state.clock.now_ms(), |w| w.max(state.clock.now_ms()));
    match conv {
        Conv::Room(r) => {
            state.db.zero_room_unread(r, me.id)?;
            // A room has no single peer: its receipt names the reader, and every member's
            // client counts who has read each of its own messages.
            let payload = json!({
                "sender_id": me.id, "msg_type": 6, "is_read": 1,
                "conversation_id": conv.id(), "weight": up_to,
            });
            publish(&state, &[format!("room_{r}")], &payload);
        }
        Conv::Direct { low, high } => {
            let peer = if low == me.id { high } else { low };
            if state.db.mark_read(&conv.id(), me.id, peer)? {
                let payload = json!({
                    "sender_id": peer, "msg_type": 6, "is_read": 1,
                    "conversation_id": conv.id(), "weight": up_to,
                });
                publish(
                    &state,
                    &[format!("chat_{peer}"), format!("chat_{}", me.id)],
                    &payload,
                );
            }
        }
    }
    ok(json!({}))
}

fn preview(row: &MessageRow) -> String {
    if row.status == db::STATUS_REVOKED {
        return String::new();
    }
    let content: Value = serde_json::from_str(&row.msg_content).unwrap_or(Value::Null);
    match row.msg_type {
        1 | 7 => content
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        2 => "[image]".into(),
        3 => "[video]".into(),
        _ => String::new(),
    }
}

async fn conversations(State(state): State<Shared>, Caller(me): Caller) -> ApiResult {
    let rows = state.db.conversations(me.id)?;
    let list: Vec<Value> = rows
        .iter()
        .map(|c| {
            let unread = if c.user_id_1 == me.id {
                c.user_id_1_unread
            } else {
                c.user_id_2_unread
            };
            let mut v = json!({
                "conversation_id": c.conversation_id,
                "user_id_1": c.user_id_1,
                "user_id_2": c.user_id_2,
                "last_msg_id": c.last.as_ref().map(|m| m.id),
                "last_msg_type": c.last.as_ref().map(|m| m.msg_type),
                "last_msg_content": c.last.as_ref().map(preview),
                "last_msg_time": c.last.as_ref().map(|m| m.weight),
                "last_msg_sender": c.last.as_ref().map(|m| m.sender_id),
                "last_msg_status": c.last.as_ref().map(|m| m.status),
                "user_id_1_unread": c.user_id_1_unread,
                "user_id_2_unread": c.user_id_2_unread,
                "unread": unread,
            });
            if let (Some((room, name)), Value::Object(m)) = (&c.room, &mut v) {
                m.insert("room_id".into(), (*room).into());
                m.insert("name".into(), name.clone().into());
            }
            v
        })
        .collect();
    ok(list)
}

async fn history(
    State(state): State<Shared>,
    Caller(me): Caller,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad(format!("bad query: {e}")))?;
    let conv = q
        .get("conversation_id")
        .ok_or_else(|| ApiError::bad("missing query parameter `conversation_id`"))?;
    let conv = Conv::parse(conv)?;
    let number = |name: &str| -> Result<Option<u64>, ApiError> {
        q.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| as_u64(name, &Value::String(v.clone())))
            .transpose()
    };
    let before = number("before_weight")?;
    let limit = match number("limit")? {
        None => DEFAULT_PAGE,
        Some(l) if (1..=u64::from(MAX_PAGE)).contains(&l) => u32::try_from(l).unwrap_or(MAX_PAGE),
        Some(l) => {
            return Err(ApiError::bad(format!(
                "limit {l} out of range 1..={MAX_PAGE}"
            )))
        }
    };
    check_member(&state, me.id, conv)?;
    let rows = state.db.history(&conv.id(), before, limit)?;
    let page = rows
        .iter()
        .map(|r| message_out(&state, r))
        .collect::<Result<Vec<_>, _>>()?;
    ok(page)
}

// ---------------------------------------------------------------------------------------
// Rooms
// ---------------------------------------------------------------------------------------

fn room_view(room: &db::Room, me: u64) -> Value {
    json!({
        "room_id": room.id,
        "name": room.name,
        "conversation_id": format!("room_{}", room.id),
        "members": room.members,
        "joined": room.members.contains(&me),
    })
}

async fn rooms(State(state): State<Shared>, Caller(me): Caller) -> ApiResult {
    let list: Vec<Value> = state
        .db
        .rooms()?
        .iter()
        .map(|r| room_view(r, me.id))
        .collect();
    ok(list)
}

fn notice(state: &AppState, room: u64, me: &User, text: String) -> NewMessage {
    let now = state.clock.now_ms();
    NewMessage {
        conversation_id: format!("room_{room}"),
        sender_id: me.id,
        receiver_id: room,
        msg_type: 7,
        msg_content: json!({ "content": text }).to_string(),
        weight: now,
        now,
        unread: Unread::None,
    }
}

/// After a join or leave: the ACL, then the notice and the member list to the room and
/// to the user's own topic (their other devices, and the joiner before it subscribes).
async fn after_membership(
    state: &AppState,
    me: &User,
    room: u64,
    notice: &MessageRow,
) -> ApiResult {
    let rooms = state.db.rooms_of(me.id)?.into_iter().collect();
    state.security.set_rooms(me.id, rooms).await?;
    let topics = [format!("room_{room}"), format!("chat_{}", me.id)];
    publish(state, &topics, &message_out(state, notice)?);
    let view = state
        .db
        .room(room)?
        .ok_or_else(|| ApiError::NotFound(format!("no room {room}")))?;
    publish(
        state,
        &topics,
        &json!({ "msg_type": 8, "conversation_id": format!("room_{room}"), "members": view.members }),
    );
    ok(room_view(&view, me.id))
}

fn room_arg(state: &AppState, body: &JsonBody) -> Result<u64, ApiError> {
    let room = body.u64("room_id")?;
    state
        .db
        .room(room)?
        .ok_or_else(|| ApiError::NotFound(format!("no room {room}")))?;
    Ok(room)
}

async fn join(State(state): State<Shared>, Caller(me): Caller, body: JsonBody) -> ApiResult {
    change_membership(&state, &me, &body, Membership::Join).await
}

async fn leave(State(state): State<Shared>, Caller(me): Caller, body: JsonBody) -> ApiResult {
    change_membership(&state, &me, &body, Membership::Leave).await
}

/// A join or a leave: the change with its notice, then (if it changed anything) the
/// broadcasts of [`after_membership`]; otherwise just the room as it is.
async fn change_membership(
    state: &AppState,
    me: &User,
    body: &JsonBody,
    change: Membership,
) -> ApiResult {
    let room = room_arg(state, body)?;
    let text = match change {
        Membership::Join => format!("{} joined", me.nick_name),
        Membership::Leave => format!("{} left", me.nick_name),
    };
    match state
        .db
        .change_membership(room, me.id, change, notice(state, room, me, text))?
    {
        Some(row) => after_membership(state, me, room, &row).await,
        None => {
            let view = state
                .db
                .room(room)?
                .ok_or_else(|| ApiError::NotFound(format!("no room {room}")))?;
            ok(room_view(&view, me.id))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Avatars and test hooks
// ---------------------------------------------------------------------------------------

/// `/avatars/{id}.svg`: a coloured disc with the user's initial.
async fn avatar(State(state): State<Shared>, Path(file): Path<String>) -> ApiResult {
    let id = file
        .strip_suffix(".svg")
        .and_then(digits)
        .ok_or_else(|| ApiError::NotFound("no such avatar".into()))?;
    let user = state
        .db
        .user(id)?
        .ok_or_else(|| ApiError::NotFound("no such avatar".into()))?;
    const COLOURS: [&str; 5] = ["#e57373", "#64b5f6", "#81c784", "#ffb74d", "#ba68c8"];
    let colour = COLOURS
        .get(usize::try_from(id % 5).unwrap_or(0))
        .copied()
        .unwrap_or("#999");
    let initial: String = user
        .nick_name
        .chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\" viewBox=\"0 0 64 64\">\
         <circle cx=\"32\" cy=\"32\" r=\"32\" fill=\"{colour}\"/>\
         <text x=\"32\" y=\"42\" font-size=\"30\" text-anchor=\"middle\" fill=\"#fff\" \
         font-family=\"sans-serif\">{initial}</text></svg>"
    );
    let mut response = svg.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    Ok(response)
}

async fn test_clock(State(state): State<Shared>, body: JsonBody) -> ApiResult {
    let advance = body.u64("advance_ms")?;
    if advance > 100 * 365 * 24 * 3600 * 1000 {
        return Err(ApiError::bad("advance_ms is over a century"));
    }
    ok(json!({ "time": state.clock.advance(advance) }))
}

async fn test_reset(State(state): State<Shared>) -> ApiResult {
    state.db.reset()?;
    state.clock.reset();
    state.security.load(state.db.security_entries()?).await?;
    ok(json!({}))
}
