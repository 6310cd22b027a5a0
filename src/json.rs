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
//! Error messages follow serde_json's wording (`invalid type: …, expected …`, `missing
//! field`, `duplicate field`, `trailing comma`, … `at line L column C`) but are meant for
//! logs, not for matching.

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

// ---------------------------------------------------------------------------------------
// The tape
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Num,
    Str,
    Arr,
    Obj,
}

/// One value: its kind, its text `start..end` in the document, and the index of the node
/// after its subtree. The children of an array or object are the nodes between; an
/// object's alternate key, value.
#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    start: usize,
    end: usize,
    next: usize,
}

/// A node of a [`Doc`].
pub(crate) type Id = usize;

/// A parsed document: the text and its tape. Node 0 is the top-level value.
pub(crate) struct Doc<'a> {
    src: &'a [u8],
    nodes: Vec<Node>,
}

/// Parses a whole document: one value, whitespace around it.
pub(crate) fn parse(src: &[u8]) -> Result<Doc<'_>, Error> {
    let mut p = Parser {
        src,
        i: 0,
        nodes: Vec::new(),
    };
    p.document()?;
    Ok(Doc {
        src,
        nodes: p.nodes,
    })
}

struct Parser<'a> {
    src: &'a [u8],
    i: usize,
    nodes: Vec<Node>,
}

