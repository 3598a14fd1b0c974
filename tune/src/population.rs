//! # Populations: iterated best response, the payoff table and an exploitability estimate
//!
//! Why: the best fee policy depends on what the others do (the reference system calls its
//! problem a multi-agent competitive MDP, capital moving each epoch to whoever scores best), so
//! a study against a fixed field answers only half the question. Iterated best response is the
//! plainest answer that scales: start from a population holding the starting point, tune a best
//! response to the population ([`crate::tune`] with the members seated beside the field), add
//! it, repeat. It is the loop under fictitious play and the double-oracle / PSRO family
//! (McMahan, Gordon & Blum 2003; Lanctot et al. 2017), here with the population seated whole
//! rather than mixed.
//!
//! Two numbers say where a population stands:
//!
//! * **The payoff table**: for every two members `i` and `j`, the mean paired edge of `i` over
//!   `j` (`edge_i − edge_j` per simulation, Y) with its standard error, `i` in the candidate's
//!   seat and `j` seated as a member, beside the field, on seeds of their own. Both orders are
//!   simulated, and the diagonal too: a seat gives no advantage (the fairness tests), so the
//!   table should come out antisymmetric and its diagonal zero within the standard errors —
//!   shown, not assumed.
//! * **Exploitability**: one more best response, tuned against the final population, then
//!   scored on the test seeds in the candidate's seat beside every member in turn: its gain
//!   over each member, paired per seed, in the objective's units. Its gain over the best member
//!   estimates how far the population is from a point no newcomer can beat (it is a lower bound
//!   on the true exploitability: the probe is only as good as one study).
//!
//! A round whose best response is already a member (the same values) ends the iteration: the
//! population is closed under best response, and that round is the exploitability probe.

use rayon::prelude::*;
use serde::Serialize;

use crate::race::{mean, paired, stderr};
use crate::space::{Point, key};
use crate::study::Study;
use crate::{Comparison, Field, Outcome, TuneError, TuneSettings, evaluate, member_name, simulate_point};

/// How a population grows.
#[derive(Clone, Debug)]
pub struct PopulationSettings {
    /// Best responses added to the population (the start is its first member); one more study
    /// is then run as the exploitability probe. 1 to 16.
    pub rounds: usize,
    /// Seeds per pair of the payoff table. Default 200.
    pub payoff_seeds: u32,
}

impl Default for PopulationSettings {
    fn default() -> Self {
        PopulationSettings { rounds: 2, payoff_seeds: 200 }
    }
}

/// First seed of the payoff table's segment: inside the test segment's billion, far past its
/// test seeds, so neither the search nor the selection ever saw it.
pub fn payoff_first_seed(settings: &TuneSettings) -> u64 {
    settings.segments.test + 500_000_000
}

/// A member of the population.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Member {
    /// Its name when seated (`Member 1`, …).
    pub name: String,
    /// Where it came from: `the start` or `best response N`.
    pub origin: String,
    /// Its values.
    pub params: Point,
}

/// One entry of the payoff table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Payoff {
    /// The member in the candidate's seat (index into the members).
    pub row: usize,
    /// The member seated beside it.
    pub column: usize,
    /// Mean of `edge(row) − edge(column)` per simulation, Y.
    pub mean: f64,
    /// Its standard error.
    pub stderr: f64,
}

/// What an iterated best response found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PopulationOutcome {
    /// The final population, in the order the members joined.
    pub members: Vec<Member>,
    /// Every round's study, in order; the last one is the exploitability probe.
    pub rounds: Vec<Outcome>,
    /// Whether a round's best response was already a member (the iteration stopped there).
    pub closed: bool,
    /// Every ordered pair of members (the diagonal included), by row then column.
    pub payoff: Vec<Payoff>,
    /// First seed and number of seeds of the payoff table.
    pub payoff_seeds: (u64, u32),
    /// The probe against each member in the candidate's seat, beside the final population, on
    /// the test seeds (objective units), in member order.
    pub exploitability: Vec<Comparison>,
    /// The probe's values.
    pub probe: Point,
}

