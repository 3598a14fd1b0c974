//! The HTTP API (JSON) and its OpenAPI 3 document, generated from these handlers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Multipart, Path, State as Extract};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use utoipa::OpenApi;

use crate::State;
pub use crate::auth::admin;
use crate::auth::caller;
use crate::db::{Inserted, Job, Submission, now_ms};
pub use crate::error::ApiError;
use crate::error::{not_found, parse};
use crate::eval::{self, CheckView, EntrantSummary, Summary};
use crate::limits::{body_deadline, rate_limit};

type Shared = Extract<Arc<State>>;

/// The routes.
pub fn router(state: Arc<State>) -> Router {
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
        .route("/api/submissions", post(submit).layer(DefaultBodyLimit::max(body_limit)))
        .route("/api/submissions/{id}", get(submission))
        .route("/api/submissions/{id}/results.json", get(results_json))
        .route("/api/submissions/{id}/bundle.tar", get(bundle_tar))
        .route("/api/jobs/{id}", get(job))
        .route("/api/jobs/{id}/events", get(job_events))
        .route("/api/jobs/{id}/cancel", post(cancel))
        .route("/api/leaderboard", get(leaderboard))
        .route("/api/leaderboard.csv", get(leaderboard_csv))
        .route("/api/admin/rescore", post(rescore))
        .route("/api/admin/submissions/{id}/flag", post(flag).layer(deadline.clone()))
        .route("/api/admin/submissions/{id}/hide", post(hide).layer(deadline))
        .route("/api/admin/jobs/{id}/requeue", post(requeue))
        .route("/api/rounds", post(crate::rounds::start_round).get(crate::rounds::list_rounds))
        .route("/api/rounds/{id}", get(crate::rounds::get_round))
        .merge(crate::web::routes())
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
        submit,
        submission,
        results_json,
        bundle_tar,
        job,
        job_events,
        cancel,
        leaderboard,
        leaderboard_csv,
        rescore,
        flag,
        hide,
        requeue,
        crate::rounds::start_round,
        crate::rounds::list_rounds,
        crate::rounds::get_round,
        crate::web::leaderboard::events,
        crate::web::queue_place
    ),
    components(schemas(
        Accepted,
        JobView,
        Progress,
        BoardRow,
        SubmissionView,
        CheckView,
        Summary,
        EntrantSummary,
        Rescored,
        RescoredEntry,
        FlagRequest,
        HideRequest,
        Requeued,
        crate::rounds::Started,
        crate::rounds::RoundView,
        crate::rounds::GroupView,
        crate::rounds::RoundBoardRow,
        crate::rounds::RoundEntry
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
        crate::Role::Web => "elsewhere".to_string(),
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

/// What the probes read from the database, and when.
#[derive(Clone, Debug)]
pub struct Probe {
    at: std::time::Instant,
    /// `Ok` when the database answered; else its error.
    database: Result<(), String>,
    /// Jobs by state, when the database answered.
    jobs: Option<Vec<(JobState, i64)>>,
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
#[utoipa::path(get, path = "/api/competition", responses((status = 200, description = "the competition")))]
pub async fn competition(state: Shared) -> Json<serde_json::Value> {
    let c = &state.file.competition;
    let config = &state.file.config;
    let house: Vec<String> = config
        .strategies
        .iter()
        .map(|s| {
            // An unnamed house strategy shows its module's amm.name (the name its board row
            // carries): the bundled house files are named by their sha256, no name for a person.
            s.name
                .clone()
                .or_else(|| {
                    let bytes = std::fs::read(config.strategy_path(s)).ok()?;
                    amm_engine::sandbox::inspect(&bytes, &config.sandbox).ok()?.name
                })
                .unwrap_or_else(|| {
                    s.path.file_stem().map_or_else(|| "strategy".into(), |n| n.to_string_lossy().into_owned())
                })
        })
        .collect();
    Json(json!({
        "name": c.name,
        "engine_version": amm_engine::ENGINE_VERSION,
        "public_seeds": c.public_seeds,
        "hidden_seeds": { "count": c.hidden_seeds.count },
        "steps": config.run.steps,
        "epoch_len": config.run.epoch_len,
        "market": config.market,
        "pools": config.pools,
        "normalizer": config.normalizer,
        "capital": config.capital,
        "sandbox": config.sandbox,
        "house": house,
        "max_upload_bytes": c.max_upload_bytes,
        "accept_source": c.accept_source,
        "quotas": c.quotas,
        "jobs": { "wall_clock_seconds": c.jobs.wall_clock_seconds, "seeds_per_job": c.jobs.seeds_per_job },
    }))
}

/// An accepted upload.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The submission.
    pub submission: i64,
    /// Its first evaluation job.
    pub job: i64,
    /// All its jobs.
    pub jobs: Vec<i64>,
    /// True when the same bytes from the same submitter were submitted before (then nothing
    /// new is evaluated and this is the earlier submission).
    pub duplicate: bool,
}

/// Uploads a module: multipart part `module` (the `.wasm` bytes), optional part `name`.
#[utoipa::path(post, path = "/api/submissions", security(("bearer" = [])),
    responses(
        (status = 202, description = "accepted and queued", body = Accepted),
        (status = 200, description = "the same bytes were submitted before", body = Accepted),
        (status = 401, description = "no valid token"),
        (status = 413, description = "over the upload limit"),
        (status = 422, description = "refused by validation: the failed checks"),
        (status = 429, description = "over quota (Retry-After)"),
    ))]
