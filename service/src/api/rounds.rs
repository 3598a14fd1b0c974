//! `/api/rounds`: starting a round (admin) and reading rounds.

use std::sync::Arc;

use axum::Json;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::admin;
use crate::error::ApiError;
use crate::state::State;
use crate::views::{self};

use crate::db;
use crate::rounds::{RoundEntry, groups, plan_for};
use crate::views::RoundView;

type Shared = Extract<Arc<State>>;

/// A round as started.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Started {
    /// The round.
    pub round: i64,
    /// Entries taking part (one per submitter).
    pub entries: usize,
    /// Each group's jobs, in group order.
    pub groups: Vec<Vec<i64>>,
}

/// Starts a round: the best entry of each submitter on the board, with the house field, on
/// the hidden seeds. Admin only.
#[utoipa::path(post, path = "/api/rounds", security(("bearer" = [])),
    responses((status = 202, body = Started), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin"), (status = 409, description = "no entry to race")))]
pub async fn start_round(state: Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = admin(&state, &headers).await?;
    let board = views::board(&state).await?;
    let mut entries = Vec::new();
    for row in board.iter().filter(|r| !r.baseline) {
        let Some(sub) = state.db.submission(row.submission).await? else { continue };
        entries.push(RoundEntry {
            submission: sub.id,
            submitter: sub.submitter,
            name: sub.name,
            sha256: sub.sha256,
            bytes_path: sub.bytes_path,
        });
    }
    if entries.is_empty() {
        return Err(ApiError::new(StatusCode::CONFLICT, "no evaluated entry on the board: nothing to race"));
    }
    let count = entries.len();
    let salt = db::new_salt();
    let size = state.file.competition.round_size;
    let groups = groups(entries, size as usize, &salt);
    let texts: Vec<String> = groups.iter().map(|g| serde_json::to_string(g).unwrap_or_else(|_| "[]".into())).collect();
    let (round, queued) = state.db.create_round(&salt, i64::from(size), &who.handle, &texts, &plan_for(&state)).await?;
    state.wake.notify_waiters();
    tracing::info!(admin = %who.handle, round, entries = count, groups = queued.len(), "round started");
    let body = Started { round, entries: count, groups: queued.into_iter().map(|(_, jobs)| jobs).collect() };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// A round's state, progress, groups and board.
#[utoipa::path(get, path = "/api/rounds/{id}", params(("id" = i64, Path, minimum = 1, description = "round id (1 to 9223372036854775807)")),
    responses((status = 200, body = RoundView), (status = 404, description = "no such round")))]
pub async fn get_round(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::RoundIds>,
) -> Result<Json<RoundView>, ApiError> {
    Ok(Json(views::round(&state, id).await?))
}

/// Every round, newest first (with their boards).
#[utoipa::path(get, path = "/api/rounds", responses((status = 200, body = Vec<RoundView>)))]
pub async fn list_rounds(state: Shared) -> Result<Json<Vec<RoundView>>, ApiError> {
    Ok(Json(views::rounds(&state).await?))
}
