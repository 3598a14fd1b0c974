//! Holding a job's lease while it runs: a task on the runtime renews it every third of its
//! length and records progress; a lost lease (re-leased after it expired, cancelled) raises
//! `stop`, and the holder must stop, since its results would be discarded as stale anyway.
//!
//! One helper for both kinds of job (seed shards and study evaluations), so that they hold
//! their leases the same way.

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