impl PopulationOutcome {
    /// The smallest of the probe's gains (its gain over the best member): the exploitability
    /// estimate.
    pub fn exploitability_estimate(&self) -> Option<&Comparison> {
        self.exploitability.iter().min_by(|a, b| a.mean.total_cmp(&b.mean))
    }

    /// The payoff of `row` over `column`.
    pub fn payoff(&self, row: usize, column: usize) -> Option<&Payoff> {
        self.payoff.iter().find(|p| p.row == row && p.column == column)
    }
}

/// A round's study and the executor its simulations run on.
pub type RoundStudy = (Study, Box<dyn crate::execute::Executor>);

/// Runs iterated best response on `field` (whose `members` it sets each round): `open(r,
/// field)` opens round `r`'s study (1-based; the field's definition includes the population,
/// so each round has its own) with the executor its simulations run on (this machine's
/// threads, or a queue's workers: the result is the same), and `on_round` hears of each
/// finished round (with the field it ran in). The payoff table and the exploitability
/// estimate are simulated here, on the config's threads.
///
/// # Errors
/// A round's [`TuneError`], or settings that cannot work.
pub fn iterate(
    field: &mut Field,
    settings: &TuneSettings,
    population: &PopulationSettings,
    open: &mut dyn FnMut(usize, &Field) -> Result<RoundStudy, TuneError>,
    on_round: &mut dyn FnMut(usize, &Field, &Outcome),
) -> Result<PopulationOutcome, TuneError> {
    if !(1..=16).contains(&population.rounds) {
        return Err(TuneError::Settings(format!(
            "--population {}: give 1 to 16 rounds of best response",
            population.rounds
        )));
    }
    if field.self_copies > 0 {
        return Err(TuneError::Settings(
            "self-play (self:K) and a population (--population) do not combine: choose one".into(),
        ));
    }
    let mut members = vec![Member { name: member_name(0), origin: "the start".into(), params: field.start.clone() }];
    let mut rounds = Vec::new();
    let mut closed = false;
    for round in 1..=population.rounds + 1 {
        field.members = members.iter().map(|m| m.params.clone()).collect();
        let (mut study, mut executor) = open(round, field)?;
        let outcome = crate::tune_with(field, settings, &mut study, executor.as_mut())?;
        on_round(round, field, &outcome);
        let known = members.iter().any(|m| key(&m.params) == key(&outcome.winner));
        let last = round == population.rounds + 1 || known;
        if !last {
            members.push(Member {
                name: member_name(members.len()),
                origin: format!("best response {round}"),
                params: outcome.winner.clone(),
            });
        }
        closed = known;
        rounds.push(outcome);
        if last {
            break;
        }
    }
    let probe = rounds.last().map(|o| o.winner.clone()).unwrap_or_else(|| field.start.clone());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(amm_engine::run::threads(&field.config))
        .thread_name(|i| format!("amm-population-{i}"))
        .build()
        .map_err(|e| TuneError::Threads(e.to_string()))?;

    // Exploitability: the probe and each member in the candidate's seat, beside the final
    // population, on the test seeds.
    field.members = members.iter().map(|m| m.params.clone()).collect();
    let test: Vec<u64> = (0..settings.segments.test_seeds).map(|s| settings.segments.test + u64::from(s)).collect();
    let seat_scores = |point: &Point| -> Vec<f64> {
        let field = &*field;
        pool.install(|| {
            test.par_iter()
                .map(|&seed| evaluate(field, settings.objective, point, point, seed).score.unwrap_or(f64::NEG_INFINITY))
                .collect()
        })
    };
    let probe_scores = seat_scores(&probe);
    let exploitability = members
        .iter()
        .map(|m| {
            // (A closed population's probe is a member: its scores are the probe's, not run again.)
            let theirs = if key(&m.params) == key(&probe) { probe_scores.clone() } else { seat_scores(&m.params) };
            let d = paired(&probe_scores, &theirs);
            Comparison {
                against: m.name.clone(),
                measure: settings.objective.name().into(),
                mean: mean(&d),
                stderr: stderr(&d),
            }
        })
        .collect();

    // The payoff table: every ordered pair, the diagonal included, on common seeds.
    let first = payoff_first_seed(settings);
    let seeds: Vec<u64> = (0..population.payoff_seeds).map(|s| first + u64::from(s)).collect();
    let mut payoff = Vec::new();
    for row in 0..members.len() {
        for column in 0..members.len() {
            let d = pair_edges(field, &pool, &members[row].params, &members[column].params, &seeds);
            payoff.push(Payoff { row, column, mean: mean(&d), stderr: stderr(&d) });
        }
    }
    Ok(PopulationOutcome {
        members,
        rounds,
        closed,
        payoff,
        payoff_seeds: (first, population.payoff_seeds),
        exploitability,
        probe,
    })
}

