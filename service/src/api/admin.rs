//! `/api/admin/*`: re-scoring every entry, flagging or hiding a submission, requeueing a
//! failed job. Admin tokens only.

use std::sync::Arc;

use axum::Json;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::admin;
use crate::error::{ApiError, not_found};
use crate::state::State;
use crate::views::{SubmissionView, submission};

type Shared = Extract<Arc<State>>;

/// A JSON object body that may be empty (then `T::default()`); 422 for anything else.
///
/// Empty means no bytes at all: a body of only whitespace is not a JSON document (and a form
/// feed is not even JSON whitespace), so it is refused like any other malformed body, as the
/// document (an object, or nothing) says.
///
/// Only an object: serde's derived `Deserialize` also reads a struct from an array of its
/// fields in order (so `[]` would be every default), which the document's schema (an object)
/// does not allow.
pub fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    let malformed =
        |e: serde_json::Error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("request body: {e}"));
    match serde_json::from_slice::<serde_json::Value>(body).map_err(malformed)? {
        object @ serde_json::Value::Object(_) => serde_json::from_value(object).map_err(malformed),
        _ => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "request body: a JSON object is expected")),
    }
}

/// One entry a rescore re-queued.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RescoredEntry {
    /// The submission (a baseline too).
    pub submission: i64,
    /// Its new jobs (follow them at `GET /api/jobs/{id}`).
    pub jobs: Vec<i64>,
}

/// What a rescore queued.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Rescored {
    /// Engine version the entries are re-evaluated with.
    pub engine_version: String,
    /// Every re-queued entry.
    pub entries: Vec<RescoredEntry>,
    /// Jobs queued in all.
    pub jobs: usize,
    /// Simulations queued in all.
    pub simulations: u64,
}

/// Re-evaluates every active entry (every evaluated, visible submission and the latest
/// baseline) with this engine and a fresh salt each; their previous rows stay on the board
/// until the new evaluations are merged. Admin only.
#[utoipa::path(post, path = "/api/admin/rescore", security(("bearer" = [])),
    responses((status = 202, body = Rescored), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin")))]
pub async fn rescore(state: Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = admin(&state, &headers).await?;
    let plan = crate::state::plan_for(&state);
    let queued = state.db.rescore(amm_engine::ENGINE_VERSION, &plan).await?;
    state.wake.notify_waiters();
    let per_entry: u64 = plan.iter().map(|j| u64::from(j.total)).sum();
    tracing::info!(admin = %who.handle, entries = queued.len(), "rescore queued");
    let body = Rescored {
        engine_version: amm_engine::ENGINE_VERSION.into(),
        jobs: queued.iter().map(|(_, jobs)| jobs.len()).sum(),
        simulations: per_entry * queued.len() as u64,
        entries: queued.into_iter().map(|(submission, jobs)| RescoredEntry { submission, jobs }).collect(),
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The body of a flag request (optional).
#[derive(Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FlagRequest {
    /// Why (shown on the board, trimmed): [`amm_engine::names::REASON_RULE`], checked whether
    /// or not `flagged` is set.
    #[schema(schema_with = reason_schema)]
    pub reason: String,
    /// False clears the flag.
    pub flagged: bool,
}

impl Default for FlagRequest {
    fn default() -> Self {
        Self { reason: "flagged for review".into(), flagged: true }
    }
}

/// The schema of [`FlagRequest::reason`]: the server's rule ([`amm_engine::names::is_reason`])
/// as `minLength`, `maxLength` (characters, as the server counts) and `pattern`.
fn reason_schema() -> utoipa::openapi::Object {
    crate::api::schema::form_text_schema(
        "Why (shown on the board, trimmed).",
        amm_engine::names::MAX_REASON_CHARS,
        amm_engine::names::REASON_RULE,
    )
    .default(Some(serde_json::json!(FlagRequest::default().reason)))
    .build()
}

/// Flags a submission for review (its board row shows the reason) or clears the flag.
/// Admin only; returns the submission.
#[utoipa::path(post, path = "/api/admin/submissions/{id}/flag", params(("id" = i64, Path, minimum = 1, description = "submission id (1 to 9223372036854775807)")),
    security(("bearer" = [])), request_body(content = Option<FlagRequest>, description = "optional"),
    responses((status = 200, body = SubmissionView), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such submission"),
        (status = 422, description = "a malformed body")))]
