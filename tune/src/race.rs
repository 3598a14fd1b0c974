//! Racing a generation of candidates on common seeds.
//!
//! Every candidate starts on the first `first` seeds of the training segment; at each rung the
//! survivors run on twice as many, up to `last`. After each rung a candidate stops when it is
//! clearly worse — its mean paired per-seed difference to the rung's leader, or to the
//! incumbent (the best point so far, evaluated on all `last` seeds), is below zero by more than
//! `z` standard errors. Because every candidate runs on the same seeds (common random numbers),
//! the differences are paired and their standard errors are small where candidates are close.
//!
//! How the thresholds were chosen. A drop is a one-sided test at `z` standard errors (Student's
//! t quantile at the same level for few seeds; against the rung's leader, the level is divided
//! among the candidates still running, since the leader is the luckiest of them): a
//! candidate truly as good as the one it is compared with is dropped with probability
//! ≈ Φ(−z) per test, 2.3 % at the default `z = 2`, and one a few
//! standard errors better is practically never dropped (the planted-means test in this module:
//! the best of ten, 1.4 paired standard errors ahead of the next on the first rung and 4.0 on
//! the last, finishes and ranks first in 1,000 of 1,000 races). A drop costs little: every
//! candidate is still ranked for the optimiser by its
//! mean paired difference to the incumbent over the seeds it ran ([`ranking`]), so a candidate
//! stopped early near the incumbent still pulls the search towards it; only the incumbent must
//! have finished. The defaults (4 seeds first, 32 last, `z = 2`) were chosen side by side on the
//! starter in the default market (BENCHMARKS.md, *Tuning*): against 8 / 128 / 3 they reached a
//! better held-out score with a third of the simulations; against 4 / 64 / 2, over five optimiser
//! seeds, about the same mean and a much narrower spread (a worst run 9 Y higher): a
//! generation costs less, so CMA-ES takes more of them, and the validation segment, not the
//! training seeds, makes the final choice.

/// Racing settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RaceSettings {
    /// Seeds every candidate runs on first (at least 3 before any can stop). Default 4.
    pub first: usize,
    /// Seeds a surviving candidate ends on (rungs double from `first`). Default 32.
    pub last: usize,
    /// Standard errors of paired deficit that stop a candidate. Default 2.
    pub z: f64,
}

