//! Racing a generation of candidates on common seeds.
//!
//! Every candidate starts on the first `first` seeds of the training segment; at each rung the
//! survivors run on twice as many, up to `last`. After each rung a candidate stops when it is
//! clearly worse — its mean paired per-seed difference to the rung's leader, or to the
//! incumbent (the best point so far, evaluated on all `last` seeds), is below zero by more than
//! `z` standard errors. Because every candidate runs on the same seeds (common random numbers),
//! the differences are paired and their standard errors are small where candidates are close.
//!
//! How the threshold was chosen: a drop is a one-sided test at `z` standard errors. With
//! `z = 3`, a candidate truly as good as the one it is compared with is dropped with
//! probability ≈ Φ(−3) ≈ 0.13 % per test under the normal approximation, and the best of a
//! generation faces at most one test per rung (≤ 5 rungs from 8 to 128 seeds), so it survives
//! a race with probability ≥ 99.3 % even at a tie, and with higher probability when it is truly
//! better; the 8-seed minimum keeps the standard error itself from being a 1- or 2-sample
//! accident. The planted-means test in this module checks exactly this property. Racing saves
//! the seeds of candidates that are clearly worse, which in a CMA-ES generation is most of them.

/// Racing settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RaceSettings {
    /// Seeds every candidate runs on first. Default 8.
    pub first: usize,
    /// Seeds a surviving candidate ends on (rungs double from `first`). Default 128.
    pub last: usize,
    /// Standard errors of paired deficit that stop a candidate. Default 3.
    pub z: f64,
}

impl Default for RaceSettings {
    fn default() -> Self {
        RaceSettings { first: 8, last: 128, z: 3.0 }
    }
}

/// How a candidate's race ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Ran on every seed of the race.
    Finished,
    /// Stopped early, clearly worse than the leader or the incumbent.
    Dropped,
    /// Disqualified in a simulation (a fault or a broken rule): out of the race.
    Disqualified,
    /// The evaluation budget ran out first.
    Unfinished,
}

/// One candidate's race.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its scores on seeds `0..scores.len()` of the segment.
    pub scores: Vec<f64>,
    /// How it ended.
    pub fate: Fate,
}

impl Entry {
    /// Mean score (−∞ when it has none).
    pub fn mean(&self) -> f64 {
        mean(&self.scores)
    }
}

/// The budget ran out: no more evaluations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted;

/// One evaluation to run: candidate index, seed index within the segment.
pub type Request = (usize, usize);

/// Runs a batch of requests: one score per request (`None`: disqualified), or [`Exhausted`].
pub type Evaluate<'a> = dyn FnMut(&[Request]) -> Result<Vec<Option<f64>>, Exhausted> + 'a;

/// Mean of `xs` (−∞ for none).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() { f64::NEG_INFINITY } else { xs.iter().sum::<f64>() / xs.len() as f64 }
}

/// Standard error of the mean of `xs` (0 for fewer than two).
pub fn stderr(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(xs);
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
    (var / n as f64).sqrt()
}

