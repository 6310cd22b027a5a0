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

mod any;
mod indexed_db;
mod kv;

pub use any::AnyStorage;
pub use indexed_db::{database_name, IndexedDbStorage, SchemaVersion};
pub use kv::JsKv;
