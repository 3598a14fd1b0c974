//! The query layer: typed views of jobs, submissions, the board and rounds, read from the
//! database once and shared by the JSON handlers (`api`) and the pages (`web`), so a page never
//! calls a handler and never indexes untyped JSON.

use std::sync::Arc;

use serde::Serialize;

#[cfg(test)]
use crate::board::csv_field;
use crate::board::{BoardRow, better, row, tie_groups};
use crate::db::{Job, RoundRow, iso8601};
use crate::error::{ApiError, not_found, parse};
use crate::eval::{CheckView, Summary};
use crate::rounds::RoundEntry;
use crate::state::State;
use crate::states::{JobState, Progress, RoundState, SubmissionStatus};

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

/// A job as the API and pages show it.
pub fn job_view(j: &Job) -> JobView {
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

/// A submission's validation, evaluation and progress (not a round group's: its results are
/// the round's).
pub async fn submission(state: &State, id: i64) -> Result<SubmissionView, ApiError> {
    // A round group is not a submission: its results are the round's (GET /api/rounds/{id}).
    let s = state
        .db
        .submission(id)
        .await?
        .filter(|s| s.round.is_none() && s.study.is_none())
        .ok_or_else(|| not_found("submission", id))?;
    let jobs = state.db.jobs_of(id).await?;
    let evaluated = s.status == SubmissionStatus::Evaluated;
    let validation = parse(&s.validation, "validation report")?;
    let summary = match &s.summary {
        Some(text) => Some(parse(text, "summary")?),
        None => None,
    };
    Ok(SubmissionView {
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
    })
}

/// Seeds kept secret: only how many.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HiddenSeeds {
    /// Number of hidden seeds.
    pub count: u32,
}

/// The job limits a submitter may care about.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobLimitsView {
    /// Wall-clock limit of one job, seconds.
    pub wall_clock_seconds: u64,
    /// Most seeds one job evaluates.
    pub seeds_per_job: u32,
}

/// The public definition of the competition (`GET /api/competition`, the competition and
/// submit pages, the board's header).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CompetitionView {
    /// Display name.
    pub name: String,
    /// Engine version evaluating entries.
    pub engine_version: String,
    /// The public board's seeds.
    #[schema(value_type = Object)]
    pub public_seeds: crate::competition::SeedRange,
    /// The rounds' seeds (count only).
    pub hidden_seeds: HiddenSeeds,
    /// Steps per simulation.
    pub steps: u32,
    /// Steps per epoch.
    pub epoch_len: u32,
    /// `[market]`.
    #[schema(value_type = Object)]
    pub market: amm_engine::config::MarketConfig,
    /// `[pools]`.
    #[schema(value_type = Object)]
    pub pools: amm_engine::config::PoolsConfig,
    /// `[normalizer]`.
    #[schema(value_type = Object)]
    pub normalizer: amm_engine::config::NormalizerConfig,
    /// `[capital]`.
    #[schema(value_type = Object)]
    pub capital: amm_engine::config::CapitalConfig,
    /// `[sandbox]`.
    #[schema(value_type = Object)]
    pub sandbox: amm_engine::sandbox::SandboxLimits,
    /// The house field's names, in order.
    pub house: Vec<String>,
    /// Largest accepted upload, bytes.
    pub max_upload_bytes: u64,
    /// Whether single-file Rust sources may be uploaded.
    pub accept_source: bool,
    /// Per-submitter quotas.
    #[schema(value_type = Object)]
    pub quotas: crate::competition::Quotas,
    /// Job limits.
    pub jobs: JobLimitsView,
}

/// The public definition of the competition: its market, sizes, house field and quotas.
pub fn competition(state: &State) -> CompetitionView {
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
    CompetitionView {
        name: c.name.clone(),
        engine_version: amm_engine::ENGINE_VERSION.to_string(),
        public_seeds: c.public_seeds,
        hidden_seeds: HiddenSeeds { count: c.hidden_seeds.count },
        steps: config.run.steps,
        epoch_len: config.run.epoch_len,
        market: config.market.clone(),
        pools: config.pools.clone(),
        normalizer: config.normalizer.clone(),
        capital: config.capital.clone(),
        sandbox: config.sandbox.clone(),
        house,
        max_upload_bytes: c.max_upload_bytes,
        accept_source: c.accept_source,
        quotas: c.quotas,
        jobs: JobLimitsView { wall_clock_seconds: c.jobs.wall_clock_seconds, seeds_per_job: c.jobs.seeds_per_job },
    }
}

/// A round's view.
pub async fn round(state: &State, id: i64) -> Result<RoundView, ApiError> {
    let round = state.db.round(id).await?.ok_or_else(|| not_found("round", id))?;
    view(state, round).await
}

/// Every round's view, oldest first.
pub async fn rounds(state: &State) -> Result<Vec<RoundView>, ApiError> {
    let mut out = Vec::new();
    for round in state.db.rounds().await? {
        out.push(view(state, round).await?);
    }
    Ok(out)
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
        created_at: iso8601(round.created_at),
        salt: completed.then_some(round.salt),
        groups,
        board,
    })
}
