//! Writing, byte for byte as serde_json wrote the same values, so that stored records and
//! request bodies do not change with the codec.

use super::float::write_f64;
use super::{Doc, Error, Id, Kind, Number};

/// Writes `v` as serde_json would.
pub(crate) fn to_string<T: ToJson + ?Sized>(v: &T) -> String {
    // Records and request bodies are mostly a few hundred bytes.
    let mut w = Writer::with_capacity(256);
    v.write(&mut w);
    w.out
}

/// A type written to JSON as its serde derive wrote it.
pub(crate) trait ToJson {
    fn write(&self, w: &mut Writer);
}

impl ToJson for u64 {
    fn write(&self, w: &mut Writer) {
        w.u64(*self);
    }
}

impl ToJson for String {
    fn write(&self, w: &mut Writer) {
        w.str(self);
    }
}

impl ToJson for str {
    fn write(&self, w: &mut Writer) {
        w.str(self);
    }
}

/// As the value it shares.
impl<T: ToJson + ?Sized> ToJson for std::sync::Arc<T> {
    fn write(&self, w: &mut Writer) {
        (**self).write(w)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write(&self, w: &mut Writer) {
        match self {
            Some(v) => v.write(w),
            None => w.null(),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write(&self, w: &mut Writer) {
        w.open('[');
        for v in self {
            w.item();
            v.write(w);
        }
        w.close(']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write(&self, w: &mut Writer) {
        self.as_slice().write(w);
    }
}

impl<A: ToJson, B: ToJson> ToJson for (A, B) {
    fn write(&self, w: &mut Writer) {
        w.open('[');
        w.item();
        self.0.write(w);
        w.item();
        self.1.write(w);
        w.close(']');
    }
}

/// Builds JSON text. Separators are implied: [`Writer::key`] and [`Writer::item`] put a
/// comma before every member or element but the first.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: String,
}

impl Writer {
    /// A writer whose text has room for `bytes` before it grows (see [`to_string`]).
    pub(crate) fn with_capacity(bytes: usize) -> Writer {
        Writer {
            out: String::with_capacity(bytes),
        }
    }

    pub(crate) fn open(&mut self, c: char) {
        self.out.push(c);
    }

    pub(crate) fn close(&mut self, c: char) {
        self.out.push(c);
    }

    fn comma(&mut self) {
        if !matches!(self.out.as_bytes().last(), None | Some(b'{' | b'[')) {
            self.out.push(',');
        }
    }

    /// `"name":` for a name written in the code (plain: no escaping). A key from data
    /// goes through [`Writer::data_key`].
    pub(crate) fn key(&mut self, name: &str) {
        self.comma();
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
    }

    /// `"key":` for a key read from data, escaped as [`Writer::str`] escapes.
    pub(crate) fn data_key(&mut self, key: &str) {
        self.comma();
        self.str(key);
        self.out.push(':');
    }

    /// Before an array element.
    pub(crate) fn item(&mut self) {
        self.comma();
    }

    pub(crate) fn null(&mut self) {
        self.out.push_str("null");
    }

    pub(crate) fn bool(&mut self, b: bool) {
        self.out.push_str(if b { "true" } else { "false" });
    }

    pub(crate) fn u64(&mut self, n: u64) {
        push_digits(&mut self.out, n);
    }

    pub(crate) fn i64(&mut self, n: i64) {
        if n < 0 {
            self.out.push('-');
        }
        push_digits(&mut self.out, n.unsigned_abs());
    }

    /// A JSON string whose text needs no escaping (ids: digits, `_`, ASCII letters),
    /// written in place by `text` rather than through a `String` of its own: records and
    /// payloads write one per message.
    pub(crate) fn quoted(&mut self, text: impl FnOnce(&mut String)) {
        self.out.push('"');
        text(&mut self.out);
        self.out.push('"');
    }

    /// Text written as is (already JSON).
    pub(crate) fn raw(&mut self, json: &str) {
        self.out.push_str(json);
    }

    /// A string, escaped as serde_json escapes: `"`, `\`, and control characters
    /// (`\b \t \n \f \r`, the others as `\u00XX`). Runs of bytes that need no escape are
    /// copied whole (every byte escaped is ASCII, so a run ends on a char boundary): records
    /// and events are mostly such runs, and pushing them char by char was a visible part
    /// of writing a 10,000-message backlog.
    pub(crate) fn str(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.out.push('"');
        let mut run = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                0x08 => "\\b",
                b'\t' => "\\t",
                b'\n' => "\\n",
                0x0c => "\\f",
                b'\r' => "\\r",
                0..=0x1f => "",
                _ => continue,
            };
            self.out.push_str(s.get(run..i).unwrap_or_default());
            run = i + 1;
            if escape.is_empty() {
                self.out.push_str("\\u00");
                for d in [b >> 4, b & 0xf] {
                    self.out
                        .push(char::from(HEX.get(usize::from(d)).copied().unwrap_or(b'0')));
                }
            } else {
                self.out.push_str(escape);
            }
        }
        self.out.push_str(s.get(run..).unwrap_or_default());
        self.out.push('"');
    }
}

impl Doc<'_> {
    /// Writes `n` as serde_json writes the `Value` it reads: keys sorted (the last of
    /// repeated ones), strings re-escaped, numbers in canonical form. `n` has passed
    /// [`Doc::check_value`].
    pub(crate) fn write_canonical(&self, n: Id, w: &mut Writer) -> Result<(), Error> {
        match self.kind(n) {
            Kind::Null => w.null(),
            Kind::Bool(b) => w.bool(b),
            Kind::Num => match self.number(n)? {
                Number::U(u) => w.u64(u),
                Number::I(i) => w.i64(i),
                Number::F(f) => write_f64(&mut w.out, f),
            },
            Kind::Str => w.str(&self.decode_str(n)?),
            Kind::Arr => {
                w.open('[');
                for c in self.children(n) {
                    w.item();
                    self.write_canonical(c, w)?;
                }
                w.close(']');
            }
            Kind::Obj => {
                // By key, a repeated key taking the later value (no sort: a sort
                // instantiated for this alone costs some 3 KB of wasm).
                let mut entries: crate::collections::VecMap<String, Id> =
                    crate::collections::VecMap::new();
                for (k, v) in self.entries(n) {
                    entries.insert(self.decode_str(k)?.into_owned(), v);
                }
                w.open('{');
                for (k, v) in entries {
                    w.data_key(&k);
                    self.write_canonical(v, w)?;
                }
                w.close('}');
            }
        }
        Ok(())
    }
}

