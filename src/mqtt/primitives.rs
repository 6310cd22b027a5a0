//! Wire primitives shared by every packet: the variable byte integer, two-byte integers,
//! length-prefixed UTF-8 strings and binary data, and a bounds-checked [`Reader`].
//!
//! Writers append to a `Vec<u8>`; length-prefixed blocks are written first and prefixed
//! afterwards ([`prefix_len`]) so sizes never have to be computed twice.

use super::{DecodeError, EncodeError, PacketType, MAX_REMAINING_LENGTH};

/// Parses a variable byte integer from the front of `bytes`.
///
/// `Ok(None)` when `bytes` ends before the last byte of the integer (the caller decides
/// whether that means "wait for more" or "truncated"); `Err(())` when a fourth byte still
/// has its continuation bit. Non-minimal encodings are accepted, as most decoders do.
#[allow(clippy::result_unit_err)]
pub fn parse_varint(bytes: &[u8]) -> Result<Option<(u32, usize)>, ()> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().take(4).enumerate() {
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 4 {
        Err(())
    } else {
        Ok(None)
    }
}

/// A cursor over one packet body. Every read checks bounds and reports the packet and the
/// field it was reading, so a short body is an error, never a panic.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    packet: PacketType,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, the body of a `packet`.
    pub fn new(buf: &'a [u8], packet: PacketType) -> Self {
        Reader { buf, packet }
    }

    /// The packet type errors are reported for.
    pub fn packet(&self) -> PacketType {
        self.packet
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn truncated(&self, field: &'static str) -> DecodeError {
        DecodeError::Truncated {
            packet: self.packet,
            field,
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self
            .buf
            .split_at_checked(n)
            .ok_or_else(|| self.truncated(field))?;
        self.buf = tail;
        Ok(head)
    }

    /// All bytes left (PUBLISH payload).
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let (&b, tail) = self
            .buf
            .split_first()
            .ok_or_else(|| self.truncated(field))?;
        self.buf = tail;
        Ok(b)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, field)?;
        <[u8; N]>::try_from(b).map_err(|_| self.truncated(field))
    }

    /// A big-endian two-byte integer.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.array(field).map(u16::from_be_bytes)
    }

    /// A big-endian four-byte integer.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_be_bytes)
    }

    /// A variable byte integer (at most four bytes).
    pub fn varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        match parse_varint(self.buf) {
            Ok(Some((v, n))) => {
                self.take(n, field)?;
                Ok(v)
            }
            Ok(None) => Err(self.truncated(field)),
            Err(()) => Err(DecodeError::MalformedVarInt { field }),
        }
    }

    /// Two-byte length-prefixed binary data.
    pub fn binary(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u16(field)?;
        self.take(usize::from(n), field)
    }

    /// Two-byte length-prefixed UTF-8 string without U+0000.
    pub fn string(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let s = core::str::from_utf8(self.binary(field)?)
            .map_err(|_| DecodeError::InvalidUtf8 { field })?;
        // A plain loop: `contains('\0')` is a call into std's `memchr`, whose set-up costs
        // more than a topic's few bytes (a backlog checks one per message).
        if s.bytes().any(|b| b == 0) {
            return Err(DecodeError::NullCharacter { field });
        }
        Ok(s)
    }

    /// Ends the body: any byte left over is an error.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                packet: self.packet,
            })
        }
    }
}

/// Appends a variable byte integer. Values above [`MAX_REMAINING_LENGTH`] are the
/// caller's bug; they are checked by every caller before writing.
pub fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends a big-endian two-byte integer.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian four-byte integer.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends two-byte length-prefixed binary data.
pub fn put_binary(out: &mut Vec<u8>, b: &[u8], field: &'static str) -> Result<(), EncodeError> {
    let n = u16::try_from(b.len()).map_err(|_| EncodeError::TooLong { field })?;
    put_u16(out, n);
    out.extend_from_slice(b);
    Ok(())
}

/// Appends a two-byte length-prefixed UTF-8 string, refusing U+0000 like the decoder.
pub fn put_str(out: &mut Vec<u8>, s: &str, field: &'static str) -> Result<(), EncodeError> {
    if s.contains('\0') {
        return Err(DecodeError::NullCharacter { field }.into());
    }
    put_binary(out, s.as_bytes(), field)
}

