//! The database: tokens, submissions, the job queue and shard results, rounds.
//!
//! One query layer for SQLite and PostgreSQL: sqlx's `Any` driver, chosen at run time from the
//! URL, with portable SQL (`$N` placeholders, `RETURNING`, integer times in Unix milliseconds,
//! JSON as text). [`Db`] is one handle; its queries are split by the table they are about, one
//! file each, in step with the API's resources:
//!
//! * `pool`: the pool, migrations, dialect, error type, times and ids every file uses;
//! * `tokens`: bearer tokens; `submissions`: uploads and their lookups;
//! * `jobs`: the queue with its leases and fences (its correctness argument is there);
//! * `board`: what the board reads; `rounds`: rounds and their groups;
//! * `studies`: tuning studies on the queue (`tune --db`): their rows, jobs and results;
//! * `admin`: rescore, flag and hide.
//!
//! This file only re-exports them (`crate::db::X` for every caller); the files use `pool` and
//! each other, never this one, so that no import goes round in a circle.

mod admin;
mod board;
mod jobs;
mod pool;
mod rounds;
mod studies;
mod submissions;
mod tokens;

pub use jobs::{Completion, Job, NewJob, Requeue};
pub use pool::{Db, DbError, JOBS_CHANNEL, hex, iso8601, new_salt, now_ms, sqlite_url};
pub use rounds::RoundRow;
pub use studies::StudyJob;
pub use submissions::{Inserted, Submission};
pub use tokens::Caller;