async fn submit(state: Shared, headers: HeaderMap, multipart: Multipart) -> Result<Response, ApiError> {
    let answer = submit_inner(&state, &headers, multipart).await;
    let counters = &state.metrics;
    match &answer {
        Ok(r) if r.status() == StatusCode::ACCEPTED => counters.accepted.fetch_add(1, Ordering::Relaxed),
        Ok(_) => counters.duplicates.fetch_add(1, Ordering::Relaxed),
        Err(e) => {
            counters.reject(e.status.as_u16());
            0
        }
    };
    answer
}

/// The parts of an upload: `module`, `source` and `name`, each optional; refused past `limit`
/// bytes (413), on an unknown part (400) or an invalid name (422).
async fn read_parts(multipart: &mut Multipart, limit: u64) -> Result<Parts, ApiError> {
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the module is over the upload limit of {limit} bytes"))
    };
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large() } else { ApiError::new(e.status(), e.body_text()) }
    };
    let mut module: Option<Vec<u8>> = None;
    let mut source: Option<Vec<u8>> = None;
    let mut name: Option<String> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("module") => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() as u64 > limit {
                        return Err(too_large());
                    }
                }
                module = Some(bytes);
            }
            Some("source") => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() as u64 > limit {
                        return Err(too_large());
                    }
                }
                source = Some(bytes);
            }
            Some("name") => {
                let text = field.text().await.map_err(multipart_error)?;
                let text = text.trim().to_string();
                if !amm_engine::validate::is_display_name(&text) {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("name: {}", amm_engine::names::NAME_RULE),
                    ));
                }
                name = Some(text);
            }
            Some(other) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unexpected part {other:?}: send 'module' (or 'source') and optionally 'name'"),
                ));
            }
            None => return Err(ApiError::new(StatusCode::BAD_REQUEST, "a multipart part without a name")),
        }
    }
    Ok((module, source, name))
}

/// An upload's `module`, `source` and `name` parts.
type Parts = (Option<Vec<u8>>, Option<Vec<u8>>, Option<String>);

async fn submit_inner(state: &Arc<State>, headers: &HeaderMap, mut multipart: Multipart) -> Result<Response, ApiError> {
    let who = caller(state, headers).await?;
    let limit = state.file.competition.max_upload_bytes;
    // The whole body within `body_timeout_seconds` of the headers: a trickled body would
    // otherwise hold its connection (and one of `quotas.connections`) for as long as it likes.
    let body_timeout = state.file.competition.quotas.body_timeout_seconds;
    let parts = tokio::time::timeout(std::time::Duration::from_secs(body_timeout), read_parts(&mut multipart, limit));
    let (module, source, name) = parts.await.map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the upload did not arrive within {body_timeout} s (competition.quotas.body_timeout_seconds)"),
        )
    })??;

    let bytes = match (module, source) {
        (Some(bytes), None) => bytes,
        (None, Some(source)) => {
            check_quotas(state, &who.handle).await?;
            build_uploaded_source(state, &who.handle, source).await?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "send either the part 'module' or the part 'source', not both",
            ));
        }
        (None, None) if state.file.competition.accept_source => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the multipart part 'module' (the .wasm bytes) or 'source' (a single-file .rs) is missing",
            ));
        }
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the multipart part 'module' (the .wasm bytes) is missing",
            ));
        }
    };
    let sha256 = amm_engine::sandbox::sha256_hex(&bytes);

    // The same bytes from the same submitter: never evaluated twice.
    if let Some(existing) = state.db.find_submission(&who.handle, &sha256).await? {
        return duplicate(state, existing.id).await;
    }

    check_quotas(state, &who.handle).await?;

    // Every check of `amm-engine validate`, off the async runtime, a bounded number at once.
    let permit = state
        .validations
        .acquire()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let (passed, checks, info) = {
        let state = state.clone();
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || {
            let (passed, checks) = eval::validate_upload(&state.engine, &state.file.config, &bytes, "submission");
            let info = amm_engine::sandbox::inspect(&bytes, &state.file.config.sandbox).ok();
            (passed, checks, info)
        })
        .await
        .map_err(|e| ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "validation could not run", e))?
    };
    drop(permit);
    if !passed {
        let failed: Vec<&CheckView> = checks.iter().filter(|c| c.outcome == Outcome::Fail).collect();
        let message = failed.first().map_or_else(
            || "the module was refused".to_string(),
            |c| format!("the module was refused: {}: {}", c.name, c.detail),
        );
        let body = json!({ "error": message, "failed": failed, "checks": checks });
        return Err(ApiError::with_body(StatusCode::UNPROCESSABLE_ENTITY, body));
    }

    // Keep the bytes under the data directory, named by their hash.
    let rel = eval::module_rel_path(&sha256);
    let path = state.data.join(&rel);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ApiError::internal(StatusCode::INSUFFICIENT_STORAGE, "cannot store the module", e))?;

    let section_name = info.as_ref().and_then(|i| i.name.clone()).filter(|n| !n.is_empty());
    let name = name.or(section_name).unwrap_or_else(|| format!("{}-{}", who.handle, &sha256[..8]));
    let model = info.and_then(|i| i.model).unwrap_or_else(|| "None".into());
    let sub = Submission {
        id: 0,
        submitter: who.handle.clone(),
        name,
        model,
        sha256,
        bytes_path: rel.to_string_lossy().into_owned(),
        size: bytes.len() as i64,
        baseline: false,
        status: SubmissionStatus::Pending,
        validation: serde_json::to_string(&checks).unwrap_or_default(),
        summary: None,
        engine_version: amm_engine::ENGINE_VERSION.into(),
        error: None,
        created_at: 0,
        evaluated_at: None,
        salt: crate::db::new_salt(),
        flag: None,
        hidden: false,
        round: None,
        entries: None,
    };
    let plan = crate::plan_for(state);
    match state.db.insert_submission(&sub, Some(&bytes), &plan).await? {
        Inserted::New(id, jobs) => {
            state.wake.notify_waiters();
            tracing::info!(submission = id, submitter = %who.handle, "accepted");
            Ok(accepted(id, jobs, false))
        }
        Inserted::Duplicate(id) => duplicate(state, id).await,
    }
}