impl Parser<'_> {
    fn err(&self, code: &str) -> Error {
        Error(format!("{code}{}", position(self.src, self.i)))
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    fn ws(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
        self.peek()
    }

    fn leaf(&mut self, kind: Kind, start: usize) {
        let next = self.nodes.len() + 1;
        self.nodes.push(Node {
            kind,
            start,
            end: self.i,
            next,
        });
    }

    fn document(&mut self) -> Result<(), Error> {
        // Open arrays and objects, innermost last.
        let mut open: Vec<Id> = Vec::new();
        'value: loop {
            let Some(b) = self.ws() else {
                return Err(self.err("EOF while parsing a value"));
            };
            let start = self.i;
            match b {
                b'[' | b'{' => {
                    self.i += 1;
                    let kind = if b == b'[' { Kind::Arr } else { Kind::Obj };
                    open.push(self.nodes.len());
                    self.leaf(kind, start);
                    match (kind, self.ws()) {
                        // Empty: closed below.
                        (Kind::Arr, Some(b']')) | (Kind::Obj, Some(b'}')) => {}
                        (Kind::Arr, None) => return Err(self.err("EOF while parsing a list")),
                        (Kind::Arr, Some(_)) => continue 'value,
                        (_, None) => return Err(self.err("EOF while parsing an object")),
                        (_, Some(b'"')) => {
                            self.key()?;
                            continue 'value;
                        }
                        (_, Some(_)) => return Err(self.err("key must be a string")),
                    }
                }
                b'"' => {
                    self.string()?;
                    self.leaf(Kind::Str, start);
                }
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                    self.leaf(Kind::Num, start);
                }
                b't' => {
                    self.ident(b"true")?;
                    self.leaf(Kind::Bool(true), start);
                }
                b'f' => {
                    self.ident(b"false")?;
                    self.leaf(Kind::Bool(false), start);
                }
                b'n' => {
                    self.ident(b"null")?;
                    self.leaf(Kind::Null, start);
                }
                _ => return Err(self.err("expected value")),
            }
            // After a value: a separator, or the end of containers.
            while let Some(&top) = open.last() {
                let is_arr = self.nodes.get(top).is_some_and(|n| n.kind == Kind::Arr);
                let close = if is_arr { b']' } else { b'}' };
                match self.ws() {
                    Some(c) if c == close => {
                        self.i += 1;
                        let (end, next) = (self.i, self.nodes.len());
                        if let Some(n) = self.nodes.get_mut(top) {
                            n.end = end;
                            n.next = next;
                        }
                        open.pop();
                    }
                    Some(b',') => {
                        self.i += 1;
                        match self.ws() {
                            Some(c) if c == close => return Err(self.err("trailing comma")),
                            _ if is_arr => continue 'value,
                            Some(b'"') => {
                                self.key()?;
                                continue 'value;
                            }
                            None => return Err(self.err("EOF while parsing a value")),
                            Some(_) => return Err(self.err("key must be a string")),
                        }
                    }
                    None if is_arr => return Err(self.err("EOF while parsing a list")),
                    None => return Err(self.err("EOF while parsing an object")),
                    Some(_) if is_arr => return Err(self.err("expected `,` or `]`")),
                    Some(_) => return Err(self.err("expected `,` or `}`")),
                }
            }
            break;
        }
        if self.ws().is_some() {
            return Err(self.err("trailing characters"));
        }
        Ok(())
    }

    /// An object key and its colon; the value follows.
    fn key(&mut self) -> Result<(), Error> {
        let start = self.i;
        self.string()?;
        self.leaf(Kind::Str, start);
        match self.ws() {
            Some(b':') => {
                self.i += 1;
                Ok(())
            }
            Some(_) => Err(self.err("expected `:`")),
            None => Err(self.err("EOF while parsing an object")),
        }
    }

    fn ident(&mut self, word: &[u8]) -> Result<(), Error> {
        for &expected in word {
            match self.peek() {
                None => return Err(self.err("EOF while parsing a value")),
                Some(b) if b != expected => {
                    self.i += 1;
                    return Err(self.err("expected ident"));
                }
                Some(_) => self.i += 1,
            }
        }
        Ok(())
    }

    /// A string's syntax only (as serde_json skips one): escapes are valid, no control
    /// characters. Its content is checked when it is read.
    fn string(&mut self) -> Result<(), Error> {
        self.i += 1;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("EOF while parsing a string"));
            };
            self.i += 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("EOF while parsing a string"));
                    };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            for _ in 0..4 {
                                match self.peek() {
                                    None => return Err(self.err("EOF while parsing a string")),
                                    Some(h) if h.is_ascii_hexdigit() => self.i += 1,
                                    Some(_) => {
                                        self.i += 1;
                                        return Err(self.err("invalid escape"));
                                    }
                                }
                            }
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                0..=0x1f => {
                    return Err(self
                        .err("control character (\\u0000-\\u001F) found while parsing a string"))
                }
                _ => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// A number's syntax only; its value is computed when it is read.
    fn number(&mut self) -> Result<(), Error> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.err("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            Some(_) => {
                self.i += 1;
                return Err(self.err("invalid number"));
            }
            None => return Err(self.err("EOF while parsing a value")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(match self.peek() {
                    Some(_) => self.err("invalid number"),
                    None => self.err("EOF while parsing a value"),
                });
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            match self.peek() {
                None => return Err(self.err("EOF while parsing a value")),
                Some(b'0'..=b'9') => {
                    self.digits();
                }
                Some(_) => {
                    self.i += 1;
                    return Err(self.err("invalid number"));
                }
            }
        }
        Ok(())
    }
}

/// `" at line L column C"` of byte offset `at`, as serde_json appends to its messages.
fn position(src: &[u8], at: usize) -> String {
    let before = src.get(..at).unwrap_or(src);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count();
    format!(" at line {line} column {column}")
}

// ---------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------

/// A JSON number as serde_json reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// A non-negative integer that fits a `u64`.
    U(u64),
    /// A negative integer that fits an `i64`.
    I(i64),
    /// Anything else (a fraction, an exponent, an integer out of range, `-0`).
    F(f64),
}

