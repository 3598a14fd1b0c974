//! Rounds: the current best entry of each submitter trades together with the house field in
//! N-way markets on the competition's hidden seeds (the reference's multi-strategy
//! competition).
//!
//! A round has its own salt. With more entries than `[competition] round_size`, the entries are
//! split into groups (markets) by a shuffle seeded from that salt, dealt round-robin so group
//! sizes differ by at most one. Each group is stored as a submission row with `round` set, so
//! its simulations are ordinary jobs on the same queue, run, merged and recovered exactly as an
//! evaluation's are. Every group uses the same salt and the same hidden seeds, so every entry
//! meets the same markets and its paired edge over the normalizer is comparable across groups.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{NewJob, Submission};
use crate::state::State;

/// One entry of a round group, as stored with the group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoundEntry {
    /// The entry's submission.
    pub submission: i64,
    /// Its submitter.
    pub submitter: String,
    /// Its strategy name.
    pub name: String,
    /// sha256 of its module.
    pub sha256: String,
    /// Its module, relative to the data directory.
    pub bytes_path: String,
}

impl RoundEntry {
    /// The entrant's name in the market: `submitter/name`, at most 64 characters.
    pub fn market_name(&self) -> String {
        amm_engine::names::fit(format!("{}/{}", self.submitter, self.name))
    }
}

/// Splits `entries` into groups of at most `size`: ordered by sha256(salt, submission id) (a
/// shuffle seeded from the salt), then dealt round-robin into ⌈n / size⌉ groups.
pub fn groups(mut entries: Vec<RoundEntry>, size: usize, salt: &str) -> Vec<Vec<RoundEntry>> {
    let key = |e: &RoundEntry| Sha256::digest(format!("{salt}\n{}", e.submission).as_bytes());
    entries.sort_by_cached_key(|e| (key(e), e.submission));
    let count = entries.len().div_ceil(size.max(1)).max(1);
    let mut out = vec![Vec::new(); count];
    for (i, e) in entries.into_iter().enumerate() {
        out[i % count].push(e);
    }
    out
}

/// The jobs of one group under this competition (its hidden seeds).
pub fn plan_for(state: &State) -> Vec<NewJob> {
    let threads = amm_engine::run::threads(&state.file.config) as u32;
    crate::eval::plan(state.file.competition.hidden_seeds.count, state.file.competition.jobs.seeds_per_job, threads * 2)
}

/// The configuration a worker runs for round group `sub`, with its entries' modules.
pub fn group_config(state: &State, sub: &Submission) -> Result<(amm_engine::config::Config, Vec<RoundEntry>), String> {
    let entries: Vec<RoundEntry> = serde_json::from_str(sub.entries.as_deref().unwrap_or("[]"))
        .map_err(|e| format!("round group {}: corrupt entries: {e}", sub.id))?;
    let named: Vec<(PathBuf, String)> =
        entries.iter().map(|e| (PathBuf::from(&e.bytes_path), e.market_name())).collect();
    let config = crate::eval::round_config(&state.file.config, state.file.competition.hidden_seeds, &named, &sub.salt);
    Ok((config, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64) -> RoundEntry {
        RoundEntry {
            submission: id,
            submitter: format!("s{id}"),
            name: "x".into(),
            sha256: String::new(),
            bytes_path: String::new(),
        }
    }

    #[test]
    fn groups_are_balanced_seeded_by_the_salt_and_hold_each_entry_once() {
        let entries: Vec<RoundEntry> = (1..=11).map(entry).collect();
        let a = groups(entries.clone(), 4, "salt-a");
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 3]);
        let mut ids: Vec<i64> = a.iter().flatten().map(|e| e.submission).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=11).collect::<Vec<_>>());
        assert_eq!(a, groups(entries.clone(), 4, "salt-a"), "same salt, same groups");
        assert_ne!(a, groups(entries.clone(), 4, "salt-b"), "another salt shuffles otherwise");
        assert_eq!(groups(entries, 11, "salt-a").len(), 1);
    }
}
