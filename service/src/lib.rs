//! # amm-service
//!
//! The competition service behind `amm-engine serve`: an HTTP API (axum) over one database
//! (SQLite in the data directory by default, through sqlx), a job queue with leases,
//! heartbeats and fencing, and evaluation workers that call the `amm-engine` library directly
//! (never the command line).
//!
//! The files form layers, each using only those below it (a test keeps it so: no import cycle
//! among these files):
//!
//! * [`states`]: job, submission and round states as types; progress.
//! * [`competition`]: the competition file (`[competition]` + an ordinary run config).
//! * [`db`]: tokens, submissions, jobs, shard results; the queue's guarded updates.
//! * [`eval`]: validation, job planning, running shards, merging, summaries.
//! * [`rounds`]: rounds: the best entries together in N-way markets on the hidden seeds.
//! * [`board`]: the public board's rows, ranking and tie groups.
//! * [`bundle`], [`metrics`], [`limits`], [`http`]: a bundle's tar, the counters of
//!   `GET /metrics`, the keyed rate limiters, the accept loop.
//! * [`state`]: what handlers, pages and workers share.
//! * [`error`]: the one error type (the cause logged, a safe message shown); [`auth`]: tokens.
//! * [`views`]: the query layer, typed views under both the JSON handlers and the pages.
//! * [`middleware`]: the router's rate limits and body deadline.
//! * [`api`]: one module per resource (`submissions`, `jobs`, `rounds`, `admin`, `board`), the
//!   routes and the OpenAPI document; [`web`]: the dashboard's pages, over [`views`] (a page
//!   never calls a handler).
//! * [`running`]: what running any claimed job needs (its lease held, its modules fetched, a
//!   panic reported); [`studies`]: distributed tuning studies
//!   (`tune --db`): the coordinator's executor over the queue and the runner of study jobs.
//! * [`worker`]: the worker pool and the reaper; this file: `serve` and `tune --worker`,
//!   which wire them.

// Printing is the binary's business, and only through writers that cannot panic: a closed or
// full stdout/stderr must never turn a finished computation into a crash (`say!`/`note!` in the
// CLI). `println!`/`eprintln!` panic on a write error, so they are refused outside tests.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod api;
pub mod auth;
pub mod board;
pub mod bundle;
pub mod competition;
pub mod db;
pub mod error;
pub mod eval;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod rounds;
pub mod running;
pub mod state;
pub mod states;
pub mod studies;
pub mod views;
pub mod web;
pub mod worker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use amm_engine::build::BuildOptions;
use amm_engine::sandbox::sha256_hex;
use amm_engine::sandbox::{EngineSettings, ModuleCache, SandboxEngine};

use crate::competition::CompetitionFile;
use crate::db::{Db, Inserted, Submission};

/// Options of `amm-engine serve`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The competition file.
    pub competition: PathBuf,
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Data directory: database, uploaded modules, module cache.
    pub data: PathBuf,
    /// Database URL (default: SQLite in `data`).
    pub db: Option<String>,
    /// What this process does.
    pub role: Role,
}

/// Why the service could not start or went down.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The competition file.
    #[error(transparent)]
    Competition(#[from] competition::CompetitionError),
    /// The database.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The sandbox engine.
    #[error(transparent)]
    Engine(#[from] amm_engine::sandbox::EngineError),
    /// Files, sockets, the runtime.
    #[error("{what}: {cause}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause: part of the message, deliberately not a `source()`, so a reader that
        /// prints the chain (`{:#}`) says it once.
        cause: std::io::Error,
    },
    /// Anything else, with its reason.
    #[error("{0}")]
    Other(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServiceError {
    let what = what.into();
    move |cause| ServiceError::Io { what, cause }
}

fn database_url(data: &Path, db: Option<&str>) -> String {
    db.map_or_else(|| db::sqlite_url(data), str::to_string)
}

fn runtime() -> Result<tokio::runtime::Runtime, ServiceError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("cannot start the async runtime"))
}

/// How a new token is shown to the operator (the CLI: on stdout). Called before the token is
/// stored: if it fails, nothing is stored, so no token exists that nobody has seen.
pub type ShowToken<'a> = &'a dyn Fn(&str) -> std::io::Result<()>;

