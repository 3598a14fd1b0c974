//! Counters for `GET /metrics` (Prometheus text format): what this process has seen since it
//! started, plus the queue as the database holds it.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::states::JobState;

/// Counters of one process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Uploads accepted (202).
    pub accepted: AtomicU64,
    /// Uploads refused: no valid token (401).
    pub rejected_unauthorized: AtomicU64,
    /// Uploads refused: over the upload limit (413).
    pub rejected_too_large: AtomicU64,
    /// Uploads refused by validation (422).
    pub rejected_invalid: AtomicU64,
    /// Uploads refused over quota (429).
    pub rejected_quota: AtomicU64,
    /// Uploads refused otherwise (400, 5xx).
    pub rejected_other: AtomicU64,
    /// Uploads answered as duplicates (200).
    pub duplicates: AtomicU64,
    /// Jobs re-queued or failed by the reaper because their lease expired.
    pub lease_expiries: AtomicU64,
    /// Jobs this process completed.
    pub jobs_succeeded: AtomicU64,
    /// Jobs this process failed (any reason but cancellation or a lost lease).
    pub jobs_failed: AtomicU64,
    /// Wall time of the jobs this process completed, microseconds.
    pub job_micros: AtomicU64,
    /// PostgreSQL NOTIFY messages on the jobs channel this process received (each wakes its
    /// idle workers).
    pub notifications: AtomicU64,
    /// Times the probes' database figures were refreshed: at most once a second, however
    /// often `/readyz` and `/metrics` are asked.
    pub probe_refreshes: AtomicU64,
}

impl Metrics {
    /// Counts a refused upload by its HTTP status.
    pub fn reject(&self, status: u16) {
        let counter = match status {
            401 => &self.rejected_unauthorized,
            413 => &self.rejected_too_large,
            422 => &self.rejected_invalid,
            429 => &self.rejected_quota,
            _ => &self.rejected_other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the queue's `jobs` by state.
    pub fn render(&self, jobs: &[(JobState, i64)]) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let _ = writeln!(out, "# HELP amm_jobs Evaluation jobs in the database, by state.\n# TYPE amm_jobs gauge");
        for &state in JobState::ALL {
            let n = jobs.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "amm_jobs{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP amm_uploads_total Uploads answered by this process, by outcome.");
        let _ = writeln!(out, "# TYPE amm_uploads_total counter");
        for (outcome, counter) in [
            ("accepted", &self.accepted),
            ("duplicate", &self.duplicates),
            ("unauthorized", &self.rejected_unauthorized),
            ("too_large", &self.rejected_too_large),
            ("invalid", &self.rejected_invalid),
            ("quota", &self.rejected_quota),
            ("other", &self.rejected_other),
        ] {
            let _ = writeln!(out, "amm_uploads_total{{outcome=\"{outcome}\"}} {}", get(counter));
        }
        let _ =
            writeln!(out, "# HELP amm_lease_expiries_total Jobs whose lease expired (their worker died or stalled).");
        let _ = writeln!(
            out,
            "# TYPE amm_lease_expiries_total counter\namm_lease_expiries_total {}",
            get(&self.lease_expiries)
        );
        let _ = writeln!(out, "# HELP amm_jobs_finished_total Jobs this process finished, by result.");
        let _ = writeln!(out, "# TYPE amm_jobs_finished_total counter");
        let _ = writeln!(out, "amm_jobs_finished_total{{result=\"succeeded\"}} {}", get(&self.jobs_succeeded));
        let _ = writeln!(out, "amm_jobs_finished_total{{result=\"failed\"}} {}", get(&self.jobs_failed));
        let _ = writeln!(out, "# HELP amm_job_duration_seconds Wall time of the jobs this process completed.");
        let _ = writeln!(out, "# TYPE amm_job_duration_seconds summary");
        let _ = writeln!(out, "amm_job_duration_seconds_sum {}", get(&self.job_micros) as f64 / 1e6);
        let _ = writeln!(out, "amm_job_duration_seconds_count {}", get(&self.jobs_succeeded));
        let _ = writeln!(out, "# HELP amm_job_notifications_total Queued-job notifications received (PostgreSQL).");
        let _ = writeln!(
            out,
            "# TYPE amm_job_notifications_total counter\namm_job_notifications_total {}",
            get(&self.notifications)
        );
        let _ = writeln!(out, "# HELP amm_probe_refreshes_total Database reads made for /readyz and /metrics.");
        let _ = writeln!(
            out,
            "# TYPE amm_probe_refreshes_total counter\namm_probe_refreshes_total {}",
            get(&self.probe_refreshes)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_rejections_by_reason() {
        let m = Metrics::default();
        m.reject(401);
        m.reject(422);
        m.reject(422);
        m.reject(500);
        let text = m.render(&[(JobState::Queued, 3)]);
        assert!(text.contains("amm_uploads_total{outcome=\"unauthorized\"} 1\n"), "{text}");
        assert!(text.contains("amm_uploads_total{outcome=\"invalid\"} 2\n"), "{text}");
        assert!(text.contains("amm_uploads_total{outcome=\"other\"} 1\n"), "{text}");
        assert!(text.contains("amm_jobs{state=\"queued\"} 3\namm_jobs{state=\"running\"} 0\n"), "{text}");
    }
}
