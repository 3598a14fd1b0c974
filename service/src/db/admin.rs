//! An admin's changes to the board: re-scoring every active entry, flagging and hiding a
//! submission. (Requeueing a failed job is a move of the queue: [`super::jobs`].)

use sqlx::Row;

use super::jobs::{NewJob, insert_job};
use super::pool::{Db, DbError, new_salt, now_ms};
use crate::states::SubmissionStatus;

impl Db {
    /// Re-evaluates every active entry (after an engine upgrade): each evaluated, visible
    /// submission, and the latest baseline, gets a fresh salt, `engine_version`, and new jobs
    /// `jobs` (its old jobs and their shard results are deleted; a worker still running one
    /// loses its lease). Its previous evaluation stays on the board until the new one is
    /// merged. Returns each re-queued submission with its new jobs.
    pub async fn rescore(&self, engine_version: &str, jobs: &[NewJob]) -> Result<Vec<(i64, Vec<i64>)>, DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT id FROM submissions WHERE status = $1 AND hidden = 0 AND round IS NULL AND study IS NULL AND (baseline = 0 OR id = \
             (SELECT MAX(id) FROM submissions WHERE baseline = 1 AND status = $1)) ORDER BY id",
        )
        .bind(SubmissionStatus::Evaluated.as_str())
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
                "UPDATE submissions SET status = $4, salt = $1, engine_version = $2, error = NULL \
                 WHERE id = $3",
            )
            .bind(new_salt())
            .bind(engine_version)
            .bind(id)
            .bind(SubmissionStatus::Pending.as_str())
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
}