/// Computes a number the way serde_json 1.0 does without `float_roundtrip` (its
/// `parse_integer` … `f64_from_parts`). `text` is well-formed (the parser checked it).
fn number_value(text: &[u8]) -> Result<Number, &'static str> {
    const OUT_OF_RANGE: &str = "number out of range";
    let (positive, digits) = match text.split_first() {
        Some((b'-', rest)) => (false, rest),
        _ => (true, text),
    };
    let mut i = 0;
    let mut significand: u64 = 0;
    let mut exponent: i32 = 0;
    let mut float = false;
    // Integer part: once the significand would overflow, serde_json counts the further
    // digits as exponent (parse_long_integer).
    let mut long = false;
    while let Some(&c @ b'0'..=b'9') = digits.get(i) {
        let d = u64::from(c - b'0');
        if long || overflows(significand, d, u64::MAX) {
            long = true;
            float = true;
            exponent = exponent.saturating_add(1);
        } else {
            significand = significand * 10 + d;
        }
        i += 1;
    }
    // Fraction: digits go on into the significand until it would overflow; the rest are
    // dropped (parse_decimal_overflow).
    if digits.get(i) == Some(&b'.') {
        float = true;
        i += 1;
        let mut dropping = false;
        while let Some(&c @ b'0'..=b'9') = digits.get(i) {
            let d = u64::from(c - b'0');
            if dropping || overflows(significand, d, u64::MAX) {
                dropping = true;
            } else {
                significand = significand * 10 + d;
                exponent = exponent.saturating_sub(1);
            }
            i += 1;
        }
    }
    // Exponent.
    if let Some(b'e' | b'E') = digits.get(i) {
        float = true;
        i += 1;
        let positive_exp = match digits.get(i) {
            Some(b'-') => {
                i += 1;
                false
            }
            Some(b'+') => {
                i += 1;
                true
            }
            _ => true,
        };
        let mut exp: i32 = 0;
        while let Some(&c @ b'0'..=b'9') = digits.get(i) {
            let d = i32::from(c - b'0');
            if exp >= i32::MAX / 10 && (exp > i32::MAX / 10 || d > i32::MAX % 10) {
                // parse_exponent_overflow.
                if significand != 0 && positive_exp {
                    return Err(OUT_OF_RANGE);
                }
                return Ok(Number::F(if positive { 0.0 } else { -0.0 }));
            }
            exp = exp * 10 + d;
            i += 1;
        }
        exponent = if positive_exp {
            exponent.saturating_add(exp)
        } else {
            exponent.saturating_sub(exp)
        };
    }
    if !float {
        if positive {
            return Ok(Number::U(significand));
        }
        let neg = (significand as i64).wrapping_neg();
        return Ok(if neg >= 0 {
            Number::F(-(significand as f64))
        } else {
            Number::I(neg)
        });
    }
    // f64_from_parts.
    let mut f = significand as f64;
    loop {
        match pow10(exponent.unsigned_abs()) {
            Some(pow) => {
                if exponent >= 0 {
                    f *= pow;
                    if f.is_infinite() {
                        return Err(OUT_OF_RANGE);
                    }
                } else {
                    f /= pow;
                }
                break;
            }
            None => {
                if f == 0.0 {
                    break;
                }
                if exponent >= 0 {
                    return Err(OUT_OF_RANGE);
                }
                f /= 1e308;
                exponent += 308;
            }
        }
    }
    Ok(Number::F(if positive { f } else { -f }))
}

/// serde_json's `overflow!(a * 10 + b, max)`.
fn overflows(a: u64, b: u64, max: u64) -> bool {
    a >= max / 10 && (a > max / 10 || b > max % 10)
}

