//! `/api/submissions`: uploads (checked before they are queued), a submission's view, its
//! results.json and its verifiable bundle.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State as Extract};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::caller;
use crate::db::{Inserted, Submission, now_ms};
use crate::error::{ApiError, not_found};
use crate::eval::{self, CheckView};
use crate::state::State;
use crate::states::SubmissionStatus;
use crate::views::{self, SubmissionView};
use amm_engine::validate::Outcome;

type Shared = Extract<Arc<State>>;

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

/// The body of a 422 answer to an upload: the module, the source or the name was refused by a
/// check. `failed` holds the checks that failed (at least one), `checks` every check run.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ValidationFailure {
    /// What went wrong, for people: the first failed check and its detail.
    pub error: String,
    /// The checks that failed.
    pub failed: Vec<CheckView>,
    /// Every check run (for a module: those of `amm-engine validate`).
    pub checks: Vec<CheckView>,
}

impl ValidationFailure {
    /// The 422 answer of `checks`, `error` saying what failed.
    pub fn answer(error: String, checks: Vec<CheckView>) -> ApiError {
        let failed = checks.iter().filter(|c| c.outcome == Outcome::Fail).cloned().collect();
        let body = ValidationFailure { error, failed, checks };
        match serde_json::to_value(&body) {
            Ok(body) => ApiError::with_body(StatusCode::UNPROCESSABLE_ENTITY, body),
            Err(e) => ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "the refusal could not be written", e),
        }
    }

    /// The 422 answer of one failed check `name` with `detail`.
    pub fn one(error: String, name: &str, detail: String) -> ApiError {
        Self::answer(error, vec![CheckView { name: name.into(), outcome: Outcome::Fail, detail }])
    }
}

/// The parts of an upload (`multipart/form-data`). The served document gives this
/// competition's limits: each part's `maxLength` in bytes, and the part `source` only where
/// source is accepted (then exactly one of `module` and `source`). (`read_parts` reads them.)
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadForm {
    /// The module: a WebAssembly binary (`.wasm`) that passes every check of `amm-engine
    /// validate` (a module that fails one is refused with 422 and the failed checks).
    #[schema(value_type = String, format = Binary)]
    pub module: Vec<u8>,
    /// A single-file Rust strategy (UTF-8), built by the server, instead of `module`: only
    /// where the competition accepts source.
    #[schema(value_type = Option<String>, format = Binary)]
    pub source: Option<Vec<u8>>,
    /// The strategy's display name, trimmed (default: the module's `amm.name`, else
    /// `handle-sha256`).
    #[schema(schema_with = name_schema)]
    pub name: Option<String>,
}

/// The schema of [`UploadForm::name`]: the server's rule as `minLength`, `maxLength`
/// (characters) and `pattern`.
fn name_schema() -> utoipa::openapi::Object {
    crate::api::schema::form_text_schema(
        "The strategy's display name, trimmed (default: the module's `amm.name`, else `handle-sha256`).",
        amm_engine::names::MAX_NAME_CHARS,
        amm_engine::names::FORM_NAME_RULE,
    )
    .build()
}

/// Uploads a module: multipart part `module` (the `.wasm` bytes), optional part `name`.
#[utoipa::path(post, path = "/api/submissions", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "accepted and queued", body = Accepted),
        (status = 200, description = "the same bytes were submitted before", body = Accepted),
        (status = 401, description = "no valid token"),
        (status = 413, description = "over the upload limit"),
        (status = 422, description = "refused by a check (validation, the source's screen or build, the name): the failed checks", body = ValidationFailure),
        (status = 400, description = "not a multipart form with the expected parts (what is wrong, in `error`)"),
        (status = 408, description = "the upload did not arrive in time"),
        (status = 429, description = "over quota (Retry-After)"),
        (status = 500, description = "an internal error (logged; the upload is not kept)"),
        (status = 503, description = "shutting down, or no toolchain for a source"),
        (status = 507, description = "the module could not be stored"),
    ))]
pub async fn submit(
    state: Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
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
/// bytes (413), on an unknown or repeated part (400) or an invalid name (422).
pub async fn read_parts(multipart: &mut Multipart, limit: u64) -> Result<Parts, ApiError> {
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the module is over the upload limit of {limit} bytes"))
    };
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large() } else { ApiError::new(e.status(), e.body_text()) }
    };
    let mut module: Option<Vec<u8>> = None;
    let mut source: Option<Vec<u8>> = None;
    let mut name: Option<String> = None;
    // A part sent twice is refused, not resolved by "the last one wins": which module or name
    // the client meant is not ours to guess.
    let repeated = |part: &str| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("the part '{part}' was sent more than once: send it once"))
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let seen = match field.name() {
            Some("module") => module.is_some(),
            Some("source") => source.is_some(),
            Some("name") => name.is_some(),
            _ => false,
        };
        if seen {
            return Err(repeated(field.name().unwrap_or_default()));
        }
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
                // Checked as sent (the document's rule), stored trimmed.
                if !amm_engine::names::is_form_text(&text, amm_engine::names::MAX_NAME_CHARS) {
                    let rule = amm_engine::names::FORM_NAME_RULE;
                    return Err(ValidationFailure::one(format!("name: {rule}"), "name", rule.to_string()));
                }
                name = Some(text.trim().to_string());
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