/// The submitter's quotas: 429 with Retry-After when `handle` has `quotas.concurrent`
/// submissions still being evaluated, or `quotas.per_day` accepted in the last 24 hours.
async fn check_quotas(state: &Arc<State>, handle: &str) -> Result<(), ApiError> {
    let quotas = state.file.competition.quotas;
    let day_ms = 86_400_000;
    let (pending, recent) = state.db.quota_usage(handle, now_ms() - day_ms).await?;
    if pending >= i64::from(quotas.concurrent) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{pending} of your submissions are still being evaluated (at most {} at once)", quotas.concurrent),
        );
        e.retry_after = Some(state.file.competition.jobs.lease_seconds.max(5));
        return Err(e);
    }
    if recent.len() as u64 >= u64::from(quotas.per_day) {
        let oldest = recent.first().copied().unwrap_or_else(now_ms);
        let wait_ms = (oldest + day_ms - now_ms()).max(1000);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{} submissions in the last 24 hours (at most {})", recent.len(), quotas.per_day),
        );
        e.retry_after = Some((wait_ms as u64).div_ceil(1000));
        return Err(e);
    }
    Ok(())
}

/// Builds an uploaded single-file source with the hardened builder (screening, fixed
/// manifest, offline, time and resource limits) and returns the module's bytes.
///
/// Errors: 422 when the competition does not accept source, when the source is not UTF-8, is
/// refused by the screen (the line named) or does not compile (the compiler's diagnostics,
/// naming `submission.rs`); 507 when the source cannot be stored; 503 when no toolchain is there.
async fn build_uploaded_source(state: &Arc<State>, handle: &str, source: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    let refused = |name: &str, detail: String| {
        let check = CheckView { name: name.into(), outcome: Outcome::Fail, detail: detail.clone() };
        let body =
            json!({ "error": format!("the source was refused: {detail}"), "failed": [&check], "checks": [&check] });
        ApiError::with_body(StatusCode::UNPROCESSABLE_ENTITY, body)
    };
    if !state.file.competition.accept_source {
        return Err(refused(
            "source",
            "this competition accepts modules only: build your strategy (`amm-engine validate my_strategy.rs` \
             builds a single file and prints the module's path) and upload the .wasm as the part 'module'"
                .into(),
        ));
    }
    let options = amm_engine::single_file::SourceOptions {
        cache_dir: state.data.join("builds"),
        ..amm_engine::single_file::SourceOptions::default()
    };
    // Refused before it is stored: the upload limit may be far above the source limit.
    if source.len() > options.max_source_bytes {
        return Err(refused(
            "screen",
            format!(
                "submission.rs: refused: the source is {} bytes; a single-file strategy may have at most {} bytes",
                source.len(),
                options.max_source_bytes
            ),
        ));
    }
    let text = String::from_utf8(source).map_err(|_| refused("source", "the source is not UTF-8 text".into()))?;
    // Each build may hold a compiler for minutes: a submitter gets a few an hour, refused
    // builds included, whatever the outcome.
    let per_hour = state.file.competition.quotas.source_builds_per_hour;
    if let Err(wait) = state.build_limiter.check(&handle.to_string()) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "at most {per_hour} source uploads an hour (each starts a compiler): build it yourself \
                 (`amm-engine validate my_strategy.rs` prints the module's path) and upload the .wasm as \
                 the part 'module', or wait"
            ),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let sha = amm_engine::sandbox::sha256_hex(text.as_bytes());
    let dir = state.data.join("sources");
    let storage =
        |e: std::io::Error| ApiError::internal(StatusCode::INSUFFICIENT_STORAGE, "cannot store the source", e);
    std::fs::create_dir_all(&dir).map_err(storage)?;
    // Named by its hash under the data directory: no client-chosen path.
    let path = dir.join(format!("{sha}.rs"));
    std::fs::write(&path, &text).map_err(storage)?;
    // Builds have a slot of their own: a slow build never delays module uploads' checks.
    let permit =
        state.builds.acquire().await.map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let built = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || amm_engine::single_file::build_source(&path, &options))
            .await
            .map_err(|e| ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "the build could not run", e))?
    };
    drop(permit);
    // Messages name the file the way the submitter knows it, not our data directory.
    let shown = |message: String| message.replace(&path.display().to_string(), "submission.rs");
    match built {
        Ok(built) => std::fs::read(&built.wasm).map_err(|e| {
            ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "the built module could not be read", e)
        }),
        Err(e @ amm_engine::builder::BuildError::Refused { .. }) => Err(refused("screen", shown(e.to_string()))),
        Err(e @ amm_engine::builder::BuildError::Spawn(_))
        | Err(e @ amm_engine::builder::BuildError::TargetMissing(_)) => {
            tracing::error!(error = %e, "cannot build uploaded sources");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server cannot build sources now"))
        }
        Err(e) => Err(refused("build", shown(e.to_string()))),
    }
}

