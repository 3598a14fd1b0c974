//! Distributed tuning (`amm-engine tune --db postgres://…`): the coordinator's executor, which
//! queues a study's evaluations as jobs on the service's queue and waits for their results, and
//! the workers' side, which runs them — in `serve --role worker` processes and in
//! `tune --worker` processes alike.
//!
//! Why the results cannot depend on the workers: the optimiser runs in the coordinator only; a
//! batch it asks for is split into jobs, and it takes its decisions once every job of the
//! batch is recorded, reading the results back in the order it asked for them. Which worker
//! ran a job, when, and how often its lease was lost change nothing: a simulation is a pure
//! function of the field and its seed, and each job's results are recorded once, under the
//! fence of the claim that finished it (`db::jobs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amm_tune::execute::{Executor, WorkItem};
use amm_tune::spec::FieldSpec;
use amm_tune::study::Evaluation;
use amm_tune::{Field, Objective};
use rayon::prelude::*;
use tokio::runtime::Handle;

use crate::db::{Completion, Db, DbError, Job, StudyJob};
use crate::running::{LeaseKeeper, fetch_module, panic_message};
use crate::states::JobState;

/// Attempts a study job gets before it fails (and with it the study's run): infrastructure
/// faults only — a strategy's faults are results (a disqualified evaluation), not failures.
pub const MAX_ATTEMPTS: i64 = 3;
/// How often the coordinator looks at the jobs of the batch it waits for.
const POLL: Duration = Duration::from_millis(10);
/// How often the coordinator re-queues jobs whose lease expired (their worker died).
const REAP: Duration = Duration::from_millis(500);
/// Studies whose fields a worker keeps loaded (each holds compiled modules).
const FIELDS_KEPT: usize = 4;

/// Evaluations per job for a batch of `n`: about 32 jobs per batch (so a dozen workers all
/// get several, and the last job of a batch — which every worker waits for — is short), at
/// most 16 evaluations each.
pub fn job_size(n: usize) -> usize {
    n.div_ceil(32).clamp(1, 16)
}

/// Why a distributed study could not go on.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A job ran out of attempts (or failed for good).
    #[error("study job {id} failed: {error}")]
    JobFailed {
        /// The job.
        id: i64,
        /// Its last error.
        error: String,
    },
    /// A job was cancelled (an admin cancelled the study's evaluation).
    #[error(
        "study job {id} was cancelled (by an admin, POST /api/jobs/{id}/cancel, or by an interrupted coordinator of this study); run the same command to resume"
    )]
    Cancelled {
        /// The job.
        id: i64,
    },
    /// A recorded result does not parse.
    #[error("study job {id}: result {index} is unreadable: {message}")]
    Corrupt {
        /// The job.
        id: i64,
        /// Index in its work.
        index: i64,
        /// Why.
        message: String,
    },
    /// The async runtime.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// The coordinator's side: a study's evaluations as jobs on the queue.
pub struct StudyQueue {
    runtime: tokio::runtime::Runtime,
    db: Db,
    study: i64,
    /// Jobs queued so far.
    pub jobs_queued: u64,
    /// Evaluations queued so far.
    pub evaluations: u64,
    /// Time spent queueing, polling and reading results (not waiting), for the overhead figure.
    pub busy: Duration,
    /// Called once when a batch has waited [`IDLE_NOTICE`] with no job claimed (no worker is
    /// running, or all are busy elsewhere), with the number of jobs waiting.
    pub on_idle: Option<Box<dyn Fn(usize)>>,
}

/// How long a batch waits with none of its jobs claimed before [`StudyQueue::on_idle`] is told.
pub const IDLE_NOTICE: Duration = Duration::from_secs(20);

