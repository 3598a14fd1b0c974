//! The competition file: an ordinary run configuration plus a `[competition]` table.
//!
//! The file is parsed twice: the service takes the `[competition]` table (unknown keys are
//! errors naming the key), removes it, and hands the rest to [`Config::parse`], so the run
//! configuration is checked exactly as `amm-engine run` checks it.

use std::path::{Path, PathBuf};

use amm_engine::build::{self, BuildOptions};
use amm_engine::config::{Config, StrategyEntry};
use serde::{Deserialize, Serialize};

/// A contiguous range of simulation seeds: `start, start + 1, …, start + count − 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRange {
    /// First seed.
    pub start: u64,
    /// Number of seeds (simulations).
    pub count: u32,
}

/// Per-submitter quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// Accepted submissions per submitter in any 24-hour window.
    pub per_day: u32,
    /// Submissions of one submitter still being evaluated at once.
    pub concurrent: u32,
    /// API requests per client IP address per minute (a token bucket of this size, refilled
    /// continuously); probes (`/healthz`, `/readyz`, `/metrics`) are exempt.
    pub requests_per_minute: u32,
    /// API requests per bearer token per minute (a token bucket as above, whichever address
    /// they come from); probes are exempt.
    pub requests_per_token_per_minute: u32,
    /// Job event streams (`GET /api/jobs/{id}/events`) open at once over all clients; one
    /// more is refused with 503 and Retry-After (a stream lasts until its job ends).
    pub event_streams: u32,
    /// HTTP connections open at once over all clients; past it, new connections wait in the
    /// listen backlog until one closes. Default 1024.
    pub connections: u32,
    /// Source uploads (`accept_source = true`) per submitter per hour, refused ones included:
    /// each may start a compiler for up to the build time limit. A token bucket of this size
    /// refilled over the hour; past it 429 with Retry-After. Default 12.
    pub source_builds_per_hour: u32,
    /// Seconds a client has to send a request's complete header block (on a new or a
    /// kept-alive connection) before the connection is closed: a slow client cannot hold a
    /// connection without sending a request. Default 10.
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send the whole body of an upload (`POST /api/submissions`),
    /// counted from its headers; past it the upload is refused with 408 and the connection
    /// closed: a token holder trickling a body cannot hold a connection. Default 60 (4 MiB at
    /// 70 KB/s).
    pub body_timeout_seconds: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            per_day: 20,
            concurrent: 2,
            requests_per_minute: 600,
            requests_per_token_per_minute: 300,
            event_streams: 256,
            connections: 1024,
            source_builds_per_hour: 12,
            header_timeout_seconds: 10,
            body_timeout_seconds: 60,
        }
    }
}

/// Limits on evaluation jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobLimits {
    /// Wall-clock limit of one job, seconds; a job over it fails (not retried).
    pub wall_clock_seconds: u64,
    /// Most seeds one job evaluates (an evaluation is split into seed-range jobs).
    pub seeds_per_job: u32,
    /// Jobs evaluated at once by one worker process.
    pub workers: u32,
    /// Lease of a running job, seconds: renewed by heartbeats every third of it; a job whose
    /// lease expired (its worker died) is re-queued.
    pub lease_seconds: u64,
    /// Attempts a job gets for infrastructure faults (lost lease, database error).
    pub max_attempts: u32,
}

impl Default for JobLimits {
    fn default() -> Self {
        Self { wall_clock_seconds: 600, seeds_per_job: 50, workers: 1, lease_seconds: 30, max_attempts: 3 }
    }
}