/// The upload itself: its parts, quotas, checks, storage and jobs.
pub async fn submit_inner(
    state: &Arc<State>,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let who = caller(state, headers).await?;
    // After authentication (a stranger gets 401 whatever the body), and saying what to send:
    // axum's rejection only says "Invalid `boundary` for `multipart/form-data` request".
    let mut multipart = multipart.map_err(|_| {
        let parts = if state.file.competition.accept_source {
            "the part 'module' (the .wasm bytes) or 'source' (a single-file .rs)"
        } else {
            "the part 'module' (the .wasm bytes)"
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("send the upload as multipart/form-data with {parts} and optionally 'name' (curl -F module=@strategy.wasm)"),
        )
    })?;
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
        let message = checks.iter().find(|c| c.outcome == Outcome::Fail).map_or_else(
            || "the module was refused".to_string(),
            |c| format!("the module was refused: {}: {}", c.name, c.detail),
        );
        return Err(ValidationFailure::answer(message, checks));
    }

    // Keep the bytes under the data directory, named by their hash.
    let rel = eval::module_rel_path(&sha256);
    let path = state.data.join(&rel);
    amm_engine::files::write_atomically(&path, &bytes, false)
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
        study: None,
    };
    let plan = crate::state::plan_for(state);
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
pub async fn check_quotas(state: &Arc<State>, handle: &str) -> Result<(), ApiError> {
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
pub async fn build_uploaded_source(state: &Arc<State>, handle: &str, source: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    let refused =
        |name: &str, detail: String| ValidationFailure::one(format!("the source was refused: {detail}"), name, detail);
    if !state.file.competition.accept_source {
        return Err(refused(
            "source",
            "this competition accepts modules only: build your strategy (`amm-engine validate my_strategy.rs` \
             builds a single file and prints the module's path) and upload the .wasm as the part 'module'"
                .into(),
        ));
    }
    let options = amm_engine::build::SourceOptions {
        cache_dir: state.data.join("builds"),
        ..amm_engine::build::SourceOptions::default()
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
        tokio::task::spawn_blocking(move || amm_engine::build::build_source(&path, &options))
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
        Err(e @ amm_engine::build::BuildError::Refused { .. }) => Err(refused("screen", shown(e.to_string()))),
        Err(e @ amm_engine::build::BuildError::Spawn(_)) | Err(e @ amm_engine::build::BuildError::TargetMissing(_)) => {
            tracing::error!(error = %e, "cannot build uploaded sources");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server cannot build sources now"))
        }
        Err(e) => Err(refused("build", shown(e.to_string()))),
    }
}

/// The answer to an upload of submission `id` with its `jobs`: 202 when new, 200 for the same
/// bytes submitted before.
pub fn accepted(submission: i64, jobs: Vec<i64>, duplicate: bool) -> Response {
    let status = if duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    let body = Accepted { submission, job: jobs.first().copied().unwrap_or(0), jobs, duplicate };
    (status, Json(body)).into_response()
}

/// The answer to bytes submitted before: the earlier submission `id` and its jobs.
pub async fn duplicate(state: &State, id: i64) -> Result<Response, ApiError> {
    let jobs = state.db.jobs_of(id).await?.iter().map(|j| j.id).collect();
    Ok(accepted(id, jobs, true))
}

/// A submission's validation, evaluation and per-seed results.
#[utoipa::path(get, path = "/api/submissions/{id}", params(("id" = i64, Path, minimum = 1, description = "submission id (1 to 9223372036854775807)")),
    responses((status = 200, body = SubmissionView), (status = 404, description = "no such submission")))]
pub async fn submission(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::SubmissionIds>,
) -> Result<Json<SubmissionView>, ApiError> {
    Ok(Json(views::submission(&state, id).await?))
}

/// The evaluation's merged `results.json`, byte-identical to `amm-engine run` of the same
/// configuration (the house field, then the entry).
#[utoipa::path(get, path = "/api/submissions/{id}/results.json", params(("id" = i64, Path, minimum = 1, description = "submission id (1 to 9223372036854775807)")),
    responses((status = 200, description = "results.json"), (status = 404, description = "no such evaluated submission")))]
pub async fn results_json(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::SubmissionIds>,
) -> Result<Response, ApiError> {
    let text = state.db.results(id).await?.ok_or_else(|| not_found("evaluated submission", id))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// The evaluation as a submission bundle (tar of `bundle/`: modules, config.toml,
/// results.json, receipt.json): `amm-engine verify bundle/receipt.json` re-runs it offline.
#[utoipa::path(get, path = "/api/submissions/{id}/bundle.tar", params(("id" = i64, Path, minimum = 1, description = "submission id (1 to 9223372036854775807)")),
    responses((status = 200, description = "a tar archive", content_type = "application/x-tar"),
        (status = 404, description = "no such evaluated submission")))]
pub async fn bundle_tar(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::SubmissionIds>,
) -> Result<Response, ApiError> {
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
