//! Rounds: the current best entry of each submitter trades together with the house field in
//! N-way markets on the competition's hidden seeds (the reference's multi-strategy
//! competition).
//!
//! A round has its own salt. With more entries than `[competition] round_size`, the entries are
//! split into groups (markets) by a shuffle seeded from that salt, dealt round-robin so group
//! sizes differ by at most one. Each group is stored as a submission row with `round` set, so
//! its simulations are ordinary jobs on the same queue, run, merged and recovered exactly as an
//! evaluation's are. Every group uses the same salt and the same hidden seeds, so every entry
//! meets the same markets and its paired edge over the normalizer is comparable across groups.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::State;
use crate::api::ApiError;
use crate::db::{self, Job, NewJob, RoundRow, Submission};
use crate::eval::Summary;
use crate::states::{JobState, Progress, RoundState, SubmissionStatus};

type Shared = Extract<Arc<State>>;

/// One entry of a round group, as stored with the group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoundEntry {
    /// The entry's submission.
    pub submission: i64,
    /// Its submitter.
    pub submitter: String,
    /// Its strategy name.
    pub name: String,
    /// sha256 of its module.
    pub sha256: String,
    /// Its module, relative to the data directory.
    pub bytes_path: String,
}

impl RoundEntry {
    /// The entrant's name in the market: `submitter/name`, at most 64 bytes.
    pub fn market_name(&self) -> String {
        amm_engine::names::fit(format!("{}/{}", self.submitter, self.name))
    }
}

/// Splits `entries` into groups of at most `size`: ordered by sha256(salt, submission id) (a
/// shuffle seeded from the salt), then dealt round-robin into ⌈n / size⌉ groups.
pub fn groups(mut entries: Vec<RoundEntry>, size: usize, salt: &str) -> Vec<Vec<RoundEntry>> {
    let key = |e: &RoundEntry| Sha256::digest(format!("{salt}\n{}", e.submission).as_bytes());
    entries.sort_by_cached_key(|e| (key(e), e.submission));
    let count = entries.len().div_ceil(size.max(1)).max(1);
    let mut out = vec![Vec::new(); count];
    for (i, e) in entries.into_iter().enumerate() {
        out[i % count].push(e);
    }
    out
}

/// The jobs of one group under this competition (its hidden seeds).
pub fn plan_for(state: &State) -> Vec<NewJob> {
    let threads = amm_engine::run::threads(&state.file.config) as u32;
    crate::eval::plan(state.file.competition.hidden_seeds.count, state.file.competition.jobs.seeds_per_job, threads * 2)
}

/// The configuration a worker runs for round group `sub`, with its entries' modules.
pub fn group_config(state: &State, sub: &Submission) -> Result<(amm_engine::config::Config, Vec<RoundEntry>), String> {
    let entries: Vec<RoundEntry> = serde_json::from_str(sub.entries.as_deref().unwrap_or("[]"))
        .map_err(|e| format!("round group {}: corrupt entries: {e}", sub.id))?;
    let named: Vec<(PathBuf, String)> =
        entries.iter().map(|e| (PathBuf::from(&e.bytes_path), e.market_name())).collect();
    let config = crate::eval::round_config(&state.file.config, state.file.competition.hidden_seeds, &named, &sub.salt);
    Ok((config, entries))
}

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
    let who = crate::api::admin(&state, &headers).await?;
    let board = crate::api::board(&state).await?;
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

/// One entry's row on a round's board.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RoundBoardRow {
    /// Rank by paired edge over the normalizer (comparable across groups: common seeds and salt).
    pub rank: u32,
    /// The group (market) it traded in, from 1.
    pub group: u32,
    /// Submitter handle.
    pub submitter: String,
    /// Strategy name.
    pub strategy: String,
    /// The entry's submission.
    pub submission: i64,
    /// Mean edge per simulation over the hidden seeds, Y.
    pub mean_edge: f64,
    /// Its standard error, Y.
    pub stderr_edge: f64,
    /// Mean paired edge over the normalizer, Y.
    pub edge_vs_normalizer: Option<f64>,
    /// Its standard error, Y.
    pub stderr_vs_normalizer: Option<f64>,
    /// Simulations disqualified.
    pub disqualified_sims: u32,
    /// Refused at load (then it took part in nothing).
    pub rejected: Option<String>,
}

/// One group of a round.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupView {
    /// Group number, from 1.
    pub group: u32,
    /// Where its evaluation is.
    pub status: SubmissionStatus,
    /// Its jobs.
    pub jobs: Vec<i64>,
    /// The entries' submissions, in market order.
    pub entries: Vec<i64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A round: state, progress and its board.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RoundView {
    /// Id.
    pub id: i64,
    /// Where it is (derived from its groups).
    pub state: RoundState,
    /// Simulations done over all groups.
    pub progress: Progress,
    /// Most entries in one market.
    pub round_size: i64,
    /// The admin who started it.
    pub created_by: String,
    /// Start, ISO 8601 UTC.
    pub created_at: String,
    /// The round's salt, published once it completed.
    pub salt: Option<String>,
    /// The groups.
    pub groups: Vec<GroupView>,
    /// One row per entry once completed, best first (empty before).
    pub board: Vec<RoundBoardRow>,
}

