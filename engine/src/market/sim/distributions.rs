//! The market's random distributions — the price move's standard normal, the retail orders'
//! log-normal sizes and Poisson counts — with every transcendental function from `libm`.
//!
//! Why not `rand_distr`'s: its ziggurat calls `f64::exp` and `f64::ln` (the platform's C
//! library), and its `LogNormal` and `Poisson` reach `exp` through `num-traits`, whose `std`
//! feature (switched on by another dependency of this build, feature unification) sends `Float`
//! to the platform too. The platform's `exp` differs between C libraries and even between CPU
//! dispatch paths of one library (glibc picks an FMA variant at run time), so a seed would not
//! give the same bits on every machine, which the engine promises. `libm` is pure Rust: the same
//! bits everywhere.
//!
//! The algorithms are `rand_distr` 0.6's, step for step and draw for draw (ZIGNOR for the
//! normal, Knuth's product of uniforms for the Poisson count), so wherever the platform's `exp`
//! and `ln` agree with `libm` (nearly every input) the numbers are the ones `rand_distr` gives:
//! results did not move when the engine switched. One difference by design: a Poisson mean of
//! 12 or more (the configuration allows up to 100 orders per step) is drawn as a sum of Knuth
//! draws with means under 12 (the same distribution: a sum of independent Poisson counts is
//! Poisson with the summed mean) instead of `rand_distr`'s rejection sampler, which needs the
//! log-gamma function.

use rand::distr::Open01;
use rand::{Rng, RngExt};

use super::ziggurat_tables::{ZIG_NORM_F, ZIG_NORM_R, ZIG_NORM_X};

/// One standard normal draw (mean 0, variance 1): the ZIGNOR ziggurat (Doornik, "An Improved
/// Ziggurat Method to Generate Normal Random Samples", 2005), as `rand_distr::StandardNormal`.
/// One `u64` of the stream per accepted box (~99 % of draws); more in the wedges and the tail.
pub(super) fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    loop {
        // The low 8 bits pick the layer, the high 52 the position in it: [2, 4) − 3 = [−1, 1).
        let bits = rng.next_u64();
        let i = (bits & 0xff) as usize;
        let u = f64::from_bits((bits >> 12) | (1024u64 << 52)) - 3.0;
        let x = u * ZIG_NORM_X[i];
        if x.abs() < ZIG_NORM_X[i + 1] {
            return x;
        }
        if i == 0 {
            return tail(rng, u);
        }
        let f = ZIG_NORM_F[i + 1] + (ZIG_NORM_F[i] - ZIG_NORM_F[i + 1]) * rng.random::<f64>();
        if f < libm::exp(-x * x / 2.0) {
            return x;
        }
    }
}

/// A draw beyond `±R` (Marsaglia's tail method), on the side of `u`'s sign.
fn tail<R: Rng + ?Sized>(rng: &mut R, u: f64) -> f64 {
    let (mut x, mut y) = (1.0f64, 0.0f64);
    while -2.0 * y < x * x {
        let a: f64 = rng.sample(Open01);
        let b: f64 = rng.sample(Open01);
        x = libm::log(a) / ZIG_NORM_R;
        y = libm::log(b);
    }
    if u < 0.0 { x - ZIG_NORM_R } else { ZIG_NORM_R - x }
}

/// The log-normal distribution `exp(μ + σ·Z)`, `Z` standard normal (`rand_distr::LogNormal`).
#[derive(Clone, Copy, Debug)]
pub(super) struct LogNormal {
    mu: f64,
    sigma: f64,
}

impl LogNormal {
    /// `None` unless `σ ≥ 0` and both are finite.
    pub(super) fn new(mu: f64, sigma: f64) -> Option<LogNormal> {
        (mu.is_finite() && sigma.is_finite() && sigma >= 0.0).then_some(LogNormal { mu, sigma })
    }

    /// One draw (> 0).
    pub(super) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        libm::exp(self.mu + self.sigma * standard_normal(rng))
    }
}

/// Poisson counts with mean `λ`: Knuth's method (count the uniforms whose running product
/// stays above `e^−λ`), as `rand_distr::Poisson` below a mean of 12; a larger mean is split
/// into equal parts under 12 whose counts are summed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Poisson {
    /// `e^−λ/parts`.
    threshold: f64,
    parts: u32,
}

/// The largest mean one Knuth draw takes (`rand_distr` switches method at 12).
const KNUTH_MAX: f64 = 12.0;

