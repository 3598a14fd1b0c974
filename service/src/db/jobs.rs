//! The job queue, with leases, heartbeats and fencing.
//!
//! The queue's correctness rests on three statements only — claim, heartbeat and complete —
//! each a single guarded `UPDATE`: a claim moves one `queued` job to `running` and increments
//! its fencing counter; a heartbeat or a completion names the fence it holds and changes
//! nothing when the job has been re-leased, cancelled or finished since. Everything else that
//! moves a job (fail, release, reap, cancel, requeue) is guarded the same way, and lives here
//! so that the whole state machine of a job reads in one file.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::pool::{Db, DbError, now_ms, stored};
use crate::states::{JobState, Progress, SubmissionStatus};

/// A job row.
#[derive(Clone, Debug)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// Its submission.
    pub submission: i64,
    /// First shard.
    pub shard_lo: i64,
    /// One past the last shard.
    pub shard_hi: i64,
    /// Shards over the public seeds.
    pub shard_count: i64,
    /// Where it is.
    pub state: JobState,
    /// Claims so far.
    pub attempts: i64,
    /// Worker holding the lease.
    pub lease_owner: Option<String>,
    /// Lease end, ms.
    pub lease_expires_at: Option<i64>,
    /// Fencing counter.
    pub fence: i64,
    /// Simulations done (this attempt).
    pub done: i64,
    /// Simulations in the job.
    pub total: i64,
    /// Last error.
    pub error: Option<String>,
    /// Times, ms.
    pub created_at: i64,
    /// First claim of the latest attempt, ms.
    pub started_at: Option<i64>,
    /// End, ms.
    pub finished_at: Option<i64>,
    /// A study job's evaluations, JSON ([`amm_tune::execute::WorkItem`] list); None for a
    /// job of seed shards.
    pub work: Option<String>,
}

impl Job {
    /// Its progress (see [`Progress::of_job`]).
    pub fn progress(&self) -> Progress {
        Progress::of_job(self.state, self.done, self.total)
    }
}

/// A new job: shards `[lo, hi)` of `count`, `total` simulations.
#[derive(Clone, Copy, Debug)]
pub struct NewJob {
    /// First shard.
    pub shard_lo: u32,
    /// One past the last.
    pub shard_hi: u32,
    /// Shards in all.
    pub shard_count: u32,
    /// Simulations.
    pub total: u32,
}

/// The outcome of reporting a job finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Recorded; `true` when it was the submission's last job (the caller merges).
    Recorded(bool),
    /// The fence is stale (the job was re-leased, cancelled or finished): nothing recorded.
    Stale,
}

/// What [`Db::requeue`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// No such job.
    NotFound,
    /// The job is not failed (its state): nothing changed.
    NotFailed(JobState),
    /// Re-queued: the ids of the jobs now queued.
    Requeued(Vec<i64>),
}

// Queries built with format! splice in only this constant column list (hence AssertSqlSafe);
// every value is a bound parameter, states included: the SQL spells no state, each is bound as
// its type's `as_str()` (after the statement's other parameters), so a renamed state cannot
// leave a query comparing against the old word.
const JOB_COLUMNS: &str = "id, submission, shard_lo, shard_hi, shard_count, state, attempts, lease_owner, \
     lease_expires_at, fence, done, total, error, created_at, started_at, finished_at, work";

/// A job row decoded.
fn job(row: &AnyRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: row.try_get("id")?,
        submission: row.try_get("submission")?,
        shard_lo: row.try_get("shard_lo")?,
        shard_hi: row.try_get("shard_hi")?,
        shard_count: row.try_get("shard_count")?,
        state: stored(row, "state")?,
        attempts: row.try_get("attempts")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        fence: row.try_get("fence")?,
        done: row.try_get("done")?,
        total: row.try_get("total")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        work: row.try_get("work")?,
    })
}