async fn view(state: &State, round: RoundRow) -> Result<RoundView, ApiError> {
    let subs = state.db.round_groups(round.id).await?;
    let (mut progress, mut started) = (Vec::new(), false);
    let mut groups = Vec::with_capacity(subs.len());
    let mut board = Vec::new();
    let house = state.file.config.strategies.len();
    for (g, sub) in subs.iter().enumerate() {
        let group = g as u32 + 1;
        let jobs = state.db.jobs_of(sub.id).await?;
        progress.extend(jobs.iter().map(Job::progress));
        started |= jobs.iter().any(|j| j.state != JobState::Queued);
        let entries: Vec<RoundEntry> = serde_json::from_str(sub.entries.as_deref().unwrap_or("[]"))
            .map_err(|e| ApiError::corrupt("round group", e))?;
        if sub.status == SubmissionStatus::Evaluated
            && let Some(text) = &sub.summary
        {
            let summary: Summary = serde_json::from_str(text).map_err(|e| ApiError::corrupt("summary", e))?;
            for (i, e) in entries.iter().enumerate() {
                let Some(s) = summary.entrants.get(house + i) else { continue };
                board.push(RoundBoardRow {
                    rank: 0,
                    group,
                    submitter: e.submitter.clone(),
                    strategy: e.name.clone(),
                    submission: e.submission,
                    mean_edge: s.mean_edge,
                    stderr_edge: s.stderr_edge,
                    edge_vs_normalizer: s.edge_vs_normalizer,
                    stderr_vs_normalizer: s.stderr_vs_normalizer,
                    disqualified_sims: s.disqualified_sims,
                    rejected: s.rejected.clone(),
                });
            }
        }
        groups.push(GroupView {
            group,
            status: sub.status,
            jobs: jobs.iter().map(|j| j.id).collect(),
            entries: entries.iter().map(|e| e.submission).collect(),
            error: sub.error.clone(),
        });
    }
    let statuses: Vec<SubmissionStatus> = groups.iter().map(|g| g.status).collect();
    let round_state = RoundState::of_groups(&statuses, started);
    let completed = round_state == RoundState::Completed;
    if !completed {
        board.clear();
    }
    // The engine's ranking, by paired edge over the normalizer (mean edge without it).
    let standing = |r: &RoundBoardRow| amm_engine::report::Standing {
        failed: r.disqualified_sims > 0 || r.rejected.is_some(),
        score: r.edge_vs_normalizer.unwrap_or(r.mean_edge),
    };
    board
        .sort_by(|a, b| amm_engine::report::rank_order(standing(a), standing(b)).then(a.submission.cmp(&b.submission)));
    for (i, r) in board.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
    }
    Ok(RoundView {
        id: round.id,
        state: round_state,
        progress: progress.into_iter().sum(),
        round_size: round.round_size,
        created_by: round.created_by,
        created_at: crate::api::iso8601(round.created_at),
        salt: completed.then_some(round.salt),
        groups,
        board,
    })
}

/// A round's state, progress, groups and board.
#[utoipa::path(get, path = "/api/rounds/{id}", params(("id" = i64, Path, description = "round id")),
    responses((status = 200, body = RoundView), (status = 404, description = "no such round")))]
pub async fn get_round(state: Shared, Path(id): Path<i64>) -> Result<Json<RoundView>, ApiError> {
    let round =
        state.db.round(id).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no round {id}")))?;
    Ok(Json(view(&state, round).await?))
}

/// Every round, newest first (with their boards).
#[utoipa::path(get, path = "/api/rounds", responses((status = 200, body = Vec<RoundView>)))]
pub async fn list_rounds(state: Shared) -> Result<Json<Vec<RoundView>>, ApiError> {
    let mut out = Vec::new();
    for round in state.db.rounds().await? {
        out.push(view(&state, round).await?);
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64) -> RoundEntry {
        RoundEntry {
            submission: id,
            submitter: format!("s{id}"),
            name: "x".into(),
            sha256: String::new(),
            bytes_path: String::new(),
        }
    }

    #[test]
    fn groups_are_balanced_seeded_by_the_salt_and_hold_each_entry_once() {
        let entries: Vec<RoundEntry> = (1..=11).map(entry).collect();
        let a = groups(entries.clone(), 4, "salt-a");
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 3]);
        let mut ids: Vec<i64> = a.iter().flatten().map(|e| e.submission).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=11).collect::<Vec<_>>());
        assert_eq!(a, groups(entries.clone(), 4, "salt-a"), "same salt, same groups");
        assert_ne!(a, groups(entries.clone(), 4, "salt-b"), "another salt shuffles otherwise");
        assert_eq!(groups(entries, 11, "salt-a").len(), 1);
    }
}