impl Poisson {
    /// `None` unless `0 < λ ≤ 10⁶` (finite).
    pub(super) fn new(lambda: f64) -> Option<Poisson> {
        if !(lambda > 0.0 && lambda <= 1e6) {
            return None;
        }
        let parts = if lambda < KNUTH_MAX { 1 } else { (lambda / KNUTH_MAX).floor() as u32 + 1 };
        Some(Poisson { threshold: libm::exp(-(lambda / f64::from(parts))), parts })
    }

    /// One count.
    pub(super) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        (0..self.parts).map(|_| self.knuth(rng)).sum()
    }

    fn knuth<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let mut count = 0;
        let mut p: f64 = rng.random();
        while p > self.threshold {
            p *= rng.random::<f64>();
            count += 1;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha12Rng;
    use rand_distr::Distribution;

    use super::*;

    /// Same stream, same algorithm: `rand_distr`'s draws to within the platform's last bits,
    /// and the stream left in the same place (so every later draw is the same too).
    #[test]
    fn the_normal_draws_rand_distrs_numbers_from_the_same_stream() {
        let (mut ours, mut theirs) = (ChaCha12Rng::seed_from_u64(7), ChaCha12Rng::seed_from_u64(7));
        let mut tails = 0;
        for _ in 0..300_000 {
            let a = standard_normal(&mut ours);
            let b: f64 = rand_distr::StandardNormal.sample(&mut theirs);
            assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0), "{a} against {b}");
            tails += usize::from(a.abs() > ZIG_NORM_R);
        }
        assert_eq!(ours.next_u64(), theirs.next_u64(), "the streams drifted apart");
        // P(|Z| > R) = 2.58e-4: ~77 of 300,000; the tail sampler ran.
        assert!((40..130).contains(&tails), "{tails} draws beyond R");
    }

    #[test]
    fn the_normal_has_mean_zero_and_variance_one() {
        let mut rng = ChaCha12Rng::seed_from_u64(11);
        let n = 400_000;
        let xs: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        // Standard errors: 1/√n = 0.0016 for the mean, √(2/n) = 0.0022 for the variance.
        assert!(mean.abs() < 0.008, "mean {mean}");
        assert!((var - 1.0).abs() < 0.011, "variance {var}");
    }

    #[test]
    fn the_log_normal_is_rand_distrs_from_the_same_stream() {
        let (mu, sigma) = (libm::log(20.0) - 0.72, 1.2);
        let ours = LogNormal::new(mu, sigma).unwrap();
        let theirs = rand_distr::LogNormal::new(mu, sigma).unwrap();
        let (mut a, mut b) = (ChaCha12Rng::seed_from_u64(3), ChaCha12Rng::seed_from_u64(3));
        for _ in 0..100_000 {
            let (x, y) = (ours.sample(&mut a), theirs.sample(&mut b));
            assert!((x - y).abs() <= 4.0 * f64::EPSILON * y, "{x} against {y}");
        }
        assert!(LogNormal::new(f64::NAN, 1.0).is_none() && LogNormal::new(0.0, -1.0).is_none());
    }

    #[test]
    fn poisson_counts_below_twelve_are_rand_distrs_draw_for_draw() {
        for lambda in [0.05, 0.4, 0.8, 1.2, 5.0, 11.9] {
            let ours = Poisson::new(lambda).unwrap();
            let theirs = rand_distr::Poisson::new(lambda).unwrap();
            let (mut a, mut b) = (ChaCha12Rng::seed_from_u64(5), ChaCha12Rng::seed_from_u64(5));
            for _ in 0..50_000 {
                assert_eq!(ours.sample(&mut a), theirs.sample(&mut b) as u64, "λ = {lambda}");
            }
        }
    }

    #[test]
    fn poisson_counts_of_a_large_mean_have_its_mean_and_variance() {
        for lambda in [12.0, 37.5, 100.0] {
            let p = Poisson::new(lambda).unwrap();
            let mut rng = ChaCha12Rng::seed_from_u64(9);
            let n = 100_000;
            let xs: Vec<f64> = (0..n).map(|_| p.sample(&mut rng) as f64).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
            // Standard errors √(λ/n) and ≈ λ·√(2/n): five of each allowed.
            assert!((mean - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(), "λ = {lambda}: mean {mean}");
            assert!((var - lambda).abs() < 5.0 * lambda * (2.0 / n as f64).sqrt(), "λ = {lambda}: variance {var}");
        }
        assert!(Poisson::new(0.0).is_none() && Poisson::new(f64::NAN).is_none() && Poisson::new(1e7).is_none());
    }
}
