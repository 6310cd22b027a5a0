//! The backend's HTTP contract of PROTOCOL.md, pure: the requests a client makes and how
//! their answers are read. The shell runs the requests (fetch, `wx.request`) and hands the
//! status and body back here.
//!
//! Every answer is `{"code": 0, "data": …}` or `{"code": n, "msg": "…"}`; a non-2xx HTTP
//! status, a non-zero code and a body that is not that envelope are three different errors.

use thiserror::Error;

use super::ids::{ConversationId, ServerId, UserId};
use super::model::{Content, Incoming, WireMessage};
use super::payload::{self, PayloadError, PayloadFormat};
use crate::collections::try_collect;
use crate::json::{self, Doc, Id, Kind, Number, Writer};

/// The backend's `code` for a revoke that is too late or not the caller's.
pub const CODE_REVOKE_REFUSED: i64 = 100;
/// The most messages one `GET /messages` may ask for (the reference backend's limit).
pub const HISTORY_LIMIT: u32 = 100;

/// GET or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One call to make: `path` is relative to the backend's base URL and includes the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// A JSON body (POST).
    pub body: Option<String>,
}

impl Request {
    fn get(path: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            path: path.into(),
            body: None,
        }
    }

    fn post(path: &str, body: String) -> Request {
        Request {
            method: Method::Post,
            path: path.to_string(),
            body: Some(body),
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// No answer (network down, CORS, the backend not running).
    #[error("request failed: {0}")]
    Network(String),
    /// An HTTP status outside 2xx; `message` is the envelope's `msg` when there is one.
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// The envelope said `code != 0`.
    #[error("backend refused ({code}): {message}")]
    Backend { code: i64, message: String },
    /// The body is not the envelope, or `data` lacks what this call returns.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// A message in the answer is not a valid message payload.
    #[error("bad message in answer: {0}")]
    Payload(#[from] PayloadError),
}

/// What `GET /mqtt/conn-config` gives: where and as whom to connect, fresh each call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnConfig {
    /// A JSON number or a decimal string.
    pub user_id: UserId,
    pub password: String,
    pub server: String,
    pub port: u16,
    pub client_id: String,
    /// Optional.
    pub sub_topics: Vec<String>,
    /// Optional: every broker of a cluster, as WebSocket URLs, tried in turn; when given it
    /// replaces `server` / `port`.
    pub urls: Vec<String>,
}

impl ConnConfig {
    /// The brokers to try in turn: `urls` when the backend names several, else [`Self::url`].
    pub fn urls(&self, secure: bool) -> Vec<String> {
        if self.urls.is_empty() {
            vec![self.url(secure)]
        } else {
            self.urls.clone()
        }
    }

    /// The broker URL: `{scheme}://{server}:{port}/mqtt` (a `server` that is already a URL is
    /// used as it is).
    pub fn url(&self, secure: bool) -> String {
        // Bytes, not `str::contains`: a `&str` pattern brings in the two-way string
        // searcher (some 3 KB of wasm) for this one call.
        if self.server.as_bytes().windows(3).any(|w| w == b"://") {
            return self.server.clone();
        }
        let scheme = if secure { "wss" } else { "ws" };
        format!("{scheme}://{}:{}/mqtt", self.server, self.port)
    }
}

pub fn conn_config() -> Request {
    Request::get("/mqtt/conn-config")
}

pub fn time() -> Request {
    Request::get("/time")
}

/// `POST /messages`: a new message of mine in `conversation`.
pub fn send(
    me: UserId,
    conversation: ConversationId,
    content: &Content,
    weight: u64,
) -> Result<Request, PayloadError> {
    let peer = match conversation {
        ConversationId::Room(_) => None,
        direct => Some(direct.peer_of(me).ok_or(PayloadError::SelfMessage(me))?),
    };
    // The members in key order, as serde_json's `Map` wrote them.
    let mut w = Writer::default();
    w.open('{');
    if let ConversationId::Room(_) = conversation {
        w.key("conversation_id");
        w.str(&conversation.to_string());
    }
    w.key("msg_content");
    payload::write_msg_content(&mut w, content, payload::ContentForm::Request)?;
    if let Content::Image { url, cover } | Content::Video { url, cover } = content {
        if let Some(cover) = cover {
            w.key("msg_cover");
            w.str(cover);
        }
        w.key("msg_type");
        w.i64(content.msg_type());
        w.key("msg_url");
        w.str(url);
    } else {
        w.key("msg_type");
        w.i64(content.msg_type());
    }
    if let Some(peer) = peer {
        w.key("receiver_id");
        w.u64(peer);
    }
    w.key("weight");
    w.u64(weight);
    w.close('}');
    Ok(Request::post("/messages", w.out))
}

/// `POST /messages/resend`.
pub fn resend(
    id: ServerId,
    receiver_id: u64,
    conversation: ConversationId,
    weight: u64,
) -> Request {
    let mut w = Writer::default();
    w.open('{');
    w.key("conversation_id");
    w.str(&conversation.to_string());
    w.key("id");
    w.u64(id);
    w.key("receiver_id");
    w.u64(receiver_id);
    w.key("weight");
    w.u64(weight);
    w.close('}');
    Request::post("/messages/resend", w.out)
}

/// `{"key":n}`.
fn one_number(key: &str, n: u64) -> String {
    let mut w = Writer::default();
    w.open('{');
    w.key(key);
    w.u64(n);
    w.close('}');
    w.out
}

/// `POST /messages/revoke`.
pub fn revoke(id: ServerId) -> Request {
    Request::post("/messages/revoke", one_number("id", id))
}

/// `POST /messages/read`.
pub fn read(conversation: ConversationId) -> Request {
    let mut w = Writer::default();
    w.open('{');
    w.key("conversation_id");
    w.str(&conversation.to_string());
    w.close('}');
    Request::post("/messages/read", w.out)
}

/// `GET /messages`: a page of history older than `before_weight`, newest first.
pub fn history(conversation: ConversationId, before_weight: Option<u64>, limit: usize) -> Request {
    let mut path = format!("/messages?conversation_id={conversation}&limit={limit}");
    if let Some(w) = before_weight {
        path.push_str(&format!("&before_weight={w}"));
    }
    Request::get(path)
}

/// `GET /conversations`: my conversations, with their last message and my unread count.
pub fn conversations() -> Request {
    Request::get("/conversations")
}

/// `POST /rooms/join` (the reference backend's room extension).
pub fn join_room(room: u64) -> Request {
    Request::post("/rooms/join", one_number("room_id", room))
}

/// `POST /rooms/leave`.
pub fn leave_room(room: u64) -> Request {
    Request::post("/rooms/leave", one_number("room_id", room))
}

/// `(code, msg, the text of data)` of an answer.
type Envelope<'a> = (Option<i64>, Option<String>, Option<&'a str>);