/// Creates a bearer token for `handle`, shows it with `show`, then stores its sha256 (only).
pub async fn create_token(
    data: &Path,
    db: Option<&str>,
    handle: &str,
    admin: bool,
    show: ShowToken<'_>,
) -> Result<String, ServiceError> {
    if handle.is_empty() || handle.len() > 40 || !handle.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ServiceError::Other(format!(
            "handle {handle:?}: 1-40 characters from A-Z, a-z, 0-9, '-', '_', '.'"
        )));
    }
    std::fs::create_dir_all(data).map_err(io(format!("cannot create {}", data.display())))?;
    let db = Db::open(&database_url(data, db)).await?;
    let bytes: [u8; 32] = rand::random();
    let token = format!("amm_{}", db::hex(&bytes));
    if let Err(cause) = show(&token) {
        db.close().await;
        return Err(ServiceError::Io { what: "cannot show the new token, so it was not stored".into(), cause });
    }
    db.insert_token(&token_hash(&token), handle, admin).await?;
    db.close().await;
    Ok(token)
}

/// [`create_token`] on a runtime of its own.
pub fn create_token_blocking(
    data: &Path,
    db: Option<&str>,
    handle: &str,
    admin: bool,
    show: ShowToken<'_>,
) -> Result<String, ServiceError> {
    runtime()?.block_on(create_token(data, db, handle, admin, show))
}

pub use auth::token_hash;
pub use state::{Role, State};

/// Logs to stderr (`RUST_LOG` filters; by default `info`, without PostgreSQL's notices such as
/// "relation _sqlx_migrations already exists, skipping" at every start).
fn init_logging() {
    // Colour only on a terminal: a log file or a collector gets plain text.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn")),
        )
        .try_init();
}

/// Runs `serve` until SIGINT/SIGTERM on a runtime of its own.
pub fn serve_blocking(options: ServeOptions) -> Result<(), ServiceError> {
    init_logging();
    let rt = runtime()?;
    let handle = rt.handle().clone();
    rt.block_on(serve(options, handle))
}

