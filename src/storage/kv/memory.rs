//! [`MemoryKv`]: a [`KvBackend`] in a `HashMap` that enforces the limits like `wx` does.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::{KvBackend, DEFAULT_MAX_TOTAL_BYTES, DEFAULT_MAX_VALUE_BYTES};
use crate::collections::Gather;
use crate::storage::StorageError;

/// Test support: a key-value store in memory that refuses, with
/// [`StorageError::QuotaExceeded`], a `set` that would put more than `max_value_bytes`
/// under one key or more than `max_total_bytes` in all (key + value, UTF-8 bytes), and
/// counts the calls.
#[derive(Debug)]
pub struct MemoryKv {
    map: RefCell<HashMap<String, String>>,
    max_value: usize,
    max_total: usize,
    sets: Cell<usize>,
    gets: Cell<usize>,
    largest: Cell<usize>,
}

impl Default for MemoryKv {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_VALUE_BYTES, DEFAULT_MAX_TOTAL_BYTES)
    }
}

impl MemoryKv {
    pub fn new(max_value_bytes: usize, max_total_bytes: usize) -> Self {
        MemoryKv {
            map: RefCell::default(),
            max_value: max_value_bytes,
            max_total: max_total_bytes,
            sets: Cell::new(0),
            gets: Cell::new(0),
            largest: Cell::new(0),
        }
    }

    /// Successful and refused `set` calls so far.
    pub fn sets(&self) -> usize {
        self.sets.get()
    }

    /// `get` calls so far.
    pub fn gets(&self) -> usize {
        self.gets.get()
    }

    /// The largest key + value ever stored, in bytes.
    pub fn largest(&self) -> usize {
        self.largest.get()
    }

    /// Bytes of every key and value now.
    pub fn total_bytes(&self) -> usize {
        self.map
            .borrow()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum()
    }

    /// The keys now, sorted.
    pub fn key_list(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.map.borrow().keys().cloned().gather();
        keys.sort();
        keys
    }

    /// Puts a value without counting or checking (data of another app).
    pub fn insert(&self, key: &str, value: &str) {
        self.map.borrow_mut().insert(key.into(), value.into());
    }
}

impl KvBackend for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.gets.set(self.gets.get() + 1);
        Ok(self.map.borrow().get(key).cloned())
    }

    async fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.sets.set(self.sets.get() + 1);
        let bytes = key.len() + value.len();
        if bytes > self.max_value {
            return Err(StorageError::QuotaExceeded(format!(
                "{key}: {bytes} bytes above {}",
                self.max_value
            )));
        }
        let old = self
            .map
            .borrow()
            .get(key)
            .map_or(0, |v| key.len() + v.len());
        let total = self.total_bytes() - old + bytes;
        if total > self.max_total {
            return Err(StorageError::QuotaExceeded(format!(
                "{total} bytes in all above {}",
                self.max_total
            )));
        }
        self.largest.set(self.largest.get().max(bytes));
        self.map.borrow_mut().insert(key.into(), value.into());
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StorageError> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.map.borrow().keys().cloned().gather())
    }

    fn max_value_bytes(&self) -> usize {
        self.max_value
    }

    fn max_total_bytes(&self) -> usize {
        self.max_total
    }
}
