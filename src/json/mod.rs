//! JSON without serde: a parser to a flat tape, typed readers that accept and refuse what
//! serde_json (1.0, default features) with serde's derives accepted and refused, and a
//! writer whose output is byte for byte serde_json's.
//!
//! Why: serde's derives and serde_json compiled to some 40 % of the wasm module (every
//! record type got its own deserializer state machine, and serde's error messages pulled
//! in float formatting). Here every document is parsed once by one non-generic parser,
//! and each record is read from the tape by a few plain function calls.
//!
//! What is kept from serde_json, so stored records, payloads and backend answers read and
//! write exactly as before:
//!
//! * Syntax: RFC 8259, no trailing commas, no comments; a value may be followed only by
//!   whitespace. Parsing is iterative (no recursion, any depth); a typed read refuses
//!   nesting of 128 levels where serde_json's recursion limit did.
//! * Strings are checked lazily, as serde_json did: a string that is read as a string
//!   must be UTF-8 with paired surrogate escapes; a string that is skipped (an unknown
//!   field, a raw value) only needs valid escapes and no control characters.
//! * Numbers: an integer is a `u64`, a negative `i64` or else a float; a float is
//!   `significand × 10^exponent` computed as serde_json computes it (without its
//!   `float_roundtrip` feature), and out of range when that is infinite — again only when
//!   the number is read.
//! * Structs read from an object (fields in any order, unknown ones skipped, a repeated
//!   one refused, a missing `Option` is `None`) or from an array (fields in order).
//!   Externally tagged enums read from `"variant"` or `{"variant": value}`.
//! * Output: no whitespace; strings escaped as serde_json escapes them; floats in the
//!   shortest form that reads back, laid out as serde_json writes them.
//!
//! Floats are written only when a value is re-written canonically
//! (`Doc::write_canonical`): the custom `msg_content` of a `POST /messages` body
//! (`chat::api::send`, through `chat::payload::write_msg_content`), which may hold any JSON
//! a page put there, floats included. That is why the shortest-float writer (`float`) is
//! kept: without it a custom message with `1.5` in it could not be sent as serde_json sent
//! it.
//!
//! Error messages follow serde_json's wording (`invalid type: …, expected …`, `missing
//! field`, `duplicate field`, `trailing comma`, … `at line L column C`) but are meant for
//! logs, not for matching.

mod float;
mod number;
mod parse;
mod read;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
pub(crate) mod write;

use std::fmt;

/// Why a document could not be read. Its text is for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Nesting at which serde_json stopped with "recursion limit exceeded".
const DEPTH_LIMIT: u32 = 128;

pub(crate) use number::Number;
pub(crate) use parse::{parse, Doc, Id, Kind};
pub(crate) use read::{from_str, Fields, FromJson};
pub(crate) use write::{to_string, ToJson, Writer};
