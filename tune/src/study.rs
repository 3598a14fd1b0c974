//! The study file: every evaluation a study made, so a study resumes where it stopped.
//!
//! Why a log of evaluations rather than a snapshot of the optimiser: the optimiser, the race
//! and the seed segments are deterministic given the study's definition and seed, so replaying
//! the study against its recorded evaluations rebuilds exactly the state it had, on any machine
//! — and a study killed at any instant (`kill -9`) loses at most the batch in flight, because
//! each batch of evaluations is committed in one transaction before the study moves on. The
//! generations and trials tables are written for people (and the report) and can always be
//! rebuilt by a replay.
//!
//! Tables: `meta(key, value)` holds the definition (what must match to resume);
//! `evaluations(point, seed, score, edges)` one simulation each (`score` NULL when the
//! candidate was disqualified; `edges` every pool's edge as a JSON array, pools in seat order,
//! normalizer last); `trials` one row per candidate per generation; `generations` the
//! optimiser's mean and step size after each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

/// One simulation's outcome for a candidate (as JSON, what a distributed study's workers
/// report: `{"score": Y or null, "edges": [Y, …]}`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// The objective's value; `None` when the candidate was disqualified.
    pub score: Option<f64>,
    /// Every pool's edge in that simulation (entrants in seat order, then the normalizer).
    pub edges: Vec<f64>,
}

/// One candidate's row in `trials`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRow {
    /// Generation (0: the starting point).
    pub generation: u32,
    /// Index within the generation.
    pub index: u32,
    /// The point's canonical key.
    pub point: String,
    /// `finished`, `dropped`, `disqualified` or `unfinished`.
    pub fate: &'static str,
    /// Training seeds it ran on.
    pub seeds: u32,
    /// Mean training score.
    pub mean: f64,
    /// Its standard error.
    pub stderr: f64,
}

/// A study file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The database refused an operation.
    #[error("study {path}: {message}")]
    Db {
        /// The study file.
        path: PathBuf,
        /// The database's message.
        message: String,
    },
    /// The file holds a study written by another version of the study format.
    #[error(
        "study {path} was written by another version of amm-engine ({found}; this one writes {expected}) and cannot be resumed: give a new --study file"
    )]
    OtherVersion {
        /// The study file.
        path: PathBuf,
        /// The format stored.
        found: String,
        /// The format this version writes.
        expected: String,
    },
    /// The file holds a study with another definition.
    #[error(
        "study {path} holds another study (its {key} differs: {found}); resume it with the arguments it was made with (strategy, field, objective, parameters, seeds, racing, --seed, --runs), or give a new --study file"
    )]
    Mismatch {
        /// The study file.
        path: PathBuf,
        /// What differs.
        key: String,
        /// The value stored.
        found: String,
    },
}

/// An open study file.
pub struct Study {
    path: PathBuf,
    runtime: tokio::runtime::Runtime,
    pool: AnyPool,
    cache: HashMap<(String, u64), Evaluation>,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS evaluations (point TEXT NOT NULL, seed BIGINT NOT NULL, score DOUBLE PRECISION, edges TEXT NOT NULL, PRIMARY KEY (point, seed))",
    "CREATE TABLE IF NOT EXISTS trials (generation INTEGER NOT NULL, idx INTEGER NOT NULL, point TEXT NOT NULL, fate TEXT NOT NULL, seeds INTEGER NOT NULL, mean DOUBLE PRECISION NOT NULL, stderr DOUBLE PRECISION NOT NULL, PRIMARY KEY (generation, idx))",
    "CREATE TABLE IF NOT EXISTS generations (generation INTEGER PRIMARY KEY, sigma DOUBLE PRECISION NOT NULL, mean TEXT NOT NULL, restarts INTEGER NOT NULL)",
];

