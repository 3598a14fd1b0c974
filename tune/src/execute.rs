//! Where a study's simulations run: on this machine's threads ([`Local`]), or on workers
//! elsewhere (`amm_service::studies` queues them as jobs on the service's queue).
//!
//! Why one trait: the optimiser's loop must not know. It asks for a batch of evaluations and
//! takes its decisions from the results in the order it asked for them, so a study gives the
//! same result whoever computed each simulation, in whatever order they finished.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::space::{Point, key};
use crate::study::Evaluation;
use crate::{Field, Objective, evaluate};

/// One simulation a study asks for: `point` in the candidate's seat on `seed`, and under
/// self-play the copies at `opponent` (`None`: no copies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkItem {
    /// The candidate's values.
    pub point: Point,
    /// The self-play copies' values, when the field has copies.
    pub opponent: Option<Point>,
    /// The simulation's seed.
    pub seed: u64,
}

impl WorkItem {
    /// Its key in a study: the point's, and under self-play the copies' point too.
    pub fn key(&self) -> String {
        match &self.opponent {
            None => key(&self.point),
            Some(o) => format!("{} vs self {}", key(&self.point), key(o)),
        }
    }

    /// Its evaluation in `field` for `objective` (the same function wherever it runs).
    pub fn evaluate(&self, field: &Field, objective: Objective) -> Evaluation {
        let opponent = self.opponent.as_ref().unwrap_or(&field.start);
        evaluate(field, objective, &self.point, opponent, self.seed)
    }
}

/// Runs batches of evaluations.
pub trait Executor {
    /// Evaluates every item of `work` in `field`, returning their evaluations in the order of
    /// `work`; `progress` is called with the number of items finished since its last call.
    /// An error (the queue unreachable, a job out of attempts) stops the study; everything
    /// recorded before it stays recorded, and the same command resumes.
    fn evaluate(
        &mut self,
        field: &Field,
        objective: Objective,
        work: &[WorkItem],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<Evaluation>, String>;
}

/// This machine's threads (the default).
pub struct Local {
    pool: rayon::ThreadPool,
}

impl Local {
    /// A pool of `threads` threads (0: one per core).
    pub fn new(threads: usize) -> Result<Local, String> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("amm-tune-{i}"))
            .build()
            .map(|pool| Local { pool })
            .map_err(|e| e.to_string())
    }
}

impl Executor for Local {
    fn evaluate(
        &mut self,
        field: &Field,
        objective: Objective,
        work: &[WorkItem],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<Evaluation>, String> {
        Ok(self.pool.install(|| {
            work.par_iter()
                .map(|w| {
                    let e = w.evaluate(field, objective);
                    progress(1);
                    e
                })
                .collect()
        }))
    }
}
