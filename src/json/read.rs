//! Typed reading from the tape: what serde's derives accepted and refused, with their
//! error messages, for the records, payloads and backend answers read by hand.

use std::borrow::Cow;
use std::fmt;

use super::number::{number_value, Number};
use super::parse::{parse, position, Doc, Id, Kind, Node};
use super::{Error, DEPTH_LIMIT};
use crate::collections::{try_collect, Gather};

/// The most fields a struct read with [`Doc::fields`] may have (the chat payload has 14).
const MAX_FIELDS: usize = 16;

/// The fields of a struct, found by name in an object or by position in an array.
pub(crate) struct Fields {
    /// The first `names.len()` are the fields'; a fixed array, not a `Vec`, because every
    /// object read (a backlog's every payload) made one allocation for it.
    slots: [Option<Id>; MAX_FIELDS],
    /// Read from an array: a missing field without a default is an error there, not
    /// `None`.
    seq: bool,
    end: usize,
}

impl<'a> Doc<'a> {
    #[inline(always)]
    fn node(&self, n: Id) -> Node {
        self.nodes.get(n).copied().unwrap_or(Node {
            kind: Kind::Null,
            escaped: false,
            start: 0,
            end: 0,
            next: n + 1,
        })
    }

    /// The top-level value.
    pub(crate) fn root(&self) -> Id {
        0
    }

    #[inline(always)]
    pub(crate) fn kind(&self, n: Id) -> Kind {
        self.node(n).kind
    }

    /// An error about value `n`, placed after it as serde_json places its.
    pub(crate) fn error(&self, n: Id, message: impl fmt::Display) -> Error {
        Error(format!("{message}{}", position(self.src, self.node(n).end)))
    }

    /// The children of an array (or the keys and values of an object, alternating).
    pub(crate) fn children(&self, n: Id) -> Children<'_, 'a> {
        let node = self.node(n);
        let first = match node.kind {
            Kind::Arr | Kind::Obj => n + 1,
            _ => node.next,
        };
        Children {
            doc: self,
            at: first,
            end: node.next,
        }
    }