/// The envelope `{"code", "msg"?, "data"?}` (or those three as an array), as its serde
/// derive read it: `code` an `i64` or `null`, `msg` a string or `null`, `data` any JSON.
/// Returns `(code, msg, the text of data)`.
fn envelope(body: &[u8]) -> Result<Envelope<'_>, json::Error> {
    let doc = json::parse(body)?;
    let f = doc.fields(doc.root(), "Envelope", &["code", "msg", "data"])?;
    let code = match f.opt(&doc, 0)? {
        Some(n) => doc.option(n, |n| doc.i64(n))?,
        None => None,
    };
    let msg = match f.dflt(1) {
        Some(n) => doc.option(n, |n| doc.string(n))?,
        None => None,
    };
    let data = match f.dflt(2) {
        Some(n) => doc.option(n, |n| doc.raw(n))?,
        None => None,
    };
    Ok((code, msg, data))
}

/// The JSON text of `data` of a successful answer (`null` when absent).
fn data(status: u16, body: &[u8]) -> Result<&str, ApiError> {
    let (code, msg, data) = match envelope(body) {
        Ok(e) => e,
        Err(e) if (200..300).contains(&status) => {
            return Err(ApiError::Malformed(format!("not a JSON envelope: {e}")))
        }
        Err(_) => {
            return Err(ApiError::Status {
                status,
                message: String::from_utf8_lossy(body).chars().take(200).collect(),
            })
        }
    };
    let message = msg.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(ApiError::Status { status, message });
    }
    match code {
        Some(0) => Ok(data.unwrap_or("null")),
        Some(code) => Err(ApiError::Backend { code, message }),
        None => Err(ApiError::Malformed("the answer has no `code`".into())),
    }
}

fn malformed(what: &str, e: json::Error) -> ApiError {
    ApiError::Malformed(format!("{what}: {e}"))
}