/// Starts everything `options.role` asks for and runs until a shutdown signal.
pub async fn serve(options: ServeOptions, handle: tokio::runtime::Handle) -> Result<(), ServiceError> {
    std::fs::create_dir_all(options.data.join("modules"))
        .map_err(io(format!("cannot create {}", options.data.display())))?;
    let data =
        std::fs::canonicalize(&options.data).map_err(io(format!("cannot resolve {}", options.data.display())))?;
    let mut file = CompetitionFile::load(&options.competition)?;
    let house = file.clone();
    // Building house crates may take a while (cargo): not on the runtime's threads.
    let file_resolved = tokio::task::spawn_blocking(move || {
        let mut f = house;
        f.resolve_house(&BuildOptions::default()).map(|()| f)
    })
    .await
    .map_err(|e| ServiceError::Other(format!("building the house field: {e}")))??;
    file = file_resolved;
    file.bundle_house(&data)?;
    // Listen before anything is opened, queued or started: a busy or bad address is refused
    // with its reason alone, not after a baseline was queued and workers were started (whose
    // threads then died in a panic when the runtime shut down under them).
    let listener = match options.role {
        Role::Worker => None,
        _ => {
            let listener = tokio::net::TcpListener::bind(options.listen)
                .await
                .map_err(io(format!("cannot listen on {}", options.listen)))?;
            let addr = listener.local_addr().map_err(io("local address"))?;
            Some((listener, addr))
        }
    };
    let db = Db::open(&database_url(&data, options.db.as_deref())).await?;
    let cache = ModuleCache::open(&data.join("cache")).ok();
    let workers = file.competition.jobs.workers as usize;
    let threads = amm_engine::run::threads(&file.config);
    // A round's market holds the house field and up to `round_size` entries.
    let per_run = threads * (file.config.strategies.len() + file.competition.round_size as usize + 2) * 2 + 8;
    let instances = (per_run * (workers + 1) + 16).min(100_000) as u32;
    let engine = SandboxEngine::with_cache(EngineSettings::for_limits(&file.config.sandbox, instances), cache)?;
    let random: [u8; 4] = rand::random();
    let event_streams = Arc::new(tokio::sync::Semaphore::new(file.competition.quotas.event_streams as usize));
    let quotas = file.competition.quotas;
    let studies = studies::StudyRunner::new(db.clone(), &data.join("modules").join("studies"), threads)
        .map_err(ServiceError::Other)?;
    let state = Arc::new(State {
        file,
        db,
        data,
        engine,
        worker_id: format!("{}-{}", std::process::id(), db::hex(&random)),
        wake: tokio::sync::Notify::new(),
        shutdown: AtomicBool::new(false),
        listening: AtomicBool::new(false),
        worker_tick: AtomicU64::new(0),
        role: options.role,
        validations: tokio::sync::Semaphore::new(2),
        event_streams,
        metrics: metrics::Metrics::default(),
        limiter: limits::KeyedLimiter::per_minute(quotas.requests_per_minute),
        token_limiter: limits::KeyedLimiter::per_minute(quotas.requests_per_token_per_minute),
        board_cache: std::sync::Mutex::new(None),
        probes: tokio::sync::Mutex::new(None),
        bundles: tokio::sync::Semaphore::new(2),
        builds: tokio::sync::Semaphore::new(1),
        build_limiter: limits::KeyedLimiter::per_hour(quotas.source_builds_per_hour),
        studies,
    });
    queue_baseline(&state).await?;

    let mut threads = Vec::new();
    if options.role != Role::Web {
        threads = worker::start(&state, &handle);
        handle.spawn(worker::reaper(state.clone()));
        handle.spawn(worker::listener(state.clone()));
    }
    let result = if let Some((listener, addr)) = listener {
        // The first line on stdout: scripts and tests read the address from it.
        announce(format_args!("listening on http://{addr}"));
        tracing::info!(%addr, competition = %state.file.competition.name, "serving");
        let quotas = state.file.competition.quotas;
        let limits = http::ConnectionLimits {
            connections: quotas.connections,
            header_timeout: Duration::from_secs(quotas.header_timeout_seconds),
        };
        http::serve(
            listener,
            // Pages' errors as the site's HTML page (the API's are JSON inside `api::router`).
            api::router(state.clone(), web::routes())
                .layer(axum::middleware::from_fn_with_state(state.clone(), web::html_errors)),
            limits,
            running::shutdown_signal(),
            Duration::from_secs(5),
        )
        .await;
        Ok(())
    } else {
        announce(format_args!("worker {} started", state.worker_id));
        running::shutdown_signal().await;
        Ok(())
    };
    state.shutdown.store(true, Ordering::Relaxed);
    state.wake.notify_waiters();
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
    state.db.close().await;
    result
}

/// Options of `amm-engine tune --worker`.
#[derive(Clone, Debug)]
pub struct StudyWorkerOptions {
    /// The queue's database URL (`--db`).
    pub db: String,
    /// Where fetched modules are kept.
    pub dir: PathBuf,
    /// Threads evaluating a job (0: one per core).
    pub threads: usize,
    /// Lease of a claimed job (renewed every third of it); a job whose worker dies is
    /// re-queued this long after its last renewal.
    pub lease: Duration,
}

