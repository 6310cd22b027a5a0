//! Running the backend's requests ([`crate::chat::api`]) with `fetch` — the global one, or
//! a `FetchLike` from the options (the mini-program passes one built on `wx.request`).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::chat::api::{ApiError, Request};
use crate::web::error::describe;
use crate::web::js::object;

/// Where requests go and as whom.
#[derive(Debug, Clone)]
pub(super) struct Backend {
    /// Without the trailing slash.
    pub(super) base_url: String,
    pub(super) token: Option<Token>,
    pub(super) fetch: Option<Function>,
}

#[derive(Debug, Clone)]
pub(super) enum Token {
    Fixed(String),
    /// Called before every request; may return a promise.
    Callback(Function),
}

/// Awaits `value` if it is a promise (or any thenable), else returns it.
pub(super) async fn settle(value: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&value)).await
}

async fn token(token: &Token) -> Result<String, ApiError> {
    match token {
        Token::Fixed(t) => Ok(t.clone()),
        Token::Callback(f) => {
            let v = f
                .call0(&JsValue::UNDEFINED)
                .map_err(|e| ApiError::Network(format!("token() threw: {}", describe(&e))))?;
            settle(v)
                .await
                .map_err(|e| ApiError::Network(format!("token() rejected: {}", describe(&e))))?
                .as_string()
                .ok_or_else(|| ApiError::Network("token() must give a string".into()))
        }
    }
}

/// Runs one request; the answer's status and body (not yet judged).
pub(super) async fn run(backend: &Backend, request: &Request) -> Result<(u16, Vec<u8>), ApiError> {
    let headers = js_sys::Object::new();
    let set = |k: &str, v: &str| {
        let _ = Reflect::set(&headers, &k.into(), &v.into());
    };
    set("Accept", "application/json");
    if request.body.is_some() {
        set("Content-Type", "application/json");
    }
    if let Some(t) = &backend.token {
        set("Authorization", &format!("Bearer {}", token(t).await?));
    }
    let init = object(&[
        ("method", request.method.as_str().into()),
        ("headers", headers.into()),
        (
            "body",
            request
                .body
                .as_deref()
                .map_or(JsValue::UNDEFINED, JsValue::from),
        ),
    ]);
    let url = format!("{}{}", backend.base_url, request.path);
    let fetch = match &backend.fetch {
        Some(f) => f.clone(),
        None => Reflect::get(&js_sys::global(), &"fetch".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| ApiError::Network("no fetch() here: pass backend.fetch".into()))?,
    };
    let network = |e: JsValue| ApiError::Network(describe(&e));
    let response = fetch
        .call2(&js_sys::global(), &url.into(), &init)
        .map_err(network)?;
    let response = settle(response).await.map_err(network)?;
    let status = Reflect::get(&response, &"status".into())
        .ok()
        .and_then(|s| s.as_f64())
        .ok_or_else(|| ApiError::Network("the response has no status".into()))?;
    let text = Reflect::get(&response, &"text".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| ApiError::Network("the response has no text()".into()))?;
    let body = settle(text.call0(&response).map_err(network)?)
        .await
        .map_err(network)?
        .as_string()
        .unwrap_or_default();
    // HTTP statuses are 100..=599: the conversion is exact.
    Ok((status as u16, body.into_bytes()))
}