/// The decimal digits of `n`, without the formatting machinery (a backlog writes several
/// numbers per message event).
///
/// Eight digits per 64-bit division, each digit by a 32-bit multiply and shift: at the
/// crate's opt-level "z" LLVM keeps `n / 10` as a division, and a 13-digit id cost 26
/// `i64.div_u`/`rem_u`, a twentieth of a cold start's wasm time in a profile.
pub(crate) fn push_digits(out: &mut String, n: u64) {
    push_padded(out, n, 1);
}

/// The decimal digits of `n`, with leading zeros up to `width` (at most 20, which every
/// `u64` fits), as [`push_digits`] writes them.
pub(crate) fn push_padded(out: &mut String, n: u64, width: usize) {
    const CHUNK: u64 = 100_000_000;
    let mut buf = [b'0'; 20];
    let mut start = buf.len();
    let mut rest = n;
    while rest >= CHUNK {
        start = digits_back(&mut buf, start, (rest % CHUNK) as u32, 8);
        rest /= CHUNK;
    }
    start = digits_back(&mut buf, start, rest as u32, 1);
    // The buffer is zeros below the digits.
    let start = start.min(buf.len().saturating_sub(width));
    let digits = buf.get(start..).unwrap_or_default();
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

/// Writes the digits of `c` into `buf` backwards from `end`, at least `min` of them (with
/// leading zeros), and returns where they start.
fn digits_back(buf: &mut [u8; 20], mut end: usize, mut c: u32, min: usize) -> usize {
    let stop = end.saturating_sub(min);
    while c > 0 || end > stop {
        let Some(at) = end.checked_sub(1) else {
            break;
        };
        // c / 10 for every u32 (0xCCCC_CCCD = ceil(2^35 / 10)).
        let q = ((u64::from(c) * 0xCCCC_CCCD) >> 35) as u32;
        if let Some(slot) = buf.get_mut(at) {
            *slot = b'0' + (c - q * 10) as u8;
        }
        c = q;
        end = at;
    }
    end
}
