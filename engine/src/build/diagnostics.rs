//! Cargo's JSON messages, and compiler diagnostics told in the author's terms.
//!
//! Why this needs care: a single-file strategy is compiled inside a build directory the author
//! never sees (`<cache>/src/<sha256>/src/lib.rs`), and a Prop AMM file is compiled together with
//! glue the engine writes. A diagnostic that says `src/lib.rs:12` or "line 265" of a file the
//! author did not write is of no use to them. So every path of the build directory is rewritten
//! to the author's file (or to `<build>`: on a server it lies in the data directory), and a
//! diagnostic the compiler reports in the engine's glue is led by the author's own line: the
//! glue is a module file of its own ([`GlueMap::FILE`]), each of its lines that uses an item of
//! the author's file is known ([`GlueUse`]), and the author's line defining that item is known
//! from the screen's tokens.

use std::path::{Path, PathBuf};

/// Cargo's JSON messages (`--message-format=json…`, one per line of `stdout`) with this `reason`.
fn cargo_messages<'a>(stdout: &'a str, reason: &'a str) -> impl Iterator<Item = serde_json::Value> + 'a {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(move |msg| msg["reason"] == reason)
}

/// The rendered compiler diagnostics in cargo's JSON `stdout`, in order.
pub(super) fn rendered_diagnostics(stdout: &str) -> Vec<String> {
    cargo_messages(stdout, "compiler-message")
        .filter_map(|msg| msg["message"]["rendered"].as_str().map(str::to_string))
        .collect()
}

/// The files of the artifacts in cargo's JSON `stdout`; with `manifest`, only that package's.
pub(super) fn artifact_files<'a>(stdout: &'a str, manifest: Option<&'a str>) -> impl Iterator<Item = PathBuf> + 'a {
    cargo_messages(stdout, "compiler-artifact")
        .filter(move |msg| manifest.is_none_or(|m| msg["manifest_path"] == m))
        .flat_map(|msg| {
            msg["filenames"]
                .as_array()
                .map(|files| files.iter().filter_map(|f| f.as_str().map(PathBuf::from)).collect::<Vec<_>>())
                .unwrap_or_default()
        })
}

/// Whether cargo's stderr says the wasm target's standard library is not installed.
pub(super) fn target_missing(stderr: &str) -> bool {
    stderr.contains("target may not be installed") || stderr.contains("can't find crate for `core`")
}

/// One line of the engine's glue that uses an item of the author's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlueUse {
    /// 1-based line of the glue file.
    pub glue_line: usize,
    /// The author's item used there (`after_swap`, `NAME`, …).
    pub item: &'static str,
    /// 1-based line of the author's file that defines it, when it defines it.
    pub author_line: Option<usize>,
    /// How the glue uses it: the form the item must have.
    pub expected: &'static str,
}

/// The engine's glue of one build: its file and the lines that use the author's items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlueMap {
    /// Its lines that use an item of the author's file.
    pub uses: Vec<GlueUse>,
}

impl GlueMap {
    /// The glue's file, relative to the build directory: a module of its own, declared by one
    /// line after the author's last, so the author's lines keep their numbers.
    pub const FILE: &'static str = "src/__amm_engine_glue.rs";

    /// How a diagnostic names the glue's file.
    pub const SHOWN_AS: &'static str = "<amm-engine glue>";
}

/// The primary span of a compiler message: (file, line, column).
fn primary_span(message: &serde_json::Value) -> Option<(&str, u64, u64)> {
    message["spans"].as_array()?.iter().find(|s| s["is_primary"] == true).and_then(|s| {
        Some((s["file_name"].as_str()?, s["line_start"].as_u64()?, s["column_start"].as_u64().unwrap_or(1)))
    })
}

/// What a failed single-file build says: the compiler's diagnostics (errors only, when there
/// are any, so warnings do not bury them), each naming `user_path` and the author's lines;
/// a diagnostic reported in the engine's glue (`glue`) is led by the author's line of the item
/// the glue uses there. Without compiler messages (cargo failed before compiling the file),
/// the last 40 lines of cargo's stderr, less its progress lines.
pub(super) fn failure_text(stdout: &str, stderr: &str, dir: &Path, user_path: &Path, glue: Option<&GlueMap>) -> String {
    let messages: Vec<serde_json::Value> =
        cargo_messages(stdout, "compiler-message").map(|msg| msg["message"].clone()).collect();
    let has_errors = messages.iter().any(|m| m["level"] == "error");
    let user = user_path.display();
    let mut parts = Vec::new();
    for message in &messages {
        let Some(rendered) = message["rendered"].as_str() else { continue };
        if has_errors && message["level"] != "error" && message["level"] != "failure-note" {
            continue;
        }
        let in_glue = primary_span(message).filter(|(file, _, _)| glue.is_some() && *file == GlueMap::FILE);
        let Some((_, line, _)) = in_glue else {
            parts.push(rendered.to_string());
            continue;
        };
        let used = glue.and_then(|g| g.uses.iter().find(|u| u.glue_line as u64 == line));
        let lead = match used {
            Some(GlueUse { item, author_line: Some(at), expected, .. }) => format!(
                "error: `{item}` at {user}:{at} does not fit the way amm-engine calls it: {expected}\n  --> {user}:{at}\n   = note: the compiler reported it in the engine's glue (not your file), where your `{item}` is used:\n"
            ),
            Some(GlueUse { item, author_line: None, expected, .. }) => format!(
                "error: {user} must define `{item}` as {expected}\n   = note: the compiler reported it in the engine's glue (not your file), where `{item}` is used:\n"
            ),
            None => "error: the compiler reported an error in the engine's glue (not in your file):\n".to_string(),
        };
        parts.push(format!("{lead}{rendered}"));
    }
    let text = if parts.is_empty() {
        // Cargo's progress lines name the build directory, not the user's file: left out.
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| !["Compiling ", "Locking ", "Adding "].iter().any(|p| l.trim_start().starts_with(p)))
            .collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    } else {
        parts.join("\n")
    };
    map_paths(&text, dir, user_path)
}