/// Paired differences `a − b` on their common prefix.
pub fn paired(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// Whether `d` (paired differences) is below zero by more than `z` standard errors.
fn clearly_negative(d: &[f64], z: f64) -> bool {
    !d.is_empty() && mean(d) + z * stderr(d) < 0.0
}

/// Races `n` candidates. `incumbent` holds the best point's scores on at least `last` seeds,
/// if there is one. `evaluate` runs a batch of requests and returns one score per request
/// (`None`: disqualified), or [`Exhausted`] when the budget cannot cover the batch; the race
/// then ends with the candidates still running marked [`Fate::Unfinished`].
pub fn race(n: usize, incumbent: Option<&[f64]>, settings: &RaceSettings, evaluate: &mut Evaluate<'_>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = (0..n).map(|_| Entry { scores: Vec::new(), fate: Fate::Unfinished }).collect();
    let mut alive: Vec<usize> = (0..n).collect();
    let last = settings.last.max(1);
    let mut done = 0;
    let mut rung = settings.first.clamp(1, last);
    while !alive.is_empty() {
        let requests: Vec<Request> = alive.iter().flat_map(|&c| (done..rung).map(move |s| (c, s))).collect();
        let Ok(results) = evaluate(&requests) else {
            return entries; // the alive ones stay Unfinished
        };
        for (&(c, _), score) in requests.iter().zip(results) {
            match score {
                Some(s) if entries[c].fate != Fate::Disqualified => entries[c].scores.push(s),
                _ => entries[c].fate = Fate::Disqualified,
            }
        }
        alive.retain(|&c| entries[c].fate != Fate::Disqualified);
        done = rung;
        if let Some(&leader) =
            alive.iter().max_by(|&&a, &&b| entries[a].mean().total_cmp(&entries[b].mean()).then(b.cmp(&a)))
        {
            let lead = entries[leader].scores.clone();
            for &c in &alive {
                let worse_than_leader = c != leader && clearly_negative(&paired(&entries[c].scores, &lead), settings.z);
                let worse_than_incumbent =
                    incumbent.is_some_and(|inc| clearly_negative(&paired(&entries[c].scores, inc), settings.z));
                if worse_than_leader || worse_than_incumbent {
                    entries[c].fate = Fate::Dropped;
                }
            }
            alive.retain(|&c| entries[c].fate != Fate::Dropped);
        }
        if done >= last {
            for &c in &alive {
                entries[c].fate = Fate::Finished;
            }
            break;
        }
        rung = (rung * 2).min(last);
    }
    entries
}

/// Ranks race entries best first: finished before dropped before unfinished before
/// disqualified; then more seeds; then higher mean; then lower index.
pub fn ranking(entries: &[Entry]) -> Vec<usize> {
    let class = |f: Fate| match f {
        Fate::Finished => 0,
        Fate::Dropped => 1,
        Fate::Unfinished => 2,
        Fate::Disqualified => 3,
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&entries[a], &entries[b]);
        class(x.fate)
            .cmp(&class(y.fate))
            .then(y.scores.len().cmp(&x.scores.len()))
            .then(y.mean().total_cmp(&x.mean()))
            .then(a.cmp(&b))
    });
    order
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha12Rng;

    use super::*;

    fn gauss(rng: &mut ChaCha12Rng) -> f64 {
        let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Candidates with planted means; a seed's score is the mean plus a seed effect shared by
    /// all (what common random numbers pair away) plus each candidate's own noise.
    fn planted(means: &[f64], noise: f64, seed: u64) -> Vec<Entry> {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        let shared: Vec<f64> = (0..256).map(|_| 50.0 * gauss(&mut rng)).collect();
        let own: Vec<Vec<f64>> = means.iter().map(|_| (0..256).map(|_| noise * gauss(&mut rng)).collect()).collect();
        let mut evaluations = 0;
        let entries = race(means.len(), None, &RaceSettings::default(), &mut |requests| {
            evaluations += requests.len();
            Ok(requests.iter().map(|&(c, s)| Some(means[c] + shared[s] + own[c][s])).collect())
        });
        assert!(evaluations < means.len() * 128, "racing saved nothing");
        entries
    }

    #[test]
    fn racing_never_drops_the_best_of_a_planted_set() {
        let means = [0.0, -1.0, -2.0, -4.0, -8.0, -16.0, -32.0, 1.0, -0.5, -64.0];
        for seed in 0..200 {
            let entries = planted(&means, 4.0, seed);
            assert_eq!(entries[7].fate, Fate::Finished, "race {seed}: the best (mean 1) was {:?}", entries[7].fate);
            assert_eq!(entries[9].fate, Fate::Dropped, "race {seed}: mean −64 should stop early");
            assert!(entries[9].scores.len() <= 16, "race {seed}: the worst ran {} seeds", entries[9].scores.len());
        }
    }

    #[test]
    fn the_winner_ranks_first_and_the_disqualified_last() {
        let entries = race(3, None, &RaceSettings { first: 2, last: 8, z: 3.0 }, &mut |requests| {
            Ok(requests
                .iter()
                .map(|&(c, s)| if c == 0 { None } else { Some(c as f64 * 10.0 + s as f64 % 2.0) })
                .collect())
        });
        assert_eq!(entries[0].fate, Fate::Disqualified);
        assert_eq!(ranking(&entries), vec![2, 1, 0]);
    }

    #[test]
    fn an_exhausted_budget_leaves_the_runners_unfinished() {
        let mut calls = 0;
        let entries = race(2, None, &RaceSettings { first: 2, last: 8, z: 3.0 }, &mut |requests| {
            calls += 1;
            if calls > 1 { Err(Exhausted) } else { Ok(requests.iter().map(|_| Some(1.0)).collect()) }
        });
        assert!(entries.iter().all(|e| e.fate == Fate::Unfinished && e.scores.len() == 2));
    }

    #[test]
    fn a_candidate_clearly_behind_the_incumbent_stops() {
        let incumbent: Vec<f64> = (0..8).map(|s| 100.0 + s as f64).collect();
        let entries = race(1, Some(&incumbent), &RaceSettings { first: 2, last: 8, z: 3.0 }, &mut |requests| {
            Ok(requests.iter().map(|&(_, s)| Some(90.0 + s as f64 + if s % 2 == 0 { 0.5 } else { -0.5 })).collect())
        });
        assert_eq!((entries[0].fate, entries[0].scores.len()), (Fate::Dropped, 2));
    }
}
