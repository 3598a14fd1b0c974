//! Rounds: a round's row, and its groups, each stored as a submission row (`round` set,
//! `entries` its market) with jobs of its own, so that the queue and the merge treat a group
//! like any evaluation.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::jobs::{NewJob, insert_job};
use super::pool::{Db, DbError, now_ms};
use super::submissions::{SUBMISSION_COLUMNS, Submission, submission};
use crate::states::SubmissionStatus;

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

impl Db {
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
                 VALUES ($1, $2, 'None', $3, '', 0, 0, $9, '[]', $4, $5, $6, $5, $7, $8) RETURNING id",
            )
            .bind(format!("round:{round}"))
            .bind(format!("round {round} group {}", g + 1))
            .bind(format!("group-{}", g + 1))
            .bind(amm_engine::ENGINE_VERSION)
            .bind(now)
            .bind(salt)
            .bind(round)
            .bind(entries)
            .bind(SubmissionStatus::Pending.as_str())
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
}
