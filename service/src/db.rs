//! The database: tokens, submissions, the job queue and shard results.
//!
//! One query layer for SQLite and PostgreSQL: sqlx's `Any` driver, chosen at run time from the
//! URL, with portable SQL (`$N` placeholders, `RETURNING`, integer times in Unix milliseconds,
//! JSON as text). The queue's correctness rests on three statements only — claim, heartbeat and
//! complete — each a single guarded `UPDATE`: a claim moves one `queued` job to `running` and
//! increments its fencing counter; a heartbeat or a completion names the fence it holds and
//! changes nothing when the job has been re-leased, cancelled or finished since.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::states::{JobState, Progress};

/// A database fault (reported to clients as 500/503, never a crash).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// From the driver (its text is in the message, not a `source()`: said once in a chain).
    #[error("database: {0}")]
    Sqlx(sqlx::Error),
    /// From a migration (as above).
    #[error("database migration: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// Stored data that does not parse.
    #[error("database: corrupt {what}: {message}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        message: String,
    },
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sqlx(e)
    }
}

impl From<sqlx::migrate::MigrateError> for DbError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(e)
    }
}

/// Unix milliseconds as ISO 8601 UTC (`2026-11-29T09:27:49.123Z`).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The default database URL for data directory `dir`: a SQLite file in it.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/amm-service.db?mode=rwc", dir.display())
}

/// A bearer token's holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Handle shown on the board.
    pub handle: String,
    /// May cancel anyone's jobs.
    pub admin: bool,
}

/// A submission row.
#[derive(Clone, Debug)]
pub struct Submission {
    /// Id.
    pub id: i64,
    /// Submitter's handle.
    pub submitter: String,
    /// Strategy name.
    pub name: String,
    /// Model that wrote it.
    pub model: String,
    /// sha256 of the module.
    pub sha256: String,
    /// Module path relative to the data directory ('' for the baseline).
    pub bytes_path: String,
    /// Module size, bytes.
    pub size: i64,
    /// The house field's own evaluation.
    pub baseline: bool,
    /// Where its evaluation is.
    pub status: crate::states::SubmissionStatus,
    /// Validation checks, JSON.
    pub validation: String,
    /// Summary JSON, once evaluated.
    pub summary: Option<String>,
    /// Engine version it was evaluated with.
    pub engine_version: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Upload time, ms.
    pub created_at: i64,
    /// Evaluation end, ms.
    pub evaluated_at: Option<i64>,
    /// The evaluation's `[run] salt` (a secret until it is evaluated; fresh at each rescore).
    pub salt: String,
    /// Why an admin flagged it for review, if flagged.
    pub flag: Option<String>,
    /// Hidden by an admin (off the board).
    pub hidden: bool,
    /// The round this row is a group (one market) of; None for uploads and baselines.
    pub round: Option<i64>,
    /// A round group's entries, JSON ([`crate::rounds::RoundEntry`] list, market order).
    pub entries: Option<String>,
}

/// A fresh evaluation salt: 32 random bytes, hex.
pub fn new_salt() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

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

/// What a submission insert did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// New: its id and its jobs' ids.
    New(i64, Vec<i64>),
    /// The same bytes from the same submitter exist already: that submission's id.
    Duplicate(i64),
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

/// The database handle (cheap to clone).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// PostgreSQL (else SQLite): the few statements that differ check it.
    postgres: bool,
    /// The URL (PostgreSQL: a listener opens its own connection with it).
    url: String,
}

/// The PostgreSQL channel on which every change that queues a job is announced (`NOTIFY`), so
/// that idle workers in every process wake at once instead of polling.
pub const JOBS_CHANNEL: &str = "amm_jobs";

// Queries built with format! splice in only these constant column lists (hence AssertSqlSafe);
// every value is a bound parameter.
const SUBMISSION_COLUMNS: &str = "id, submitter, name, model, sha256, bytes_path, size, baseline, status, validation, \
     summary, engine_version, error, created_at, evaluated_at, salt, flag, hidden, round, entries";
