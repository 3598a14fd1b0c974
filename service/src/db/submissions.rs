//! Submissions: an upload's row (its module's bytes beside it), the lookups the upload handler
//! and the pages make, and the quota counts. Inserting one queues its jobs in the same
//! transaction, so a submission never exists without its evaluation.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::jobs::{NewJob, insert_job};
use super::pool::{Db, DbError, now_ms, stored};
use crate::states::SubmissionStatus;

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
    pub status: SubmissionStatus,
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
    /// A round group's entries, JSON ([`crate::rounds::RoundEntry`] list, market order); a
    /// study's field ([`amm_tune::spec::FieldSpec`]).
    pub entries: Option<String>,
    /// The tuning study this row stands for (`tune --db`); None otherwise.
    pub study: Option<String>,
}

/// What a submission insert did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// New: its id and its jobs' ids.
    New(i64, Vec<i64>),
    /// The same bytes from the same submitter exist already: that submission's id.
    Duplicate(i64),
}

// Queries built with format! splice in only these constant column lists (hence AssertSqlSafe);
// every value is a bound parameter.
pub(super) const SUBMISSION_COLUMNS: &str = "id, submitter, name, model, sha256, bytes_path, size, baseline, status, validation, \
     summary, engine_version, error, created_at, evaluated_at, salt, flag, hidden, round, entries, study";
/// A submission row decoded.
pub(super) fn submission(row: &AnyRow) -> Result<Submission, sqlx::Error> {
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
        study: row.try_get("study")?,
    })
}

impl Db {
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

    /// The merged results.json of submission `id`, once evaluated (never a round group's: its
    /// per-seed results would publish the hidden seeds).
    pub async fn results(&self, id: i64) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT results FROM submissions WHERE id = $1 AND round IS NULL AND study IS NULL")
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
            "SELECT COUNT(*) AS n FROM submissions WHERE submitter = $1 AND status = $2 AND summary IS NULL",
        )
        .bind(submitter)
        .bind(SubmissionStatus::Pending.as_str())
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $14, $8, $9, $10, $11, $10, $12, $13) RETURNING id",
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
        .bind(SubmissionStatus::Pending.as_str())
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

    /// Entries on the board (not a baseline, not hidden, not a round's group) whose evaluation
    /// finished before `ms`: at startup, those evaluated before the current market definition's
    /// baseline was queued, i.e. under another definition (or engine).
    pub async fn entries_evaluated_before(&self, ms: i64) -> Result<i64, DbError> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM submissions WHERE baseline = 0 AND hidden = 0 AND round IS NULL \
             AND study IS NULL AND summary IS NOT NULL AND evaluated_at < $1",
        )
        .bind(ms)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(n)
    }

    /// Records submission `id` evaluated (once: a second call changes nothing).
    pub async fn finish_submission(&self, id: i64, summary: &str, results: &str) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE submissions SET status = $5, summary = $1, results = $2, evaluated_at = $3, \
             changed_at = $3 WHERE id = $4 AND status = $6",
        )
        .bind(summary)
        .bind(results)
        .bind(now_ms())
        .bind(id)
        .bind(SubmissionStatus::Evaluated.as_str())
        .bind(SubmissionStatus::Pending.as_str())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