impl Db {
    /// Job `id`.
    pub async fn job(&self, id: i64) -> Result<Option<Job>, DbError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(job).transpose()?)
    }

    /// The jobs of submission `id`, in order.
    pub async fn jobs_of(&self, submission_id: i64) -> Result<Vec<Job>, DbError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE submission = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(submission_id).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(job).collect::<Result<_, _>>()?)
    }

    /// Claims the oldest queued job for `owner` with a lease of `lease_ms`; with
    /// `studies_only`, the oldest queued study job (a `tune --worker` runs no competition's).
    pub async fn claim(&self, owner: &str, lease_ms: i64, studies_only: bool) -> Result<Option<Job>, DbError> {
        let now = now_ms();
        let only = if studies_only { " AND work IS NOT NULL" } else { "" };
        // PostgreSQL: concurrent claimers skip each other's candidate row instead of queueing
        // behind it. SQLite has one writer at a time, so the plain subquery is enough.
        let lock = if self.postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET state = $4, lease_owner = $1, lease_expires_at = $2, fence = fence + 1, \
             attempts = attempts + 1, done = 0, started_at = $3, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE state = $5{only} ORDER BY id LIMIT 1{lock}) AND state = $5 \
             RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(JobState::Running.as_str())
            .bind(JobState::Queued.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(job).transpose()?)
    }

    /// Renews the lease of job `id` held under `fence` and records progress; false when the
    /// lease is lost (re-leased, cancelled, finished): the holder must stop.
    pub async fn heartbeat(&self, id: i64, fence: i64, lease_ms: i64, done: i64) -> Result<bool, DbError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, done = $2, updated_at = $3 \
             WHERE id = $4 AND fence = $5 AND state = $6",
        )
        .bind(now + lease_ms)
        .bind(done)
        .bind(now)
        .bind(id)
        .bind(fence)
        .bind(JobState::Running.as_str())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records job `id` (held under `fence`) as succeeded with its shard results, in one
    /// transaction; nothing is recorded when the fence is stale.
    pub async fn complete(&self, id: i64, fence: i64, shards: &[(u32, String)]) -> Result<Completion, DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET state = $4, done = total, finished_at = $1, updated_at = $1, \
             lease_owner = NULL, lease_expires_at = NULL, error = NULL \
             WHERE id = $2 AND fence = $3 AND state = $5",
        )
        .bind(now)
        .bind(id)
        .bind(fence)
        .bind(JobState::Succeeded.as_str())
        .bind(JobState::Running.as_str())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(Completion::Stale);
        }
        for (shard, json) in shards {
            sqlx::query("INSERT INTO results (job, shard, fence, json) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(i64::from(*shard))
                .bind(fence)
                .bind(json)
                .execute(&mut *tx)
                .await?;
        }
        let left: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE submission = (SELECT submission FROM jobs WHERE id = $1) \
             AND state <> $2",
        )
        .bind(id)
        .bind(JobState::Succeeded.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        tx.commit().await?;
        Ok(Completion::Recorded(left == 0))
    }

    /// The shard results of every job of submission `id`.
    pub async fn shard_results(&self, submission_id: i64) -> Result<Vec<(i64, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT r.shard AS shard, r.json AS json FROM results r JOIN jobs j ON j.id = r.job \
             WHERE j.submission = $1 ORDER BY r.shard",
        )
        .bind(submission_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("shard")?, r.try_get("json")?))).collect()
    }

    /// Pending submissions whose jobs have all succeeded (not yet merged), with whether they
    /// are a baseline or a round group (no entry last).
    pub async fn unmerged(&self) -> Result<Vec<(i64, bool)>, DbError> {
        let rows = sqlx::query(
            "SELECT s.id AS id, CAST(CASE WHEN s.baseline = 1 OR s.round IS NOT NULL THEN 1 ELSE 0 END AS BIGINT) \
             AS baseline \
             FROM submissions s WHERE s.status = $1 AND s.study IS NULL \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.submission = s.id AND j.state <> $2) \
             AND EXISTS (SELECT 1 FROM jobs j WHERE j.submission = s.id)",
        )
        .bind(SubmissionStatus::Pending.as_str())
        .bind(JobState::Succeeded.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("baseline")? != 0))).collect()
    }

    /// Job `id` (held under `fence`) failed. An infrastructure fault re-queues it while it has
    /// attempts left; otherwise (or for a fault of the strategy) it and its submission fail.
    pub async fn fail(&self, id: i64, fence: i64, error: &str, retry: bool, max_attempts: i64) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        self.lock_submissions(&mut tx, LockOf::Job(id)).await?;
        let r = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN $1 = 1 AND attempts < $2 THEN $7 ELSE $8 END, \
             error = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = $4, \
             finished_at = CASE WHEN $1 = 1 AND attempts < $2 THEN NULL ELSE $4 END \
             WHERE id = $5 AND fence = $6 AND state = $9",
        )
        .bind(i64::from(retry))
        .bind(max_attempts)
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(fence)
        .bind(JobState::Queued.as_str())
        .bind(JobState::Failed.as_str())
        .bind(JobState::Running.as_str())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 1 {
            fail_submission_if_job_failed(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        if retry && r.rows_affected() == 1 {
            self.notify_jobs().await;
        }
        Ok(())
    }

    /// Hands job `id` (held under `fence`) back to the queue without counting the attempt (its
    /// worker is shutting down).
    pub async fn release(&self, id: i64, fence: i64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE jobs SET state = $4, attempts = attempts - 1, done = 0, lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = $1 WHERE id = $2 AND fence = $3 AND state = $5",
        )
        .bind(now_ms())
        .bind(id)
        .bind(fence)
        .bind(JobState::Queued.as_str())
        .bind(JobState::Running.as_str())
        .execute(&self.pool)
        .await?;
        self.notify_jobs().await;
        Ok(())
    }

    /// Re-queues running jobs whose lease has expired (their worker died or stalled); those
    /// out of attempts fail. Returns how many jobs were re-queued or failed.
    pub async fn reap(&self, max_attempts: i64) -> Result<u64, DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        // (`now` is fixed: the jobs updated below are among these; a claim never sets a lease
        // that has already expired.)
        self.lock_submissions(&mut tx, LockOf::Expired(now)).await?;
        let rows = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts < $1 THEN $3 ELSE $4 END, \
             error = 'lease expired (worker ' || COALESCE(lease_owner, '?') || ' stopped renewing it)', \
             finished_at = CASE WHEN attempts < $1 THEN NULL ELSE $2 END, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $2 \
             WHERE state = $5 AND lease_expires_at < $2 RETURNING id",
        )
        .bind(max_attempts)
        .bind(now)
        .bind(JobState::Queued.as_str())
        .bind(JobState::Failed.as_str())
        .bind(JobState::Running.as_str())
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            fail_submission_if_job_failed(&mut tx, row.try_get("id")?, now).await?;
        }
        tx.commit().await?;
        if !rows.is_empty() {
            self.notify_jobs().await;
        }
        Ok(rows.len() as u64)
    }

    /// Cancels submission `id` and its unfinished jobs; false when it had finished already.
    pub async fn cancel(&self, submission_id: i64) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let r = sqlx::query("UPDATE submissions SET status = $2 WHERE id = $1 AND status = $3")
            .bind(submission_id)
            .bind(SubmissionStatus::Cancelled.as_str())
            .bind(SubmissionStatus::Pending.as_str())
            .execute(&mut *tx)
            .await?;
        cancel_unfinished_jobs(&mut tx, submission_id, now).await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Puts failed job `id` back in the queue with fresh attempts, together with the jobs of
    /// its submission its failure cancelled, and makes the submission pending again (same
    /// salt: the shards already recorded stay valid).
    pub async fn requeue(&self, id: i64) -> Result<Requeue, DbError> {
        let mut tx = self.pool.begin().await?;
        self.lock_submissions(&mut tx, LockOf::Job(id)).await?;
        let Some(row) =
            sqlx::query("SELECT submission, state FROM jobs WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?
        else {
            return Ok(Requeue::NotFound);
        };
        let state: JobState = stored(&row, "state")?;
        if state != JobState::Failed {
            return Ok(Requeue::NotFailed(state));
        }
        let submission: i64 = row.try_get("submission")?;
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE jobs SET state = $3, attempts = 0, done = 0, error = NULL, lease_owner = NULL, \
             lease_expires_at = NULL, started_at = NULL, finished_at = NULL, updated_at = $1 \
             WHERE submission = $2 AND state IN ($4, $5) RETURNING id",
        )
        .bind(now)
        .bind(submission)
        .bind(JobState::Queued.as_str())
        .bind(JobState::Failed.as_str())
        .bind(JobState::Cancelled.as_str())
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE submissions SET status = $3, error = NULL, evaluated_at = NULL, changed_at = $1 \
             WHERE id = $2 AND status = $4",
        )
        .bind(now)
        .bind(submission)
        .bind(SubmissionStatus::Pending.as_str())
        .bind(SubmissionStatus::Failed.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.notify_jobs().await;
        let mut ids = rows.iter().map(|r| r.try_get("id")).collect::<Result<Vec<i64>, _>>()?;
        ids.sort_unstable();
        Ok(Requeue::Requeued(ids))
    }

    /// Jobs waiting and running (for readiness and logs).
    pub async fn queue_depth(&self) -> Result<(i64, i64), DbError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN state = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS queued, \
             CAST(COALESCE(SUM(CASE WHEN state = $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS running FROM jobs",
        )
        .bind(JobState::Queued.as_str())
        .bind(JobState::Running.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("queued")?, row.try_get("running")?))
    }

    /// Queued jobs that will be claimed before job `id` (claims take the lowest queued id).
    pub async fn queued_before(&self, id: i64) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM jobs WHERE state = $2 AND id < $1")
            .bind(id)
            .bind(JobState::Queued.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Jobs by state.
    pub async fn jobs_by_state(&self) -> Result<Vec<(JobState, i64)>, DbError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((stored(r, "state")?, r.try_get("n")?))).collect()
    }
}

