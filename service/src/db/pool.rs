//! What every table's queries share: the connection pool (SQLite or PostgreSQL, chosen at run
//! time from the URL) with its migrations and the one statement that differs by dialect
//! (`NOTIFY`), the error type, times in Unix milliseconds, and random ids.
//!
//! A module of its own (rather than `db/mod.rs`) so that the per-table modules can use it while
//! `db` re-exports them: no file reaches one that reaches it back.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// A database fault (reported to clients as 500/503, never a crash).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// From the driver (its text is in the message, not a `source()`: said once in a chain).
    #[error("database: {0}")]
    Sqlx(sqlx::Error),
    /// From a migration (as above).
    #[error("database migration: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A database URL of a kind this server does not speak (`--db`).
    #[error("--db: a database URL of scheme {scheme:?} is not supported; use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl {
        /// What the URL started with (the rest is not repeated: it may hold a password).
        scheme: String,
    },
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

/// A fresh evaluation salt: 32 random bytes, hex.
pub fn new_salt() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The database handle (cheap to clone).
#[derive(Clone, Debug)]
pub struct Db {
    pub(super) pool: AnyPool,
    /// PostgreSQL (else SQLite): the few statements that differ check it.
    pub(super) postgres: bool,
    /// The URL (PostgreSQL: a listener opens its own connection with it).
    url: String,
}

/// The PostgreSQL channel on which every change that queues a job is announced (`NOTIFY`), so
/// that idle workers in every process wake at once instead of polling.
pub const JOBS_CHANNEL: &str = "amm_jobs";

/// A state column read into its type; an unknown word is a decoding error (a corrupt row).
pub(super) fn stored<T: std::str::FromStr<Err = crate::states::UnknownState>>(
    row: &AnyRow,
    column: &str,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|e: crate::states::UnknownState| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(e),
    })
}

impl Db {
    /// Connects to `url` (creating a SQLite file if needed) and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
        if !sqlite && !postgres {
            // The scheme only: the rest of a URL may hold a password.
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme).to_string();
            return Err(DbError::UnsupportedUrl { scheme });
        }
        if postgres {
            // One connection first: a refused connection or a wrong password is said as such
            // (the pool would only say that it timed out waiting).
            use sqlx::Connection;
            sqlx::AnyConnection::connect(url).await?.close().await?;
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
    pub(super) async fn notify_jobs(&self) {
        if self.postgres
            && let Err(e) =
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("NOTIFY {JOBS_CHANNEL}"))).execute(&self.pool).await
        {
            tracing::warn!(error = %e, "NOTIFY failed; workers will find the jobs by polling");
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serve --db mysql://…` (or a typo): an operator's mistake, said as one, naming what was
    /// given and what to give; it was "database: corrupt database URL", which reads as damaged
    /// data.
    #[tokio::test]
    async fn an_unsupported_database_url_says_which_schemes_work() {
        let message = Db::open("mysql://user:secret@host/db").await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("\"mysql\"") && message.contains("sqlite://") && message.contains("--db"),
            "{message}"
        );
        assert!(!message.contains("corrupt") && !message.contains("secret"), "{message}");
    }
}
