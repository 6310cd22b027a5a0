//! Bearer tokens: `{user_id}.{expiry_ms}.{hex(hmac_sha256(secret, "{user_id}.{expiry_ms}"))}`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a token is valid, in ms (real time).
pub const TOKEN_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

#[derive(Clone)]
pub struct Signer {
    keyed: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// HMAC takes keys of any length, so this fails only on an empty secret (refused here).
    pub fn new(secret: &[u8]) -> Option<Signer> {
        if secret.is_empty() {
            return None;
        }
        HmacSha256::new_from_slice(secret)
            .ok()
            .map(|keyed| Signer { keyed })
    }

    fn mac(&self, message: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(message.as_bytes());
        mac
    }

    /// A token for `user_id`, valid until `expiry_ms`.
    pub fn issue(&self, user_id: u64, expiry_ms: u64) -> String {
        let message = format!("{user_id}.{expiry_ms}");
        let tag = self.mac(&message).finalize().into_bytes();
        format!("{message}.{}", hex(&tag))
    }

    /// The user of a valid, unexpired token.
    pub fn verify(&self, token: &str, now_ms: u64) -> Option<u64> {
        let mut parts = token.split('.');
        let (user, expiry, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let user_id: u64 = digits(user)?;
        let expiry_ms: u64 = digits(expiry)?;
        let tag = unhex(tag)?;
        self.mac(&format!("{user_id}.{expiry_ms}"))
            .verify_slice(&tag)
            .ok()?;
        (now_ms < expiry_ms).then_some(user_id)
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 128 {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Signer::new(b"secret").unwrap();
        let t = s.issue(3, 1_000);
        assert_eq!(s.verify(&t, 999), Some(3));
        assert_eq!(s.verify(&t, 1_000), None, "expired");
        assert_eq!(Signer::new(b"other").unwrap().verify(&t, 0), None);
        let forged = t.replacen('3', "4", 1);
        assert_eq!(s.verify(&forged, 0), None);
        for bad in ["", "...", "1.2", "1.2.3.4", "x.1.00", "1.1.zz", "1.1.0"] {
            assert_eq!(s.verify(bad, 0), None, "{bad}");
        }
    }
}