impl Default for RaceSettings {
    fn default() -> Self {
        RaceSettings { first: 4, last: 32, z: 2.0 }
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

/// Whether `d` (paired differences) is below zero by more than `z` standard errors, at the
/// same one-sided level Φ(−z) for its sample size: the standard error of a few seeds is itself
/// noisy, so the normal quantile `z` becomes Student's t quantile with `n − 1` degrees of
/// freedom ([`t_quantile`]). Fewer than three differences are never clearly negative.
/// Whether the mean of paired differences `d` is below zero by more than `z` standard errors
/// (Student's t for few seeds; at least 3).
pub fn clearly_negative(d: &[f64], z: f64) -> bool {
    d.len() >= 3 && mean(d) + t_quantile(z, (d.len() - 1) as f64) * stderr(d) < 0.0
}

/// The normal quantile `x` with `Φ(−x) = p` (upper tail `p`), by bisection on `erfc`.
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if 0.5 * libm::erfc(mid / std::f64::consts::SQRT_2) > p { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// Student's t quantile with `nu` degrees of freedom at the level of the normal quantile `z`,
/// by the Cornish–Fisher expansion (Abramowitz & Stegun 26.7.5; within 1 % of the exact value
/// for ν ≥ 3 at z ≤ 3).
pub fn t_quantile(z: f64, nu: f64) -> f64 {
    let (z3, z5, z7) = (z * z * z, z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * nu)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * nu * nu)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * nu * nu * nu)
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
            // The leader is the luckiest of the alive: against it, each test is at the level
            // Φ(−z) divided among them (Bonferroni), so selecting it does not inflate drops.
            let level = 0.5 * libm::erfc(settings.z / std::f64::consts::SQRT_2) / alive.len() as f64;
            let z_leader = normal_quantile(level);
            for &c in &alive {
                let worse_than_leader = c != leader && clearly_negative(&paired(&entries[c].scores, &lead), z_leader);
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

/// Ranks race entries best first, disqualified last. Candidates stopped at different seed
/// counts are compared by their mean paired difference to a reference over their own seeds
/// (an unbiased estimate of their gap to it whatever the count, since every candidate runs the
/// reference's seeds from the first): `incumbent`, or without one the best candidate among
/// those that ran the most seeds.
///
/// Why not "finished before dropped": a candidate close to the incumbent has small paired
/// differences, so its small deficit is significant early and it stops, while a distant,
/// noisy one survives; ranking survivors first would steer the search away from the best
/// region. Ties: more seeds, then the lower index.
pub fn ranking(entries: &[Entry], incumbent: Option<&[f64]>) -> Vec<usize> {
    let most = entries.iter().filter(|e| e.fate != Fate::Disqualified).map(|e| e.scores.len()).max().unwrap_or(0);
    let leader = entries
        .iter()
        .filter(|e| e.fate != Fate::Disqualified && e.scores.len() == most)
        .max_by(|a, b| a.mean().total_cmp(&b.mean()))
        .map(|e| e.scores.as_slice());
    let reference = incumbent.or(leader).unwrap_or(&[]);
    let estimate = |e: &Entry| match e.fate {
        Fate::Disqualified => f64::NEG_INFINITY,
        _ => mean(&paired(&e.scores, reference)),
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&entries[a], &entries[b]);
        estimate(y).total_cmp(&estimate(x)).then(y.scores.len().cmp(&x.scores.len())).then(a.cmp(&b))
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
        let last = RaceSettings::default().last;
        assert!(evaluations < means.len() * last * 3 / 4, "racing saved less than a quarter: {evaluations}");
        entries
    }

    #[test]
    fn racing_never_drops_the_best_of_a_planted_set() {
        // The best leads the next by 4 with per-seed noise 4 on each: 1.4 paired standard
        // errors on the first rung of 4 seeds, 4.0 at the last of 32.
        let means = [0.0, -1.0, -2.0, -4.0, -8.0, -16.0, -32.0, 4.0, -0.5, -64.0];
        for seed in 0..1000 {
            let entries = planted(&means, 4.0, seed);
            assert_eq!(entries[7].fate, Fate::Finished, "race {seed}: the best (mean 4) was {:?}", entries[7].fate);
            assert_eq!(ranking(&entries, None)[0], 7, "race {seed}: the best does not rank first");
            assert_eq!(entries[9].fate, Fate::Dropped, "race {seed}: mean −64 should stop early");
            assert!(entries[9].scores.len() <= 8, "race {seed}: the worst ran {} seeds", entries[9].scores.len());
        }
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // One-sided 97.72 % (z = 2) quantiles of Student's t (numerical integration of the
        // density): 3 dof 3.307, 7 dof 2.429, 63 dof 2.040.
        for (nu, exact) in [(3.0, 3.307), (7.0, 2.429), (63.0, 2.040)] {
            let t = t_quantile(2.0, nu);
            assert!((t - exact).abs() / exact < 0.03, "nu {nu}: {t} vs {exact}");
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
        assert_eq!(ranking(&entries, None), vec![2, 1, 0]);
    }

    #[test]
    fn a_candidate_stopped_near_the_incumbent_outranks_a_distant_survivor() {
        // The incumbent scores 100 + seed noise; candidate 0 trails it by 2 with almost no
        // paired noise (stopped early), candidate 1 trails it by 30 with large paired noise.
        let incumbent: Vec<f64> = (0..8).map(|s| 100.0 + 10.0 * (s % 3) as f64).collect();
        let near = Entry { scores: incumbent[..2].iter().map(|x| x - 2.0).collect(), fate: Fate::Dropped };
        let far = Entry {
            scores: incumbent
                .iter()
                .enumerate()
                .map(|(s, x)| x - 30.0 + if s % 2 == 0 { 40.0 } else { -40.0 })
                .collect(),
            fate: Fate::Finished,
        };
        assert_eq!(ranking(&[far, near], Some(&incumbent)), vec![1, 0]);
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
        let incumbent: Vec<f64> = (0..16).map(|s| 100.0 + s as f64).collect();
        let entries = race(1, Some(&incumbent), &RaceSettings { first: 4, last: 16, z: 3.0 }, &mut |requests| {
            Ok(requests.iter().map(|&(_, s)| Some(90.0 + s as f64 + if s % 2 == 0 { 0.5 } else { -0.5 })).collect())
        });
        assert_eq!((entries[0].fate, entries[0].scores.len()), (Fate::Dropped, 4));
    }
}