/// The answer to an upload of submission `id` with its `jobs`: 202 when new, 200 for the same
/// bytes submitted before.
fn accepted(submission: i64, jobs: Vec<i64>, duplicate: bool) -> Response {
    let status = if duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    let body = Accepted { submission, job: jobs.first().copied().unwrap_or(0), jobs, duplicate };
    (status, Json(body)).into_response()
}

/// The answer to bytes submitted before: the earlier submission `id` and its jobs.
async fn duplicate(state: &State, id: i64) -> Result<Response, ApiError> {
    let jobs = state.db.jobs_of(id).await?.iter().map(|j| j.id).collect();
    Ok(accepted(id, jobs, true))
}

pub use crate::states::Progress;
use crate::states::{JobState, SubmissionStatus};
use amm_engine::validate::Outcome;

/// A job.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// Id.
    pub id: i64,
    /// Its submission.
    pub submission: i64,
    /// Where it is.
    pub state: JobState,
    /// Progress.
    pub progress: Progress,
    /// Claims so far (more than one after an infrastructure fault or a dead worker).
    pub attempts: i64,
    /// Last error.
    pub error: Option<String>,
    /// Times, ISO 8601 UTC.
    pub created_at: String,
    /// Start of the latest attempt.
    pub started_at: Option<String>,
    /// End.
    pub finished_at: Option<String>,
}

fn job_view(j: &Job) -> JobView {
    JobView {
        id: j.id,
        submission: j.submission,
        state: j.state,
        progress: j.progress(),
        attempts: j.attempts,
        error: j.error.clone(),
        created_at: iso8601(j.created_at),
        started_at: j.started_at.map(iso8601),
        finished_at: j.finished_at.map(iso8601),
    }
}

/// A job's state and progress.
#[utoipa::path(get, path = "/api/jobs/{id}", params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 404, description = "no such job")))]
async fn job(state: Shared, Path(id): Path<i64>) -> Result<Json<JobView>, ApiError> {
    let j = state.db.job(id).await?.ok_or_else(|| not_found("job", id))?;
    Ok(Json(job_view(&j)))
}

/// A job's state as Server-Sent Events: an `event: job` with the job (as `GET /api/jobs/{id}`)
/// at once and whenever its state, progress or attempts change; the stream ends after the
/// final state.
#[utoipa::path(get, path = "/api/jobs/{id}/events", params(("id" = i64, Path, description = "job id")),
    responses((status = 200, description = "text/event-stream of `job` events", content_type = "text/event-stream"),
        (status = 404, description = "no such job"),
        (status = 503, description = "over `quotas.event_streams` open at once (Retry-After)")))]