impl StudyQueue {
    /// Connects to `url`, stores every entrant's module (`modules`: sha256 and bytes) and
    /// opens study `name`'s row with field `spec`. Also returns the evaluations an earlier
    /// coordinator's jobs recorded (it stopped before reading them), for the study to record.
    pub fn open(
        url: &str,
        name: &str,
        spec: &FieldSpec,
        modules: &[(String, Vec<u8>)],
    ) -> Result<(StudyQueue, Vec<(WorkItem, Evaluation)>), QueueError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(QueueError::Runtime)?;
        let field = serde_json::to_string(spec)
            .map_err(|e| DbError::Corrupt { what: "study field", message: e.to_string() })?;
        let sha = amm_engine::sandbox::sha256_hex(field.as_bytes());
        let (db, study, found) = runtime.block_on(async {
            let db = Db::open(url).await?;
            for (sha256, bytes) in modules {
                db.store_module(sha256, bytes).await?;
            }
            // Results recorded before the row is re-opened (which cancels what is unfinished).
            let study = db.open_study(name, &field, &sha).await?;
            let found = db.study_results(study, 0, i64::MAX).await?;
            Ok::<_, DbError>((db, study, found))
        })?;
        let mut earlier = Vec::new();
        let mut items: HashMap<i64, Vec<WorkItem>> = HashMap::new();
        for (job, work, index, json) in found {
            let corrupt = |message: String| QueueError::Corrupt { id: job, index, message };
            let list = match items.entry(job) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(serde_json::from_str(work.as_deref().unwrap_or("[]")).map_err(|e| corrupt(e.to_string()))?)
                }
            };
            let item = list.get(index as usize).cloned().ok_or_else(|| corrupt("no such work item".into()))?;
            let evaluation: Evaluation = serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
            earlier.push((item, evaluation));
        }
        Ok((
            StudyQueue { runtime, db, study, jobs_queued: 0, evaluations: 0, busy: Duration::ZERO, on_idle: None },
            earlier,
        ))
    }

    /// At SIGINT or SIGTERM, takes the study's queued and running jobs off the queue (so no
    /// worker spends time on them; what they recorded is kept, and the same command resumes),
    /// then calls `then` (the command line's: say so and exit).
    pub fn on_interrupt(&self, then: impl FnOnce() + Send + 'static) {
        let (db, study) = (self.db.clone(), self.study);
        self.runtime.spawn(async move {
            crate::running::shutdown_signal().await;
            if let Err(e) = db.cancel(study).await {
                tracing::warn!(error = %e, "could not take the study's jobs off the queue");
            }
            then();
        });
    }

    fn run(&mut self, work: &[WorkItem], progress: &(dyn Fn(u64) + Sync)) -> Result<Vec<Evaluation>, QueueError> {
        let started = Instant::now();
        let size = job_size(work.len());
        let blocks: Vec<(u32, String)> = work
            .chunks(size)
            .map(|c| (c.len() as u32, serde_json::to_string(c).unwrap_or_else(|_| "[]".into())))
            .collect();
        let ids = self.runtime.block_on(self.db.queue_study_jobs(self.study, &blocks))?;
        self.jobs_queued += ids.len() as u64;
        self.evaluations += work.len() as u64;
        let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else { return Ok(Vec::new()) };
        let mut waited = Duration::ZERO;
        let mut reaped = Instant::now();
        let mut shown = 0i64;
        let mut told = false;
        loop {
            let tick = Instant::now();
            let jobs = self.runtime.block_on(self.db.study_jobs(self.study, lo, hi))?;
            ended(&jobs)?;
            let finished = jobs.iter().filter(|j| j.state == JobState::Succeeded).count();
            let done: i64 = jobs
                .iter()
                .map(|j| if j.state == JobState::Succeeded { blocks_len(&blocks, &ids, j.id) } else { j.done })
                .sum();
            if done > shown {
                progress((done - shown) as u64);
                shown = done;
            }
            if finished == ids.len() {
                break;
            }
            let untouched = jobs.iter().all(|j| j.state == JobState::Queued);
            if untouched && !told && started.elapsed() >= IDLE_NOTICE {
                told = true;
                if let Some(tell) = &self.on_idle {
                    tell(jobs.len());
                }
            }
            if reaped.elapsed() >= REAP {
                // A worker that died holds its job until the lease expires: put it back.
                self.runtime.block_on(self.db.reap(MAX_ATTEMPTS))?;
                reaped = Instant::now();
            }
            let spent = tick.elapsed();
            std::thread::sleep(POLL);
            waited += tick.elapsed() - spent;
        }
        let rows = self.runtime.block_on(self.db.study_results(self.study, lo, hi))?;
        let mut out: Vec<Option<Evaluation>> = vec![None; work.len()];
        for (job, _, index, json) in rows {
            let corrupt = |message: String| QueueError::Corrupt { id: job, index, message };
            let block =
                ids.iter().position(|&id| id == job).ok_or_else(|| corrupt("not a job of this batch".into()))?;
            let at = block * size + usize::try_from(index).map_err(|e| corrupt(e.to_string()))?;
            let slot = out.get_mut(at).ok_or_else(|| corrupt("outside the batch".into()))?;
            *slot = Some(serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?);
        }
        let evaluations = out
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                e.ok_or_else(|| QueueError::Corrupt {
                    id: ids[i / size],
                    index: (i % size) as i64,
                    message: "missing from the job's results".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.busy += started.elapsed().saturating_sub(waited);
        Ok(evaluations)
    }
}

/// Whether a batch's jobs can still all succeed: a job that failed for good ends it with its
/// reason — before any cancelled job is reported, since a failure cancels the study's other
/// jobs (and those may come first in id order).
fn ended(jobs: &[StudyJob]) -> Result<(), QueueError> {
    if let Some(j) = jobs.iter().find(|j| j.state == JobState::Failed) {
        return Err(QueueError::JobFailed { id: j.id, error: j.error.clone().unwrap_or_default() });
    }
    match jobs.iter().find(|j| j.state == JobState::Cancelled) {
        Some(j) => Err(QueueError::Cancelled { id: j.id }),
        None => Ok(()),
    }
}

/// Evaluations in job `id` of a batch (`blocks` in the order of `ids`).
fn blocks_len(blocks: &[(u32, String)], ids: &[i64], id: i64) -> i64 {
    ids.iter().position(|&j| j == id).map_or(0, |i| i64::from(blocks[i].0))
}

impl Executor for StudyQueue {
    fn evaluate(
        &mut self,
        _field: &Field,
        _objective: Objective,
        work: &[WorkItem],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<Evaluation>, String> {
        self.run(work, progress).map_err(|e| e.to_string())
    }
}

/// A study's field, loaded, with the objective its jobs score.
type Loaded = Arc<(Field, Objective)>;

/// The workers' side: runs study jobs, rebuilding each study's field once per process (its
/// modules fetched by hash from the database into `dir`).
pub struct StudyRunner {
    db: Db,
    dir: PathBuf,
    threads: usize,
    pool: rayon::ThreadPool,
    fields: Mutex<Vec<(i64, Loaded)>>,
}

impl StudyRunner {
    /// A runner evaluating each job on `threads` threads (0: one per core), keeping modules in
    /// `dir` (created if needed).
    pub fn new(db: Db, dir: &Path, threads: usize) -> Result<StudyRunner, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let dir = std::path::absolute(dir).map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("amm-study-{i}"))
            .build()
            .map_err(|e| format!("cannot start the study threads: {e}"))?;
        let threads = pool.current_num_threads();
        Ok(StudyRunner { db, dir, threads, pool, fields: Mutex::new(Vec::new()) })
    }

    /// The field of study row `id`, loaded once.
    fn field(&self, handle: &Handle, id: i64) -> Result<Loaded, String> {
        if let Some((_, f)) = self.fields.lock().map_err(|_| "field cache poisoned")?.iter().find(|(s, _)| *s == id) {
            return Ok(f.clone());
        }
        let sub = handle
            .block_on(self.db.submission(id))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("study row {id} is missing"))?;
        let spec: FieldSpec = serde_json::from_str(sub.entries.as_deref().unwrap_or_default())
            .map_err(|e| format!("study row {id}: unreadable field: {e}"))?;
        for e in &spec.entrants {
            self.fetch(handle, &e.sha256)?;
        }
        let field = Arc::new((spec.field(&self.dir, self.threads)?, spec.objective));
        let mut fields = self.fields.lock().map_err(|_| "field cache poisoned")?;
        if fields.len() >= FIELDS_KEPT {
            fields.remove(0);
        }
        fields.push((id, field.clone()));
        Ok(field)
    }

    /// Makes sure module `sha256` is at `dir/SHA256.wasm`, fetched from the database.
    fn fetch(&self, handle: &Handle, sha256: &str) -> Result<(), String> {
        if !(sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(format!("{sha256:?} is not a sha256"));
        }
        fetch_module(&self.db, handle, sha256, &self.dir.join(format!("{sha256}.wasm")))
    }

    /// Runs study job `job` (claimed, `work` set) under a lease of `lease`; an infrastructure
    /// fault fails the attempt (retried up to `max_attempts`), a shutdown hands it back.
    pub fn run(
        &self,
        handle: &Handle,
        job: &Job,
        lease: Duration,
        max_attempts: i64,
        shutdown: &AtomicBool,
    ) -> Result<(), DbError> {
        let fail = |error: String, retry: bool| {
            tracing::warn!(job = job.id, error = %error, "study job failed");
            handle.block_on(self.db.fail(job.id, job.fence, &error, retry, max_attempts))
        };
        let items: Vec<WorkItem> = match serde_json::from_str(job.work.as_deref().unwrap_or_default()) {
            Ok(items) => items,
            Err(e) => return fail(format!("unreadable work list: {e}"), false),
        };
        let field = match self.field(handle, job.submission) {
            Ok(f) => f,
            Err(e) => return fail(format!("cannot load the study's field: {e}"), true),
        };
        let keeper = LeaseKeeper::start(&self.db, handle, job.id, job.fence, lease);
        let (done, stop) = (keeper.done.clone(), keeper.stop.clone());
        let (field, objective) = (&field.0, field.1);
        let started = Instant::now();
        // A panic in the engine must not take the worker thread with it: it fails this attempt.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.pool.install(|| {
                items
                    .par_iter()
                    .map(|item| {
                        if stop.load(Ordering::Relaxed) || shutdown.load(Ordering::Relaxed) {
                            return None;
                        }
                        let e = item.evaluate(field, objective);
                        done.fetch_add(1, Ordering::Relaxed);
                        Some(e)
                    })
                    .collect::<Option<Vec<Evaluation>>>()
            })
        }));
        keeper.end();
        match outcome {
            Ok(Some(evaluations)) => {
                let mut results = Vec::with_capacity(evaluations.len());
                for (i, e) in evaluations.iter().enumerate() {
                    match serde_json::to_string(e) {
                        Ok(json) => results.push((i as u32, json)),
                        Err(e) => return fail(format!("evaluation {i} cannot be written: {e}"), false),
                    }
                }
                match handle.block_on(self.db.complete(job.id, job.fence, &results))? {
                    Completion::Stale => tracing::warn!(job = job.id, "finished under a stale lease: discarded"),
                    Completion::Recorded(_) => tracing::info!(
                        job = job.id,
                        evaluations = results.len(),
                        seconds = started.elapsed().as_secs_f64(),
                        "study job succeeded"
                    ),
                }
                Ok(())
            }
            Ok(None) if shutdown.load(Ordering::Relaxed) => {
                tracing::info!(job = job.id, "study job handed back to the queue for shutdown");
                handle.block_on(self.db.release(job.id, job.fence))
            }
            Ok(None) => {
                tracing::info!(job = job.id, "study job abandoned (cancelled or lease lost)");
                Ok(())
            }
            Err(panic) => fail(format!("the engine panicked: {}", panic_message(&*panic)), true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, state: JobState) -> StudyJob {
        StudyJob { id, state, done: 0, error: (state == JobState::Failed).then(|| "module missing".into()) }
    }

    /// A job failing for good cancels the study's other jobs; the coordinator reports the
    /// failure and its reason, not a cancellation, whichever comes first by id.
    #[test]
    fn a_failed_job_is_reported_before_the_cancellations_it_caused() {
        let batch = [job(1, JobState::Cancelled), job(2, JobState::Failed), job(3, JobState::Succeeded)];
        match ended(&batch) {
            Err(QueueError::JobFailed { id: 2, error }) => assert_eq!(error, "module missing"),
            other => panic!("expected job 2's failure, got {other:?}"),
        }
        assert!(matches!(ended(&[job(4, JobState::Cancelled)]), Err(QueueError::Cancelled { id: 4 })));
        assert!(ended(&[job(5, JobState::Queued), job(6, JobState::Running), job(7, JobState::Succeeded)]).is_ok());
    }
}
