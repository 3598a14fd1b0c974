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
pub mod schema;
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
        .layer(DefaultBodyLimit::max(crate::limits::JSON_BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "amm-engine competition service", description = "Submissions, evaluation jobs and the leaderboard."),
    modifiers(&ErrorAnswers),
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
        submissions::ValidationFailure,
        submissions::UploadForm,
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

/// Adds to every operation the error answers the router's layers give whatever the handler
/// does, and the error body's schema to every error answer: a client (or a schema-driven
/// fuzzer) reading the document learns every status a route can answer.
///
/// * 429: every route but the probes (`/healthz`, `/readyz`, `/metrics`), over the address or
///   token request rate ([`crate::middleware::rate_limit`]);
/// * 400: a path whose id is not an i64, or a body the extractor cannot read (a multipart
///   upload without a valid boundary);
/// * 413: a request body over its limit (64 KiB; an upload over `max_upload_bytes`);
/// * 408: the flag and hide bodies and uploads, past `body_timeout_seconds`;
/// * 500 and 503: corrupt stored data and an unavailable database, on every `/api/` route;
/// * 431: request headers over hyper's limit, on every route. Hyper answers it itself while
///   parsing, before any service (so any middleware of ours) sees the request: it cannot be given
///   the error body, so it is listed without content.
struct ErrorAnswers;

impl utoipa::Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error_content = || ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        let answer = |description: &str| {
            ResponseBuilder::new().description(description).content("application/json", error_content()).build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let probe = ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path.as_str());
            let has_id = path.contains("{id}");
            let body_deadline = path.ends_with("/flag") || path.ends_with("/hide") || path == "/api/submissions";
            for (is_post, operation) in [(false, item.get.as_mut()), (true, item.post.as_mut())] {
                let Some(operation) = operation else { continue };
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses.entry(status.to_string()).or_insert_with(|| RefOr::T(answer(description)));
                };
                if !probe {
                    add("429", "over the request rate (Retry-After)");
                }
                if has_id || is_post {
                    add("400", "an unreadable path id or request body");
                }
                if is_post {
                    add("413", "the request body is over its limit");
                }
                if is_post && body_deadline {
                    add("408", "the request body did not arrive in time");
                }
                if path.starts_with("/api/") {
                    add("500", "stored data is corrupt");
                    add("503", "the database is unavailable (or a bounded resource is busy); retry");
                }
                responses.entry("431".to_string()).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description("request headers too large (answered by the HTTP layer, with no body)")
                            .build(),
                    )
                });
                // Every error answer of ours carries the error body.
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(response) = response
                        && status != "431"
                        && (status.starts_with('4') || status.starts_with('5'))
                        && response.content.is_empty()
                    {
                        response.content.insert("application/json".to_string(), error_content().into());
                    }
                }
            }
        }
    }
}

/// The OpenAPI document this server answers by: [`ApiDoc`] with the limits of `competition`
/// (a static document cannot know them): the upload's size limit on its parts, and its part
/// `source` only when the competition accepts source (then exactly one of `module` and
/// `source`).
pub fn document(competition: &crate::competition::Competition) -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(form) = doc.pointer_mut("/components/schemas/UploadForm")
        && let Some(form) = form.as_object_mut()
    {
        let source_limit = amm_engine::build::SourceOptions::default().max_source_bytes as u64;
        let limit = competition.max_upload_bytes;
        if let Some(properties) = form.get_mut("properties").and_then(serde_json::Value::as_object_mut) {
            if let Some(module) = properties.get_mut("module") {
                module["maxLength"] = json!(limit);
            }
            if competition.accept_source {
                if let Some(source) = properties.get_mut("source") {
                    source["maxLength"] = json!(limit.min(source_limit));
                }
            } else {
                properties.remove("source");
            }
        }
        if competition.accept_source {
            form.insert("required".into(), json!([]));
            form.insert("oneOf".into(), json!([{ "required": ["module"] }, { "required": ["source"] }]));
        } else {
            form.insert("required".into(), json!(["module"]));
        }
    }
    // The flag and hide bodies are an object or no body at all (`required: false`); utoipa reads
    // their `Option<T>` as `oneOf: [T, null]`, but the server refuses `null` (422) like any other
    // body that is not an object.
    for (path, schema) in [("flag", "FlagRequest"), ("hide", "HideRequest")] {
        let pointer = format!(
            "/paths/~1api~1admin~1submissions~1{{id}}~1{path}/post/requestBody/content/application~1json/schema"
        );
        if let Some(documented) = doc.pointer_mut(&pointer) {
            *documented = json!({ "$ref": format!("#/components/schemas/{schema}") });
        }
    }
    doc
}

/// `GET /openapi.json`: [`document`] of this competition.
async fn openapi(state: Shared) -> Response {
    match serde_json::to_string_pretty(&document(&state.file.competition)) {
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

#[cfg(test)]
mod contract_tests {
    use utoipa::OpenApi;

    /// A path, a method and its answers: (status, whether it names ErrorBody).
    type Operation = (String, String, Vec<(String, bool)>);

    /// Every operation's responses, by path and method: status → whether it names ErrorBody.
    fn answers() -> Vec<Operation> {
        let doc = serde_json::to_value(super::ApiDoc::openapi()).unwrap_or_default();
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let responses = op["responses"].as_object().into_iter().flatten();
                let statuses = responses
                    .map(|(s, r)| {
                        let text = r.to_string();
                        let body = ["ErrorBody", "ValidationFailure"]
                            .iter()
                            .any(|name| text.contains(&format!("#/components/schemas/{name}")));
                        (s.clone(), body)
                    })
                    .collect();
                out.push((path.clone(), method.clone(), statuses));
            }
        }
        out
    }

    #[test]
    fn every_route_lists_the_rate_limit_and_ids_past_i64_and_every_error_has_the_error_body() {
        let all = answers();
        assert!(all.len() >= 20, "{all:?}");
        for (path, method, statuses) in &all {
            let has = |s: &str| statuses.iter().any(|(x, _)| x == s);
            if !["/healthz", "/readyz", "/metrics"].contains(&path.as_str()) {
                assert!(has("429"), "{method} {path}: {statuses:?}");
            }
            if path.contains("{id}") {
                assert!(has("400"), "{method} {path}: {statuses:?}");
            }
            if method == "post" {
                assert!(has("400") && has("413"), "{method} {path}: {statuses:?}");
            }
            assert!(has("431"), "{method} {path}: {statuses:?}");
            for (status, error_body) in statuses {
                if status == "431" {
                    assert!(!error_body, "{method} {path}: hyper's 431 has no body");
                } else if status.starts_with('4') || (status.starts_with('5') && path.starts_with("/api/")) {
                    assert!(error_body, "{method} {path} {status} has no ErrorBody schema");
                }
            }
        }
        let upload = all.iter().find(|(p, m, _)| p == "/api/submissions" && m == "post");
        assert!(upload.is_some_and(|(_, _, s)| s.iter().any(|(x, _)| x == "408")), "{upload:?}");
        let flag = all.iter().find(|(p, _, _)| p.ends_with("/flag"));
        assert!(flag.is_some_and(|(_, _, s)| s.iter().any(|(x, _)| x == "408")), "{flag:?}");
    }
}
