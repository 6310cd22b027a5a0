//! `spawn_local` and `future_to_promise` over one boxed future type, and promises settled
//! from Rust.
//!
//! wasm-bindgen-futures instantiates its task and promise plumbing once per future type;
//! every `async` block is a type of its own. Boxing first (`Pin<Box<dyn Future>>`) leaves
//! one instantiation of each, whatever the number of call sites. Only the chat layer runs
//! futures: the MQTT-only module has none, so none of that plumbing.

#[cfg(feature = "chat")]
use std::future::Future;
#[cfg(feature = "chat")]
use std::pin::Pin;

use js_sys::{Function, Promise};
#[cfg(feature = "chat")]
use wasm_bindgen::JsValue;

#[cfg(feature = "chat")]
type Boxed<T> = Pin<Box<dyn Future<Output = T>>>;

/// The functions that settle a promise.
pub(crate) struct Settle {
    pub(crate) resolve: Function,
    pub(crate) reject: Function,
}

/// A promise and the functions that settle it. (The executor runs synchronously inside
/// `new Promise`, so the functions are always there.)
pub(crate) fn promise() -> Option<(Promise, Settle)> {
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| {
        settle = Some(Settle { resolve, reject });
    });
    settle.map(|settle| (promise, settle))
}

/// [`wasm_bindgen_futures::spawn_local`], boxed.
#[cfg(feature = "chat")]
pub(crate) fn spawn_local(future: impl Future<Output = ()> + 'static) {
    spawn_boxed(Box::pin(future));
}

#[cfg(feature = "chat")]
fn spawn_boxed(future: Boxed<()>) {
    wasm_bindgen_futures::spawn_local(future);
}

/// [`wasm_bindgen_futures::future_to_promise`], boxed.
#[cfg(feature = "chat")]
pub(crate) fn future_to_promise(
    future: impl Future<Output = Result<JsValue, JsValue>> + 'static,
) -> Promise {
    promise_boxed(Box::pin(future))
}

#[cfg(feature = "chat")]
fn promise_boxed(future: Boxed<Result<JsValue, JsValue>>) -> Promise {
    wasm_bindgen_futures::future_to_promise(future)
}
