//! [`JsKv`]: the JS `KeyValueStore` object (see `chat_client.d.ts`; the mini-program glue
//! builds one on `wx.getStorage` / `wx.setStorage`) as a [`KvBackend`].
//!
//! Each method may return a value or a promise of it; a throw or a rejection becomes
//! [`StorageError::QuotaExceeded`] when its message looks like one (`quota`, `exceed`,
//! `limit`: wx says "exceed storage max size"), [`StorageError::Operation`] otherwise.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::collections::Gather;
use crate::storage::kv::{DEFAULT_MAX_TOTAL_BYTES, DEFAULT_MAX_VALUE_BYTES};
use crate::storage::{KvBackend, StorageError};

/// A JS `KeyValueStore`: `get` / `set` / `remove` / `keys`, optional `maxValueBytes` /
/// `maxTotalBytes` (read once, defaults 1 MB / 10 MB).
#[derive(Debug)]
pub struct JsKv {
    object: JsValue,
    get: Function,
    set: Function,
    remove: Function,
    keys: Function,
    max_value: usize,
    max_total: usize,
}

impl JsKv {
    /// Wraps `object`; [`StorageError::Unavailable`] if one of the four methods is missing.
    pub fn new(object: JsValue) -> Result<Self, StorageError> {
        let method = |name: &str| {
            Reflect::get(&object, &name.into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .ok_or_else(|| {
                    StorageError::Unavailable(format!("the key-value store has no {name}()"))
                })
        };
        let limit = |name: &str, default: usize| {
            Reflect::get(&object, &name.into())
                .ok()
                .and_then(|v| v.as_f64())
                .filter(|n| *n >= 1.0)
                .map_or(default, |n| n as usize)
        };
        Ok(JsKv {
            get: method("get")?,
            set: method("set")?,
            remove: method("remove")?,
            keys: method("keys")?,
            max_value: limit("maxValueBytes", DEFAULT_MAX_VALUE_BYTES),
            max_total: limit("maxTotalBytes", DEFAULT_MAX_TOTAL_BYTES),
            object,
        })
    }

    /// Calls `f` on the object, awaiting the result if it is a promise.
    async fn call(&self, f: &Function, op: &str, args: &Array) -> Result<JsValue, StorageError> {
        let value = f.apply(&self.object, args).map_err(|e| js_error(op, &e))?;
        match value.dyn_into::<Promise>() {
            Ok(p) => JsFuture::from(p).await.map_err(|e| js_error(op, &e)),
            Err(v) => Ok(v),
        }
    }
}

fn js_error(op: &str, e: &JsValue) -> StorageError {
    let (name, message) = match e.dyn_ref::<js_sys::Error>() {
        Some(err) => (String::from(err.name()), String::from(err.message())),
        None => (
            "Error".to_string(),
            Reflect::get(e, &"errMsg".into())
                .ok()
                .and_then(|v| v.as_string())
                .or_else(|| e.as_string())
                .unwrap_or_else(|| "unknown error".into()),
        ),
    };
    let text = format!("{name} {message}").to_ascii_lowercase();
    let message = format!("{op}: {message}");
    // Bytes, not `str::contains`: a `&str` pattern brings in the two-way string searcher
    // (some 3 KB of wasm).
    let has = |w: &[u8]| text.as_bytes().windows(w.len()).any(|x| x == w);
    if has(b"quota") || has(b"exceed") || has(b"limit") {
        StorageError::QuotaExceeded(message)
    } else {
        StorageError::Operation { name, message }
    }
}

impl KvBackend for JsKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let v = self
            .call(&self.get, "get", &Array::of1(&key.into()))
            .await?;
        if v.is_null() || v.is_undefined() {
            return Ok(None);
        }
        v.as_string()
            .map(Some)
            .ok_or_else(|| StorageError::Corrupt(format!("{key}: not a string")))
    }

    async fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        let args = Array::of2(&key.into(), &value.into());
        self.call(&self.set, "set", &args).await.map(|_| ())
    }

    async fn remove(&self, key: &str) -> Result<(), StorageError> {
        let args = Array::of1(&key.into());
        self.call(&self.remove, "remove", &args).await.map(|_| ())
    }

    async fn keys(&self) -> Result<Vec<String>, StorageError> {
        let v = self.call(&self.keys, "keys", &Array::new()).await?;
        let keys = v
            .dyn_into::<Array>()
            .map_err(|_| StorageError::Corrupt("keys() did not return an array".into()))?;
        Ok(keys.iter().filter_map(|k| k.as_string()).gather())
    }

    fn max_value_bytes(&self) -> usize {
        self.max_value
    }

    fn max_total_bytes(&self) -> usize {
        self.max_total
    }
}
