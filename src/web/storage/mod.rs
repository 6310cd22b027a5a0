//! The JS-backed storage backends (wasm32 only) and the one type the shell holds.
//!
//! They live in the shell because they call web-sys / js-sys; the pure layers under
//! [`crate::storage`] (the [`Storage`](crate::storage::Storage) interface, the memory
//! backend, the key-value layout over [`KvBackend`](crate::storage::KvBackend)) never name
//! them.
//!
//! * `indexed_db`: [`IndexedDbStorage`], [`Storage`](crate::storage::Storage) on IndexedDB,
//!   one database per user, with its schema versions and migrations.
//! * `kv`: [`JsKv`], a JS `KeyValueStore` object (the mini-program's `wx.setStorage`) as a
//!   [`KvBackend`](crate::storage::KvBackend) for [`KvStorage`](crate::storage::KvStorage).
//! * `any`: [`AnyStorage`], IndexedDB, the JS key-value store or memory behind one type,
//!   so the shell can fall back to memory at run time.
//!
//! `indexed_db` comes with the `indexeddb` feature (the web build), `kv` with the `kv`
//! feature (the mini-program build); [`AnyStorage`] has the variants of those compiled in.

mod any;
#[cfg(feature = "indexeddb")]
mod indexed_db;
#[cfg(feature = "kv")]
mod kv;

pub use any::AnyStorage;
#[cfg(feature = "indexeddb")]
pub use indexed_db::{database_name, IndexedDbStorage, SchemaVersion};
#[cfg(feature = "kv")]
pub use kv::JsKv;
