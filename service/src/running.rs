//! What running a claimed job needs besides the simulations, for both kinds of job (seed
//! shards and study evaluations), so that they behave the same way:
//!
//! * its lease held ([`LeaseKeeper`]): a task on the runtime renews it every third of its
//!   length and records progress; a lost lease (re-leased after it expired, cancelled) raises
//!   `stop`, and the holder must stop, since its results would be discarded as stale anyway;
//! * its modules at hand ([`fetch_module`]): a worker on another machine than the upload
//!   fetches them from the database by hash, and checks the hash;
//! * a panic in the engine reported as a fault of the attempt ([`panic_message`]), never the
//!   end of the worker thread;
//! * the signals that stop a process cleanly ([`shutdown_signal`]).

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;

use crate::db::Db;

/// A running job's lease, renewed until [`LeaseKeeper::end`].
pub struct LeaseKeeper {
    /// Units of work finished (recorded as the job's `done` at each renewal).
    pub done: Arc<AtomicU64>,
    /// Set when the lease is lost: the job must stop.
    pub stop: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaseKeeper {
    /// Starts renewing job `id`'s lease (held under `fence`) for `lease` at a time.
    pub fn start(db: &Db, handle: &Handle, id: i64, fence: i64, lease: Duration) -> LeaseKeeper {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let task = {
            let (db, done, stop, finished) = (db.clone(), done.clone(), stop.clone(), finished.clone());
            handle.spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    if finished.load(Ordering::Relaxed) {
                        break;
                    }
                    match db.heartbeat(id, fence, lease.as_millis() as i64, done.load(Ordering::Relaxed) as i64).await {
                        Ok(true) => {}
                        Ok(false) => {
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                        Err(e) => tracing::warn!(job = id, error = %e, "heartbeat failed"),
                    }
                }
            })
        };
        LeaseKeeper { done, stop, finished, task }
    }

    /// Stops renewing (the job is about to report).
    pub fn end(self) {
        self.finished.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// Makes sure module `sha256` is at `path`, fetched from the database (and checked against
/// its hash) when it is not there yet; written through a temporary file, so a reader never
/// sees half a module.
pub fn fetch_module(db: &Db, handle: &Handle, sha256: &str, path: &Path) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let bytes = handle
        .block_on(db.module(sha256))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("module {sha256} is neither in {} nor in the database", path.display()))?;
    if amm_engine::sandbox::sha256_hex(&bytes) != sha256 {
        return Err(format!("the stored module {sha256} does not match its hash"));
    }
    amm_engine::files::write_atomically(path, &bytes, false)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The message of a caught panic (`"unknown"` when it carried none).
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// Resolves at SIGINT (Ctrl-C) or SIGTERM (`docker stop`, systemd).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
