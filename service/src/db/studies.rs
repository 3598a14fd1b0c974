//! Tuning studies on the queue (`amm-engine tune --db`): a study's row, its jobs (each a list
//! of evaluations in `work`), their states and results.
//!
//! A study is a submission row with `study` set, so its jobs are ordinary jobs: claimed,
//! leased, fenced, retried, reaped and completed by the statements of `jobs`, and recorded
//! exactly once (a completion under a stale fence records nothing). Its row never reaches the
//! board (`study IS NULL` in every board, rescore and merge query).

use sqlx::Row;

use super::jobs::{NewJob, cancel_unfinished_jobs, insert_job};
use super::pool::{Db, DbError, now_ms, stored};
use crate::states::{JobState, SubmissionStatus};

/// A study job's state, as the coordinator polls it.
#[derive(Clone, Debug)]
pub struct StudyJob {
    /// Id.
    pub id: i64,
    /// Where it is.
    pub state: JobState,
    /// Evaluations finished (this attempt).
    pub done: i64,
    /// Its last error.
    pub error: Option<String>,
}

impl Db {
    /// The row of study `name` with field `field` (JSON; `sha256` its hash), created if new,
    /// made pending again if an earlier coordinator left it failed or cancelled. Jobs an
    /// earlier coordinator left queued or running are cancelled (their evaluations are asked
    /// for again). Returns the row's id.
    pub async fn open_study(&self, name: &str, field: &str, sha256: &str) -> Result<i64, DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let submitter = format!("study:{name}");
        let existing = sqlx::query("SELECT id FROM submissions WHERE submitter = $1 AND sha256 = $2")
            .bind(&submitter)
            .bind(sha256)
            .fetch_optional(&mut *tx)
            .await?;
        let id: i64 = match existing {
            Some(row) => row.try_get("id")?,
            None => sqlx::query(
                "INSERT INTO submissions (submitter, name, model, sha256, bytes_path, size, baseline, status, \
                 validation, engine_version, created_at, salt, changed_at, study, entries) \
                 VALUES ($1, $2, 'None', $3, '', 0, 0, $7, '[]', $4, $5, '', $5, $2, $6) RETURNING id",
            )
            .bind(&submitter)
            .bind(name)
            .bind(sha256)
            .bind(amm_engine::ENGINE_VERSION)
            .bind(now)
            .bind(field)
            .bind(SubmissionStatus::Pending.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?,
        };
        sqlx::query("UPDATE submissions SET status = $2, error = NULL, evaluated_at = NULL WHERE id = $1")
            .bind(id)
            .bind(SubmissionStatus::Pending.as_str())
            .execute(&mut *tx)
            .await?;
        cancel_unfinished_jobs(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Queues one job per entry of `work` (each a JSON list of `count` evaluations) for study
    /// row `study`, in one transaction, and announces them. Returns their ids, in order.
    pub async fn queue_study_jobs(&self, study: i64, work: &[(u32, String)]) -> Result<Vec<i64>, DbError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let mut ids = Vec::with_capacity(work.len());
        for (count, items) in work {
            let job = NewJob { shard_lo: 0, shard_hi: *count, shard_count: *count, total: *count };
            let id = insert_job(&mut tx, study, &job, now).await?;
            sqlx::query("UPDATE jobs SET work = $1 WHERE id = $2").bind(items).bind(id).execute(&mut *tx).await?;
            ids.push(id);
        }
        tx.commit().await?;
        self.notify_jobs().await;
        Ok(ids)
    }

    /// The jobs of study row `study` with ids in `lo..=hi`, by id.
    pub async fn study_jobs(&self, study: i64, lo: i64, hi: i64) -> Result<Vec<StudyJob>, DbError> {
        let rows = sqlx::query(
            "SELECT id, state, done, error FROM jobs WHERE submission = $1 AND id >= $2 AND id <= $3 ORDER BY id",
        )
        .bind(study)
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StudyJob {
                    id: r.try_get("id")?,
                    state: stored(r, "state")?,
                    done: r.try_get("done")?,
                    error: r.try_get("error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The recorded results of study row `study`'s succeeded jobs with ids in `lo..=hi` (all
    /// of them: `0..=i64::MAX`): (job, index in its work, the evaluation's JSON), with each
    /// job's work JSON, by job then index.
    pub async fn study_results(
        &self,
        study: i64,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<(i64, Option<String>, i64, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT j.id AS job, j.work AS work, r.shard AS shard, r.json AS json FROM results r \
             JOIN jobs j ON j.id = r.job WHERE j.submission = $1 AND j.id >= $2 AND j.id <= $3 AND j.state = $4 \
             ORDER BY j.id, r.shard",
        )
        .bind(study)
        .bind(lo)
        .bind(hi)
        .bind(JobState::Succeeded.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("job")?, r.try_get("work")?, r.try_get("shard")?, r.try_get("json")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Stores a module's bytes under its sha256 (workers on other machines fetch it by hash),
    /// replacing a stored copy: the caller's bytes are the module (workers check the hash, so
    /// a damaged copy would fail every job until replaced).
    pub async fn store_module(&self, sha256: &str, bytes: &[u8]) -> Result<(), DbError> {
        sqlx::query("INSERT INTO modules (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO UPDATE SET bytes = excluded.bytes")
            .bind(sha256)
            .bind(bytes.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Completion;

    /// A study's row is queue plumbing, never an evaluation to merge; a studies-only worker
    /// claims study jobs; a completion under a stale fence records nothing; a re-opened study
    /// cancels the jobs an earlier coordinator left.
    #[test]
    fn a_study_row_stays_off_the_board_and_its_jobs_record_once() {
        let dir = std::env::temp_dir().join(format!("amm-studies-{}-{}", std::process::id(), now_ms()));
        std::fs::create_dir_all(&dir).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let db = Db::open(&crate::db::sqlite_url(&dir)).await.unwrap();
            let id = db.open_study("s1", "{}", &"a".repeat(64)).await.unwrap();
            assert_eq!(db.open_study("s1", "{}", &"a".repeat(64)).await.unwrap(), id, "re-opened, not duplicated");
            let ids = db.queue_study_jobs(id, &[(2, "[1,2]".into()), (1, "[3]".into())]).await.unwrap();
            assert_eq!(ids.len(), 2);
            let job = db.claim("w", 60_000, true).await.unwrap().expect("a study job");
            assert_eq!((job.id, job.work.as_deref()), (ids[0], Some("[1,2]")));
            // A stale fence records nothing; the holder's fence records once.
            assert_eq!(db.complete(job.id, job.fence + 1, &[(0, "x".into())]).await.unwrap(), Completion::Stale);
            let results = [(0, "{\"score\":1.0,\"edges\":[]}".into()), (1, "{\"score\":null,\"edges\":[]}".into())];
            assert!(matches!(db.complete(job.id, job.fence, &results).await.unwrap(), Completion::Recorded(_)));
            assert_eq!(db.complete(job.id, job.fence, &results).await.unwrap(), Completion::Stale);
            let second = db.claim("w", 60_000, true).await.unwrap().expect("the second job");
            db.complete(second.id, second.fence, &[(0, "{\"score\":2.0,\"edges\":[]}".into())]).await.unwrap();
            let rows = db.study_results(id, ids[0], ids[1]).await.unwrap();
            assert_eq!(rows.iter().map(|r| (r.0, r.2)).collect::<Vec<_>>(), [(ids[0], 0), (ids[0], 1), (ids[1], 0)]);
            let states = db.study_jobs(id, ids[0], ids[1]).await.unwrap();
            assert!(states.iter().all(|j| j.state == JobState::Succeeded), "{states:?}");
            // Every job succeeded and the row is pending, yet it is not merged as an evaluation.
            assert!(db.unmerged().await.unwrap().is_empty());
            // A re-opened study cancels what an earlier coordinator left queued.
            let left = db.queue_study_jobs(id, &[(1, "[4]".into())]).await.unwrap();
            db.open_study("s1", "{}", &"a".repeat(64)).await.unwrap();
            assert_eq!(db.study_jobs(id, left[0], left[0]).await.unwrap()[0].state, JobState::Cancelled);
            assert!(db.claim("w", 60_000, false).await.unwrap().is_none(), "nothing else is queued");
            db.close().await;
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