/// `10^n` as the nearest `f64` (the value of the literal `1e{n}`), for `n <= 308`.
///
/// serde_json keeps a table of the 309 literals; this computes the same values: exactly
/// up to 10^22, and above by rounding the exact power (a small big integer) to 53 bits,
/// half to even, as the compiler rounds a literal.
fn pow10(n: u32) -> Option<f64> {
    if n > 308 {
        return None;
    }
    if n <= 22 {
        let mut f = 1.0;
        for _ in 0..n {
            f *= 10.0;
        }
        return Some(f);
    }
    // 10^n = 5^n · 2^n: round 5^n to 53 bits, then scale by 2^n (exact).
    let mut big: Vec<u32> = vec![1];
    for _ in 0..n {
        mul_small(&mut big, 5);
    }
    let top = big.len() - 1;
    let hi = *big.get(top)?;
    let bits = 32 * top as u32 + (32 - hi.leading_zeros());
    // The top 64 bits, and whether anything below them is set.
    let shift = bits.saturating_sub(64);
    let bit = |k: u32| -> u64 {
        big.get((k / 32) as usize)
            .map_or(0, |l| u64::from(l >> (k % 32) & 1))
    };
    let mut head: u64 = 0;
    for k in (shift..bits).rev() {
        head = head << 1 | bit(k);
    }
    let sticky = (0..shift).any(|k| bit(k) == 1);
    // Round the top 64 bits to 53, half to even (`bits` > 64 here: 5^23 > 2^53).
    let head_bits = bits - shift;
    let drop = head_bits - 53;
    let mut mantissa = head >> drop;
    let rest = head & ((1u64 << drop) - 1);
    let half = 1u64 << (drop - 1);
    if rest > half || (rest == half && (sticky || mantissa & 1 == 1)) {
        mantissa += 1;
    }
    let mut f = mantissa as f64; // exact: at most 2^53
    let mut scale = n + shift + drop;
    while scale > 0 {
        let step = scale.min(60);
        f *= (1u64 << step) as f64;
        scale -= step;
    }
    Some(f)
}

/// `big *= k` (little-endian base 2^32).
fn mul_small(big: &mut Vec<u32>, k: u32) {
    let mut carry = 0u64;
    for limb in big.iter_mut() {
        let v = u64::from(*limb) * u64::from(k) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry != 0 {
        big.push(carry as u32);
    }
}

/// The decimal digits of `n·2^e` (`e >= 0`) or of `n·5^-e` (`e < 0`, that is
/// `n·2^e·10^-e`), most significant first.
fn decimal(n: u64, e: i32) -> Vec<u8> {
    let mut big = vec![n as u32, (n >> 32) as u32];
    for _ in 0..e.unsigned_abs() {
        mul_small(&mut big, if e > 0 { 2 } else { 5 });
    }
    // Nine digits at a time from the low end.
    let mut digits: Vec<u8> = Vec::new();
    while big.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for limb in big.iter_mut().rev() {
            let v = rem << 32 | u64::from(*limb);
            *limb = (v / 1_000_000_000) as u32;
            rem = v % 1_000_000_000;
        }
        for _ in 0..9 {
            digits.push((rem % 10) as u8);
            rem /= 10;
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    digits.reverse();
    digits
}

/// The value of decimal digits (at most 38 of them).
/// The decimal digits of `q`, by subtraction: u128's Display brings its own 128-bit
/// division (~1.3 KB of wasm) for this one use.
fn u128_decimal(mut q: u128) -> String {
    let mut s = String::new();
    for k in (0..39).rev() {
        let p = 10u128.pow(k);
        let mut d = b'0';
        while q >= p {
            q -= p;
            d += 1;
        }
        if d > b'0' || !s.is_empty() || k == 0 {
            s.push(char::from(d));
        }
    }
    s
}

fn digits_value(d: &[u8]) -> u128 {
    d.iter().fold(0, |v, &x| v * 10 + u128::from(x))
}

/// The shortest decimal that reads back as finite `f > 0`, the closest to `f` of those
/// (ties to even), as `(digits, power of ten of the first digit)`: what serde_json's
/// float writer (zmij) picks.
fn shortest(f: f64) -> (String, i32) {
    let bits = f.to_bits();
    let field = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (m, e) = if field == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, field - 1075)
    };
    // In units of 2^(e-2): f = 4m, and what reads back as f lies within half the gap to
    // each neighbour: 4m ± 2, or 4m - 1 below a power of two (the gap below is half).
    // The bounds read back as f (round half to even) when m is even.
    let below = if fraction == 0 && field > 1 { 1 } else { 2 };
    let inclusive = m % 2 == 0;
    let high = decimal(4 * m + 2, e - 2);
    let len = high.len();
    let pad = |d: Vec<u8>| -> Vec<u8> {
        let mut out = vec![0; len.saturating_sub(d.len())];
        out.extend(d);
        out
    };
    let low = pad(decimal(4 * m - below, e - 2));
    let value = pad(decimal(4 * m, e - 2));
    // Fewest digits first: multiples of 10^p within [low, high].
    for p in (0..len).rev() {
        let keep = len - p;
        if keep > 38 {
            break;
        }
        let split = |d: &[u8]| -> (u128, bool, std::cmp::Ordering) {
            let (head, tail) = d.split_at(keep.min(d.len()));
            let zero = tail.iter().all(|&x| x == 0);
            // The tail against half a unit of the head's last digit: 5000…
            let half = tail
                .iter()
                .enumerate()
                .map(|(i, &x)| x.cmp(if i == 0 { &5 } else { &0 }))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal);
            (digits_value(head), zero, half)
        };
        let (l, l_zero, _) = split(&low);
        let (h, h_zero, _) = split(&high);
        let lo = if inclusive && l_zero { l } else { l + 1 };
        let hi = if !inclusive && h_zero {
            h.saturating_sub(1)
        } else {
            h
        };
        if lo > hi {
            continue;
        }
        let (v, _, half) = split(&value);
        let up = half.is_gt() || (half.is_eq() && v % 2 == 1);
        let q = (v + u128::from(up)).clamp(lo, hi);
        let mut text = u128_decimal(q);
        // q·10^p in units of 10^min(e-2, 0).
        let exp = p as i32 + (e - 2).min(0) + text.len() as i32 - 1;
        while text.len() > 1 && text.ends_with('0') {
            text.pop();
        }
        return (text, exp);
    }
    ("0".into(), 0)
}

