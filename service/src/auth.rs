//! Who is asking: bearer tokens, stored as their sha256, and the admin check.

use axum::http::{HeaderMap, StatusCode, header};

use crate::db::Caller;
use crate::error::ApiError;
use crate::state::State;

/// The stored form of a token: its sha256, hex.
pub fn token_hash(token: &str) -> String {
    amm_engine::sandbox::sha256_hex(token.as_bytes())
}

/// The non-empty token of an `Authorization: Bearer TOKEN` header, trimmed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The holder of the request's token; 401 without a valid one.
pub async fn caller(state: &State, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "a valid 'Authorization: Bearer TOKEN' is required");
    let token = bearer(headers).filter(|t| t.len() <= 200).ok_or_else(unauthorized)?;
    state.db.caller(&token_hash(token)).await?.ok_or_else(unauthorized)
}

/// The caller, who must be an admin: 401 without a valid token, 403 for a submitter's.
pub async fn admin(state: &State, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let who = caller(state, headers).await?;
    if !who.admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "an admin token is required"));
    }
    Ok(who)
}