async fn job_events(state: Shared, Path(id): Path<i64>) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let first = state.db.job(id).await?.ok_or_else(|| not_found("job", id))?;
    // Held by the stream until it ends or the client leaves.
    let Ok(permit) = state.event_streams.clone().try_acquire_owned() else {
        let most = state.file.competition.quotas.event_streams;
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{most} job event streams are open (the most at once): retry, or poll GET /api/jobs/{id}"),
        );
        e.retry_after = Some(5);
        return Err(e);
    };
    let db = state.db.clone();
    // (the job to send now, the last sent (state, done, attempts), the stream is over, the permit)
    let seed = (Some(first), None::<(JobState, i64, i64)>, false, permit);
    let stream = futures_util::stream::unfold(seed, move |(mut next, mut last, over, permit)| {
        let db = db.clone();
        async move {
            if over {
                return None;
            }
            loop {
                let job = match next.take() {
                    Some(job) => job,
                    None => {
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                        match db.job(id).await {
                            Ok(Some(job)) => job,
                            // Gone or the database failed: end the stream (clients reconnect).
                            _ => return None,
                        }
                    }
                };
                let key = (job.state, job.done, job.attempts);
                if last.as_ref() == Some(&key) {
                    continue;
                }
                last = Some(key);
                let done = job.state.is_finished();
                let event = Event::default().event("job").json_data(job_view(&job));
                return Some((event, (None, last, done, permit)));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// Cancels a job's evaluation (all of its submission's jobs): its owner or an admin.
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", params(("id" = i64, Path, description = "job id")),
    security(("bearer" = [])),
    responses((status = 200, body = JobView), (status = 401, description = "no valid token"),
        (status = 403, description = "not yours"), (status = 404, description = "no such job"),
        (status = 409, description = "already finished")))]
async fn cancel(state: Shared, headers: HeaderMap, Path(id): Path<i64>) -> Result<Json<JobView>, ApiError> {
    let who = caller(&state, &headers).await?;
    let j = state.db.job(id).await?.ok_or_else(|| not_found("job", id))?;
    let sub = state.db.submission(j.submission).await?.ok_or_else(|| not_found("submission", j.submission))?;
    if sub.submitter != who.handle && !who.admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "only the submitter or an admin may cancel this job"));
    }
    if !state.db.cancel(sub.id).await? {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("the evaluation has already ended ({})", sub.status)));
    }
    let j = state.db.job(id).await?.ok_or_else(|| not_found("job", id))?;
    Ok(Json(job_view(&j)))
}

/// A submission: status, validation report, summary, per-seed edges, disqualifications.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SubmissionView {
    /// Id.
    pub id: i64,
    /// Submitter.
    pub submitter: String,
    /// Strategy name.
    pub name: String,
    /// Model that wrote it.
    pub model: String,
    /// sha256 of the module.
    pub sha256: String,
    /// Module size, bytes.
    pub size: i64,
    /// Where its evaluation is.
    pub status: SubmissionStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The validation checks it passed.
    pub validation: Vec<CheckView>,
    /// Its jobs.
    pub jobs: Vec<JobView>,
    /// Simulations done over all jobs, and in all.
    pub progress: Progress,
    /// The evaluation (the entry is the last entrant), once evaluated.
    pub summary: Option<Summary>,
    /// Upload time.
    pub submitted_at: String,
    /// Evaluation end.
    pub evaluated_at: Option<String>,
    /// Engine version.
    pub engine_version: String,
    /// The evaluation's secret `[run] salt`, published once it is evaluated (absent while it
    /// is pending, re-scored or failed); `results.json` records it too.
    pub salt: Option<String>,
    /// Why an admin flagged it for review, if flagged.
    pub flag: Option<String>,
    /// Hidden from the board by an admin.
    pub hidden: bool,
}

/// A submission's validation, evaluation and per-seed results.
#[utoipa::path(get, path = "/api/submissions/{id}", params(("id" = i64, Path, description = "submission id")),
    responses((status = 200, body = SubmissionView), (status = 404, description = "no such submission")))]
pub async fn submission(state: Shared, Path(id): Path<i64>) -> Result<Json<SubmissionView>, ApiError> {
    // A round group is not a submission: its results are the round's (GET /api/rounds/{id}).
    let s = state.db.submission(id).await?.filter(|s| s.round.is_none()).ok_or_else(|| not_found("submission", id))?;
    let jobs = state.db.jobs_of(id).await?;
    let evaluated = s.status == SubmissionStatus::Evaluated;
    let validation = parse(&s.validation, "validation report")?;
    let summary = match &s.summary {
        Some(text) => Some(parse(text, "summary")?),
        None => None,
    };
    Ok(Json(SubmissionView {
        id: s.id,
        submitter: s.submitter,
        name: s.name,
        model: s.model,
        sha256: s.sha256,
        size: s.size,
        status: s.status,
        error: s.error,
        validation,
        progress: jobs.iter().map(Job::progress).sum(),
        jobs: jobs.iter().map(job_view).collect(),
        summary,
        submitted_at: iso8601(s.created_at),
        evaluated_at: s.evaluated_at.map(iso8601),
        engine_version: s.engine_version,
        salt: evaluated.then_some(s.salt),
        flag: s.flag,
        hidden: s.hidden,
    }))
}