/// The submissions the board shows.
const ON_BOARD: &str =
    "hidden = 0 AND round IS NULL AND (status = 'evaluated' OR (status = 'pending' AND summary IS NOT NULL))";
const JOB_COLUMNS: &str = "id, submission, shard_lo, shard_hi, shard_count, state, attempts, lease_owner, \
     lease_expires_at, fence, done, total, error, created_at, started_at, finished_at";

/// A state column read into its type; an unknown word is a decoding error (a corrupt row).
fn stored<T: std::str::FromStr<Err = crate::states::UnknownState>>(
    row: &AnyRow,
    column: &str,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|e: crate::states::UnknownState| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(e),
    })
}

fn submission(row: &AnyRow) -> Result<Submission, sqlx::Error> {
    Ok(Submission {
        id: row.try_get("id")?,
        submitter: row.try_get("submitter")?,
        name: row.try_get("name")?,
        model: row.try_get("model")?,
        sha256: row.try_get("sha256")?,
        bytes_path: row.try_get("bytes_path")?,
        size: row.try_get("size")?,
        baseline: row.try_get::<i64, _>("baseline")? != 0,
        status: stored(row, "status")?,
        validation: row.try_get("validation")?,
        summary: row.try_get("summary")?,
        engine_version: row.try_get("engine_version")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        evaluated_at: row.try_get("evaluated_at")?,
        salt: row.try_get("salt")?,
        flag: row.try_get("flag")?,
        hidden: row.try_get::<i64, _>("hidden")? != 0,
        round: row.try_get("round")?,
        entries: row.try_get("entries")?,
    })
}

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
    })
}

/// A round's row.
#[derive(Clone, Debug)]
pub struct RoundRow {
    /// Id.
    pub id: i64,
    /// Its `[run] salt` (every group's).
    pub salt: String,
    /// Most entries in one market.
    pub round_size: i64,
    /// The admin who started it.
    pub created_by: String,
    /// Start, ms.
    pub created_at: i64,
}

