//! The service's one error type: what went wrong is logged in full, the client gets a status and
//! a message that is safe to show.
//!
//! A handler returns [`ApiError`]; a database fault, a corrupt stored document or an internal
//! failure keeps its cause for the log only (`tracing::error!`, once, when the answer is made),
//! so SQL, file paths and library messages never reach a client. Every error body is JSON
//! `{"error": message, ...details}` ([`json_errors`] rewrites the plain-text ones axum's
//! extractors give).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::db::DbError;

/// An error response: a status, `{"error": message, ...details}` and, for faults, the cause
/// that is logged instead of shown.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) body: serde_json::Value,
    pub(crate) retry_after: Option<u64>,
    cause: Option<String>,
}

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
}

impl ApiError {
    /// An error with `status` and `message`, both for the client.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, body: json!({ "error": message.into() }), retry_after: None, cause: None }
    }

    /// An error with `status` and a JSON `body` of details (it holds an `error` message).
    pub fn with_body(status: StatusCode, body: serde_json::Value) -> Self {
        Self { status, body, retry_after: None, cause: None }
    }

    /// A fault of ours: the client sees `status` and `message`, the log gets `cause`.
    pub fn internal(status: StatusCode, message: &str, cause: impl std::fmt::Display) -> Self {
        Self { cause: Some(cause.to_string()), ..Self::new(status, message) }
    }

    /// A stored document (JSON in the database, a stored results file) that does not parse: the
    /// same answer wherever it is read.
    pub fn corrupt(what: &str, cause: impl std::fmt::Display) -> Self {
        Self::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "stored data is corrupt; the operators have been told",
            format_args!("corrupt {what}: {cause}"),
        )
    }

    /// The same error asking the client to retry after `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Corrupt { what, message } => Self::corrupt(what, message),
            e => Self::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; try again shortly",
                format_args!("database error: {e}"),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(status = self.status.as_u16(), cause = %cause, "request failed");
        }
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A kind of resource addressed by a numeric id in a path (`/api/submissions/{id}`,
/// `/rounds/{id}`): its name, for the message that says what to send.
pub trait Resource {
    /// How a client calls it: "submission", "job", "round".
    const NAME: &'static str;
}

/// Submissions' ids.
pub struct SubmissionIds;
/// Jobs' ids.
pub struct JobIds;
/// Rounds' ids.
pub struct RoundIds;

impl Resource for SubmissionIds {
    const NAME: &'static str = "submission";
}
impl Resource for JobIds {
    const NAME: &'static str = "job";
}
impl Resource for RoundIds {
    const NAME: &'static str = "round";
}

/// A path's `{id}`: a whole number from 1 to `i64::MAX`. Every route with an id extracts it
/// with this, so that a bad one (`abc`, `%00`, `<script>`, past i64, 0) is refused the same way
/// everywhere through [`ApiError`]: 400 with a message saying what to send, never the raw input
/// and never a Rust type's name (axum's own `Path<i64>` answers `text/plain` "Cannot parse `abc`
/// to a `i64`", echoing the path). Pages get the same refusal as the site's HTML error page
/// (`web::html_errors`).
pub struct Id<R>(pub i64, pub std::marker::PhantomData<R>);

impl<R: Resource> Id<R> {
    /// The refusal of a bad id.
    pub fn refusal() -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, format!("{} id must be a whole number from 1 to {}", R::NAME, i64::MAX))
    }
}

impl<S: Send + Sync, R: Resource> axum::extract::FromRequestParts<S> for Id<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| Self::refusal())?;
        match text.parse::<i64>() {
            // Digits only: `+5` and ` 5` are not how ids are written.
            Ok(id) if id >= 1 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(Id(id, std::marker::PhantomData)),
            _ => Err(Self::refusal()),
        }
    }
}

/// A "no such …" answer.
pub fn not_found(what: &str, id: i64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no {what} {id}"))
}

/// A stored JSON document, parsed; a corrupt one is [`ApiError::corrupt`].
pub fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &'static str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::corrupt(what, e))
}

/// Whether `path` is the JSON API's (`/api` and everything under `/api/`), whose errors are JSON.
pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Whether `response` says its body is of the media type `prefix` (`application/json`,
/// `text/html`; parameters such as `; charset=utf-8` allowed).
pub fn has_content_type(response: &Response, prefix: &str) -> bool {
    response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(prefix))
}

/// Every error answer under `/api/` is JSON (`{"error": "…"}`), also those axum's extractors
/// and router give in plain text or empty: an unparsable id (400), an unknown path (404), a
/// wrong method (405, with the methods allowed), an unsupported body (415).
pub async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = is_api(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = has_content_type(&response, "application/json");
    if !api || !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let mut message = text.unwrap_or_default();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // axum says "Failed to buffer the request body: length limit exceeded": name the limit.
        // (An upload over its own limit is answered in JSON by its handler and never gets here.)
        message = format!(
            "the request body is over the limit of {} KiB for this route: send a smaller body (uploads go to POST /api/submissions)",
            crate::limits::JSON_BODY_LIMIT / 1024
        );
    } else if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_lowercase();
        if let Some(allow) = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) {
            message = format!("{message}: use {allow}");
        } else if status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_FOUND {
            message = format!("{message}: /openapi.json lists every path and its methods");
        }
    }
    let body = serde_json::to_vec(&json!({ "error": message })).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(e: ApiError) -> (StatusCode, String) {
        let response = e.into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn database_error_text_never_reaches_the_client() {
        let e = DbError::Sqlx(sqlx::Error::Protocol("relation \"secret_table\" at /srv/data/amm.db".into()));
        let (status, body) = answer(e.into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body.contains("secret_table") && !body.contains("/srv/data"), "{body}");
        assert!(body.contains("the database is unavailable"), "{body}");
    }

    #[tokio::test]
    async fn corrupt_stored_json_answers_500_wherever_it_is_read() {
        let from_db = DbError::Corrupt { what: "submission", message: "expected value at line 1".into() };
        let from_parse = parse::<serde_json::Value>("{not json", "summary").err();
        for e in [ApiError::from(from_db), from_parse.unwrap_or_else(|| ApiError::new(StatusCode::OK, "parsed"))] {
            let (status, body) = answer(e).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
            assert!(body.contains("stored data is corrupt") && !body.contains("line 1"), "{body}");
        }
    }
}
