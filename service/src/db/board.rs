//! What the board reads: the submissions it shows, and a version that changes only when they do
//! (for the leaderboard's event stream and the board's cache).

use sqlx::Row;

use super::pool::{Db, DbError};
use super::submissions::{SUBMISSION_COLUMNS, Submission, submission};
use crate::states::SubmissionStatus;

/// The submissions the board shows: a condition on parameters `$1` (evaluated) and `$2`
/// (pending), which every query using it binds with [`on_board`] before any other.
const ON_BOARD: &str =
    "hidden = 0 AND round IS NULL AND study IS NULL AND (status = $1 OR (status = $2 AND summary IS NOT NULL))";

/// Binds the states [`ON_BOARD`] names, as `$1` and `$2`.
fn on_board<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query.bind(SubmissionStatus::Evaluated.as_str()).bind(SubmissionStatus::Pending.as_str())
}

impl Db {
    /// Every submission the board shows (baselines included), oldest first: evaluated, or
    /// being re-scored (its previous evaluation stands meanwhile), and not hidden.
    pub async fn evaluated(&self) -> Result<Vec<Submission>, DbError> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE {ON_BOARD} ORDER BY id");
        let rows = on_board(sqlx::query(sqlx::AssertSqlSafe(sql))).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(submission).collect::<Result<_, _>>()?)
    }

    /// A version of what the board shows: (rows, their largest id, their last change); the
    /// board changes only when it does (an evaluation, a rescore, a flag or a hide).
    pub async fn evaluated_version(&self) -> Result<(i64, i64, i64), DbError> {
        let sql = format!(
            "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS last, COALESCE(MAX(changed_at), 0) AS changed \
             FROM submissions WHERE {ON_BOARD}"
        );
        let row = on_board(sqlx::query(sqlx::AssertSqlSafe(sql))).fetch_one(&self.pool).await?;
        Ok((row.try_get("n")?, row.try_get("last")?, row.try_get("changed")?))
    }
}