/// The evaluation's merged `results.json`, byte-identical to `amm-engine run` of the same
/// configuration (the house field, then the entry).
#[utoipa::path(get, path = "/api/submissions/{id}/results.json", params(("id" = i64, Path, description = "submission id")),
    responses((status = 200, description = "results.json"), (status = 404, description = "no such evaluated submission")))]
async fn results_json(state: Shared, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let text = state.db.results(id).await?.ok_or_else(|| not_found("evaluated submission", id))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// The evaluation as a submission bundle (tar of `bundle/`: modules, config.toml,
/// results.json, receipt.json): `amm-engine verify bundle/receipt.json` re-runs it offline.
#[utoipa::path(get, path = "/api/submissions/{id}/bundle.tar", params(("id" = i64, Path, description = "submission id")),
    responses((status = 200, description = "a tar archive", content_type = "application/x-tar"),
        (status = 404, description = "no such evaluated submission")))]
async fn bundle_tar(state: Shared, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let text = state.db.results(id).await?.ok_or_else(|| not_found("evaluated submission", id))?;
    // A few archives at once: each reads the module and the results from disk.
    let Ok(_permit) = state.bundles.try_acquire() else {
        let mut e =
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "bundles are being built for others: try again shortly");
        e.retry_after = Some(1);
        return Err(e);
    };
    let data = state.data.clone();
    let archive = tokio::task::spawn_blocking(move || crate::bundle::tar(&text, &data))
        .await
        .map_err(|e| ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "the bundle could not be built", e))?
        .map_err(|e| ApiError::corrupt("bundle", e))?;
    let disposition = format!("attachment; filename=\"submission-{id}.tar\"");
    Ok(([(header::CONTENT_TYPE, "application/x-tar".to_string()), (header::CONTENT_DISPOSITION, disposition)], archive)
        .into_response())
}

/// One row of the board.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct BoardRow {
    /// Rank among entries (baselines are unranked).
    pub rank: Option<u32>,
    /// Tie group: consecutive entries a paired test on their common seeds cannot separate
    /// (|mean paired difference| < 2 standard errors) share one (baselines have none).
    pub tie_group: Option<u32>,
    /// A baseline: the normalizer or a house strategy, racing without any entry.
    pub baseline: bool,
    /// Submitter handle ('house' for baselines).
    pub submitter: String,
    /// Strategy name.
    pub strategy: String,
    /// Model that wrote it (`amm.model`; "None" for human-written).
    pub model: String,
    /// Submission id.
    pub submission: i64,
    /// The submitter's evaluated submissions (1 for baselines).
    pub attempts: u32,
    /// Mean edge per simulation, Y.
    pub mean_edge: f64,
    /// Its standard error, Y.
    pub stderr_edge: f64,
    /// Mean paired edge over the normalizer, Y.
    pub edge_vs_normalizer: Option<f64>,
    /// Its standard error, Y.
    pub stderr_vs_normalizer: Option<f64>,
    /// Sharpe ratio of edge.
    pub sharpe: f64,
    /// Mean share of retail volume, 0–1.
    pub retail_share: f64,
    /// Mean arbitrage loss, Y.
    pub arb_loss: f64,
    /// Simulations disqualified.
    pub disqualified_sims: u32,
    /// Upload time, ISO 8601 UTC.
    pub submitted_at: String,
    /// Engine version that evaluated it.
    pub engine_version: String,
    /// Why an admin flagged it for review, if flagged.
    pub flag: Option<String>,
}

fn row(sub: &Submission, e: &EntrantSummary, engine_version: &str) -> BoardRow {
    BoardRow {
        rank: None,
        tie_group: None,
        baseline: sub.baseline,
        submitter: sub.submitter.clone(),
        strategy: e.name.clone(),
        model: sub.model.clone(),
        submission: sub.id,
        attempts: 1,
        mean_edge: e.mean_edge,
        stderr_edge: e.stderr_edge,
        edge_vs_normalizer: e.edge_vs_normalizer,
        stderr_vs_normalizer: e.stderr_vs_normalizer,
        sharpe: e.sharpe,
        retail_share: e.retail_share,
        arb_loss: e.arb_loss,
        disqualified_sims: e.disqualified_sims,
        submitted_at: iso8601(sub.created_at),
        engine_version: engine_version.to_string(),
        flag: sub.flag.clone(),
    }
}