/// The `[competition]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Competition {
    /// Display name.
    pub name: String,
    /// Seeds of the public board (every entry is evaluated on all of them).
    pub public_seeds: SeedRange,
    /// Seeds kept for rounds; never published.
    pub hidden_seeds: SeedRange,
    /// Largest accepted module, bytes.
    #[serde(default = "default_max_upload")]
    pub max_upload_bytes: u64,
    /// Whether a single-file Rust strategy may be uploaded as source (multipart part `source`)
    /// instead of a module. Default false. When true, the source is screened and built only by
    /// the hardened single-file builder (`amm_engine::build`: fixed manifest, no build
    /// script, offline, time and resource limits) and then checked like any module.
    #[serde(default)]
    pub accept_source: bool,
    /// Per-submitter quotas.
    #[serde(default)]
    pub quotas: Quotas,
    /// Job limits.
    #[serde(default)]
    pub jobs: JobLimits,
    /// Most entries trading in one market of a round (with the house field); a round with
    /// more entries splits them into groups by a shuffle seeded from the round's salt.
    #[serde(default = "default_round_size")]
    pub round_size: u32,
}

fn default_round_size() -> u32 {
    8
}

fn default_max_upload() -> u64 {
    4 << 20
}

/// A competition file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CompetitionError {
    /// The file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause: part of the message, deliberately not a `source()`, so a reader that
        /// prints the chain (`{:#}`) says it once.
        cause: std::io::Error,
    },
    /// TOML syntax, an unknown key, a value out of range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The run configuration part is invalid.
    #[error(transparent)]
    Config(#[from] amm_engine::config::ConfigError),
    /// A house strategy could not be built or found.
    #[error("house strategy {path}: {message}")]
    House {
        /// The entry's path.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// A parsed competition file.
#[derive(Clone, Debug)]
pub struct CompetitionFile {
    /// The `[competition]` table.
    pub competition: Competition,
    /// The run configuration, with `[run] simulations` and `seed_start` set from the public
    /// seeds, and the house field's paths resolved to `.wasm` files.
    pub config: Config,
}

/// The run configuration of any configuration file `amm-engine run`, `validate` or `submit` is
/// given: an ordinary one as [`Config::load`] reads it, or a competition file as the board
/// evaluates it (the house field on the public seeds; the `[competition]` table is read and
/// checked, not refused). An author running `run configs/competition.toml my_strategy.rs`
/// races exactly the field the board will, on its seeds, under the file's own `[run] salt`
/// (empty unless set; the board draws a secret one per evaluation).
pub fn load_run_config(path: &Path) -> Result<Config, CompetitionError> {
    let text =
        std::fs::read_to_string(path).map_err(|cause| CompetitionError::Read { path: path.to_path_buf(), cause })?;
    let is_competition = toml::from_str::<toml::Table>(&text).is_ok_and(|table| table.contains_key("competition"));
    if !is_competition {
        let mut config = Config::parse(&text, path)?;
        config.base_dir = base_dir(path);
        return Ok(config);
    }
    let mut file = CompetitionFile::parse(&text, path)?;
    file.config.base_dir = base_dir(path);
    Ok(file.config)
}

/// The directory a configuration's relative paths are relative to.
fn base_dir(path: &Path) -> PathBuf {
    path.parent().map_or_else(PathBuf::new, Path::to_path_buf)
}

impl CompetitionFile {
    /// Reads and checks `path` (house strategy crates are not built yet: see
    /// [`CompetitionFile::resolve_house`]).
    pub fn load(path: &Path) -> Result<Self, CompetitionError> {
        let text = std::fs::read_to_string(path)
            .map_err(|cause| CompetitionError::Read { path: path.to_path_buf(), cause })?;
        let mut file = Self::parse(&text, path)?;
        file.config.base_dir = base_dir(path);
        Ok(file)
    }

    /// Parses TOML `text` (`path` is for messages only).
    pub fn parse(text: &str, path: &Path) -> Result<Self, CompetitionError> {
        let invalid = |message: String| CompetitionError::Invalid { path: path.to_path_buf(), message };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let section = table.remove("competition").ok_or_else(|| invalid("missing the [competition] table".into()))?;
        let competition: Competition =
            section.try_into().map_err(|e: toml::de::Error| invalid(format!("[competition]: {e}")))?;
        let rest = toml::to_string(&table).map_err(|e| invalid(e.to_string()))?;
        let mut config = Config::parse(&rest, path)?;
        competition.check().map_err(invalid)?;
        config.run.seed_start = competition.public_seeds.start;
        config.run.simulations = competition.public_seeds.count;
        config.check(path)?;
        // A round's market holds the house field and up to round_size entries: every capital
        // floor must still fit.
        let market = config.strategies.len() + competition.round_size as usize;
        if config.capital.min_weight * market as f64 > 1.0 {
            return Err(invalid(format!(
                "competition.round_size = {}: a round's market of {market} strategies (the house field and \
                 round_size entries) needs capital.min_weight ≤ 1/{market}, not {}",
                competition.round_size, config.capital.min_weight
            )));
        }
        Ok(Self { competition, config })
    }

    /// Builds (when a crate directory) and resolves every house strategy to its `.wasm`, so
    /// evaluations never build anything.
    pub fn resolve_house(&mut self, build: &BuildOptions) -> Result<(), CompetitionError> {
        let mut resolved = Vec::with_capacity(self.config.strategies.len());
        for entry in &self.config.strategies {
            let path = self.config.strategy_path(entry);
            let wasm = build::resolve_module(&path, build)
                .map_err(|e| CompetitionError::House { path: path.clone(), message: e.to_string() })?;
            let wasm = std::fs::canonicalize(&wasm).unwrap_or(wasm);
            resolved.push(StrategyEntry { path: wasm, name: entry.name.clone(), params: entry.params.clone() });
        }
        self.config.strategies = resolved;
        Ok(())
    }
}

impl CompetitionFile {
    /// Copies every (resolved) house module into `data/modules/<sha256>.wasm` and points the
    /// config at those copies, relative to `data`: an evaluation's configuration then names
    /// every module as a submission bundle does (`modules/<sha256>.wasm`), so its results.json
    /// is the one `amm-engine verify` reproduces from a bundle.
    pub fn bundle_house(&mut self, data: &Path) -> Result<(), CompetitionError> {
        for entry in &mut self.config.strategies {
            let fail = |message: String| CompetitionError::House { path: entry.path.clone(), message };
            let bytes = build::read_module(&entry.path).map_err(|e| fail(e.to_string()))?;
            let rel = module_rel_path(&amm_engine::sandbox::sha256_hex(&bytes));
            let target = data.join(&rel);
            if !target.exists() {
                std::fs::write(&target, &bytes)
                    .map_err(|e| fail(format!("cannot copy to {}: {e}", target.display())))?;
            }
            entry.path = rel;
        }
        self.config.base_dir = data.to_path_buf();
        Ok(())
    }
}

impl Competition {
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err("competition.name: 1-100 characters".into());
        }
        for (key, seeds) in [("public_seeds", self.public_seeds), ("hidden_seeds", self.hidden_seeds)] {
            if seeds.count == 0 {
                return Err(format!("competition.{key}.count = 0: at least 1"));
            }
            if seeds.start.checked_add(u64::from(seeds.count)).is_none() {
                return Err(format!("competition.{key}.start: every seed must fit in u64"));
            }
        }
        let (p, h) = (self.public_seeds, self.hidden_seeds);
        if p.start < h.start + u64::from(h.count) && h.start < p.start + u64::from(p.count) {
            return Err(
                "competition.hidden_seeds overlaps competition.public_seeds: hidden seeds must stay unseen".into()
            );
        }
        if !(1..=64 << 20).contains(&self.max_upload_bytes) {
            return Err(format!("competition.max_upload_bytes = {}: 1 to 67108864", self.max_upload_bytes));
        }
        let q = self.quotas;
        if [
            q.per_day,
            q.concurrent,
            q.requests_per_minute,
            q.requests_per_token_per_minute,
            q.event_streams,
            q.connections,
            q.source_builds_per_hour,
        ]
        .contains(&0)
            || q.header_timeout_seconds == 0
            || q.body_timeout_seconds == 0
        {
            return Err("competition.quotas: per_day, concurrent, requests_per_minute, \
                 requests_per_token_per_minute, event_streams, connections, source_builds_per_hour, header_timeout_seconds and \
                 body_timeout_seconds must be at least 1"
                .into());
        }
        if !(1..=64).contains(&self.round_size) {
            return Err(format!("competition.round_size = {}: 1 to 64", self.round_size));
        }
        let j = self.jobs;
        if j.wall_clock_seconds == 0 || j.seeds_per_job == 0 || j.workers == 0 || j.max_attempts == 0 {
            return Err(
                "competition.jobs: wall_clock_seconds, seeds_per_job, workers and max_attempts must be at least 1"
                    .into(),
            );
        }
        if j.workers > 64 {
            return Err(format!("competition.jobs.workers = {}: at most 64", j.workers));
        }
        if !(1..=3600).contains(&j.lease_seconds) {
            return Err(format!("competition.jobs.lease_seconds = {}: 1 to 3600", j.lease_seconds));
        }
        Ok(())
    }
}

