//! What the caller decides about a session.

use crate::mqtt::{ProtocolVersion, Will};

/// Username and password for one connection attempt. The caller supplies them afresh
/// before every attempt (see [`crate::session::Output::NeedCredentials`]): the chat backend
/// issues a new password on every conn-config call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

/// Reconnect policy: capped exponential backoff with full jitter.
///
/// The delay before attempt `n` (counting from 0 after the last stable connection) is drawn
/// uniformly from `[0, min(max_delay_ms, initial_delay_ms * 2^n)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Reconnect by itself after a connection is lost or an attempt fails.
    pub enabled: bool,
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    /// A connection that lasted this long resets the attempt counter.
    pub stable_after_ms: u64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay_ms: 1_000,
            max_delay_ms: 30_000,
            stable_after_ms: 10_000,
        }
    }
}

/// Everything fixed for the life of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The version of the first attempt. A session asked for 5.0 falls back to 3.1.1 once,
    /// if the broker refuses 5.0 (see [`crate::session::Event::ProtocolFallback`]).
    pub protocol: ProtocolVersion,
    /// The brokers, tried in turn: each attempt after a refused or lost connection goes to
    /// the next one (see [`crate::session::Session::set_urls`]). The session only hands them
    /// back in [`crate::session::Output::Open`]; what they mean is the driver's business.
    pub urls: Vec<String>,
    pub client_id: String,
    /// Seconds; 0 turns keepalive off. A 5.0 server may override it (Server Keep Alive).
    pub keep_alive_secs: u16,
    /// Clean Session (3.1.1) / Clean Start (5.0) on the first connection. Reconnections of
    /// a persistent session (`clean_start == false`) always resume it.
    pub clean_start: bool,
    /// 5.0 Session Expiry Interval in seconds, sent when `clean_start` is false
    /// (a 5.0 session with expiry 0 ends with the connection, whatever Clean Start says).
    pub session_expiry_secs: u32,
    pub will: Option<Will>,
    /// How many incoming QoS 1/2 publishes may await our acknowledgement (5.0 Receive Maximum).
    pub receive_maximum: u16,
    /// Largest packet we accept, in bytes (5.0 Maximum Packet Size; also enforced in 3.1.1).
    pub max_packet_size: u32,
    /// How many topic aliases the server may use towards us (5.0 Topic Alias Maximum).
    pub topic_alias_maximum: u16,
    /// Our own cap on outgoing QoS 1/2 publishes awaiting acknowledgement; the server's
    /// Receive Maximum lowers it further in 5.0.
    pub max_inflight: u16,
    /// Publishes accepted while offline (or beyond the in-flight window) are queued up to
    /// this many; past it `publish` returns [`crate::session::SessionError::QueueFull`].
    pub offline_queue_limit: usize,
    /// Time allowed for credentials, the transport to open and CONNACK to arrive.
    pub connect_timeout_ms: u64,
    /// How long a PINGREQ may wait for an answer; `None` means 40 % of the keepalive, so a
    /// dead connection is declared within 1.4 × keepalive of the last packet received.
    pub ping_timeout_ms: Option<u64>,
    pub reconnect: ReconnectPolicy,
    /// Seed of the jitter generator (the browser shell passes `crypto.getRandomValues`).
    pub rng_seed: u64,
}

impl SessionConfig {
    /// Defaults of PROTOCOL.md: MQTT 3.1.1, keepalive 60 s, persistent session.
    pub fn new(client_id: impl Into<String>) -> Self {
        SessionConfig {
            protocol: ProtocolVersion::V311,
            urls: Vec::new(),
            client_id: client_id.into(),
            keep_alive_secs: 60,
            clean_start: false,
            session_expiry_secs: u32::MAX,
            will: None,
            receive_maximum: 100,
            max_packet_size: 1024 * 1024,
            topic_alias_maximum: 32,
            max_inflight: 1_000,
            offline_queue_limit: 1_000,
            connect_timeout_ms: 30_000,
            ping_timeout_ms: None,
            reconnect: ReconnectPolicy::default(),
            rng_seed: 0x5eed,
        }
    }

    pub(crate) fn keep_alive_ms(&self) -> u64 {
        u64::from(self.keep_alive_secs) * 1000
    }
}