/// The board's order: `amm-engine run`'s ranking by mean edge, then the earlier submission.
fn better(a: &BoardRow, b: &BoardRow) -> std::cmp::Ordering {
    use amm_engine::report::{Standing, rank_order};
    let standing = |r: &BoardRow| Standing { failed: r.disqualified_sims > 0, score: r.mean_edge };
    rank_order(standing(a), standing(b)).then(a.submission.cmp(&b.submission))
}

/// The board, recomputed only when the set of evaluated submissions changed.
pub async fn board(state: &State) -> Result<Arc<Vec<BoardRow>>, ApiError> {
    let version = state.db.evaluated_version().await?;
    if let Some((v, rows)) = state.board_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref()
        && *v == version
    {
        return Ok(rows.clone());
    }
    let rows = Arc::new(compute_board(state).await?);
    *state.board_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((version, rows.clone()));
    Ok(rows)
}

async fn compute_board(state: &State) -> Result<Vec<BoardRow>, ApiError> {
    // Each row with its per-seed edges (for the paired tie test).
    let mut best: Vec<(BoardRow, Vec<(u64, f64)>)> = Vec::new();
    let mut baseline: Vec<BoardRow> = Vec::new();
    let evaluated = state.db.evaluated().await?;
    let mut attempts: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for sub in evaluated.iter().filter(|s| !s.baseline) {
        *attempts.entry(sub.submitter.clone()).or_default() += 1;
    }
    for sub in evaluated {
        let Some(text) = &sub.summary else { continue };
        let summary: Summary = parse(text, "summary")?;
        if sub.baseline {
            // The latest baseline evaluation stands for the house field.
            baseline = summary.entrants.iter().map(|e| row(&sub, e, &summary.engine_version)).collect();
            baseline.extend(summary.normalizer.iter().map(|n| row(&sub, n, &summary.engine_version)));
            continue;
        }
        let Some(entry) = summary.entrants.last() else { continue };
        let candidate = row(&sub, entry, &summary.engine_version);
        match best.iter_mut().find(|(r, _)| r.submitter == candidate.submitter) {
            Some(current) if better(&candidate, &current.0).is_lt() => *current = (candidate, summary.per_seed_edges),
            Some(_) => {}
            None => best.push((candidate, summary.per_seed_edges)),
        }
    }
    for (r, _) in &mut best {
        r.attempts = attempts.get(r.submitter.as_str()).copied().unwrap_or(1);
    }
    best.sort_by(|a, b| better(&a.0, &b.0));
    let edges: Vec<&[(u64, f64)]> = best.iter().map(|(_, e)| e.as_slice()).collect();
    let groups = tie_groups(&edges);
    let mut rows: Vec<BoardRow> = best
        .iter()
        .zip(groups)
        .enumerate()
        .map(|(i, ((r, _), group))| BoardRow { rank: Some(i as u32 + 1), tie_group: Some(group), ..r.clone() })
        .collect();
    rows.extend(baseline);
    rows.sort_by(better);
    Ok(rows)
}

/// Tie groups of entries in rank order: an entry shares its neighbour's group when a paired
/// test on their common seeds cannot separate them (|mean difference| < 2 standard errors of
/// the paired difference, or fewer than 2 common seeds).
pub fn tie_groups(edges: &[&[(u64, f64)]]) -> Vec<u32> {
    let mut groups = Vec::with_capacity(edges.len());
    let mut group = 1;
    for (i, e) in edges.iter().enumerate() {
        if i > 0 && separable(edges[i - 1], e) {
            group += 1;
        }
        groups.push(group);
    }
    groups
}

fn separable(a: &[(u64, f64)], b: &[(u64, f64)]) -> bool {
    let by_seed: std::collections::HashMap<u64, f64> = b.iter().copied().collect();
    let diffs: Vec<f64> = a.iter().filter_map(|(seed, x)| by_seed.get(seed).map(|y| x - y)).collect();
    let n = diffs.len();
    if n < 2 {
        return false;
    }
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let var = diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    mean.abs() > 2.0 * se && mean != 0.0
}

/// One row per submitter (their best evaluated submission), with baselines as flagged rows.
#[utoipa::path(get, path = "/api/leaderboard", responses((status = 200, body = Vec<BoardRow>)))]
async fn leaderboard(state: Shared) -> Result<Response, ApiError> {
    Ok(Json(board(&state).await?.as_slice()).into_response())
}