/// Appends `f` as serde_json writes a finite `f64`: the shortest digits that read back,
/// as `1.5`, `100.0`, `1e+16`, `1.5e-7`.
pub(crate) fn write_f64(out: &mut String, f: f64) {
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push_str("0.0");
        return;
    }
    let (digits, exp) = shortest(f.abs());
    let n = digits.len() as i32;
    if (-5..=15).contains(&exp) {
        if exp >= n - 1 {
            out.push_str(&digits);
            for _ in 0..exp - (n - 1) {
                out.push('0');
            }
            out.push_str(".0");
        } else if exp >= 0 {
            // `_checked`: `str::split_at` brings core's char-boundary panic (~1.6 KB of
            // wasm); the digits are ASCII, so this always splits.
            let (int, frac) = digits
                .split_at_checked((exp + 1) as usize)
                .unwrap_or((&digits, ""));
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    } else {
        let (first, rest) = digits.split_at_checked(1).unwrap_or((&digits, ""));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&exp.unsigned_abs().to_string());
    }
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// The fields of a struct, found by name in an object or by position in an array.
pub(crate) struct Fields {
    slots: Vec<Option<Id>>,
    /// Read from an array: a missing field without a default is an error there, not
    /// `None`.
    seq: bool,
    end: usize,
}

impl<'a> Doc<'a> {
    fn node(&self, n: Id) -> Node {
        self.nodes.get(n).copied().unwrap_or(Node {
            kind: Kind::Null,
            start: 0,
            end: 0,
            next: n + 1,
        })
    }