/// `amm-engine tune --worker`: claims tuning studies' jobs from the queue (never a
/// competition's) and runs them, until a shutdown signal; a job in hand at shutdown goes back
/// to the queue. Idle, it wakes on PostgreSQL's NOTIFY (polling slowly besides, and every
/// half second while no listener is connected).
pub fn work_on_studies(options: StudyWorkerOptions) -> Result<(), ServiceError> {
    init_logging();
    let rt = runtime()?;
    let handle = rt.handle().clone();
    let db = rt.block_on(Db::open(&options.db))?;
    let runner = studies::StudyRunner::new(db.clone(), &options.dir, options.threads).map_err(ServiceError::Other)?;
    let random: [u8; 4] = rand::random();
    let owner = format!("{}-{}/tune", std::process::id(), db::hex(&random));
    let shutdown = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    let listening = Arc::new(AtomicBool::new(false));
    {
        let (shutdown, wake) = (shutdown.clone(), wake.clone());
        handle.spawn(async move {
            running::shutdown_signal().await;
            shutdown.store(true, Ordering::Relaxed);
            wake.notify_waiters();
        });
    }
    {
        let (db, wake, listening, shutdown) = (db.clone(), wake.clone(), listening.clone(), shutdown.clone());
        handle.spawn(async move { worker::listen(&db, &shutdown, &listening, &wake, &|| {}).await });
    }
    announce(format_args!("worker {owner} started (tuning studies)"));
    let lease_ms = options.lease.as_millis() as i64;
    while !shutdown.load(Ordering::Relaxed) {
        let claimed = worker::claim_or_wait(&db, &handle, &wake, &listening, &owner, lease_ms, true);
        match claimed {
            Ok(Some(job)) => {
                tracing::info!(job = job.id, attempt = job.attempts, "study job claimed");
                if let Err(e) = runner.run(&handle, &job, options.lease, studies::MAX_ATTEMPTS, &shutdown) {
                    tracing::error!(job = job.id, error = %e, "job bookkeeping failed; its lease will expire");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot claim a job");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    tracing::info!(worker = %owner, "worker stopped");
    rt.block_on(db.close());
    Ok(())
}

/// Writes one line on stdout (the listening address scripts read) and ignores a write error:
/// the line is informational, and a closed or full stdout (`serve … | true`) must not stop a
/// server that is otherwise serving. `println!` would panic there.
fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        tracing::debug!("stdout is closed; the announcement went to the log only");
    }
}

/// Queues the house field's own evaluation (the board's baseline rows) unless this exact
/// evaluation (same config, same engine) exists already.
async fn queue_baseline(state: &Arc<State>) -> Result<(), ServiceError> {
    let config = &state.file.config;
    let identity = format!(
        "{}\n{}",
        amm_engine::ENGINE_VERSION,
        serde_json::to_string(config).map_err(|e| ServiceError::Other(e.to_string()))?
    );
    let sha256 = sha256_hex(identity.as_bytes());
    let jobs = state::plan_for(state);
    let sub = Submission {
        id: 0,
        submitter: "house".into(),
        name: "house field".into(),
        model: "None".into(),
        sha256,
        bytes_path: String::new(),
        size: 0,
        baseline: true,
        status: states::SubmissionStatus::Pending,
        validation: "[]".into(),
        summary: None,
        engine_version: amm_engine::ENGINE_VERSION.into(),
        error: None,
        created_at: 0,
        evaluated_at: None,
        salt: db::new_salt(),
        flag: None,
        hidden: false,
        round: None,
        entries: None,
        study: None,
    };
    if let Inserted::New(id, _) = state.db.insert_submission(&sub, None, &jobs).await? {
        tracing::info!(submission = id, "queued the house field's baseline evaluation");
        state.wake.notify_waiters();
    }
    warn_of_stale_entries(state, &sub.sha256).await
}

/// Warns, at every startup until it is resolved, when entries on the board were evaluated
/// before this market definition's baseline was queued: the competition file's market (or the
/// engine) changed, and the board now mixes evaluations made under both. Not rescored here:
/// re-evaluating every entry is hours of work and a decision for the operator (who may have
/// changed the file by mistake), so the log says what to run; `POST /api/admin/rescore` does
/// it, and the warning stops once every entry has been evaluated again.
async fn warn_of_stale_entries(state: &Arc<State>, baseline_sha256: &str) -> Result<(), ServiceError> {
    let Some(baseline) = state.db.find_submission("house", baseline_sha256).await? else { return Ok(()) };
    let stale = state.db.entries_evaluated_before(baseline.created_at).await?;
    if stale > 0 {
        tracing::warn!(
            entries = stale,
            "{stale} entries on the board were evaluated under another market definition or engine than the \
             competition file's current one (its baseline was first queued after they were evaluated): the board \
             mixes both. Re-evaluate them with POST /api/admin/rescore (an admin token)."
        );
    }
    Ok(())
}

#[cfg(test)]
mod layers;
#[cfg(test)]
mod state_words;
