//! Plain JS objects built from Rust: the values events, errors and results hand to JS.

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

/// `{ key: value, … }`.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (key, value) in fields {
        // Defining a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &(*key).into(), value);
    }
    o.into()
}