    /// The top-level value.
    pub(crate) fn root(&self) -> Id {
        0
    }

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
        if self.kind(n) != Kind::Str {
            return Err(self.invalid_type(n, "a string"));
        }
        self.decode_str(n)
    }

    /// The content of string node `n`.
    fn decode_str(&self, n: Id) -> Result<String, Error> {
        let node = self.node(n);
        let body = self
            .src
            .get(node.start + 1..node.end.saturating_sub(1))
            .unwrap_or_default();
        let mut out: Vec<u8> = Vec::with_capacity(body.len());
        let mut i = 0;
        let bad = |code: &str| self.error(n, code);
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
        String::from_utf8(out).map_err(|_| bad("invalid unicode code point"))
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
        self.children(n).map(&mut read).collect()
    }

    /// The elements of an array of exactly `len` (serde's tuples).
    pub(crate) fn tuple(&self, n: Id, len: usize) -> Result<Vec<Id>, Error> {
        if self.kind(n) != Kind::Arr {
            return Err(self.invalid_type(
                n,
                format_args!("a tuple of size {len}").to_string().as_str(),
            ));
        }
        let items: Vec<Id> = self.children(n).collect();
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
        let mut slots = vec![None; names.len()];
        match self.kind(n) {
            Kind::Obj => {
                for (k, v) in self.entries(n) {
                    let key = self.decode_str(k)?;
                    if let Some(at) = names.iter().position(|name| *name == key) {
                        match slots.get_mut(at) {
                            Some(slot @ None) => *slot = Some(v),
                            _ => return Err(self.error(k, format_args!("duplicate field `{key}`"))),
                        }
                    }
                }
            }
            Kind::Arr => {
                let mut items = self.children(n);
                for slot in slots.iter_mut() {
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
            Kind::Str => Ok((self.decode_str(n)?, None)),
            Kind::Obj => {
                let mut entries = self.entries(n);
                match (entries.next(), entries.next()) {
                    (Some((k, v)), None) => Ok((self.decode_str(k)?, Some(v))),
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
            Kind::Str => self.decode_str(n).map(|_| ()),
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
            if self.decode_str(k)? == key {
                found = Some(v);
            }
        }
        Ok(found)
    }

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
                    entries.insert(self.decode_str(k)?, v);
                }
                w.open('{');
                for (k, v) in entries {
                    w.key(&k);
                    self.write_canonical(v, w)?;
                }
                w.close('}');
            }
        }
        Ok(())
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

/// Writes `v` as serde_json would.
pub(crate) fn to_string<T: ToJson + ?Sized>(v: &T) -> String {
    let mut w = Writer::default();
    v.write(&mut w);
    w.out
}

/// A type read from JSON as its serde derive read it.
pub(crate) trait FromJson: Sized {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error>;
}

/// A type written to JSON as its serde derive wrote it.
pub(crate) trait ToJson {
    fn write(&self, w: &mut Writer);
}

impl FromJson for u64 {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.u64(n)
    }
}

impl ToJson for u64 {
    fn write(&self, w: &mut Writer) {
        w.u64(*self);
    }
}

impl FromJson for String {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.string(n)
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

impl<T: FromJson> FromJson for Option<T> {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.option(n, |n| T::read(doc, n))
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

impl<T: FromJson> FromJson for Vec<T> {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        doc.array(n, |n| T::read(doc, n))
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

impl<A: FromJson, B: FromJson> FromJson for (A, B) {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, Error> {
        match doc.tuple(n, 2)?.as_slice() {
            [a, b] => Ok((A::read(doc, *a)?, B::read(doc, *b)?)),
            _ => Err(doc.invalid_type(n, "a tuple of size 2")),
        }
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

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// Builds JSON text. Separators are implied: [`Writer::key`] and [`Writer::item`] put a
/// comma before every member or element but the first.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: String,
}

impl Writer {
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

    /// `"name":` (names are plain: no escaping).
    pub(crate) fn key(&mut self, name: &str) {
        self.comma();
        self.str(name);
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
        self.out.push_str(&n.to_string());
    }

    pub(crate) fn i64(&mut self, n: i64) {
        self.out.push_str(&n.to_string());
    }

    /// Text written as is (already JSON).
    pub(crate) fn raw(&mut self, json: &str) {
        self.out.push_str(json);
    }

