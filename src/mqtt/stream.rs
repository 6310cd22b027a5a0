//! Reassembly of packets from a byte stream.

use super::{DecodeError, Packet, ProtocolVersion};

/// Buffers bytes as they arrive and yields whole packets.
///
/// Feed with [`StreamDecoder::push`], then call [`StreamDecoder::next_packet`] until it
/// returns `Ok(None)`. After an error the stream is unusable (the connection must close);
/// further calls return the same error.
///
/// `FROM_SERVER`: the decoder of a client, which reads what a server sends, with
/// [`Packet::decode_from_server`] ([`StreamDecoder::from_server`]); otherwise every packet
/// is decoded with [`Packet::decode`] ([`StreamDecoder::new`]).
#[derive(Debug)]
pub struct StreamDecoder<const FROM_SERVER: bool = false> {
    version: ProtocolVersion,
    max_packet_size: usize,
    /// `buf[start..]` is undecoded; decoded bytes are dropped lazily (see `push`).
    buf: Vec<u8>,
    start: usize,
    error: Option<DecodeError>,
}

impl StreamDecoder {
    /// A decoder for `version` that refuses packets larger than `max_packet_size` bytes.
    pub fn new(version: ProtocolVersion, max_packet_size: usize) -> Self {
        Self::with_limit(version, max_packet_size)
    }
}

impl StreamDecoder<true> {
    /// [`StreamDecoder::new`] for a client: see [`Packet::decode_from_server`].
    pub fn from_server(version: ProtocolVersion, max_packet_size: usize) -> Self {
        Self::with_limit(version, max_packet_size)
    }
}

impl<const FROM_SERVER: bool> StreamDecoder<FROM_SERVER> {
    fn with_limit(version: ProtocolVersion, max_packet_size: usize) -> Self {
        StreamDecoder {
            version,
            max_packet_size,
            buf: Vec::new(),
            start: 0,
            error: None,
        }
    }

    /// Appends bytes received from the transport. Ignored after an error.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        // Dropping the consumed prefix only once it is at least half the buffer moves each
        // byte a bounded number of times: amortised O(n) over the stream.
        let consumed = self.start.min(self.buf.len());
        if consumed > 0 && consumed >= self.buf.len() - consumed {
            self.buf.drain(..consumed);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet, `Ok(None)` when more bytes are needed.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, DecodeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let pending = self.buf.get(self.start..).unwrap_or_default();
        match Packet::decode_as::<FROM_SERVER>(self.version, pending, self.max_packet_size) {
            Ok(Some((packet, n))) => {
                self.start = self.start.saturating_add(n);
                if self.start >= self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                Ok(Some(packet))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.error = Some(e);
                self.buf = Vec::new();
                self.start = 0;
                Err(e)
            }
        }
    }

    /// Drops buffered bytes and any error, for a new connection.
    pub fn reset(&mut self, version: ProtocolVersion) {
        self.version = version;
        self.buf.clear();
        self.start = 0;
        self.error = None;
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// The protocol version packets are decoded with.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::PacketType;

    #[test]
    fn sticky_error_and_reset() {
        let mut d = StreamDecoder::new(ProtocolVersion::V311, 16);
        d.push(&[0xD0, 0, 0xC0]);
        assert_eq!(d.next_packet(), Ok(Some(Packet::PingResp)));
        assert_eq!(d.next_packet(), Ok(None));
        assert_eq!(d.buffered(), 1);
        d.push(&[0]);
        assert_eq!(d.next_packet(), Ok(Some(Packet::PingReq)));
        assert_eq!(d.buffered(), 0);
        // Oversized: refused from the fixed header alone.
        d.push(&[0x30, 0x7F]);
        let err = DecodeError::PacketTooLarge { size: 129, max: 16 };
        assert_eq!(d.next_packet(), Err(err));
        d.push(&[0xD0, 0]);
        assert_eq!(d.next_packet(), Err(err));
        d.reset(ProtocolVersion::V5);
        d.push(&[0xD0, 0]);
        assert_eq!(d.next_packet(), Ok(Some(Packet::PingResp)));
    }

    #[test]
    fn a_client_refuses_client_only_packets() {
        // SUBSCRIBE id 1, filter "a" QoS 0; PINGREQ; UNSUBSCRIBE id 1 "a"; CONNECT (3.1.1).
        let subscribe = [0x82, 6, 0, 1, 0, 1, b'a', 0];
        let unsubscribe = [0xA2, 5, 0, 1, 0, 1, b'a'];
        let connect = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0];
        for (bytes, t) in [
            (&subscribe[..], PacketType::Subscribe),
            (&unsubscribe[..], PacketType::Unsubscribe),
            (&connect[..], PacketType::Connect),
        ] {
            let mut server = StreamDecoder::new(ProtocolVersion::V311, 64);
            server.push(bytes);
            assert!(matches!(server.next_packet(), Ok(Some(_))), "{t:?}");
            let mut client = StreamDecoder::from_server(ProtocolVersion::V311, 64);
            client.push(&[0xC0, 0]);
            client.push(bytes);
            assert_eq!(client.next_packet(), Ok(Some(Packet::PingReq)));
            assert_eq!(client.next_packet(), Err(DecodeError::ClientOnlyPacket(t)));
        }
    }

    #[test]
    fn buffer_stays_small_on_a_long_stream() {
        let mut d = StreamDecoder::new(ProtocolVersion::V5, 16);
        let stream: Vec<u8> = [0xC0u8, 0, 0xD0, 0].repeat(10_000);
        let mut n = 0;
        for chunk in stream.chunks(3) {
            d.push(chunk);
            while let Some(_p) = d.next_packet().unwrap() {
                n += 1;
            }
            assert!(d.buf.len() <= 8, "consumed bytes are dropped");
        }
        assert_eq!(n, 20_000);
        assert_eq!(d.buffered(), 0);
    }
}