/// Where uploaded module `sha256` is kept, relative to the data directory. The name is the
/// hash (hex only), so no upload can choose a path.
pub fn module_rel_path(sha256: &str) -> PathBuf {
    Path::new("modules").join(format!("{sha256}.wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[run]
steps = 1000
[[strategy]]
path = "a.wasm"
[competition]
name = "t"
public_seeds = { start = 1, count = 4 }
hidden_seeds = { start = 1000000, count = 4 }
"#;

    #[test]
    fn the_competition_table_is_split_off_and_sets_the_public_seeds() {
        let file = CompetitionFile::parse(BASE, Path::new("c.toml")).unwrap();
        assert_eq!(file.competition.name, "t");
        assert_eq!((file.config.run.seed_start, file.config.run.simulations), (1, 4));
        assert_eq!(file.config.run.steps, 1000);
        assert_eq!(file.competition.jobs, JobLimits::default());
    }

    #[test]
    fn unknown_keys_are_named_in_either_part() {
        let err = CompetitionFile::parse(&format!("{BASE}max_upload = 5\n"), Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("unknown field `max_upload`"), "{err}");
        let err = CompetitionFile::parse(&format!("[market]\nvolatilty = 1\n{BASE}"), Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("unknown field `volatilty`"), "{err}");
        let err = CompetitionFile::parse("[run]\nsteps = 5\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("missing the [competition] table"), "{err}");
    }

    #[test]
    fn overlapping_seeds_are_refused_and_source_uploads_can_be_turned_on() {
        let text = BASE.replace("start = 1000000", "start = 3");
        let err = CompetitionFile::parse(&text, Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("overlaps"), "{err}");
        let file = CompetitionFile::parse(&format!("{BASE}accept_source = true\n"), Path::new("c.toml")).unwrap();
        assert!(file.competition.accept_source);
    }

    #[test]
    fn the_shipped_competition_parses_and_round_size_is_bounded() {
        let shipped = include_str!("../../configs/competition.toml");
        let file = CompetitionFile::parse(shipped, Path::new("configs/competition.toml")).unwrap();
        assert_eq!(file.competition.round_size, 8);
        assert_eq!(CompetitionFile::parse(BASE, Path::new("c.toml")).unwrap().competition.round_size, 8);
        let err = CompetitionFile::parse(&format!("{BASE}round_size = 0\n"), Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("competition.round_size = 0: 1 to 64"), "{err}");
        // The default capital floor (0.02) fits 50 strategies: one house entry and 49 more.
        assert!(CompetitionFile::parse(&format!("{BASE}round_size = 49\n"), Path::new("c.toml")).is_ok());
        let err = CompetitionFile::parse(&format!("{BASE}round_size = 50\n"), Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("a round's market of 51 strategies"), "{err}");
    }
}
