//! The one non-generic parser: a whole document to a flat tape of nodes, checked for
//! syntax only, so that every typed read afterwards is a walk over an array.

use super::Error;

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
pub(super) struct Node {
    pub(super) kind: Kind,
    /// A string with a `\` escape (the parser saw it, so readers need not look again).
    pub(super) escaped: bool,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) next: usize,
}

/// A node of a [`Doc`].
pub(crate) type Id = usize;

/// A parsed document: the text and its tape. Node 0 is the top-level value.
pub(crate) struct Doc<'a> {
    pub(super) src: &'a [u8],
    pub(super) nodes: Vec<Node>,
}

/// Parses a whole document: one value, whitespace around it.
pub(crate) fn parse(src: &[u8]) -> Result<Doc<'_>, Error> {
    let mut nodes = SPARE_NODES.take();
    nodes.clear();
    // About one value per 8 bytes of a record: one allocation, not a doubling series.
    nodes.reserve(src.len() / 8);
    let mut p = Parser { src, i: 0, nodes };
    p.document()?;
    Ok(Doc {
        src,
        nodes: p.nodes,
    })
}

thread_local! {
    /// The tape of the last document dropped, for the next one: a backlog parses a payload
    /// per message, and allocating and freeing each tape was a tenth of the decoding.
    static SPARE_NODES: std::cell::Cell<Vec<Node>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest tape kept for the next document (a page of history is not kept).
const SPARE_MAX_NODES: usize = 4096;

impl Drop for Doc<'_> {
    fn drop(&mut self) {
        if self.nodes.capacity() <= SPARE_MAX_NODES {
            SPARE_NODES.set(std::mem::take(&mut self.nodes));
        }
    }
}

/// `next` of an open container that has none around it (see `Parser::document`).
const NO_PARENT: Id = Id::MAX;

struct Parser<'a> {
    src: &'a [u8],
    i: usize,
    nodes: Vec<Node>,
}

impl Parser<'_> {
    fn err(&self, code: &str) -> Error {
        Error(format!("{code}{}", position(self.src, self.i)))
    }

    // opt-level "z" calls these per byte (and `Doc::node` per value) unless told: inlined,
    // a record decodes ~2x faster for a few hundred bytes of wasm.
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    #[inline(always)]
    fn ws(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
        self.peek()
    }

    fn leaf(&mut self, kind: Kind, start: usize) {
        self.push_leaf(kind, false, start);
    }

    fn push_leaf(&mut self, kind: Kind, escaped: bool, start: usize) {
        let next = self.nodes.len() + 1;
        self.nodes.push(Node {
            kind,
            escaped,
            start,
            end: self.i,
            next,
        });
    }

    /// A string (a value or a key) from `start`.
    fn string_leaf(&mut self, start: usize) -> Result<(), Error> {
        let escaped = self.string()?;
        self.push_leaf(Kind::Str, escaped, start);
        Ok(())
    }

    fn document(&mut self) -> Result<(), Error> {
        // The innermost open array or object. Each open one keeps its parent in `next`
        // (set when it closes), a stack without an allocation per document.
        let mut open: Option<Id> = None;
        'value: loop {
            let Some(b) = self.ws() else {
                return Err(self.err("EOF while parsing a value"));
            };
            let start = self.i;
            match b {
                b'[' | b'{' => {
                    self.i += 1;
                    let kind = if b == b'[' { Kind::Arr } else { Kind::Obj };
                    let id = self.nodes.len();
                    self.leaf(kind, start);
                    if let Some(n) = self.nodes.get_mut(id) {
                        n.next = open.unwrap_or(NO_PARENT);
                    }
                    open = Some(id);
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
                b'"' => self.string_leaf(start)?,
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
            while let Some(top) = open {
                let is_arr = self.nodes.get(top).is_some_and(|n| n.kind == Kind::Arr);
                let close = if is_arr { b']' } else { b'}' };
                match self.ws() {
                    Some(c) if c == close => {
                        self.i += 1;
                        let (end, next) = (self.i, self.nodes.len());
                        if let Some(n) = self.nodes.get_mut(top) {
                            open = Some(n.next).filter(|p| *p != NO_PARENT);
                            n.end = end;
                            n.next = next;
                        }
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
        self.string_leaf(start)?;
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
    /// characters; whether it has an escape. Its content is checked when it is read.
    fn string(&mut self) -> Result<bool, Error> {
        self.i += 1;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("EOF while parsing a string"));
            };
            self.i += 1;
            match b {
                b'"' => return Ok(escaped),
                b'\\' => {
                    escaped = true;
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
pub(super) fn position(src: &[u8], at: usize) -> String {
    let before = src.get(..at).unwrap_or(src);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count();
    format!(" at line {line} column {column}")
}
