//! `/api/leaderboard` and `/api/leaderboard.csv`: the public board.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use crate::board::{BoardRow, csv_field};
use crate::error::ApiError;
use crate::state::State;
use crate::views::board;

type Shared = Extract<Arc<State>>;

/// One row per submitter (their best evaluated submission), with baselines as flagged rows.
#[utoipa::path(get, path = "/api/leaderboard", responses((status = 200, body = Vec<BoardRow>)))]
pub async fn leaderboard(state: Shared) -> Result<Response, ApiError> {
    Ok(Json(board(&state).await?.as_slice()).into_response())
}

/// The board as CSV (same columns).
#[utoipa::path(get, path = "/api/leaderboard.csv", responses((status = 200, description = "text/csv", content_type = "text/csv")))]
pub async fn leaderboard_csv(state: Shared) -> Result<Response, ApiError> {
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

/// `GET /api/leaderboard/events`: Server-Sent Events, an `event: board` (data: the evaluated
/// version) at once and whenever an evaluation finishes, a flag or hide changes the board;
/// checked every second. Counts against `quotas.event_streams` like job streams.
#[utoipa::path(get, path = "/api/leaderboard/events", responses(
    (status = 200, description = "Server-Sent Events: `board` with the evaluated version, at once and on every change", content_type = "text/event-stream"),
    (status = 503, description = "too many event streams open; retry later")))]
pub async fn events(state: Shared) -> Result<Response, ApiError> {
    let Ok(permit) = state.event_streams.clone().try_acquire_owned() else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too many event streams are open: reload later"));
    };
    let db = state.db.clone();
    let seed = (None::<(i64, i64, i64)>, permit);
    let stream = futures_util::stream::unfold(seed, move |(last, permit)| {
        let db = db.clone();
        async move {
            loop {
                if last.is_some() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                // The database failed: end the stream (the browser reconnects).
                let version = db.evaluated_version().await.ok()?;
                if last == Some(version) {
                    continue;
                }
                let data = format!("[{},{},{}]", version.0, version.1, version.2);
                let event: Result<Event, std::convert::Infallible> = Ok(Event::default().event("board").data(data));
                return Some((event, (Some(version), permit)));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}