fn round_row(row: &AnyRow) -> Result<RoundRow, sqlx::Error> {
    Ok(RoundRow {
        id: row.try_get("id")?,
        salt: row.try_get("salt")?,
        round_size: row.try_get("round_size")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The outcome of reporting a job finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Recorded; `true` when it was the submission's last job (the caller merges).
    Recorded(bool),
    /// The fence is stale (the job was re-leased, cancelled or finished): nothing recorded.
    Stale,
}

impl Db {
    /// Connects to `url` (creating a SQLite file if needed) and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
        if !sqlite && !postgres {
            return Err(DbError::Corrupt {
                what: "database URL",
                message: "expected sqlite://FILE or postgres://…".into(),
            });
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // Concurrent readers with one writer; wait for the writer rather than fail.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        if postgres {
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        } else {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        }
        Ok(Self { pool, postgres, url: url.to_string() })
    }

    /// Whether this is PostgreSQL (where [`Db::listen`] works).
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// PostgreSQL: a connection listening on [`JOBS_CHANNEL`]; `None` for SQLite (one
    /// process: its own wake-ups suffice).
    pub async fn listen(&self) -> Result<Option<sqlx::postgres::PgListener>, DbError> {
        if !self.postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(JOBS_CHANNEL).await?;
        Ok(Some(listener))
    }

    /// PostgreSQL: announces on [`JOBS_CHANNEL`] that jobs were queued (best effort: workers
    /// also poll slowly). Nothing on SQLite.
    async fn notify_jobs(&self) {
        if self.postgres
            && let Err(e) =
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("NOTIFY {JOBS_CHANNEL}"))).execute(&self.pool).await
        {
            tracing::warn!(error = %e, "NOTIFY failed; workers will find the jobs by polling");
        }
    }

    /// Stores a token's hash for `handle`.
    pub async fn insert_token(&self, hash: &str, handle: &str, admin: bool) -> Result<(), DbError> {
        sqlx::query("INSERT INTO tokens (hash, handle, admin, created_at) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(handle)
            .bind(i64::from(admin))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The holder of the token with sha256 `hash`.
    pub async fn caller(&self, hash: &str) -> Result<Option<Caller>, DbError> {
        let row = sqlx::query("SELECT handle, admin FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(Caller { handle: r.try_get("handle")?, admin: r.try_get::<i64, _>("admin")? != 0 }),
            None => None,
        })
    }

    /// The submission of `submitter` with module hash `sha256`, if any.
    pub async fn find_submission(&self, submitter: &str, sha256: &str) -> Result<Option<Submission>, DbError> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE submitter = $1 AND sha256 = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(submitter).bind(sha256).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(submission).transpose()?)
    }

    /// Submission `id`.
    pub async fn submission(&self, id: i64) -> Result<Option<Submission>, DbError> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(submission).transpose()?)
    }

    /// Every submission the board shows (baselines included), oldest first: evaluated, or
    /// being re-scored (its previous evaluation stands meanwhile), and not hidden.
    pub async fn evaluated(&self) -> Result<Vec<Submission>, DbError> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE {ON_BOARD} ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(submission).collect::<Result<_, _>>()?)
    }

    /// A version of what the board shows: (rows, their largest id, their last change); the
    /// board changes only when it does (an evaluation, a rescore, a flag or a hide).
    pub async fn evaluated_version(&self) -> Result<(i64, i64, i64), DbError> {
        let sql = format!(
            "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS last, COALESCE(MAX(changed_at), 0) AS changed \
             FROM submissions WHERE {ON_BOARD}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&self.pool).await?;
        Ok((row.try_get("n")?, row.try_get("last")?, row.try_get("changed")?))
    }

    /// The merged results.json of submission `id`, once evaluated (never a round group's: its
    /// per-seed results would publish the hidden seeds).
    pub async fn results(&self, id: i64) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT results FROM submissions WHERE id = $1 AND round IS NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("results")?,
            None => None,
        })
    }

    /// Submissions of `submitter` still pending, and the upload times of those accepted since
    /// `since_ms` (oldest first): what the quotas count.
    pub async fn quota_usage(&self, submitter: &str, since_ms: i64) -> Result<(i64, Vec<i64>), DbError> {
        let pending: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM submissions WHERE submitter = $1 AND status = 'pending' AND summary IS NULL",
        )
        .bind(submitter)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(
            "SELECT created_at FROM submissions WHERE submitter = $1 AND created_at >= $2 ORDER BY created_at",
        )
        .bind(submitter)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let times = rows.iter().map(|r| r.try_get("created_at")).collect::<Result<_, _>>()?;
        Ok((pending, times))
    }

    /// The bytes of module `sha256`, if stored.
    pub async fn module(&self, sha256: &str) -> Result<Option<Vec<u8>>, DbError> {
        let row =
            sqlx::query("SELECT bytes FROM modules WHERE sha256 = $1").bind(sha256).fetch_optional(&self.pool).await?;
        Ok(match row {
            Some(r) => Some(r.try_get("bytes")?),
            None => None,
        })
    }

    /// Inserts a submission, its module's bytes (when given) and its jobs in one transaction,
    /// unless the same submitter already submitted the same bytes.
    pub async fn insert_submission(
        &self,
        s: &Submission,
        module: Option<&[u8]>,
        jobs: &[NewJob],
    ) -> Result<Inserted, DbError> {
        if let Some(existing) = self.find_submission(&s.submitter, &s.sha256).await? {
            return Ok(Inserted::Duplicate(existing.id));
        }
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO submissions (submitter, name, model, sha256, bytes_path, size, baseline, status, validation, \
             engine_version, created_at, salt, changed_at, round, entries) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $10, $12, $13) RETURNING id",
        )
        .bind(&s.submitter)
        .bind(&s.name)
        .bind(&s.model)
        .bind(&s.sha256)
        .bind(&s.bytes_path)
        .bind(s.size)
        .bind(i64::from(s.baseline))
        .bind(&s.validation)
        .bind(&s.engine_version)
        .bind(now)
        .bind(&s.salt)
        .bind(s.round)
        .bind(&s.entries)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            // Lost a race with the same upload: report the winner.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                drop(tx);
                return match self.find_submission(&s.submitter, &s.sha256).await? {
                    Some(existing) => Ok(Inserted::Duplicate(existing.id)),
                    None => Err(DbError::Corrupt { what: "submission", message: e.to_string() }),
                };
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(bytes) = module {
            sqlx::query("INSERT INTO modules (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING")
                .bind(&s.sha256)
                .bind(bytes.to_vec())
                .execute(&mut *tx)
                .await?;
        }
        let mut ids = Vec::with_capacity(jobs.len());
        for j in jobs {
            ids.push(insert_job(&mut tx, id, j, now).await?);
        }
        tx.commit().await?;
        self.notify_jobs().await;
        Ok(Inserted::New(id, ids))
    }

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

    /// Claims the oldest queued job for `owner` with a lease of `lease_ms`.
    pub async fn claim(&self, owner: &str, lease_ms: i64) -> Result<Option<Job>, DbError> {
        let now = now_ms();
        // PostgreSQL: concurrent claimers skip each other's candidate row instead of queueing
        // behind it. SQLite has one writer at a time, so the plain subquery is enough.
        let lock = if self.postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, fence = fence + 1, \
             attempts = attempts + 1, done = 0, started_at = $3, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1{lock}) AND state = 'queued' \
             RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
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
             WHERE id = $4 AND fence = $5 AND state = 'running'",
        )
        .bind(now + lease_ms)
        .bind(done)
        .bind(now)
        .bind(id)
        .bind(fence)
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
            "UPDATE jobs SET state = 'succeeded', done = total, finished_at = $1, updated_at = $1, \
             lease_owner = NULL, lease_expires_at = NULL, error = NULL \
             WHERE id = $2 AND fence = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(id)
        .bind(fence)
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
             AND state <> 'succeeded'",
        )
        .bind(id)
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
             FROM submissions s WHERE s.status = 'pending' \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.submission = s.id AND j.state <> 'succeeded') \
             AND EXISTS (SELECT 1 FROM jobs j WHERE j.submission = s.id)",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("baseline")? != 0))).collect()
    }

    /// Records submission `id` evaluated (once: a second call changes nothing).
    pub async fn finish_submission(&self, id: i64, summary: &str, results: &str) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE submissions SET status = 'evaluated', summary = $1, results = $2, evaluated_at = $3, \
             changed_at = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(summary)
        .bind(results)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Job `id` (held under `fence`) failed. An infrastructure fault re-queues it while it has
    /// attempts left; otherwise (or for a fault of the strategy) it and its submission fail.
    pub async fn fail(&self, id: i64, fence: i64, error: &str, retry: bool, max_attempts: i64) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN $1 = 1 AND attempts < $2 THEN 'queued' ELSE 'failed' END, \
             error = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = $4, \
             finished_at = CASE WHEN $1 = 1 AND attempts < $2 THEN NULL ELSE $4 END \
             WHERE id = $5 AND fence = $6 AND state = 'running'",
        )
        .bind(i64::from(retry))
        .bind(max_attempts)
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(fence)
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
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, done = 0, lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = $1 WHERE id = $2 AND fence = $3 AND state = 'running'",
        )
        .bind(now_ms())
        .bind(id)
        .bind(fence)
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
        let rows = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts < $1 THEN 'queued' ELSE 'failed' END, \
             error = 'lease expired (worker ' || COALESCE(lease_owner, '?') || ' stopped renewing it)', \
             finished_at = CASE WHEN attempts < $1 THEN NULL ELSE $2 END, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $2 \
             WHERE state = 'running' AND lease_expires_at < $2 RETURNING id",
        )
        .bind(max_attempts)
        .bind(now)
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
        let r = sqlx::query("UPDATE submissions SET status = 'cancelled' WHERE id = $1 AND status = 'pending'")
            .bind(submission_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $1, lease_owner = NULL, \
             lease_expires_at = NULL WHERE submission = $2 AND state IN ('queued', 'running')",
        )
        .bind(now)
        .bind(submission_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Re-evaluates every active entry (after an engine upgrade): each evaluated, visible
    /// submission, and the latest baseline, gets a fresh salt, `engine_version`, and new jobs
    /// `jobs` (its old jobs and their shard results are deleted; a worker still running one
    /// loses its lease). Its previous evaluation stays on the board until the new one is
    /// merged. Returns each re-queued submission with its new jobs.
    pub async fn rescore(&self, engine_version: &str, jobs: &[NewJob]) -> Result<Vec<(i64, Vec<i64>)>, DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT id FROM submissions WHERE status = 'evaluated' AND hidden = 0 AND round IS NULL AND (baseline = 0 OR id = \
             (SELECT MAX(id) FROM submissions WHERE baseline = 1 AND status = 'evaluated')) ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            sqlx::query("DELETE FROM results WHERE job IN (SELECT id FROM jobs WHERE submission = $1)")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM jobs WHERE submission = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE submissions SET status = 'pending', salt = $1, engine_version = $2, error = NULL \
                 WHERE id = $3",
            )
            .bind(new_salt())
            .bind(engine_version)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let mut ids = Vec::with_capacity(jobs.len());
            for j in jobs {
                ids.push(insert_job(&mut tx, id, j, now).await?);
            }
            out.push((id, ids));
        }
        tx.commit().await?;
        self.notify_jobs().await;
        Ok(out)
    }

    /// Flags submission `id` for review with `reason` (None: clears the flag); false when
    /// there is no such submission.
    pub async fn flag(&self, id: i64, reason: Option<&str>) -> Result<bool, DbError> {
        let r = sqlx::query("UPDATE submissions SET flag = $1, changed_at = $2 WHERE id = $3")
            .bind(reason)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Hides submission `id` from the board (or shows it again); false when there is no such
    /// submission.
    pub async fn hide(&self, id: i64, hidden: bool) -> Result<bool, DbError> {
        let r = sqlx::query("UPDATE submissions SET hidden = $1, changed_at = $2 WHERE id = $3")
            .bind(i64::from(hidden))
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Puts failed job `id` back in the queue with fresh attempts, together with the jobs of
    /// its submission its failure cancelled, and makes the submission pending again (same
    /// salt: the shards already recorded stay valid).
    pub async fn requeue(&self, id: i64) -> Result<Requeue, DbError> {
        let mut tx = self.pool.begin().await?;
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
            "UPDATE jobs SET state = 'queued', attempts = 0, done = 0, error = NULL, lease_owner = NULL, \
             lease_expires_at = NULL, started_at = NULL, finished_at = NULL, updated_at = $1 \
             WHERE submission = $2 AND state IN ('failed', 'cancelled') RETURNING id",
        )
        .bind(now)
        .bind(submission)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE submissions SET status = 'pending', error = NULL, evaluated_at = NULL, changed_at = $1 \
             WHERE id = $2 AND status = 'failed'",
        )
        .bind(now)
        .bind(submission)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.notify_jobs().await;
        let mut ids = rows.iter().map(|r| r.try_get("id")).collect::<Result<Vec<i64>, _>>()?;
        ids.sort_unstable();
        Ok(Requeue::Requeued(ids))
    }

    /// Creates a round: its row, then one group row per market (`groups`: the entries JSON of
    /// each) with jobs `jobs` each, in one transaction. Returns the round's id and each group's
    /// row id with its jobs.
    pub async fn create_round(
        &self,
        salt: &str,
        round_size: i64,
        created_by: &str,
        groups: &[String],
        jobs: &[NewJob],
    ) -> Result<(i64, Vec<(i64, Vec<i64>)>), DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let round: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM rounds")
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
        sqlx::query("INSERT INTO rounds (id, salt, round_size, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(round)
            .bind(salt)
            .bind(round_size)
            .bind(created_by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(groups.len());
        for (g, entries) in groups.iter().enumerate() {
            let row = sqlx::query(
                "INSERT INTO submissions (submitter, name, model, sha256, bytes_path, size, baseline, status, \
                 validation, engine_version, created_at, salt, changed_at, round, entries) \
                 VALUES ($1, $2, 'None', $3, '', 0, 0, 'pending', '[]', $4, $5, $6, $5, $7, $8) RETURNING id",
            )
            .bind(format!("round:{round}"))
            .bind(format!("round {round} group {}", g + 1))
            .bind(format!("group-{}", g + 1))
            .bind(amm_engine::ENGINE_VERSION)
            .bind(now)
            .bind(salt)
            .bind(round)
            .bind(entries)
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.try_get("id")?;
            let mut ids = Vec::with_capacity(jobs.len());
            for j in jobs {
                ids.push(insert_job(&mut tx, id, j, now).await?);
            }
            out.push((id, ids));
        }
        tx.commit().await?;
        self.notify_jobs().await;
        Ok((round, out))
    }

    /// Round `id`.
    pub async fn round(&self, id: i64) -> Result<Option<RoundRow>, DbError> {
        let row = sqlx::query("SELECT id, salt, round_size, created_by, created_at FROM rounds WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(round_row).transpose()?)
    }

    /// Every round, newest first.
    pub async fn rounds(&self) -> Result<Vec<RoundRow>, DbError> {
        let rows = sqlx::query("SELECT id, salt, round_size, created_by, created_at FROM rounds ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(round_row).collect::<Result<_, _>>()?)
    }

    /// The group rows of round `id`, in group order.
    pub async fn round_groups(&self, id: i64) -> Result<Vec<Submission>, DbError> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE round = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(submission).collect::<Result<_, _>>()?)
    }

    /// Jobs waiting and running (for readiness and logs).
    pub async fn queue_depth(&self) -> Result<(i64, i64), DbError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS BIGINT) AS queued, \
             CAST(COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS BIGINT) AS running FROM jobs",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("queued")?, row.try_get("running")?))
    }

    /// Queued jobs that will be claimed before job `id` (claims take the lowest queued id).
    pub async fn queued_before(&self, id: i64) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM jobs WHERE state = 'queued' AND id < $1")
            .bind(id)
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

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn insert_job(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    submission: i64,
    j: &NewJob,
    now: i64,
) -> Result<i64, DbError> {
    let row = sqlx::query(
        "INSERT INTO jobs (submission, shard_lo, shard_hi, shard_count, state, attempts, fence, done, total, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', 0, 0, 0, $5, $6, $6) RETURNING id",
    )
    .bind(submission)
    .bind(i64::from(j.shard_lo))
    .bind(i64::from(j.shard_hi))
    .bind(i64::from(j.shard_count))
    .bind(i64::from(j.total))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

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
    sqlx::query(
        "UPDATE submissions SET status = 'failed', error = $1, evaluated_at = $2 WHERE id = $3 AND status = 'pending'",
    )
    .bind(error.unwrap_or_default())
    .bind(now)
    .bind(submission)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $1, lease_owner = NULL, \
         lease_expires_at = NULL WHERE submission = $2 AND state IN ('queued', 'running')",
    )
    .bind(now)
    .bind(submission)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