    /// The `(key, value)` pairs of an object, in order (repeated keys included).
    pub(crate) fn entries(&self, n: Id) -> impl Iterator<Item = (Id, Id)> + '_ {
        let mut children = self.children(n);
        std::iter::from_fn(move || Some((children.next()?, children.next()?)))
    }

    /// The text of value `n` as it stands in the document (serde_json's `RawValue`:
    /// UTF-8 is required here, nothing else is checked beyond syntax).
    pub(crate) fn raw(&self, n: Id) -> Result<&'a str, Error> {
        let node = self.node(n);
        let bytes = self.src.get(node.start..node.end).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| self.error(n, "invalid unicode code point"))
    }

    /// What serde says it found, in an "invalid type" message.
    fn unexpected(&self, n: Id) -> Result<String, Error> {
        let node = self.node(n);
        let text = String::from_utf8_lossy(self.src.get(node.start..node.end).unwrap_or_default());
        Ok(match node.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => format!("boolean `{b}`"),
            Kind::Num => match self.number(n)? {
                Number::F(_) => format!("floating point `{text}`"),
                _ => format!("integer `{text}`"),
            },
            Kind::Str => format!("string {text}"),
            Kind::Arr => "sequence".into(),
            Kind::Obj => "map".into(),
        })
    }

    /// "invalid type: …, expected `expected`".
    pub(crate) fn invalid_type(&self, n: Id, expected: &str) -> Error {
        match self.unexpected(n) {
            Ok(found) => self.error(
                n,
                format_args!("invalid type: {found}, expected {expected}"),
            ),
            Err(e) => e,
        }
    }

    /// A number (with serde_json's "number out of range").
    pub(crate) fn number(&self, n: Id) -> Result<Number, Error> {
        let node = self.node(n);
        if node.kind != Kind::Num {
            return Err(self.invalid_type(n, "a number"));
        }
        let text = self.src.get(node.start..node.end).unwrap_or_default();
        number_value(text).map_err(|code| self.error(n, code))
    }

    /// A string value, decoded and checked (UTF-8, paired surrogates).
    pub(crate) fn string(&self, n: Id) -> Result<String, Error> {
        self.text(n).map(Cow::into_owned)
    }

    /// String node `n` as text: borrowed from the source when it has no escape (no copy),
    /// else decoded.
    pub(crate) fn text(&self, n: Id) -> Result<Cow<'a, str>, Error> {
        if self.kind(n) != Kind::Str {
            return Err(self.invalid_type(n, "a string"));
        }
        self.decode_str(n)
    }

    /// The bytes of string node `n` between its quotes: its content when `escaped` is
    /// false.
    fn str_body(&self, n: Id) -> (&'a [u8], bool) {
        let node = self.node(n);
        let body = self
            .src
            .get(node.start + 1..node.end.saturating_sub(1))
            .unwrap_or_default();
        (body, node.escaped)
    }

    /// The text of key `k`, to compare with a name: as it stands when it has no escape
    /// (no allocation per key of every object read), else decoded.
    fn key_text(&self, k: Id) -> Result<Cow<'a, [u8]>, Error> {
        match self.str_body(k) {
            (raw, false) => Ok(Cow::Borrowed(raw)),
            _ => self
                .decode_str(k)
                .map(|key| Cow::Owned(key.into_owned().into_bytes())),
        }
    }

    /// The content of string node `n`: borrowed from the source when it has no escape.
    pub(super) fn decode_str(&self, n: Id) -> Result<Cow<'a, str>, Error> {
        let (body, escaped) = self.str_body(n);
        let bad = |code: &str| self.error(n, code);
        // Most strings have no escape: the UTF-8 check alone, not a byte loop.
        if !escaped {
            return std::str::from_utf8(body)
                .map(Cow::Borrowed)
                .map_err(|_| bad("invalid unicode code point"));
        }
        let mut out: Vec<u8> = Vec::with_capacity(body.len());
        let mut i = 0;
        while let Some(&b) = body.get(i) {
            i += 1;
            if b != b'\\' {
                out.push(b);
                continue;
            }
            let e = body.get(i).copied().unwrap_or(b'"');
            i += 1;
            let c = match e {
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let hex = |at: usize| -> Option<u32> {
                        let h = body.get(at..at + 4)?;
                        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
                    };
                    let n1 = hex(i).ok_or_else(|| bad("invalid escape"))?;
                    i += 4;
                    match n1 {
                        0xDC00..=0xDFFF => return Err(bad("lone leading surrogate in hex escape")),
                        0xD800..=0xDBFF => {
                            if body.get(i..i + 2) != Some(b"\\u") {
                                return Err(bad("unexpected end of hex escape"));
                            }
                            let n2 = hex(i + 2).ok_or_else(|| bad("invalid escape"))?;
                            if !(0xDC00..=0xDFFF).contains(&n2) {
                                return Err(bad("lone leading surrogate in hex escape"));
                            }
                            i += 6;
                            let c = (((n1 - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000;
                            char::from_u32(c).ok_or_else(|| bad("invalid escape"))?
                        }
                        _ => char::from_u32(n1).ok_or_else(|| bad("invalid escape"))?,
                    }
                }
                other => char::from(other),
            };
            let mut utf8 = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
        String::from_utf8(out)
            .map(Cow::Owned)
            .map_err(|_| bad("invalid unicode code point"))
    }

    pub(crate) fn bool(&self, n: Id) -> Result<bool, Error> {
        match self.kind(n) {
            Kind::Bool(b) => Ok(b),
            _ => Err(self.invalid_type(n, "a boolean")),
        }
    }

    /// An unsigned integer up to `max` (`expected` names the type: "u64", "u32"…).
    pub(crate) fn unsigned(&self, n: Id, max: u64, expected: &str) -> Result<u64, Error> {
        if self.kind(n) != Kind::Num {
            return Err(self.invalid_type(n, expected));
        }
        match self.number(n)? {
            Number::U(u) if u <= max => Ok(u),
            Number::F(_) => Err(self.invalid_type(n, expected)),
            _ => Err(self.invalid_value(n, expected)),
        }
    }

    pub(crate) fn u64(&self, n: Id) -> Result<u64, Error> {
        self.unsigned(n, u64::MAX, "u64")
    }

    pub(crate) fn i64(&self, n: Id) -> Result<i64, Error> {
        if self.kind(n) != Kind::Num {
            return Err(self.invalid_type(n, "i64"));
        }
        match self.number(n)? {
            Number::I(i) => Ok(i),
            Number::U(u) => i64::try_from(u).map_err(|_| self.invalid_value(n, "i64")),
            Number::F(_) => Err(self.invalid_type(n, "i64")),
        }
    }

    fn invalid_value(&self, n: Id, expected: &str) -> Error {
        match self.unexpected(n) {
            Ok(found) => self.error(
                n,
                format_args!("invalid value: {found}, expected {expected}"),
            ),
            Err(e) => e,
        }
    }

    /// `None` for `null` (serde's `Option`), else `read`.
    pub(crate) fn option<T>(
        &self,
        n: Id,
        read: impl FnOnce(Id) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.kind(n) {
            Kind::Null => Ok(None),
            _ => read(n).map(Some),
        }
    }

    /// The elements of an array (serde's `Vec`).
    pub(crate) fn array<T>(
        &self,
        n: Id,
        mut read: impl FnMut(Id) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        if self.kind(n) != Kind::Arr {
            return Err(self.invalid_type(n, "a sequence"));
        }
        try_collect(self.children(n).map(&mut read))
    }

    /// The elements of an array of exactly `len` (serde's tuples).
    pub(crate) fn tuple(&self, n: Id, len: usize) -> Result<Vec<Id>, Error> {
        if self.kind(n) != Kind::Arr {
            return Err(self.invalid_type(
                n,
                format_args!("a tuple of size {len}").to_string().as_str(),
            ));
        }
        let items: Vec<Id> = self.children(n).gather();
        match items.len() {
            l if l < len => Err(self.error(
                n,
                format_args!("invalid length {l}, expected a tuple of size {len}"),
            )),
            l if l > len => Err(self.error(n, "trailing characters")),
            _ => Ok(items),
        }
    }

    /// The fields `names` of a struct `what`, from an object or an array.
    pub(crate) fn fields(&self, n: Id, what: &str, names: &[&str]) -> Result<Fields, Error> {
        let mut slots = [None; MAX_FIELDS];
        if names.len() > MAX_FIELDS {
            return Err(self.error(
                n,
                format_args!("struct {what} has over {MAX_FIELDS} fields"),
            ));
        }
        match self.kind(n) {
            Kind::Obj => {
                // Where the next key is looked for first: right after the last one found.
                // What this crate wrote lists the fields in `names` order, so most keys
                // match at once instead of after a scan of the names (a cold start's
                // thousand conversation records spent a quarter of their decoding here).
                let mut next = 0;
                for (k, v) in self.entries(n) {
                    let key = self.key_text(k)?;
                    let is_key = |name: &&str| name.as_bytes() == &*key;
                    // Then on from there, then the names before it: a key that skips
                    // a few optional fields is found after as many comparisons.
                    let later = names.get(next..).unwrap_or_default();
                    let at = match later.iter().position(is_key) {
                        Some(i) => Some(next + i),
                        None => names
                            .get(..next)
                            .unwrap_or_default()
                            .iter()
                            .position(is_key),
                    };
                    if let Some(at) = at {
                        next = at + 1;
                        match slots.get_mut(at) {
                            Some(slot @ None) => *slot = Some(v),
                            _ => {
                                let key = names.get(at).copied().unwrap_or_default();
                                return Err(self.error(k, format_args!("duplicate field `{key}`")));
                            }
                        }
                    }
                }
            }
            Kind::Arr => {
                let mut items = self.children(n);
                for slot in slots.iter_mut().take(names.len()) {
                    *slot = items.next();
                }
                if items.next().is_some() {
                    return Err(self.error(n, "trailing characters"));
                }
            }
            _ => return Err(self.invalid_type(n, &format!("struct {what}"))),
        }
        Ok(Fields {
            slots,
            seq: self.kind(n) == Kind::Arr,
            end: n,
        })
    }

    /// An externally tagged enum: `"name"` (no value) or `{"name": value}`.
    pub(crate) fn variant(&self, n: Id, what: &str) -> Result<(String, Option<Id>), Error> {
        match self.kind(n) {
            Kind::Str => Ok((self.decode_str(n)?.into_owned(), None)),
            Kind::Obj => {
                let mut entries = self.entries(n);
                match (entries.next(), entries.next()) {
                    (Some((k, v)), None) => Ok((self.decode_str(k)?.into_owned(), Some(v))),
                    (None, _) => Err(self.error(n, "expected value")),
                    (Some(_), Some((k, _))) => Err(self.error(k, "expected value")),
                }
            }
            _ => Err(self.invalid_type(n, &format!("enum {what}"))),
        }
    }

    /// A unit variant's value: absent or `null`.
    pub(crate) fn unit_variant(&self, value: Option<Id>) -> Result<(), Error> {
        match value {
            None => Ok(()),
            Some(v) if self.kind(v) == Kind::Null => Ok(()),
            Some(v) => Err(self.invalid_type(v, "unit")),
        }
    }

    /// A newtype or struct variant's value (a bare `"name"` is an error).
    pub(crate) fn variant_value(&self, n: Id, value: Option<Id>) -> Result<Id, Error> {
        value.ok_or_else(|| {
            self.error(
                n,
                "invalid type: unit variant, expected a variant with data",
            )
        })
    }

    /// "unknown variant".
    pub(crate) fn unknown_variant(&self, n: Id, name: &str, expected: &str) -> Error {
        self.error(
            n,
            format_args!("unknown variant `{name}`, expected {expected}"),
        )
    }

    /// Checks that `n` is a value serde_json's `Value` reads (strings decoded, numbers in
    /// range), `depth` containers deep.
    pub(crate) fn check_value(&self, n: Id, depth: u32) -> Result<(), Error> {
        match self.kind(n) {
            Kind::Null | Kind::Bool(_) => Ok(()),
            Kind::Num => self.number(n).map(|_| ()),
            Kind::Str => self.text(n).map(|_| ()),
            Kind::Arr | Kind::Obj => {
                if depth + 1 >= DEPTH_LIMIT {
                    return Err(Error(format!(
                        "recursion limit exceeded{}",
                        position(self.src, self.node(n).start + 1)
                    )));
                }
                for c in self.children(n) {
                    self.check_value(c, depth + 1)?;
                }
                Ok(())
            }
        }
    }

    /// The value of `key` in object `n` as serde_json's `Value` map holds it: the last of
    /// repeated keys.
    pub(crate) fn get(&self, n: Id, key: &str) -> Result<Option<Id>, Error> {
        let mut found = None;
        for (k, v) in self.entries(n) {
            if *self.key_text(k)? == *key.as_bytes() {
                found = Some(v);
            }
        }
        Ok(found)
    }
}

/// Iterator over the children of a container.
pub(crate) struct Children<'d, 'a> {
    doc: &'d Doc<'a>,
    at: Id,
    end: Id,
}

impl Iterator for Children<'_, '_> {
    type Item = Id;

    fn next(&mut self) -> Option<Id> {
        if self.at >= self.end {
            return None;
        }
        let this = self.at;
        self.at = self.doc.node(this).next.max(this + 1);
        Some(this)
    }
}

impl Fields {
    /// A required field: missing is "missing field" (or, from an array, "invalid length").
    pub(crate) fn req(&self, doc: &Doc<'_>, at: usize, name: &str) -> Result<Id, Error> {
        match self.slots.get(at).copied().flatten() {
            Some(n) => Ok(n),
            None if self.seq => Err(doc.error(
                self.end,
                format_args!("invalid length {at}, expected more fields"),
            )),
            None => Err(doc.error(self.end, format_args!("missing field `{name}`"))),
        }
    }

    /// An `Option` field without a default: missing is `None` in an object, an error in
    /// an array.
    pub(crate) fn opt(&self, doc: &Doc<'_>, at: usize) -> Result<Option<Id>, Error> {
        match self.slots.get(at).copied().flatten() {
            Some(n) => Ok(Some(n)),
            None if self.seq => Err(doc.error(
                self.end,
                format_args!("invalid length {at}, expected more fields"),
            )),
            None => Ok(None),
        }
    }

    /// A field with a default (`#[serde(default)]`): missing is `None` anywhere.
    pub(crate) fn dflt(&self, at: usize) -> Option<Id> {
        self.slots.get(at).copied().flatten()
    }
}

/// Reads a whole document as `T`.
pub(crate) fn from_str<T: FromJson>(text: &str) -> Result<T, Error> {
    let doc = parse(text.as_bytes())?;
    T::read(&doc, doc.root())
}

/// A type read from JSON as its serde derive read it.
pub(crate) trait FromJson: Sized {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error>;
}

impl FromJson for u64 {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.u64(n)
    }
}

impl FromJson for String {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.string(n)
    }
}

impl FromJson for std::sync::Arc<str> {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.text(n).map(|t| Self::from(&*t))
    }
}

impl<T: FromJson> FromJson for std::sync::Arc<T> {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        T::read(doc, n).map(std::sync::Arc::new)
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.option(n, |n| T::read(doc, n))
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.array(n, |n| T::read(doc, n))
    }
}

impl<A: FromJson, B: FromJson> FromJson for (A, B) {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        match doc.tuple(n, 2)?.as_slice() {
            [a, b] => Ok((A::read(doc, *a)?, B::read(doc, *b)?)),
            _ => Err(doc.invalid_type(n, "a tuple of size 2")),
        }
    }
}
