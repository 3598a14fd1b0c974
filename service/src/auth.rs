//! Who is asking: bearer tokens, stored as their sha256, and the admin check.

use axum::http::{HeaderMap, StatusCode, header};

use crate::db::Caller;
use crate::error::ApiError;
use crate::state::State;

/// The stored form of a token: its sha256, hex.
pub fn token_hash(token: &str) -> String {
    amm_engine::sandbox::sha256_hex(token.as_bytes())
}

/// The non-empty token of an `Authorization: Bearer TOKEN` header, trimmed; the scheme in any
/// case (RFC 9110 §11.1: `bearer TOKEN` is the same header).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, header::HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")));
        headers
    }

    /// RFC 9110 §11.1: the scheme is case-insensitive, so `bearer TOKEN` and `BEARER TOKEN` are
    /// the token too (they were refused with 401, and not counted against the token's rate).
    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in ["Bearer amm_x", "bearer amm_x", "BEARER amm_x", "Bearer   amm_x  "] {
            assert_eq!(bearer(&with_authorization(value)), Some("amm_x"), "{value:?}");
        }
        for value in ["Basic amm_x", "Bearer", "Bearer   ", "Beareramm_x", "amm_x"] {
            assert_eq!(bearer(&with_authorization(value)), None, "{value:?}");
        }
    }
}