/// Rewrites the build directory's `src/lib.rs` (absolute or relative) to `user_path` in
/// compiler output, so `--> src/lib.rs:12:5` reads `--> my_strategy.rs:12:5`, the engine's glue
/// file to [`GlueMap::SHOWN_AS`], and any other mention of the build directory (a linker's
/// command line) to `<build>`: on a server it lies in the data directory, which submitters need
/// not learn.
pub fn map_paths(diagnostics: &str, dir: &Path, user_path: &Path) -> String {
    let user = user_path.display().to_string();
    let absolute = dir.join("src/lib.rs").display().to_string();
    let glue = dir.join(GlueMap::FILE).display().to_string();
    diagnostics
        .replace(&glue, GlueMap::SHOWN_AS)
        .replace(GlueMap::FILE, GlueMap::SHOWN_AS)
        .replace(&absolute, &user)
        .replace("--> src/lib.rs", &format!("--> {user}"))
        .replace("::: src/lib.rs", &format!("::: {user}"))
        .replace(&dir.display().to_string(), "<build>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_name_the_users_file() {
        let dir = Path::new("/cache/src/abc");
        let text = "error: x\n --> src/lib.rs:3:5\n  |\n/cache/src/abc/src/lib.rs:4";
        let mapped = map_paths(text, dir, Path::new("my.rs"));
        assert!(mapped.contains("--> my.rs:3:5"), "{mapped}");
        assert!(mapped.contains("\nmy.rs:4"), "{mapped}");
        assert!(!mapped.contains("lib.rs"), "{mapped}");
        // A linker's command line names the build directory (on a server, inside its data
        // directory): replaced too.
        let linker = "note: \"rust-lld\" \"-o\" \"/cache/src/abc/target/wasm32-unknown-unknown/release/deps/x.wasm\"";
        let mapped = map_paths(linker, dir, Path::new("my.rs"));
        assert!(!mapped.contains("/cache/src/abc"), "{mapped}");
        assert!(mapped.contains("<build>/target/wasm32-unknown-unknown"), "{mapped}");
    }

    /// A compiler message as cargo's `--message-format=json` writes it.
    fn message(level: &str, file: &str, line: u64, rendered: &str) -> String {
        serde_json::json!({
            "reason": "compiler-message",
            "message": {
                "level": level,
                "rendered": rendered,
                "spans": [{ "file_name": file, "line_start": line, "column_start": 9, "is_primary": true }],
            }
        })
        .to_string()
    }

    #[test]
    fn an_error_in_the_glue_is_led_by_the_authors_line() {
        let dir = Path::new("/cache/src/abc");
        let glue = GlueMap {
            uses: vec![GlueUse {
                glue_line: 31,
                item: "after_swap",
                author_line: Some(200),
                expected: "`pub fn after_swap(data: &[u8], storage: &mut [u8])`",
            }],
        };
        let stdout = [
            message("warning", "src/lib.rs", 3, "warning: unused\n --> src/lib.rs:3:9\n"),
            message(
                "error",
                GlueMap::FILE,
                31,
                "error[E0308]: arguments to this function are incorrect\n  --> src/__amm_engine_glue.rs:31:9\nnote: function defined here\n  --> src/lib.rs:200:8\n",
            ),
        ]
        .join("\n");
        let text = failure_text(&stdout, "", dir, Path::new("my.rs"), Some(&glue));
        assert!(text.starts_with("error: `after_swap` at my.rs:200 does not fit"), "{text}");
        assert!(text.contains("  --> my.rs:200\n"), "{text}");
        assert!(text.contains("--> <amm-engine glue>:31:9") && text.contains("--> my.rs:200:8"), "{text}");
        assert!(!text.contains("warning: unused"), "warnings are left out beside errors: {text}");
        // An error on a glue line that uses nothing of the author's is said to be the glue's.
        let elsewhere = message("error", GlueMap::FILE, 7, "error: x\n  --> src/__amm_engine_glue.rs:7:1\n");
        let text = failure_text(&elsewhere, "", dir, Path::new("my.rs"), Some(&glue));
        assert!(text.starts_with("error: the compiler reported an error in the engine's glue"), "{text}");
        // An error in the author's file is the compiler's own words, with the author's path.
        let own = message("error", "src/lib.rs", 12, "error[E0308]: x\n  --> src/lib.rs:12:5\n");
        let text = failure_text(&own, "", dir, Path::new("my.rs"), Some(&glue));
        assert_eq!(text, "error[E0308]: x\n  --> my.rs:12:5\n");
    }

    #[test]
    fn without_compiler_messages_cargo_s_stderr_is_shown_without_progress() {
        let stderr = "   Compiling x v0.1.0 (/cache/src/abc)\nerror: failed to select a version";
        let text = failure_text("", stderr, Path::new("/cache/src/abc"), Path::new("my.rs"), None);
        assert_eq!(text, "error: failed to select a version");
    }
}
