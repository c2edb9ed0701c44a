//! Pure: the webhook signature and the retry back-off.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

pub const EVENT_ID_HEADER: &str = "x-giaoban-event-id";
pub const TIMESTAMP_HEADER: &str = "x-giaoban-timestamp";
pub const SIGNATURE_HEADER: &str = "x-giaoban-signature";

/// `v1=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 64);
    out.push_str("v1=");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The wait before attempt `attempt + 1`, after `attempt` failures (1, 2, ...): doubling from
/// `initial_ms`, at most `max_ms`.
pub fn backoff(attempt: u32, initial_ms: u64, max_ms: u64) -> Duration {
    let factor = 1u64 << attempt.saturating_sub(1).min(40);
    Duration::from_millis(initial_ms.saturating_mul(factor).min(max_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector_and_depends_on_every_part() {
        // Computed with openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature(b"key", 1_700_000_000, "{\"a\":1}"),
            "v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
        let s = signature(b"key", 1, "body");
        assert_ne!(s, signature(b"kez", 1, "body"));
        assert_ne!(s, signature(b"key", 2, "body"));
        assert_ne!(s, signature(b"key", 1, "bodz"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1, 1000, 300_000), Duration::from_millis(1000));
        assert_eq!(backoff(2, 1000, 300_000), Duration::from_millis(2000));
        assert_eq!(backoff(5, 1000, 300_000), Duration::from_millis(16_000));
        assert_eq!(backoff(20, 1000, 300_000), Duration::from_millis(300_000));
        assert_eq!(
            backoff(u32::MAX, 1000, 300_000),
            Duration::from_millis(300_000)
        );
    }
}
