//! Deterministic tests of the chat engine: virtual time, a scripted backend and broker,
//! in-memory storage. Every scenario runs in direct and in backend mode where both apply.

mod harness;
mod property;
mod rooms;
mod scenarios;