/// Inserts at `start` the variable-byte length of everything written after it. `start` is
/// where the caller began writing, so at most `out.len()`.
pub(crate) fn prefix_len(out: &mut Vec<u8>, start: usize) -> Result<(), EncodeError> {
    debug_assert!(start <= out.len(), "prefix_len: start past the end");
    let size = out.len().saturating_sub(start);
    let len = u32::try_from(size)
        .ok()
        .filter(|&n| n as usize <= MAX_REMAINING_LENGTH)
        .ok_or(EncodeError::PacketTooLarge {
            size,
            max: MAX_REMAINING_LENGTH,
        })?;
    // Written at the end and rotated into place: `Vec::splice` did the same through a
    // generic drain-and-refill that was, in a 10,000-message backlog, most of the cost of
    // its 10,000 four-byte PUBACKs.
    let end = out.len();
    put_varint(out, len);
    let n = out.len() - end;
    // Never past `end`, so the tail holds the `n` bytes rotated.
    if let Some(tail) = out.get_mut(start.min(end)..) {
        tail.rotate_right(n);
    }
    Ok(())
}

/// Packet identifier 0 is reserved in every packet that has one.
pub(crate) fn check_packet_id(id: u16, packet: PacketType) -> Result<u16, DecodeError> {
    if id == 0 {
        Err(DecodeError::ZeroPacketId { packet })
    } else {
        Ok(id)
    }
}

/// Topic names (PUBLISH, will) are non-empty and carry no wildcard. A 5.0 PUBLISH may
/// leave the name empty when a topic alias stands for it (`empty_ok`).
pub(crate) fn check_topic_name(topic: &str, empty_ok: bool) -> Result<(), DecodeError> {
    if topic.is_empty() && !empty_ok {
        Err(DecodeError::EmptyTopicName)
    // Bytes, not chars: both are ASCII, and a `char` pattern decodes every character.
    } else if topic.bytes().any(|b| b == b'+' || b == b'#') {
        Err(DecodeError::WildcardInTopicName)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_bounds() {
        for (v, bytes) in [
            (0u32, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes);
            assert_eq!(parse_varint(bytes), Ok(Some((v, bytes.len()))));
        }
        assert_eq!(parse_varint(&[0xFF, 0xFF, 0xFF, 0xFF]), Err(()));
        assert_eq!(parse_varint(&[0xFF, 0xFF, 0xFF]), Ok(None));
        assert_eq!(parse_varint(&[]), Ok(None));
        // Non-minimal but within four bytes: accepted.
        assert_eq!(parse_varint(&[0x80, 0x00]), Ok(Some((0, 2))));
    }

    /// The length goes at `start`, in one to four bytes, the bytes before `start` and the
    /// body kept as they were.
    #[test]
    fn prefix_len_inserts_the_length_before_the_body() {
        for size in [0usize, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut out = vec![0x30, 0xAA];
            out.extend_from_slice(&body);
            prefix_len(&mut out, 2).expect("fits");
            let mut varint = Vec::new();
            put_varint(&mut varint, size as u32);
            assert_eq!(out.get(..2), Some(&[0x30, 0xAA][..]), "size {size}");
            assert_eq!(
                out.get(2..2 + varint.len()),
                Some(&varint[..]),
                "size {size}"
            );
            assert_eq!(out.get(2 + varint.len()..), Some(&body[..]), "size {size}");
        }
        let mut too_large = vec![0; MAX_REMAINING_LENGTH + 1];
        assert!(matches!(
            prefix_len(&mut too_large, 0),
            Err(EncodeError::PacketTooLarge { .. })
        ));
    }

    #[test]
    fn reader_strings() {
        let p = PacketType::Publish;
        let mut r = Reader::new(&[0, 2, b'a', b'b', 0, 1, 0, 0, 1, 0xFF], p);
        assert_eq!(r.string("a"), Ok("ab"));
        assert_eq!(
            r.string("b"),
            Err(DecodeError::NullCharacter { field: "b" })
        );
        assert_eq!(r.string("c"), Err(DecodeError::InvalidUtf8 { field: "c" }));
        assert!(r.is_empty());
        assert_eq!(
            r.u16("d"),
            Err(DecodeError::Truncated {
                packet: p,
                field: "d"
            })
        );
        let mut r = Reader::new(&[0, 5, b'a'], p);
        assert!(matches!(r.string("e"), Err(DecodeError::Truncated { .. })));
    }
}