/// The board as CSV (same columns).
#[utoipa::path(get, path = "/api/leaderboard.csv", responses((status = 200, description = "text/csv", content_type = "text/csv")))]
async fn leaderboard_csv(state: Shared) -> Result<Response, ApiError> {
    let rows = board(&state).await?;
    let mut out = String::from(
        "rank,tie_group,baseline,submitter,strategy,submission,mean_edge,stderr_edge,edge_vs_normalizer,stderr_vs_normalizer,\
         sharpe,retail_share,arb_loss,disqualified_sims,submitted_at,engine_version,flag\n",
    );
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    for r in rows.iter() {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.rank.map_or_else(String::new, |n| n.to_string()),
            r.tie_group.map_or_else(String::new, |n| n.to_string()),
            r.baseline,
            csv_field(&r.submitter),
            csv_field(&r.strategy),
            r.submission,
            r.mean_edge,
            r.stderr_edge,
            opt(r.edge_vs_normalizer),
            opt(r.stderr_vs_normalizer),
            r.sharpe,
            r.retail_share,
            r.arb_loss,
            r.disqualified_sims,
            r.submitted_at,
            csv_field(&r.engine_version),
            csv_field(r.flag.as_deref().unwrap_or_default()),
        ));
    }
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
}

/// A JSON body that may be empty (then `T::default()`).
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("request body: {e}")))
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
async fn rescore(state: Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = admin(&state, &headers).await?;
    let plan = crate::plan_for(&state);
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
    /// Why (shown on the board).
    pub reason: String,
    /// False clears the flag.
    pub flagged: bool,
}

impl Default for FlagRequest {
    fn default() -> Self {
        Self { reason: "flagged for review".into(), flagged: true }
    }
}

/// Flags a submission for review (its board row shows the reason) or clears the flag.
/// Admin only; returns the submission.
#[utoipa::path(post, path = "/api/admin/submissions/{id}/flag", params(("id" = i64, Path, description = "submission id")),
    security(("bearer" = [])), request_body(content = FlagRequest, description = "optional"),
    responses((status = 200, body = SubmissionView), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such submission"),
        (status = 422, description = "a malformed body")))]
async fn flag(
    state: Shared,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<SubmissionView>, ApiError> {
    let who = admin(&state, &headers).await?;
    let request: FlagRequest = optional_body(&body)?;
    let reason = request.reason.trim();
    if request.flagged && !amm_engine::names::is_reason(reason) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reason: {}", amm_engine::names::REASON_RULE),
        ));
    }
    if !state.db.flag(id, request.flagged.then_some(reason)).await? {
        return Err(not_found("submission", id));
    }
    tracing::info!(admin = %who.handle, submission = id, flagged = request.flagged, "flag");
    submission(state, Path(id)).await
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
#[utoipa::path(post, path = "/api/admin/submissions/{id}/hide", params(("id" = i64, Path, description = "submission id")),
    security(("bearer" = [])), request_body(content = HideRequest, description = "optional"),
    responses((status = 200, body = SubmissionView), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such submission"),
        (status = 422, description = "a malformed body")))]
async fn hide(
    state: Shared,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<SubmissionView>, ApiError> {
    let who = admin(&state, &headers).await?;
    let request: HideRequest = optional_body(&body)?;
    if !state.db.hide(id, request.hidden).await? {
        return Err(not_found("submission", id));
    }
    tracing::info!(admin = %who.handle, submission = id, hidden = request.hidden, "hide");
    submission(state, Path(id)).await
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
#[utoipa::path(post, path = "/api/admin/jobs/{id}/requeue", params(("id" = i64, Path, description = "job id")),
    security(("bearer" = [])),
    responses((status = 200, body = Requeued), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such job"),
        (status = 409, description = "the job has not failed")))]
async fn requeue(state: Shared, headers: HeaderMap, Path(id): Path<i64>) -> Result<Json<Requeued>, ApiError> {
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

/// Quotes a CSV field when needed, and defuses spreadsheet formulas (a leading = + - @).
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// Unix milliseconds as ISO 8601 UTC (`2026-11-29T09:27:49.123Z`).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_944_469_123), "2026-11-29T09:27:49.123Z");
    }

    #[test]
    fn neighbours_a_paired_test_cannot_separate_share_a_tie_group() {
        let seeds = |f: &dyn Fn(u64) -> f64| (0..50).map(|s| (s, f(s))).collect::<Vec<(u64, f64)>>();
        // Large seed-to-seed noise shared by all (common random numbers), small true gaps.
        let noise = |s: u64| ((s * 7919 % 101) as f64 - 50.0) * 10.0;
        let a = seeds(&|s| noise(s) + 5.0 + (s % 3) as f64 * 0.1);
        let b = seeds(&|s| noise(s) + 4.9 + (s % 5) as f64 * 0.1); // within noise of a's gap
        let c = seeds(&|s| noise(s) + 1.0); // clearly below b, paired
        let d = seeds(&|s| noise(s) + 1.0); // identical to c
        assert_eq!(tie_groups(&[&a, &b, &c, &d]), vec![1, 1, 2, 2]);
        // Without common seeds nothing can be separated.
        let e: Vec<(u64, f64)> = (100..150).map(|s| (s, -1000.0)).collect();
        assert_eq!(tie_groups(&[&a, &e]), vec![1, 1]);
        assert_eq!(tie_groups(&[]), Vec::<u32>::new());
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