/// Queues job `j` of `submission` in transaction `tx` (its caller announces it).
pub(super) async fn insert_job(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    submission: i64,
    j: &NewJob,
    now: i64,
) -> Result<i64, DbError> {
    let row = sqlx::query(
        "INSERT INTO jobs (submission, shard_lo, shard_hi, shard_count, state, attempts, fence, done, total, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $7, 0, 0, 0, $5, $6, $6) RETURNING id",
    )
    .bind(submission)
    .bind(i64::from(j.shard_lo))
    .bind(i64::from(j.shard_hi))
    .bind(i64::from(j.shard_count))
    .bind(i64::from(j.total))
    .bind(now)
    .bind(JobState::Queued.as_str())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// Whose submission rows [`Db::lock_submissions`] locks.
enum LockOf {
    /// Job `id`'s.
    Job(i64),
    /// Those of the running jobs whose lease expired before this time (ms).
    Expired(i64),
}

impl Db {
    /// Locks the submission rows a transaction is about to change together with their jobs
    /// (PostgreSQL; SQLite has one writer at a time). Every transaction that changes a
    /// submission and several of its jobs takes the submission's row before any job's row, so
    /// two of them never each hold a row the other waits for: a job failing fails its
    /// submission and cancels the others, and two such failures at once deadlocked.
    async fn lock_submissions(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        of: LockOf,
    ) -> Result<(), DbError> {
        if !self.postgres {
            return Ok(());
        }
        let query = match of {
            LockOf::Job(id) => sqlx::query(
                "SELECT id FROM submissions WHERE id = (SELECT submission FROM jobs WHERE id = $1) FOR UPDATE",
            )
            .bind(id),
            LockOf::Expired(now) => sqlx::query(
                "SELECT id FROM submissions WHERE id IN \
                 (SELECT submission FROM jobs WHERE state = $1 AND lease_expires_at < $2) ORDER BY id FOR UPDATE",
            )
            .bind(JobState::Running.as_str())
            .bind(now),
        };
        query.fetch_all(&mut **tx).await?;
        Ok(())
    }
}

/// Fails the submission of job `job_id` and cancels its other jobs when the job has failed.
async fn fail_submission_if_job_failed(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    job_id: i64,
    now: i64,
) -> Result<(), DbError> {
    let row = sqlx::query("SELECT submission, state, error FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(&mut **tx)
        .await?;
    let state: JobState = stored(&row, "state")?;
    if state != JobState::Failed {
        return Ok(());
    }
    let submission: i64 = row.try_get("submission")?;
    let error: Option<String> = row.try_get("error")?;
    sqlx::query("UPDATE submissions SET status = $4, error = $1, evaluated_at = $2 WHERE id = $3 AND status = $5")
        .bind(error.unwrap_or_default())
        .bind(now)
        .bind(submission)
        .bind(SubmissionStatus::Failed.as_str())
        .bind(SubmissionStatus::Pending.as_str())
        .execute(&mut **tx)
        .await?;
    cancel_unfinished_jobs(tx, submission, now).await
}

/// Cancels the queued and running jobs of `submission` in transaction `tx` (a worker holding
/// one loses its lease at its next heartbeat).
pub(super) async fn cancel_unfinished_jobs(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    submission: i64,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET state = $3, finished_at = $1, updated_at = $1, lease_owner = NULL, \
         lease_expires_at = NULL WHERE submission = $2 AND state IN ($4, $5)",
    )
    .bind(now)
    .bind(submission)
    .bind(JobState::Cancelled.as_str())
    .bind(JobState::Queued.as_str())
    .bind(JobState::Running.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::JOBS_CHANNEL;
    use crate::db::{Inserted, Submission, new_salt, now_ms};

    /// Runs with `AMM_TEST_POSTGRES_URL`: many jobs of one submission failing at once, and
    /// the reaper meanwhile, never deadlock. Each failure fails the submission and cancels its
    /// other jobs; every statement that touches both takes the submission's row first, so two
    /// of them never wait on each other's job rows (they did: "deadlock detected").
    #[test]
    fn jobs_of_one_submission_failing_at_once_do_not_deadlock() {
        let Ok(url) = std::env::var("AMM_TEST_POSTGRES_URL") else {
            eprintln!("skipped: set AMM_TEST_POSTGRES_URL to run the concurrent-failure test");
            return;
        };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        rt.block_on(async {
            let db = Db::open(&url).await.unwrap();
            for round in 0..6 {
                let name = format!("deadlock{}t{}r{round}", std::process::id(), now_ms());
                let study = db.open_study(&name, "{}", &"b".repeat(64)).await.unwrap();
                let work: Vec<(u32, String)> = (0..24).map(|_| (1, "[]".to_string())).collect();
                let ids = db.queue_study_jobs(study, &work).await.unwrap();
                // Claimed by their ids (not the queue's oldest: another test's jobs may wait).
                let mut held = Vec::new();
                for id in &ids {
                    let row = sqlx::query("UPDATE jobs SET state = $1, fence = fence + 1, attempts = attempts + 1, lease_expires_at = $2 WHERE id = $3 RETURNING fence")
                        .bind(JobState::Running.as_str())
                        .bind(if id % 3 == 0 { 0 } else { now_ms() + 60_000 })
                        .bind(id)
                        .fetch_one(&db.pool)
                        .await
                        .unwrap();
                    held.push((*id, row.try_get::<i64, _>("fence").unwrap()));
                }
                let mut tasks = Vec::new();
                for (id, fence) in held {
                    let db = db.clone();
                    tasks.push(tokio::spawn(async move { db.fail(id, fence, "boom", false, 1).await }));
                }
                let reaper = { let db = db.clone(); tokio::spawn(async move { db.reap(1).await.map(|_| ()) }) };
                for t in tasks {
                    t.await.unwrap().unwrap();
                }
                reaper.await.unwrap().unwrap();
                let states = db.study_jobs(study, ids[0], ids[ids.len() - 1]).await.unwrap();
                assert!(states.iter().all(|j| matches!(j.state, JobState::Failed | JobState::Cancelled)), "{states:?}");
            }
            db.close().await;
        });
    }

    /// Runs with `AMM_TEST_POSTGRES_URL` (see `.ci/run postgres`): queueing jobs announces them
    /// on the jobs channel to a listener on another connection.
    #[test]
    fn queueing_jobs_notifies_listeners_on_postgresql() {
        let Ok(url) = std::env::var("AMM_TEST_POSTGRES_URL") else {
            eprintln!("skipped: set AMM_TEST_POSTGRES_URL to run the NOTIFY test");
            return;
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let db = Db::open(&url).await.unwrap();
            assert!(db.is_postgres());
            let mut listener = db.listen().await.unwrap().expect("a PostgreSQL listener");
            let sub = Submission {
                id: 0,
                submitter: format!("notify{}t{}", std::process::id(), now_ms()),
                name: "n".into(),
                model: "None".into(),
                sha256: "0".repeat(64),
                bytes_path: String::new(),
                size: 0,
                baseline: false,
                status: crate::states::SubmissionStatus::Pending,
                validation: "[]".into(),
                summary: None,
                engine_version: String::new(),
                error: None,
                created_at: 0,
                evaluated_at: None,
                salt: new_salt(),
                flag: None,
                hidden: false,
                round: None,
                entries: None,
                study: None,
            };
            let job = NewJob { shard_lo: 0, shard_hi: 1, shard_count: 1, total: 1 };
            let Inserted::New(id, _) = db.insert_submission(&sub, None, &[job]).await.unwrap() else {
                panic!("a new submission")
            };
            // Off the queue at once: no worker of another test should take this job.
            assert!(db.cancel(id).await.unwrap());
            let n = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
                .await
                .expect("a notification within 10 s")
                .unwrap();
            assert_eq!(n.channel(), JOBS_CHANNEL);
            db.close().await;
        });
    }
}
