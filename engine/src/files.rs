//! Files written atomically: the bytes go to a temporary file beside the target, which is then
//! renamed over it, so a reader sees the old file or the new one, never half of one.
//!
//! The temporary's name is unique per process *and per call*: a service stores uploads and
//! fetches modules from several threads at once, often the same module (its name is its
//! hash), and two writers sharing one temporary would rename it from under each other.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically. With `private`, the file is readable and writable by
/// its owner only (on Unix; elsewhere the platform's default). Errors: creating, writing or
/// renaming the temporary (which is removed when the write or the rename fails).
pub fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let tmp = temporary_beside(path);
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut file = options.open(&tmp)?;
        std::io::Write::write_all(&mut file, bytes)?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A path beside `path` that no other call of this process (nor, by its id, another process)
/// uses: `NAME.tmp-PID-N`.
fn temporary_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_of_one_file_all_succeed_and_leave_it_whole() {
        let dir = std::env::temp_dir().join(format!("amm-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("module.wasm");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..16).map(|_| s.spawn(|| write_atomically(&path, &bytes, true))).collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        // No temporary is left behind.
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("module.wasm")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