/// Reads `data` as the struct `what` with `names`, handing the document and its fields
/// to `read`.
fn data_struct<T>(
    status: u16,
    body: &[u8],
    what: &'static str,
    names: &[&str],
    read: impl FnOnce(&Doc<'_>, &json::Fields) -> Result<T, json::Error>,
) -> Result<T, ApiError> {
    let text = data(status, body)?;
    let doc = json::parse(text.as_bytes()).map_err(|e| malformed(what, e))?;
    let fields = doc
        .fields(doc.root(), what, names)
        .map_err(|e| malformed(what, e))?;
    read(&doc, &fields).map_err(|e| malformed(what, e))
}

pub fn parse_conn_config(status: u16, body: &[u8]) -> Result<ConnConfig, ApiError> {
    let names = [
        "user_id",
        "password",
        "server",
        "port",
        "client_id",
        "sub_topics",
        "urls",
    ];
    data_struct(status, body, "conn-config", &names, |d, f| {
        Ok(ConnConfig {
            user_id: id(d, f.req(d, 0, "user_id")?)?,
            password: d.string(f.req(d, 1, "password")?)?,
            server: d.string(f.req(d, 2, "server")?)?,
            port: d.unsigned(f.req(d, 3, "port")?, u64::from(u16::MAX), "u16")? as u16,
            client_id: d.string(f.req(d, 4, "client_id")?)?,
            sub_topics: match f.dflt(5) {
                Some(n) => d.array(n, |n| d.string(n))?,
                None => Vec::new(),
            },
            urls: match f.dflt(6) {
                Some(n) => d.array(n, |n| d.string(n))?,
                None => Vec::new(),
            },
        })
    })
}

/// `GET /time`: the server's clock in Unix ms.
pub fn parse_time(status: u16, body: &[u8]) -> Result<u64, ApiError> {
    data_struct(status, body, "time", &["time"], |d, f| {
        id(d, f.req(d, 0, "time")?)
    })
}

/// Checks a call whose `data` does not matter (revoke, read, join, leave).
pub fn parse_ok(status: u16, body: &[u8]) -> Result<(), ApiError> {
    data(status, body).map(|_| ())
}

/// The answer of `POST /messages`: the stored message, or `Ok(None)` when the backend
/// stored it as failed (`status` 2).
pub fn parse_sent(status: u16, body: &[u8]) -> Result<Option<WireMessage>, ApiError> {
    let state = data_struct(status, body, "message", &["status"], |d, f| {
        match f.dflt(0) {
            Some(n) => d.option(n, |n| d.i64(n)),
            None => Ok(None),
        }
    })?;
    if state == Some(2) {
        return Ok(None);
    }
    message(data(status, body)?).map(Some)
}

/// The answer of `POST /messages/resend`: `(status, weight)`.
pub fn parse_resent(status: u16, body: &[u8]) -> Result<(i64, u64), ApiError> {
    data_struct(status, body, "resend", &["status", "weight"], |d, f| {
        Ok((
            d.i64(f.req(d, 0, "status")?)?,
            id(d, f.req(d, 1, "weight")?)?,
        ))
    })
}

/// `GET /messages`: the page, in the order given (newest first).
pub fn parse_history(status: u16, body: &[u8]) -> Result<Vec<WireMessage>, ApiError> {
    let raw = data(status, body)?;
    let doc = json::parse(raw.as_bytes()).map_err(|e| malformed("history page", e))?;
    let items = doc
        .array(doc.root(), |n| doc.raw(n))
        .map_err(|e| malformed("history page", e))?;
    try_collect(items.into_iter().map(message))
}

fn message(raw: &str) -> Result<WireMessage, ApiError> {
    match payload::decode(PayloadFormat::Json, raw.as_bytes())? {
        Incoming::Message(m) => Ok(m),
        _ => Err(ApiError::Malformed("expected a message".into())),
    }
}

/// A u64 written as a JSON number or a decimal string.
fn id(doc: &Doc<'_>, n: Id) -> Result<u64, json::Error> {
    const EXPECTED: &str = "an unsigned integer or a decimal string";
    match doc.kind(n) {
        Kind::Num => match doc.number(n)? {
            Number::U(u) => Ok(u),
            Number::I(_) => Err(doc.error(n, "negative id")),
            Number::F(_) => Err(doc.invalid_type(n, EXPECTED)),
        },
        Kind::Str => doc
            .string(n)?
            .parse()
            .map_err(|_| doc.error(n, "not a decimal id")),
        _ => Err(doc.invalid_type(n, EXPECTED)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(s: &str) -> ConversationId {
        s.parse().unwrap()
    }

    #[test]
    fn envelope_errors_are_told_apart() {
        assert_eq!(parse_ok(200, br#"{"code":0,"data":{}}"#), Ok(()));
        assert_eq!(parse_ok(200, br#"{"code":0}"#), Ok(()));
        assert_eq!(
            parse_ok(200, br#"{"code":100,"msg":"too late"}"#),
            Err(ApiError::Backend {
                code: 100,
                message: "too late".into()
            })
        );
        assert_eq!(
            parse_ok(400, br#"{"code":1,"msg":"bad json"}"#),
            Err(ApiError::Status {
                status: 400,
                message: "bad json".into()
            })
        );
        assert_eq!(
            parse_ok(502, b"<html>Bad Gateway</html>"),
            Err(ApiError::Status {
                status: 502,
                message: "<html>Bad Gateway</html>".into()
            })
        );
        assert!(matches!(parse_ok(200, b"ok"), Err(ApiError::Malformed(_))));
        assert!(matches!(parse_ok(200, b"{}"), Err(ApiError::Malformed(_))));
    }

    #[test]
    fn conn_config_and_time() {
        let body = br#"{"code":0,"data":{"user_id":"7","password":"p","server":"127.0.0.1",
            "port":8083,"client_id":"chat_7","sub_topics":["chat_7","room_1"]}}"#;
        let c = parse_conn_config(200, body).unwrap();
        assert_eq!(c.user_id, 7);
        assert_eq!(c.url(false), "ws://127.0.0.1:8083/mqtt");
        assert_eq!(c.url(true), "wss://127.0.0.1:8083/mqtt");
        assert_eq!(c.sub_topics, ["chat_7", "room_1"]);
        assert_eq!(c.urls(false), ["ws://127.0.0.1:8083/mqtt"]);
        let body = br#"{"code":0,"data":{"user_id":"7","password":"p","server":"127.0.0.1",
            "port":8083,"client_id":"chat_7","urls":["ws://a:1/ws","ws://b:2/ws"]}}"#;
        let c = parse_conn_config(200, body).unwrap();
        assert_eq!(c.urls(true), ["ws://a:1/ws", "ws://b:2/ws"]);
        assert!(matches!(
            parse_conn_config(200, br#"{"code":0,"data":{"user_id":7}}"#),
            Err(ApiError::Malformed(_))
        ));
        assert_eq!(
            parse_time(200, br#"{"code":0,"data":{"time":1717214400123}}"#),
            Ok(1717214400123)
        );
        assert!(parse_time(200, br#"{"code":0,"data":{"time":-1}}"#).is_err());
    }

    #[test]
    fn send_bodies_follow_the_protocol() {
        let r = send(1, conv("1_2"), &Content::Text { text: "hi".into() }, 5).unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/messages");
        let v: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(v["receiver_id"], 2);
        assert_eq!(v["msg_type"], 1);
        assert_eq!(v["msg_content"]["content"], "hi");
        assert_eq!(v["weight"], 5);
        let image = Content::Image {
            url: "u".into(),
            cover: Some("c".into()),
        };
        let r = send(1, conv("room_9"), &image, 5).unwrap();
        let v: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(v["conversation_id"], "room_9");
        assert_eq!(v["msg_type"], 2);
        assert_eq!(v["msg_url"], "u");
        assert_eq!(v["msg_content"]["cover"], "c");
        assert!(send(3, conv("1_2"), &image, 5).is_err());
        assert_eq!(
            history(conv("1_2"), Some(9), 30).path,
            "/messages?conversation_id=1_2&limit=30&before_weight=9"
        );
    }

    #[test]
    fn sent_messages_and_history_pages() {
        let m = r#"{"id":"9007199254740993","conversation_id":"1_2","sender_id":1,"receiver_id":2,
            "msg_type":1,"msg_content":{"content":"hi"},"weight":10,"status":1}"#;
        let body = format!(r#"{{"code":0,"data":{m}}}"#);
        let sent = parse_sent(200, body.as_bytes()).unwrap().unwrap();
        assert_eq!(sent.id, 9_007_199_254_740_993);
        let failed = br#"{"code":0,"data":{"id":1,"conversation_id":"1_2","sender_id":1,
            "receiver_id":2,"msg_type":1,"msg_content":{"content":"x"},"weight":1,"status":2}}"#;
        assert_eq!(parse_sent(200, failed), Ok(None));
        let page = format!(r#"{{"code":0,"data":[{m},{m}]}}"#);
        assert_eq!(parse_history(200, page.as_bytes()).unwrap().len(), 2);
        let bad = br#"{"code":0,"data":[{"id":1}]}"#;
        assert!(matches!(parse_history(200, bad), Err(ApiError::Payload(_))));
        assert_eq!(
            parse_resent(200, br#"{"code":0,"data":{"status":1,"weight":"12"}}"#),
            Ok((1, 12))
        );
    }
}

/// A row of `GET /conversations`, as far as the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub conversation_id: String,
    /// The last message's id, when an unsigned integer or a decimal string.
    pub last_msg_id: Option<u64>,
    /// The last message's weight.
    pub last_msg_time: Option<u64>,
    /// The caller's own unread count.
    pub unread: Option<u32>,
}

/// The rows of `GET /conversations`, read as the struct `{"data": [{"conversation_id",
/// "last_msg_id"?, "last_msg_time"?, "unread"?}]}` (all but `conversation_id` optional,
/// `null` allowed). `None` when the body is not that.
pub fn parse_conversations(body: &[u8]) -> Option<Vec<ConversationRow>> {
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
        Ok(ConversationRow {
            conversation_id,
            last_msg_id,
            last_msg_time,
            unread,
        })
    })
    .ok()
}
