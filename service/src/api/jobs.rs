//! `/api/jobs`: a job's state, its live events, its place in the queue, cancelling it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::caller;
use crate::error::{ApiError, not_found};
use crate::state::State;
use crate::states::JobState;
use crate::views::{JobView, job_view};

type Shared = Extract<Arc<State>>;

/// A job's state and progress.
#[utoipa::path(get, path = "/api/jobs/{id}", params(("id" = i64, Path, minimum = 1, description = "job id (1 to 9223372036854775807)")),
    responses((status = 200, body = JobView), (status = 404, description = "no such job")))]
pub async fn job(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::JobIds>,
) -> Result<Json<JobView>, ApiError> {
    let j = state.db.job(id).await?.ok_or_else(|| not_found("job", id))?;
    Ok(Json(job_view(&j)))
}

/// A job's state as Server-Sent Events: an `event: job` with the job (as `GET /api/jobs/{id}`)
/// at once and whenever its state, progress or attempts change; the stream ends after the
/// final state.
#[utoipa::path(get, path = "/api/jobs/{id}/events", params(("id" = i64, Path, minimum = 1, description = "job id (1 to 9223372036854775807)")),
    responses((status = 200, description = "text/event-stream of `job` events", content_type = "text/event-stream"),
        (status = 404, description = "no such job"),
        (status = 503, description = "over `quotas.event_streams` open at once (Retry-After)")))]
pub async fn job_events(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::JobIds>,
) -> Result<Response, ApiError> {
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
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", params(("id" = i64, Path, minimum = 1, description = "job id (1 to 9223372036854775807)")),
    security(("bearer" = [])),
    responses((status = 200, body = JobView), (status = 401, description = "no valid token"),
        (status = 403, description = "not yours"), (status = 404, description = "no such job"),
        (status = 409, description = "already finished")))]
pub async fn cancel(
    state: Shared,
    headers: HeaderMap,
    crate::error::Id(id, _): crate::error::Id<crate::error::JobIds>,
) -> Result<Json<JobView>, ApiError> {
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

/// `GET /api/jobs/{id}/queue`: the job's place in the queue — `ahead`, the queued jobs that
/// will be claimed before it (0 when it is next, or no longer queued), and the queue's
/// `queued` and `running` counts.
#[utoipa::path(get, path = "/api/jobs/{id}/queue", params(("id" = i64, Path, minimum = 1, description = "job id (1 to 9223372036854775807)")), responses(
    (status = 200, description = "`{job, state, ahead, queued, running}`"),
    (status = 404, description = "no such job")))]
pub(crate) async fn queue_place(
    state: Shared,
    crate::error::Id(id, _): crate::error::Id<crate::error::JobIds>,
) -> Result<Response, ApiError> {
    let job = state.db.job(id).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let ahead = if job.state == crate::states::JobState::Queued { state.db.queued_before(id).await? } else { 0 };
    let (queued, running) = state.db.queue_depth().await?;
    let body =
        serde_json::json!({ "job": id, "state": job.state, "ahead": ahead, "queued": queued, "running": running });
    Ok(axum::Json(body).into_response())
}
