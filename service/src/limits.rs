//! Request limits: the per-address and per-token request rates, source builds per submitter,
//! and the body deadline of small requests read before authentication.
//!
//! Rates are kept by `governor`'s keyed GCRA limiter (a token bucket in one timestamp per key,
//! lock-free, maintained by others) rather than a map of buckets of our own. A quota of `n`
//! per period allows a burst of `n`, then one request every period / `n`; a refusal answers 429
//! with the seconds until the next request is allowed.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::State;
use crate::error::ApiError;

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

/// 429 with Retry-After for a client IP over `quotas.requests_per_minute` (the peer address:
/// forwarding headers are not trusted), or a request bearing a token over
/// `quotas.requests_per_token_per_minute` (keyed by the token's sha256, checked or not: a
/// token spread over many addresses is still limited). Probes are exempt.
pub async fn rate_limit(
    state: Extract<Arc<State>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if ["/healthz", "/readyz", "/metrics"].contains(&path) {
        return next.run(request).await;
    }
    let refused = |seconds: u64, message: &str| {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).retry_after(seconds).into_response()
    };
    if let Err(seconds) = state.limiter.check(&peer.ip()) {
        return refused(seconds, "too many requests from your address");
    }
    if let Some(token) = crate::auth::bearer(request.headers())
        && let Err(seconds) = state.token_limiter.check(&crate::auth::token_hash(token))
    {
        return refused(seconds, "too many requests with your token");
    }
    next.run(request).await
}

/// 408 for a request not answered within `quotas.body_timeout_seconds` of its headers (for
/// routes whose small body is read before authentication; uploads time their own parts).
pub async fn body_deadline(
    state: Extract<Arc<State>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let seconds = state.file.competition.quotas.body_timeout_seconds;
    match tokio::time::timeout(std::time::Duration::from_secs(seconds), next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {seconds} s (competition.quotas.body_timeout_seconds)"),
        )
        .into_response(),
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