    /// A string, escaped as serde_json escapes: `"`, `\`, and control characters
    /// (`\b \t \n \f \r`, the others as `\u00XX`).
    pub(crate) fn str(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\u{8}' => self.out.push_str("\\b"),
                '\t' => self.out.push_str("\\t"),
                '\n' => self.out.push_str("\\n"),
                '\u{c}' => self.out.push_str("\\f"),
                '\r' => self.out.push_str("\\r"),
                '\0'..='\u{1f}' => {
                    let b = c as usize;
                    self.out.push_str("\\u00");
                    for d in [b >> 4, b & 0xf] {
                        self.out
                            .push(char::from(HEX.get(d).copied().unwrap_or(b'0')));
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

// Native only: serde_json is the oracle these tests compare with.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IgnoredAny;
    use serde_json::value::RawValue;
    use serde_json::Value;

    #[test]
    fn u128_decimal_is_u128_display() {
        for q in [
            0,
            1,
            9,
            10,
            99,
            100,
            1_000_000_007,
            u128::from(u64::MAX),
            u128::MAX,
        ] {
            assert_eq!(u128_decimal(q), q.to_string());
        }
        for k in 0..39 {
            let p = 10u128.pow(k);
            for q in [p - 1, p, p + 1] {
                assert_eq!(u128_decimal(q), q.to_string());
            }
        }
    }

    /// Accepted as a document ⇔ serde_json skips it; read as a value ⇔ serde_json reads a
    /// `Value`, and then written as serde_json writes that `Value`.
    fn same_as_serde(text: &str) -> Result<(), TestCaseError> {
        let ours = parse(text.as_bytes());
        let theirs = serde_json::from_str::<IgnoredAny>(text);
        prop_assert_eq!(
            ours.is_ok(),
            theirs.is_ok(),
            "syntax of {:?}: {:?}",
            text,
            theirs
        );
        let raw = serde_json::from_str::<&RawValue>(text);
        let value = serde_json::from_str::<Value>(text);
        let Ok(doc) = ours else { return Ok(()) };
        prop_assert_eq!(doc.raw(doc.root()).ok(), raw.ok().map(RawValue::get));
        let checked = doc.check_value(doc.root(), 0);
        prop_assert_eq!(
            checked.is_ok(),
            value.is_ok(),
            "value {:?}: {:?} / {:?}",
            text,
            checked,
            value
        );
        if let Ok(v) = value {
            let mut w = Writer::default();
            doc.write_canonical(doc.root(), &mut w).unwrap();
            prop_assert_eq!(w.out, v.to_string());
        }
        Ok(())
    }

    fn json_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[\\[\\]{}\",:0-9a-z_. eE+\\-\\\\/]{0,40}",
            "[\\[\\]{}\",:0-9 \\\\u]{0,24}",
            "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{0,25})?([eE][+-]?[0-9]{0,4})?",
            "\"([^\"\\\\]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-F]{4}|\\\\u[dD][89abAB][0-9a-f]{2}(\\\\u[dD][c-fC-F][0-9a-f]{2})?){0,8}\"",
            any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn parses_as_serde_json_does(text in json_like()) {
            same_as_serde(&text)?;
        }

        #[test]
        fn structured_values_read_and_write_as_serde_json(v in value()) {
            let text = v.to_string();
            same_as_serde(&text)?;
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            same_as_serde(&pretty)?;
        }

        #[test]
        fn strings_are_escaped_as_serde_json_escapes(s in any::<String>()) {
            let mut w = Writer::default();
            w.str(&s);
            prop_assert_eq!(&w.out, &serde_json::to_string(&s).unwrap());
            let doc = parse(w.out.as_bytes()).unwrap();
            prop_assert_eq!(doc.string(doc.root()).unwrap(), s);
        }

        #[test]
        fn floats_are_written_as_serde_json_writes_them(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            prop_assume!(f.is_finite());
            let mut out = String::new();
            write_f64(&mut out, f);
            prop_assert_eq!(out, serde_json::to_string(&f).unwrap());
        }

        #[test]
        fn ties_are_written_as_serde_json_writes_them(
            k in (1u64 << 49)..(1u64 << 52),
            frac in prop_oneof![Just(0.25), Just(0.5), Just(0.75)],
            scale in -40i32..40,
        ) {
            for f in [k as f64 + frac, (k as f64 + frac) * 2f64.powi(scale)] {
                let mut out = String::new();
                write_f64(&mut out, f);
                prop_assert_eq!(out, serde_json::to_string(&f).unwrap());
            }
        }

        #[test]
        fn numbers_read_as_serde_json_reads_them(
            text in "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,12})?",
        ) {
            let theirs = serde_json::from_str::<Value>(&text);
            let ours = number_value(text.as_bytes());
            match (ours, theirs) {
                (Ok(Number::U(u)), Ok(Value::Number(n))) => prop_assert_eq!(Some(u), n.as_u64()),
                (Ok(Number::I(i)), Ok(Value::Number(n))) => {
                    prop_assert!(n.as_u64().is_none());
                    prop_assert_eq!(Some(i), n.as_i64());
                }
                (Ok(Number::F(f)), Ok(Value::Number(n))) => {
                    prop_assert!(n.is_f64());
                    prop_assert_eq!(Some(f.to_bits()), n.as_f64().map(f64::to_bits));
                }
                (Err(_), Err(_)) => {}
                (ours, theirs) => prop_assert!(false, "{} gave {:?} / {:?}", text, ours, theirs),
            }
        }
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map("[a-c]{0,2}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn powers_of_ten_are_the_literals() {
        for n in 0..=308u32 {
            let literal: f64 = format!("1e{n}").parse().unwrap();
            assert_eq!(pow10(n), Some(literal), "1e{n}");
        }
        assert_eq!(pow10(309), None);
    }

    #[test]
    fn powers_of_two_and_neighbours_are_written_as_serde_json_writes_them() {
        for k in -1074..=1023 {
            let p = 2f64.powi(k);
            for f in [
                p,
                f64::from_bits(p.to_bits() + 1),
                f64::from_bits(p.to_bits().saturating_sub(1)),
            ] {
                let mut out = String::new();
                write_f64(&mut out, f);
                assert_eq!(out, serde_json::to_string(&f).unwrap(), "2^{k}");
            }
        }
    }

    #[test]
    fn depth_limit_is_serde_jsons() {
        for depth in 120..135 {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            same_as_serde(&text).unwrap();
            let text = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
            same_as_serde(&text).unwrap();
        }
        // Skipped values have no limit, and nothing recurses on the way.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_ok());
    }

    #[test]
    fn edge_cases() {
        for text in [
            "",
            " ",
            "-",
            "-0",
            "-0.0",
            "0.",
            ".5",
            "1e",
            "1e+",
            "01",
            "1.5e308",
            "1e309",
            "18446744073709551616.5",
            "184467440737095516155.5",
            "1e-400",
            "0e99999999999",
            "1e99999999999",
            "-1e-99999999999",
            "[1,]",
            "{\"a\":1,}",
            "{,}",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{1:2}",
            "tru",
            "nul",
            "[1 2]",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\ud800\\ud800\"",
            "\"\\ud83d\\ude00\"",
            "\"\\x\"",
            "\"\t\"",
            "\"\u{7f}\"",
            "[\"a\"] x",
            "{\"a\":1}{",
            "\"\\u00e9\"",
            "[[[]]]",
            "{\"\":{}}",
        ] {
            same_as_serde(text).unwrap();
        }
        for bytes in [&b"\"\xff\""[..], b"[\"\xff\"]", b"{\"\xff\":1}", b"\xff"] {
            let ours = parse(bytes).is_ok();
            let theirs = serde_json::from_slice::<IgnoredAny>(bytes).is_ok();
            assert_eq!(ours, theirs, "{bytes:?}");
        }
    }
}
