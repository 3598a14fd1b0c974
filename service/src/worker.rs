//! Evaluation workers: a bounded pool of dedicated threads (never the async runtime's), each
//! claiming one job at a time under a lease renewed by heartbeats; and the reaper that re-queues
//! the jobs of workers that died.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::db::{Completion, Db, DbError, Job};
use crate::eval::{self, JobError};
use crate::running::{LeaseKeeper, panic_message};
use crate::state::State;

/// How often an idle worker looks for jobs while a NOTIFY listener is connected (a fallback).
pub const SLOW_POLL: Duration = Duration::from_secs(5);
/// How often an idle worker looks for jobs without one (SQLite, or the listener is down).
pub const FAST_POLL: Duration = Duration::from_millis(500);

/// PostgreSQL: listens on [`crate::db::JOBS_CHANNEL`] and wakes idle workers at each
/// notification; reconnects after a failure (workers poll fast meanwhile). Returns at once on
/// SQLite.
pub async fn listener(state: Arc<State>) {
    let count = || {
        state.metrics.notifications.fetch_add(1, Ordering::Relaxed);
    };
    listen(&state.db, &state.shutdown, &state.listening, &state.wake, &count).await;
}

/// [`listener`]'s loop for any process: wakes `wake`'s waiters at each notification (calling
/// `notified` first), keeps `listening` true while connected, until `shutdown`.
pub async fn listen(
    db: &Db,
    shutdown: &AtomicBool,
    listening: &AtomicBool,
    wake: &Notify,
    notified: &(dyn Fn() + Sync),
) {
    while !shutdown.load(Ordering::Relaxed) {
        match db.listen().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                tracing::info!(channel = crate::db::JOBS_CHANNEL, "listening for queued jobs");
                listening.store(true, Ordering::Relaxed);
                // Jobs queued while no listener was connected: look now.
                wake.notify_waiters();
                loop {
                    match listener.recv().await {
                        Ok(_) => {
                            notified();
                            wake.notify_waiters();
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "job notifications lost; reconnecting");
                            break;
                        }
                    }
                }
                listening.store(false, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for job notifications; polling"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Claims the oldest queued job for `owner` (only studies' with `studies_only`), or, when
/// there is none, waits for a wake-up — a job queued in this process, or (PostgreSQL) a
/// NOTIFY from any process — polling slowly as a fallback, fast while no listener is connected.
#[allow(clippy::too_many_arguments)]
pub fn claim_or_wait(
    db: &Db,
    handle: &Handle,
    wake: &Notify,
    listening: &AtomicBool,
    owner: &str,
    lease_ms: i64,
    studies_only: bool,
) -> Result<Option<Job>, DbError> {
    handle.block_on(async {
        // Armed before the claim, so a wake-up between an empty claim and the wait is kept.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let claimed = db.claim(owner, lease_ms, studies_only).await;
        if let Ok(None) = claimed {
            let poll = if listening.load(Ordering::Relaxed) { SLOW_POLL } else { FAST_POLL };
            let _ = tokio::time::timeout(poll, notified).await;
        }
        claimed
    })
}

/// Starts `workers` evaluation threads; they stop when `state.shutdown` is set.
pub fn start(state: &Arc<State>, handle: &Handle) -> Vec<std::thread::JoinHandle<()>> {
    state.worker_tick.store(crate::db::now_ms() as u64, Ordering::Relaxed);
    (0..state.file.competition.jobs.workers)
        .map(|i| {
            let state = state.clone();
            let handle = handle.clone();
            std::thread::Builder::new()
                .name(format!("amm-worker-{i}"))
                .spawn(move || worker_loop(&state, &handle, i))
                .unwrap_or_else(|e| panic!("cannot start a worker thread: {e}"))
        })
        .collect()
}

fn worker_loop(state: &Arc<State>, handle: &Handle, index: u32) {
    let owner = format!("{}/{index}", state.worker_id);
    let lease_ms = state.lease().as_millis() as i64;
    while !state.shutdown.load(Ordering::Relaxed) {
        state.worker_tick.store(crate::db::now_ms() as u64, Ordering::Relaxed);
        let claimed = claim_or_wait(&state.db, handle, &state.wake, &state.listening, &owner, lease_ms, false);
        match claimed {
            Ok(Some(job)) => {
                tracing::info!(job = job.id, submission = job.submission, attempt = job.attempts, "job claimed");
                if let Err(e) = run_job(state, handle, &job) {
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
}

fn run_job(state: &Arc<State>, handle: &Handle, job: &Job) -> Result<(), DbError> {
    let max_attempts = i64::from(state.file.competition.jobs.max_attempts);
    if job.work.is_some() {
        // A tuning study's evaluations (`tune --db`): its own field, not the competition's.
        return state.studies.run(handle, job, state.lease(), max_attempts, &state.shutdown);
    }
    let Some(sub) = handle.block_on(state.db.submission(job.submission))? else {
        return handle.block_on(state.db.fail(job.id, job.fence, "submission missing", false, max_attempts));
    };
    // A round group: the house field and its entries on the hidden seeds.
    let (config, modules) = if sub.round.is_some() {
        match crate::rounds::group_config(state, &sub) {
            Ok((config, entries)) => (config, entries.into_iter().map(|e| (e.sha256, e.bytes_path)).collect()),
            Err(e) => return handle.block_on(state.db.fail(job.id, job.fence, &e, false, max_attempts)),
        }
    } else {
        // Relative to the data directory (the config's base), as a bundle names modules.
        let entry = (!sub.baseline).then(|| (std::path::PathBuf::from(&sub.bytes_path), sub.name.clone()));
        let modules = if sub.baseline { Vec::new() } else { vec![(sub.sha256.clone(), sub.bytes_path.clone())] };
        (eval::evaluation_config(&state.file.config, entry, &sub.salt), modules)
    };
    for (sha256, rel) in &modules {
        if let Err(e) = fetch_module(state, handle, sha256, rel) {
            tracing::warn!(job = job.id, error = %e, "module unavailable");
            return handle.block_on(state.db.fail(job.id, job.fence, &e, true, max_attempts));
        }
    }
    let keeper = LeaseKeeper::start(&state.db, handle, job.id, job.fence, state.lease());
    let (done, stop) = (keeper.done.clone(), keeper.stop.clone());
    let wall = Duration::from_secs(state.file.competition.jobs.wall_clock_seconds);
    let started = std::time::Instant::now();
    let lease_ms = state.lease().as_millis() as i64;
    let mut checkpoint = || {
        state.worker_tick.store(crate::db::now_ms() as u64, Ordering::Relaxed);
        if state.shutdown.load(Ordering::Relaxed) {
            return false;
        }
        let done = done.load(Ordering::Relaxed) as i64;
        match handle.block_on(state.db.heartbeat(job.id, job.fence, lease_ms, done)) {
            Ok(held) => held,
            // The database is unreachable: keep going; the lease decides.
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "progress not recorded");
                true
            }
        }
    };
    // A panic in the engine must not take the worker thread with it: it fails this attempt
    // as an infrastructure fault (retried, then failed).
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eval::run_shards(
            &state.engine,
            &config,
            job.shard_lo as u32..job.shard_hi as u32,
            job.shard_count as u32,
            wall,
            &done,
            &stop,
            &mut checkpoint,
        )
    }))
    .unwrap_or_else(|panic| Err(JobError::Engine(format!("the engine panicked: {}", panic_message(&*panic)))));
    keeper.end();
    match outcome {
        Ok(shards) => match handle.block_on(state.db.complete(job.id, job.fence, &shards))? {
            Completion::Stale => tracing::warn!(job = job.id, "finished under a stale lease: discarded"),
            Completion::Recorded(last) => {
                let metrics = &state.metrics;
                metrics.jobs_succeeded.fetch_add(1, Ordering::Relaxed);
                metrics.job_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                tracing::info!(job = job.id, seconds = started.elapsed().as_secs_f64(), "job succeeded");
                if last {
                    handle.block_on(finish_submission(state, sub.id, !sub.baseline && sub.round.is_none()))?;
                }
            }
        },
        Err(JobError::Abandoned) if state.shutdown.load(Ordering::Relaxed) => {
            // Shutting down: hand the job back to the queue at once (not counted as an attempt).
            handle.block_on(state.db.release(job.id, job.fence))?;
            tracing::info!(job = job.id, "job handed back to the queue for shutdown");
        }
        Err(JobError::Abandoned) => tracing::info!(job = job.id, "job abandoned (cancelled or lease lost)"),
        Err(e) => {
            tracing::warn!(job = job.id, error = %e, "job failed");
            state.metrics.jobs_failed.fetch_add(1, Ordering::Relaxed);
            handle.block_on(state.db.fail(job.id, job.fence, &e.to_string(), e.retry(), max_attempts))?;
        }
    }
    Ok(())
}

/// Makes sure module `sha256` is in this process's data directory at `rel` (a worker on
/// another machine than the upload fetches it from the database).
fn fetch_module(state: &State, handle: &Handle, sha256: &str, rel: &str) -> Result<(), String> {
    crate::running::fetch_module(&state.db, handle, sha256, &state.data.join(rel))
}

/// Merges the shards of submission `id` (all its jobs succeeded) and records it evaluated.
/// Idempotent: whoever gets there first records it, later calls change nothing.
pub async fn finish_submission(state: &State, id: i64, entry: bool) -> Result<(), DbError> {
    let shards = state.db.shard_results(id).await?;
    // Parsing and merging is CPU work: off the runtime's threads.
    let merged = tokio::task::spawn_blocking(move || {
        eval::merge_shards(&shards).map(|results| {
            let summary = serde_json::to_string(&eval::summarize(&results, entry)).unwrap_or_default();
            (summary, results.to_json())
        })
    })
    .await
    .unwrap_or_else(|e| Err(format!("merge task: {e}")));
    match merged {
        Ok((summary, results)) => {
            if state.db.finish_submission(id, &summary, &results).await? {
                tracing::info!(submission = id, "evaluation complete");
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!(submission = id, error = %e, "cannot merge the shards");
            Err(DbError::Corrupt { what: "shard results", message: e })
        }
    }
}

/// Re-queues jobs with expired leases, every half lease, until shutdown.
pub async fn reaper(state: Arc<State>) {
    let period = (state.lease() / 2).max(Duration::from_millis(250));
    let max_attempts = i64::from(state.file.competition.jobs.max_attempts);
    while !state.shutdown.load(Ordering::Relaxed) {
        match state.db.reap(max_attempts).await {
            Ok(0) => {}
            Ok(n) => {
                state.metrics.lease_expiries.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(jobs = n, "re-queued jobs whose lease expired");
                state.wake.notify_waiters();
            }
            Err(e) => tracing::error!(error = %e, "reaper"),
        }
        // Evaluations whose last job was recorded but not merged (the process died between
        // the two): merge them now.
        match state.db.unmerged().await {
            Ok(ids) => {
                for (id, baseline) in ids {
                    if let Err(e) = finish_submission(&state, id, !baseline).await {
                        tracing::error!(submission = id, error = %e, "merging a finished evaluation");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "reaper"),
        }
        tokio::time::sleep(period).await;
    }
}
