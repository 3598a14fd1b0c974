//! The state every handler, page and worker shares: the competition, the database, the
//! sandbox engine, the limiters and the caches.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use amm_engine::sandbox::SandboxEngine;

use crate::board::BoardRow;
use crate::competition::CompetitionFile;
use crate::db::{self, Db};
use crate::states::JobState;
use crate::{limits, metrics};

/// What a `serve` process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// HTTP and evaluation workers.
    All,
    /// HTTP only (workers elsewhere share the database).
    Web,
    /// Evaluation workers only.
    Worker,
}

/// A computed board and the evaluated-submissions version it reflects.
pub type CachedBoard = ((i64, i64, i64), Arc<Vec<BoardRow>>);

/// Shared state of a running service.
pub struct State {
    /// Runs tuning studies' jobs (`tune --db`) that this process's workers claim.
    pub studies: crate::studies::StudyRunner,
    /// The competition.
    pub file: CompetitionFile,
    /// The database.
    pub db: Db,
    /// Data directory (absolute).
    pub data: PathBuf,
    /// One sandbox engine for validation and every worker.
    pub engine: SandboxEngine,
    /// This process's worker id (in leases).
    pub worker_id: String,
    /// Wakes idle workers when a job is queued.
    pub wake: tokio::sync::Notify,
    /// Set on shutdown.
    pub shutdown: AtomicBool,
    /// A NOTIFY listener is connected (PostgreSQL): idle workers poll slowly.
    pub listening: AtomicBool,
    /// Last time (Unix ms) a worker looked for work; 0 when this process has no workers.
    pub worker_tick: AtomicU64,
    /// The role.
    pub role: Role,
    /// Validations running now (bounded: each runs a smoke simulation).
    pub validations: tokio::sync::Semaphore,
    /// Job event streams open now (bounded by `quotas.event_streams`).
    pub event_streams: Arc<tokio::sync::Semaphore>,
    /// Counters for `GET /metrics`.
    pub metrics: metrics::Metrics,
    /// Per-IP request rate limit.
    pub limiter: limits::KeyedLimiter<std::net::IpAddr>,
    /// Per-token request rate limit (keyed by the token's sha256).
    pub token_limiter: limits::KeyedLimiter<String>,
    /// The last board computed, with the evaluated-submissions version it reflects.
    pub board_cache: std::sync::Mutex<Option<CachedBoard>>,
    /// The probes' database figures, refreshed at most once a second (`/readyz`, `/metrics`
    /// are unauthenticated and unlimited: their cost must not grow with their callers).
    pub probes: tokio::sync::Mutex<Option<Probe>>,
    /// Bundle archives being built now (at most 2; each reads a module and results from disk).
    pub bundles: tokio::sync::Semaphore,
    /// Source builds running now (one at a time, apart from module validations).
    pub builds: tokio::sync::Semaphore,
    /// Source uploads per submitter (`quotas.source_builds_per_hour`).
    pub build_limiter: limits::KeyedLimiter<String>,
}

impl State {
    /// The lease of a running job.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.file.competition.jobs.lease_seconds)
    }
}

/// The jobs of one evaluation under this competition.
pub fn plan_for(state: &State) -> Vec<db::NewJob> {
    let threads = amm_engine::run::threads(&state.file.config) as u32;
    crate::eval::plan(state.file.config.run.simulations, state.file.competition.jobs.seeds_per_job, threads * 2)
}

/// What the probes read from the database, and when.
#[derive(Clone, Debug)]
pub struct Probe {
    /// When it was read.
    pub at: std::time::Instant,
    /// `Ok` when the database answered; else what to show (never the database's text).
    pub database: Result<(), String>,
    /// Jobs by state, when the database answered.
    pub jobs: Option<Vec<(JobState, i64)>>,
}
