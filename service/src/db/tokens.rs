//! Bearer tokens: stored as their sha256 with the holder's handle and whether they are an
//! admin's (the token itself is never stored).

use sqlx::Row;

use super::pool::{Db, DbError, now_ms};

/// A bearer token's holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Handle shown on the board.
    pub handle: String,
    /// May cancel anyone's jobs.
    pub admin: bool,
}

impl Db {
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
}