/// `edge(row) − edge(column)` per seed: `row` in the candidate's seat, `column` seated beside
/// it as the only member, the rest of the field as it is. A simulation that cannot run (a
/// source point that does not build) counts as `-inf`.
pub fn pair_edges(field: &mut Field, pool: &rayon::ThreadPool, row: &Point, column: &Point, seeds: &[u64]) -> Vec<f64> {
    let saved = std::mem::replace(&mut field.members, vec![column.clone()]);
    let at = field.entrants.len();
    let field_ref = &*field;
    let d = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| match simulate_point(field_ref, row, row, seed) {
                Some(sim) => sim.pools[field_ref.candidate].edge - sim.pools[at].edge,
                None => f64::NEG_INFINITY,
            })
            .collect()
    });
    field.members = saved;
    d
}

/// The population's report as text: the members, the payoff table and the exploitability.
pub fn table(outcome: &PopulationOutcome) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let n = outcome.members.len();
    let _ =
        writeln!(out, "population ({n} members{})", if outcome.closed { ", closed under best response" } else { "" });
    for m in &outcome.members {
        let _ = writeln!(out, "  {:<10} {:<17} {}", m.name, m.origin, crate::report::values(&m.params));
    }
    let (first, count) = outcome.payoff_seeds;
    let _ = writeln!(
        out,
        "\npayoff: mean paired edge of the row over the column (Y per simulation, ± one standard error), the row in the candidate's seat and the column beside it, {count} seeds from {first}; a seat gives no advantage, so the diagonal should read 0 and the table antisymmetric, within the errors"
    );
    let _ = write!(out, "  {:<10}", "");
    for m in &outcome.members {
        let _ = write!(out, " {:>17}", m.name);
    }
    let _ = writeln!(out);
    for (i, row) in outcome.members.iter().enumerate() {
        let _ = write!(out, "  {:<10}", row.name);
        for j in 0..n {
            let cell = outcome.payoff(i, j).map_or("—".to_string(), |p| format!("{:+.1} ± {:.1}", p.mean, p.stderr));
            let _ = write!(out, " {cell:>17}");
        }
        let _ = writeln!(out);
    }
    let measure = outcome.exploitability.first().map_or("objective", |c| c.measure.as_str());
    let _ = writeln!(
        out,
        "\nexploitability: a best response tuned against the whole population, in the candidate's seat, against each member in that seat ({measure}, paired per test seed)"
    );
    for c in &outcome.exploitability {
        let _ = writeln!(out, "  probe − {:<10} {:+.1} ± {:.1}", c.against, c.mean, c.stderr);
    }
    if let Some(c) = outcome.exploitability_estimate() {
        let _ = writeln!(
            out,
            "  estimate: {:+.1} ± {:.1} (the probe's gain over the best member; a lower bound: the probe is one study){}",
            c.mean,
            c.stderr,
            if c.mean <= 2.0 * c.stderr { " — no clear gain: the probe found nothing to exploit" } else { "" }
        );
    }
    out
}
