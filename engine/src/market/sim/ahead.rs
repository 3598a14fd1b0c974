//! The market's own draws — the fair price's moves and the retail flow — taken a batch of steps
//! ahead of the loop that uses them.
//!
//! Why: each step's price move and each order's size end in an `exp` (a normal draw, then
//! `libm::exp`), and inside the step loop every later computation waits for it: the price
//! feeds the arbitrage, the size feeds the router. Drawn a batch ahead, the `exp`s of a batch
//! are independent of one another and of the market, so they overlap instead of queueing.
//!
//! Nothing changes but when the numbers are computed: each stream (`price_rng`,
//! `retail_rng`) is read in the same order as step by step — the price stream one normal a
//! step; the retail stream a step's order count, then each of its orders' size and side, then
//! the next step's count — and neither stream depends on the market, so every result is the
//! same to the bit (common random numbers hold as before).

use rand::RngExt;
use rand_chacha::ChaCha12Rng;

use super::distributions::{LogNormal, Poisson, standard_normal};

/// Steps drawn ahead in one batch.
pub(super) const STEPS_AHEAD: usize = 64;

/// Orders held ahead at most: a step that would bring the held orders past this draws its
/// orders as it runs instead (it is the batch's last step, so the stream is still read in
/// order). Bounds the buffer whatever the configured arrival rate.
pub(super) const ORDERS_AHEAD: usize = 1024;

/// The fair price's multiplicative moves `exp(−σ²/2 + σZ)` for the next steps.
pub(super) struct PriceAhead {
    moves: [f64; STEPS_AHEAD],
    len: usize,
    next: usize,
    vol: f64,
    drift: f64,
}

impl PriceAhead {
    /// Moves of volatility `vol` (per step); none drawn yet.
    pub(super) fn new(vol: f64) -> Self {
        Self { moves: [1.0; STEPS_AHEAD], len: 0, next: 0, vol, drift: -0.5 * vol * vol }
    }

    /// The next step's move, drawing a batch (at most `steps_left`, the run's remaining steps
    /// including this one) when the last is used up.
    #[inline]
    pub(super) fn next(&mut self, rng: &mut ChaCha12Rng, steps_left: u64) -> f64 {
        if self.next == self.len {
            self.len = (steps_left.min(STEPS_AHEAD as u64) as usize).max(1);
            for m in &mut self.moves[..self.len] {
                let z = standard_normal(rng);
                *m = libm::exp(self.drift + self.vol * z);
            }
            self.next = 0;
        }
        self.next += 1;
        self.moves[self.next - 1]
    }
}

/// How the retail flow is drawn: the Poisson count of a step's orders, then each order's size
/// (Y, log-normal) and side.
pub(super) struct FlowLaw {
    /// `None` (no orders) without a positive arrival rate.
    pub(super) count: Option<Poisson>,
    /// `None`: every order is `mean_size`.
    pub(super) sizes: Option<LogNormal>,
    pub(super) mean_size: f64,
    /// Probability an order buys X, in `[0, 1]`.
    pub(super) buy: f64,
}

impl FlowLaw {
    fn count(&self, rng: &mut ChaCha12Rng) -> u64 {
        self.count.as_ref().map_or(0, |poisson| poisson.sample(rng))
    }

    /// One order: its size (Y) and whether it buys X.
    #[inline]
    pub(super) fn order(&self, rng: &mut ChaCha12Rng) -> (f64, bool) {
        let size_y = self.sizes.as_ref().map_or(self.mean_size, |d| d.sample(rng));
        (size_y, rng.random_bool(self.buy))
    }
}

/// The retail flow of the next steps: per step its order count and whether its orders are
/// held here (else the step draws them as it runs), and the held orders.
#[derive(Default)]
pub(super) struct FlowAhead {
    steps: Vec<(u64, bool)>,
    next_step: usize,
    orders: Vec<(f64, bool)>,
    next_order: usize,
}

impl FlowAhead {
    /// The next step's order count and whether [`FlowAhead::order`] holds them, drawing a
    /// batch (at most `steps_left` steps) when the last is used up.
    pub(super) fn step(&mut self, law: &FlowLaw, rng: &mut ChaCha12Rng, steps_left: u64) -> (u64, bool) {
        if self.next_step == self.steps.len() {
            self.refill(law, rng, steps_left);
        }
        self.next_step += 1;
        self.steps[self.next_step - 1]
    }

    /// The next held order.
    #[inline]
    pub(super) fn order(&mut self) -> (f64, bool) {
        self.next_order += 1;
        self.orders[self.next_order - 1]
    }

    fn refill(&mut self, law: &FlowLaw, rng: &mut ChaCha12Rng, steps_left: u64) {
        self.steps.clear();
        self.orders.clear();
        (self.next_step, self.next_order) = (0, 0);
        for _ in 0..(steps_left.min(STEPS_AHEAD as u64)).max(1) {
            let count = law.count(rng);
            // (A step whose orders would not fit is the batch's last: it draws them as it runs.)
            let held = self.orders.len() as u64 + count <= ORDERS_AHEAD as u64;
            self.steps.push((count, held));
            if !held {
                break;
            }
            for _ in 0..count {
                self.orders.push(law.order(rng));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The flow as the loop drew it before, step by step.
    fn step_by_step(law: &FlowLaw, seed: u64, steps: u64) -> Vec<Vec<(f64, bool)>> {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        (0..steps).map(|_| (0..law.count(&mut rng)).map(|_| law.order(&mut rng)).collect()).collect()
    }

    fn ahead(law: &FlowLaw, seed: u64, steps: u64) -> Vec<Vec<(f64, bool)>> {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        let mut flow = FlowAhead::default();
        (0..steps)
            .map(|step| {
                let (count, held) = flow.step(law, &mut rng, steps - step);
                (0..count).map(|_| if held { flow.order() } else { law.order(&mut rng) }).collect()
            })
            .collect()
    }

    #[test]
    fn the_flow_drawn_ahead_is_the_flow_drawn_step_by_step_at_any_arrival_rate() {
        // From under one order a step to steps that overflow the held orders (which are then
        // drawn as they run): the same orders, sizes and sides, step for step.
        for (rate, steps) in [(0.4, 1_000), (1.2, 333), (30.0, 200), (700.0, 9), (5_000.0, 3)] {
            let mu = libm::log(20.0) - 0.72;
            let law = FlowLaw { count: Poisson::new(rate), sizes: LogNormal::new(mu, 1.2), mean_size: 20.0, buy: 0.5 };
            assert_eq!(ahead(&law, 7, steps), step_by_step(&law, 7, steps), "rate {rate}");
        }
    }

    #[test]
    fn the_price_drawn_ahead_is_the_price_drawn_step_by_step() {
        let (vol, steps) = (0.004, 200u64);
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        let one: Vec<f64> = (0..steps).map(|_| libm::exp(-0.5 * vol * vol + vol * standard_normal(&mut rng))).collect();
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        let mut price = PriceAhead::new(vol);
        let batched: Vec<f64> = (0..steps).map(|step| price.next(&mut rng, steps - step)).collect();
        assert_eq!(one, batched);
    }
}
