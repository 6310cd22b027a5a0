//! The property the fuzz target checks, kept in the library so that `cargo test` can
//! replay the fuzz corpus without the fuzzing toolchain.

use super::{Packet, ProtocolVersion, StreamDecoder};

/// Largest packet the check accepts; big enough for any fuzz input.
const MAX: usize = 1 << 20;

/// Decodes `data[1..]` as a stream and checks the codec's invariants, returning the number
/// of packets decoded or a description of the first broken invariant.
///
/// `data[0]` picks the version (bit 0) and the chunk size the stream is fed in
/// (bits 1-7, plus one). Invariants: chunked stream decoding and whole-buffer decoding give
/// the same packets and error; every decoded packet re-encodes, and decoding that gives
/// the same packet back, using all the bytes.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) -> Result<usize, String> {
    let Some((&ctl, rest)) = data.split_first() else {
        return Ok(0);
    };
    let version = if ctl & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let chunk = usize::from(ctl >> 1) + 1;

    let mut stream = StreamDecoder::new(version, MAX);
    let mut streamed = Vec::new();
    let mut stream_err = None;
    for part in rest.chunks(chunk) {
        stream.push(part);
        loop {
            match stream.next_packet() {
                Ok(Some(p)) => streamed.push(p),
                Ok(None) => break,
                Err(e) => {
                    stream_err = Some(e);
                    break;
                }
            }
        }
        if stream_err.is_some() {
            break;
        }
    }

    let mut whole = Vec::new();
    let mut whole_err = None;
    let mut off = 0usize;
    while let Some(tail) = rest.get(off..) {
        match Packet::decode(version, tail, MAX) {
            Ok(Some((p, n))) if n > 0 => {
                whole.push(p);
                off = off.saturating_add(n);
            }
            Ok(_) => break,
            Err(e) => {
                whole_err = Some(e);
                break;
            }
        }
    }
    if streamed != whole || stream_err != whole_err {
        return Err(format!(
            "stream gave {streamed:?} / {stream_err:?}, whole buffer {whole:?} / {whole_err:?}"
        ));
    }

    for p in &streamed {
        let v = match p {
            Packet::Connect(c) => c.protocol,
            _ => version,
        };
        let mut out = Vec::new();
        p.encode(v, &mut out)
            .map_err(|e| format!("re-encoding {p:?}: {e:?}"))?;
        match Packet::decode(version, &out, MAX) {
            Ok(Some((q, n))) if q == *p && n == out.len() => {}
            other => return Err(format!("{p:?} encoded as {out:?} decodes as {other:?}")),
        }
    }
    Ok(streamed.len())
}