impl Study {
    /// Opens (creating if needed) the study at `path` for the study `definition` (key, value
    /// pairs). An existing study must have the same definition; its evaluations are loaded.
    pub fn open(path: &Path, definition: &[(&str, String)]) -> Result<Study, StudyError> {
        let refuse = |message: String| StudyError::Db { path: path.to_path_buf(), message };
        if path.is_dir() {
            return Err(refuse("is a directory; give a file name for the study".into()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(refuse(format!("its directory {} does not exist", parent.display())));
        }
        if let Ok(mut file) = std::fs::File::open(path) {
            use std::io::Read;
            let mut header = [0u8; 16];
            let read = file.read(&mut header).unwrap_or(0);
            if read > 0 && header[..read] != b"SQLite format 3\0"[..read] {
                return Err(refuse("is not a SQLite file, so not a study; give a new --study file".into()));
            }
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let connect = AnyPoolOptions::new().max_connections(1).after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                Ok(())
            })
        });
        let tables = "SELECT name FROM sqlite_master WHERE type = 'table'";
        Study::connect(path.to_path_buf(), connect, &url, tables, None, definition)
    }

    /// Opens (creating if needed) the study `name` in the PostgreSQL database at `url`
    /// (distributed tuning: `tune --db`), its tables in the schema `tune_NAME`, for the study
    /// `definition`. `name`: 1 to 48 of `a-z`, `0-9`, `_`. As [`Study::open`] otherwise.
    pub fn open_postgres(url: &str, name: &str, definition: &[(&str, String)]) -> Result<Study, StudyError> {
        let label = PathBuf::from(format!("{name} (in the PostgreSQL database)"));
        if !(1..=48).contains(&name.len())
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StudyError::Db {
                path: label,
                message: "a study name is 1 to 48 of a-z, 0-9 and _ (--study NAME with --db)".into(),
            });
        }
        let schema = format!("tune_{name}");
        // The name is checked above: safe to splice into the statements as an identifier.
        let setup = [format!("CREATE SCHEMA IF NOT EXISTS {schema}"), format!("SET search_path TO {schema}")];
        // One connection for the study's life (never recycled): it holds the study's lock.
        let connect = AnyPoolOptions::new().max_connections(1).idle_timeout(None).max_lifetime(None).after_connect(
            move |conn, _| {
                let setup = setup.clone();
                Box::pin(async move {
                    for statement in setup {
                        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            },
        );
        let tables = "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = $1";
        let study = Study::connect(label, connect, url, tables, Some(&schema), definition)?;
        // One coordinator per study: a second one would cancel the first's jobs and interleave
        // its decisions. A session lock on the study's connection, released when it closes.
        let held: bool = study
            .runtime
            .block_on(async {
                sqlx::query("SELECT pg_try_advisory_lock(hashtext($1)) AS held")
                    .bind(&schema)
                    .fetch_one(&study.pool)
                    .await?
                    .try_get("held")
            })
            .map_err(study.db())?;
        if !held {
            return Err(StudyError::Db {
                path: study.path.clone(),
                message: "is being run by another `tune --db` process (one coordinator per study): wait for it to finish, or stop it and run this command again to resume".into(),
            });
        }
        Ok(study)
    }

    /// Connects with `options` to `url`, refuses a database holding other tables than a
    /// study's (listed by `tables`, bound to `schema` when given), creates the tables, checks
    /// the definition and loads the evaluations.
    fn connect(
        path: PathBuf,
        options: AnyPoolOptions,
        url: &str,
        tables: &'static str,
        schema: Option<&str>,
        definition: &[(&str, String)],
    ) -> Result<Study, StudyError> {
        let db = |e: sqlx::Error| StudyError::Db { path: path.clone(), message: e.to_string() };
        let refuse = |message: String| StudyError::Db { path: path.clone(), message };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StudyError::Db { path: path.clone(), message: e.to_string() })?;
        sqlx::any::install_default_drivers();
        let pool = runtime
            .block_on(async {
                if schema.is_some() {
                    // PostgreSQL: one connection first, so that a refused connection or a wrong
                    // password is said as such (the pool would only say it timed out).
                    use sqlx::Connection;
                    sqlx::AnyConnection::connect(url).await?.close().await?;
                }
                let pool = options.acquire_timeout(std::time::Duration::from_secs(10)).connect(url).await?;
                // Another program's database is not a study: refuse it rather than add tables.
                let mut query = sqlx::query(tables);
                if let Some(schema) = schema {
                    query = query.bind(schema);
                }
                let tables = query.fetch_all(&pool).await?;
                let mut foreign = Vec::new();
                for row in &tables {
                    let name: String = row.try_get(0)?;
                    if !["meta", "evaluations", "trials", "generations"].contains(&name.as_str()) {
                        foreign.push(name);
                    }
                }
                if !foreign.is_empty() {
                    return Ok(Err(foreign));
                }
                for statement in SCHEMA {
                    sqlx::query(*statement).execute(&pool).await?;
                }
                Ok::<_, sqlx::Error>(Ok(pool))
            })
            .map_err(db)?
            .map_err(|foreign| {
                refuse(format!(
                    "holds tables of another program ({}), not a study; give a new --study",
                    foreign.join(", ")
                ))
            })?;
        let mut study = Study { path, runtime, pool, cache: HashMap::new() };
        study.check_definition(definition)?;
        study.load()?;
        Ok(study)
    }

    fn db(&self) -> impl Fn(sqlx::Error) -> StudyError + '_ {
        |e| StudyError::Db { path: self.path.clone(), message: e.to_string() }
    }

    fn check_definition(&mut self, definition: &[(&str, String)]) -> Result<(), StudyError> {
        let stored: Vec<(String, String)> = self
            .runtime
            .block_on(async {
                let rows = sqlx::query("SELECT key, value FROM meta").fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
            .map_err(self.db())?;
        if stored.is_empty() {
            self.runtime
                .block_on(async {
                    let mut tx = self.pool.begin().await?;
                    for (k, v) in definition {
                        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                            .bind(*k)
                            .bind(v.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await
                })
                .map_err(self.db())?;
            return Ok(());
        }
        for (k, v) in definition {
            let found = stored.iter().find(|(sk, _)| sk == k).map(|(_, sv)| sv.clone());
            if found.as_deref() != Some(v.as_str()) {
                if *k == "format" {
                    return Err(StudyError::OtherVersion {
                        path: self.path.clone(),
                        found: found.unwrap_or_else(|| "no format".into()),
                        expected: v.clone(),
                    });
                }
                return Err(StudyError::Mismatch {
                    path: self.path.clone(),
                    key: (*k).to_string(),
                    found: found.unwrap_or_else(|| "nothing".into()),
                });
            }
        }
        Ok(())
    }

    fn load(&mut self) -> Result<(), StudyError> {
        let rows: Vec<(String, i64, Option<f64>, String)> =
            self.runtime
                .block_on(async {
                    let rows =
                        sqlx::query("SELECT point, seed, score, edges FROM evaluations").fetch_all(&self.pool).await?;
                    rows.iter()
                        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                })
                .map_err(self.db())?;
        for (point, seed, score, edges) in rows {
            let edges: Vec<f64> = serde_json::from_str(&edges).map_err(|e| StudyError::Db {
                path: self.path.clone(),
                message: format!("evaluation ({point}, {seed}) has unreadable edges: {e}"),
            })?;
            self.cache.insert((point, seed as u64), Evaluation { score, edges });
        }
        Ok(())
    }

    /// Evaluations recorded so far.
    pub fn recorded(&self) -> usize {
        self.cache.len()
    }

    /// The recorded evaluation of `point` on `seed`.
    pub fn get(&self, point: &str, seed: u64) -> Option<&Evaluation> {
        self.cache.get(&(point.to_string(), seed))
    }

    /// Records a batch of evaluations in one transaction.
    pub fn record(&mut self, batch: Vec<(String, u64, Evaluation)>) -> Result<(), StudyError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.runtime
            .block_on(async {
                let mut tx = self.pool.begin().await?;
                for (point, seed, e) in &batch {
                    let edges = serde_json::to_string(&e.edges).unwrap_or_else(|_| "[]".into());
                    sqlx::query("INSERT INTO evaluations (point, seed, score, edges) VALUES ($1, $2, $3, $4) ON CONFLICT (point, seed) DO NOTHING")
                        .bind(point.as_str())
                        .bind(*seed as i64)
                        .bind(e.score)
                        .bind(edges)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            })
            .map_err(self.db())?;
        for (point, seed, e) in batch {
            self.cache.insert((point, seed), e);
        }
        Ok(())
    }

    /// Records one generation's trials and the optimiser's state after it (replacing what a
    /// previous run of the same study wrote: a replay writes the same rows).
    pub fn record_generation(
        &mut self,
        generation: u32,
        trials: &[TrialRow],
        sigma: f64,
        mean: &[f64],
        restarts: usize,
    ) -> Result<(), StudyError> {
        let mean = serde_json::to_string(mean).unwrap_or_else(|_| "[]".into());
        self.runtime
            .block_on(async {
                let mut tx = self.pool.begin().await?;
                for t in trials {
                    sqlx::query("INSERT INTO trials (generation, idx, point, fate, seeds, mean, stderr) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (generation, idx) DO UPDATE SET point = excluded.point, fate = excluded.fate, seeds = excluded.seeds, mean = excluded.mean, stderr = excluded.stderr")
                        .bind(i64::from(t.generation))
                        .bind(i64::from(t.index))
                        .bind(t.point.as_str())
                        .bind(t.fate)
                        .bind(i64::from(t.seeds))
                        .bind(finite(t.mean))
                        .bind(finite(t.stderr))
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("INSERT INTO generations (generation, sigma, mean, restarts) VALUES ($1, $2, $3, $4) ON CONFLICT (generation) DO UPDATE SET sigma = excluded.sigma, mean = excluded.mean, restarts = excluded.restarts")
                    .bind(i64::from(generation))
                    .bind(sigma)
                    .bind(mean)
                    .bind(restarts as i64)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            })
            .map_err(self.db())
    }
}

/// SQLite stores no infinities in REAL columns reliably; the report reads −1e300 as "none".
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { -1e300 }
}
