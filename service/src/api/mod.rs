//! The HTTP API (JSON) and its OpenAPI 3 document, generated from these handlers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State as Extract};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use utoipa::OpenApi;

pub mod admin;
pub mod board;
pub mod jobs;
pub mod rounds;
pub mod submissions;

use crate::db::now_ms;
use crate::error::ApiError;
use crate::middleware::{body_deadline, rate_limit};
use crate::state::{Probe, State};
use crate::states::JobState;

type Shared = Extract<Arc<State>>;

/// The routes.
/// The routes: the JSON API beside `pages` (the dashboard), under the same layers (JSON error
/// bodies under `/api/`, rate limits, body limits, tracing).
pub fn router(state: Arc<State>, pages: Router<Arc<State>>) -> Router {
    // Room for the multipart framing and the name part around the module.
    let body_limit = state.file.competition.max_upload_bytes as usize + 64 * 1024;
    // flag and hide read their (optional) body before authentication, so that an oversized
    // body is refused first: a stranger trickling one must still not hold the connection.
    let deadline = axum::middleware::from_fn_with_state(state.clone(), body_deadline);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/api/competition", get(competition))
        .route("/api/submissions", post(submissions::submit).layer(DefaultBodyLimit::max(body_limit)))
        .route("/api/submissions/{id}", get(submissions::submission))
        .route("/api/submissions/{id}/results.json", get(submissions::results_json))
        .route("/api/submissions/{id}/bundle.tar", get(submissions::bundle_tar))
        .route("/api/jobs/{id}", get(jobs::job))
        .route("/api/jobs/{id}/events", get(jobs::job_events))
        .route("/api/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/leaderboard", get(board::leaderboard))
        .route("/api/leaderboard.csv", get(board::leaderboard_csv))
        .route("/api/admin/rescore", post(admin::rescore))
        .route("/api/admin/submissions/{id}/flag", post(admin::flag).layer(deadline.clone()))
        .route("/api/admin/submissions/{id}/hide", post(admin::hide).layer(deadline))
        .route("/api/admin/jobs/{id}/requeue", post(admin::requeue))
        .route("/api/rounds", post(rounds::start_round).get(rounds::list_rounds))
        .route("/api/rounds/{id}", get(rounds::get_round))
        .route("/api/jobs/{id}/queue", get(jobs::queue_place))
        .route("/api/leaderboard/events", get(board::events))
        .merge(pages)
        .layer(axum::middleware::from_fn(crate::error::json_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "amm-engine competition service", description = "Submissions, evaluation jobs and the leaderboard."),
    paths(
        healthz,
        readyz,
        metrics,
        competition,
        submissions::submit,
        submissions::submission,
        submissions::results_json,
        submissions::bundle_tar,
        jobs::job,
        jobs::job_events,
        jobs::cancel,
        jobs::queue_place,
        board::leaderboard,
        board::leaderboard_csv,
        board::events,
        admin::rescore,
        admin::flag,
        admin::hide,
        admin::requeue,
        rounds::start_round,
        rounds::list_rounds,
        rounds::get_round
    ),
    components(schemas(
        submissions::Accepted,
        crate::views::JobView,
        crate::states::Progress,
        crate::states::JobState,
        crate::states::SubmissionStatus,
        crate::states::RoundState,
        crate::board::BoardRow,
        crate::views::SubmissionView,
        crate::eval::CheckView,
        crate::eval::Summary,
        crate::eval::EntrantSummary,
        admin::Rescored,
        admin::RescoredEntry,
        admin::FlagRequest,
        admin::HideRequest,
        admin::Requeued,
        rounds::Started,
        crate::views::RoundView,
        crate::views::CompetitionView,
        crate::views::HiddenSeeds,
        crate::views::JobLimitsView,
        crate::views::GroupView,
        crate::views::RoundBoardRow,
        crate::rounds::RoundEntry,
        crate::error::ErrorBody
    ))
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => {
            ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "the API document is unavailable", e).into_response()
        }
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and (when this process evaluates) a worker looked for work
/// or finished a shard within the last two leases (at least 10 s).
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
async fn readyz(state: Shared) -> Response {
    let probe = probe(&state).await;
    let count =
        |state: JobState| probe.jobs.as_ref().map(|jobs| jobs.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n));
    let workers = match state.role {
        crate::state::Role::Web => "elsewhere".to_string(),
        _ => {
            // Workers tick when they look for work and after every shard of a job.
            let tick = state.worker_tick.load(std::sync::atomic::Ordering::Relaxed) as i64;
            let patience = (2 * state.lease().as_millis() as i64).max(10_000);
            if now_ms() - tick < patience { "alive".into() } else { "stalled".into() }
        }
    };
    let ready = probe.database.is_ok() && workers != "stalled";
    let body = json!({
        "ready": ready,
        "database": probe.database.as_ref().map_or_else(Clone::clone, |()| "ok".into()),
        "workers": workers,
        "queued": count(JobState::Queued),
        "running": count(JobState::Running),
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// The probes' figures, read from the database at most once a second; concurrent callers
/// share one read.
async fn probe(state: &State) -> Probe {
    let mut cached = state.probes.lock().await;
    if let Some(p) = cached.as_ref().filter(|p| p.at.elapsed() < Duration::from_secs(1)) {
        return p.clone();
    }
    state.metrics.probe_refreshes.fetch_add(1, Ordering::Relaxed);
    let (database, jobs) = match state.db.jobs_by_state().await {
        Ok(jobs) => (Ok(()), Some(jobs)),
        Err(e) => {
            tracing::error!(error = %e, "readiness probe: database error");
            (Err("unavailable".to_string()), None)
        }
    };
    let fresh = Probe { at: std::time::Instant::now(), database, jobs };
    *cached = Some(fresh.clone());
    fresh
}

/// Prometheus metrics: jobs by state, uploads by outcome, lease expiries, job durations.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(state: Shared) -> Result<Response, ApiError> {
    let probe = probe(&state).await;
    let jobs = probe.jobs.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database: {}", probe.database.err().unwrap_or_default()),
        )
    })?;
    let text = state.metrics.render(&jobs);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// The public definition of the competition.
#[utoipa::path(get, path = "/api/competition", responses((status = 200, description = "the competition", body = crate::views::CompetitionView)))]
pub async fn competition(state: Shared) -> Json<crate::views::CompetitionView> {
    Json(crate::views::competition(&state))
}
