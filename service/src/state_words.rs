//! A test that keeps every state the SQL in `db/` names coming from the state types: no query
//! spells a state as a string literal (`'queued'`, `'evaluated'`, …); each is bound as its
//! type's `as_str()`. A renamed state then changes every query with it, instead of leaving one
//! comparing against the old word (and silently matching nothing). The migrations, history in
//! `migrations/`, are not scanned.

use std::path::Path;

use crate::states::{JobState, RoundState, SubmissionStatus};

/// Every stored or derived state word.
fn words() -> Vec<&'static str> {
    let mut words: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    words.extend(SubmissionStatus::ALL.iter().map(|s| s.as_str()));
    words.extend(RoundState::ALL.iter().map(|s| s.as_str()));
    words.sort_unstable();
    words.dedup();
    words
}

/// Each `(line, word)` where the (non-test, non-comment) code in `text` has a state word as an
/// SQL string literal.
fn state_literals(text: &str) -> Vec<(usize, &'static str)> {
    let code = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for word in words() {
            if line.contains(&format!("'{word}'")) {
                found.push((n + 1, word));
            }
        }
    }
    found
}

#[test]
fn no_query_in_db_spells_a_state() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    files.sort();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for file in ["jobs.rs", "submissions.rs", "board.rs", "rounds.rs", "admin.rs"] {
        assert!(names.contains(&file), "the scan found {file}: {names:?}");
    }
    let jobs = &files.iter().find(|(n, _)| n == "jobs.rs").unwrap().1;
    assert!(jobs.contains("JobState::Queued.as_str()"), "jobs.rs binds its states");
    let found: Vec<String> = files
        .iter()
        .flat_map(|(name, text)| state_literals(text).into_iter().map(move |(n, w)| format!("{name}:{n}: '{w}'")))
        .collect();
    assert!(found.is_empty(), "bind the state's as_str() instead of spelling it in SQL:\n{}", found.join("\n"));
}

#[test]
fn the_scan_finds_a_state_literal_and_skips_comments_and_tests() {
    let text = "// a comment naming 'queued'\n\
                let sql = \"UPDATE jobs SET state = 'running' WHERE state IN ('queued', $1)\";\n\
                \"SELECT status FROM submissions WHERE status = $2 AND model = 'None'\";\n\
                #[cfg(test)]\nmod tests { \"'pending'\" }\n";
    assert_eq!(state_literals(text), [(2, "queued"), (2, "running")]);
    assert!(words().contains(&"evaluated") && words().contains(&"completed"));
}
