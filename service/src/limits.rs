//! Request limits: the per-address and per-token request rates and source builds per
//! submitter (applied by [`crate::middleware`] and the upload handler).
//!
//! Rates are kept by `governor`'s keyed GCRA limiter (a token bucket in one timestamp per key,
//! lock-free, maintained by others) rather than a map of buckets of our own. A quota of `n`
//! per period allows a burst of `n`, then one request every period / `n`; a refusal answers 429
//! with the seconds until the next request is allowed.

use std::hash::Hash;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Largest request body outside uploads, bytes (64 KiB): the flag and hide bodies and every
/// other JSON body are a few hundred bytes; uploads have their own limit
/// (`competition.max_upload_bytes`, plus room for the multipart framing).
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Keys kept before those whose bucket has refilled are forgotten (they lose nothing).
const MAX_KEYS: usize = 100_000;

/// A rate limit per key (a client address, a token's hash, a submitter's handle).
#[derive(Debug)]
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// `n` requests a minute per key (at least 1).
    pub fn per_minute(n: u32) -> Self {
        Self::new(Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)))
    }

    /// `n` requests an hour per key (at least 1).
    pub fn per_hour(n: u32) -> Self {
        Self::new(Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)))
    }

    fn new(quota: Quota) -> Self {
        Self { limiter: governor::RateLimiter::keyed(quota) }
    }

    /// Takes one request for `key`; on refusal, the whole seconds until the next is allowed.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        if self.limiter.len() > MAX_KEYS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs_f64().ceil() as u64).max(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limiter_allows_a_burst_then_refuses_with_the_wait() {
        let limiter = KeyedLimiter::per_minute(6);
        let (a, b): (std::net::IpAddr, std::net::IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        for _ in 0..6 {
            assert_eq!(limiter.check(&a), Ok(()));
        }
        assert_eq!(limiter.check(&a), Err(10), "6 a minute: one every 10 s");
        assert_eq!(limiter.check(&b), Ok(()), "another address has its own bucket");
    }

    #[test]
    fn an_hourly_limit_waits_for_its_share_of_the_hour() {
        let limiter = KeyedLimiter::per_hour(12);
        for _ in 0..12 {
            assert_eq!(limiter.check(&"alice".to_string()), Ok(()));
        }
        assert_eq!(limiter.check(&"alice".to_string()), Err(300), "12 an hour: one every 5 minutes");
    }
}