pub async fn flag(
    state: Shared,
    headers: HeaderMap,
    crate::error::Id(id, _): crate::error::Id<crate::error::SubmissionIds>,
    body: axum::body::Bytes,
) -> Result<Json<SubmissionView>, ApiError> {
    let who = admin(&state, &headers).await?;
    let request: FlagRequest = optional_body(&body)?;
    // Checked as sent (the document's rule), also when clearing a flag: a body the document
    // calls invalid is refused whatever it asks.
    if !amm_engine::names::is_reason(&request.reason) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reason: {}", amm_engine::names::REASON_RULE),
        ));
    }
    let reason = request.reason.trim();
    if !state.db.flag(id, request.flagged.then_some(reason)).await? {
        return Err(not_found("submission", id));
    }
    tracing::info!(admin = %who.handle, submission = id, flagged = request.flagged, "flag");
    Ok(Json(submission(&state, id).await?))
}

/// The body of a hide request (optional).
#[derive(Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HideRequest {
    /// False shows the submission again.
    pub hidden: bool,
}

impl Default for HideRequest {
    fn default() -> Self {
        Self { hidden: true }
    }
}

/// Hides a submission from the board (the submitter's next best entry, if any, takes its
/// place) or shows it again. Admin only; returns the submission.
#[utoipa::path(post, path = "/api/admin/submissions/{id}/hide", params(("id" = i64, Path, minimum = 1, description = "submission id (1 to 9223372036854775807)")),
    security(("bearer" = [])), request_body(content = Option<HideRequest>, description = "optional"),
    responses((status = 200, body = SubmissionView), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such submission"),
        (status = 422, description = "a malformed body")))]
pub async fn hide(
    state: Shared,
    headers: HeaderMap,
    crate::error::Id(id, _): crate::error::Id<crate::error::SubmissionIds>,
    body: axum::body::Bytes,
) -> Result<Json<SubmissionView>, ApiError> {
    let who = admin(&state, &headers).await?;
    let request: HideRequest = optional_body(&body)?;
    if !state.db.hide(id, request.hidden).await? {
        return Err(not_found("submission", id));
    }
    tracing::info!(admin = %who.handle, submission = id, hidden = request.hidden, "hide");
    Ok(Json(submission(&state, id).await?))
}

/// What a requeue did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Requeued {
    /// The jobs queued again (the failed one and those its failure cancelled).
    pub jobs: Vec<i64>,
}

/// Puts a failed job back in the queue with fresh attempts (after an infrastructure fault
/// outlasted its retries), with the jobs of its submission its failure cancelled; the
/// submission is pending again. Admin only.
#[utoipa::path(post, path = "/api/admin/jobs/{id}/requeue", params(("id" = i64, Path, minimum = 1, description = "job id (1 to 9223372036854775807)")),
    security(("bearer" = [])),
    responses((status = 200, body = Requeued), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such job"),
        (status = 409, description = "the job has not failed")))]
pub async fn requeue(
    state: Shared,
    headers: HeaderMap,
    crate::error::Id(id, _): crate::error::Id<crate::error::JobIds>,
) -> Result<Json<Requeued>, ApiError> {
    let who = admin(&state, &headers).await?;
    match state.db.requeue(id).await? {
        crate::db::Requeue::NotFound => Err(not_found("job", id)),
        crate::db::Requeue::NotFailed(s) => {
            Err(ApiError::new(StatusCode::CONFLICT, format!("job {id} is {s}: only a failed job is re-queued")))
        }
        crate::db::Requeue::Requeued(jobs) => {
            state.wake.notify_waiters();
            tracing::info!(admin = %who.handle, job = id, "requeued");
            Ok(Json(Requeued { jobs }))
        }
    }
}
