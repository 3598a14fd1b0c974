//! The router's own layers: request rate limits ([`crate::limits`]) and the body deadline of
//! small requests read before authentication.

use std::sync::Arc;

use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::State;

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
