//! CMA-ES with box bounds, in ask/tell form.
//!
//! Why our own and not the `cmaes` crate: racing ranks a whole generation jointly (candidates
//! stop at different seed counts), so the optimiser must hand out a population and take back a
//! ranking, and a study must replay it deterministically on any machine; the crate evaluates
//! one point at a time through a closure. This is the (μ/μ_w, λ)-CMA-ES of Hansen, "The CMA
//! Evolution Strategy: A Tutorial" (arXiv:1604.00772, 2016), with the default strategy
//! parameters of its Table 1, on the unit cube `[0, 1]^n`: a sample outside is mirrored back
//! in (boundary handling by reflection), and the mirrored point is what is evaluated and what
//! the update sees. The symmetric eigendecomposition is cyclic Jacobi and the normal samples
//! Box–Muller over `libm`, so a seed gives the same points on every platform.
//!
//! Restarts are IPOP (Auger & Hansen, CEC 2005): when the step size collapses or the best
//! ranked value stops changing, start again from the best point seen with a doubled population.

// Matrix updates read as the tutorial's formulas, index by index.
#![allow(clippy::needless_range_loop)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// Settings of one optimiser.
#[derive(Clone, Debug)]
pub struct CmaSettings {
    /// Initial step size in unit-cube coordinates. Default 0.25 (a quarter of every range).
    pub sigma0: f64,
    /// Population size of the first run; 0 = the default `4 + ⌊3 ln n⌋`.
    pub lambda: usize,
    /// Restart when `σ · max(√eig C)` falls below this. Default 1e-3 (a thousandth of a range).
    pub tol_x: f64,
    /// Restart after this many generations without a better best. Default `10 + ⌈30 n / λ⌉`.
    pub stall_generations: usize,
}

impl CmaSettings {
    /// The defaults for `n` dimensions.
    pub fn for_dims(n: usize) -> CmaSettings {
        let lambda = default_lambda(n);
        CmaSettings { sigma0: 0.25, lambda: 0, tol_x: 1e-3, stall_generations: 10 + (30 * n).div_ceil(lambda) }
    }
}

/// `4 + ⌊3 ln n⌋`.
pub fn default_lambda(n: usize) -> usize {
    4 + (3.0 * libm::log(n.max(1) as f64)).floor() as usize
}

/// A CMA-ES minimiser on `[0, 1]^n`.
#[derive(Clone, Debug)]
pub struct Cma {
    n: usize,
    settings: CmaSettings,
    rng: ChaCha12Rng,
    lambda: usize,
    weights: Vec<f64>,
    mu_eff: f64,
    cc: f64,
    cs: f64,
    c1: f64,
    cmu: f64,
    damps: f64,
    chi_n: f64,
    mean: Vec<f64>,
    sigma: f64,
    c: Vec<Vec<f64>>,
    b: Vec<Vec<f64>>,
    d: Vec<f64>,
    pc: Vec<f64>,
    ps: Vec<f64>,
    generation: usize,
    run_generation: usize,
    restarts: usize,
    best: Option<(f64, Vec<f64>)>,
    last_improved: usize,
    asked: Vec<Vec<f64>>,
}

impl Cma {
    /// An optimiser starting at `start` (clamped into the cube), seeded by `seed`.
    pub fn new(start: &[f64], settings: CmaSettings, seed: u64) -> Cma {
        let n = start.len();
        let lambda = if settings.lambda == 0 { default_lambda(n) } else { settings.lambda };
        let mut cma = Cma {
            n,
            rng: ChaCha12Rng::seed_from_u64(seed),
            lambda,
            weights: Vec::new(),
            mu_eff: 0.0,
            cc: 0.0,
            cs: 0.0,
            c1: 0.0,
            cmu: 0.0,
            damps: 0.0,
            chi_n: 0.0,
            mean: start.iter().map(|v| v.clamp(0.0, 1.0)).collect(),
            sigma: settings.sigma0,
            c: identity(n),
            b: identity(n),
            d: vec![1.0; n],
            pc: vec![0.0; n],
            ps: vec![0.0; n],
            generation: 0,
            run_generation: 0,
            restarts: 0,
            best: None,
            last_improved: 0,
            asked: Vec::new(),
            settings,
        };
        cma.set_population(lambda);
        cma
    }

    fn set_population(&mut self, lambda: usize) {
        let n = self.n as f64;
        self.lambda = lambda.max(2);
        let mu = self.lambda / 2;
        let raw: Vec<f64> = (1..=mu).map(|i| libm::log(mu as f64 + 0.5) - libm::log(i as f64)).collect();
        let sum: f64 = raw.iter().sum();
        self.weights = raw.iter().map(|w| w / sum).collect();
        self.mu_eff = 1.0 / self.weights.iter().map(|w| w * w).sum::<f64>();
        let me = self.mu_eff;
        self.cc = (4.0 + me / n) / (n + 4.0 + 2.0 * me / n);
        self.cs = (me + 2.0) / (n + me + 5.0);
        self.c1 = 2.0 / ((n + 1.3) * (n + 1.3) + me);
        self.cmu = (1.0 - self.c1).min(2.0 * (me - 2.0 + 1.0 / me) / ((n + 2.0) * (n + 2.0) + me));
        self.damps = 1.0 + 2.0 * (((me - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + self.cs;
        self.chi_n = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
    }

    /// Population size of the current run.
    pub fn lambda(&self) -> usize {
        self.lambda
    }

    /// Generations told so far (over all restarts).
    pub fn generation(&self) -> usize {
        self.generation
    }

    /// Restarts so far.
    pub fn restarts(&self) -> usize {
        self.restarts
    }

    /// The current mean and step size.
    pub fn state(&self) -> (&[f64], f64) {
        (&self.mean, self.sigma)
    }

    /// The best point told so far and its value.
    pub fn best(&self) -> Option<&(f64, Vec<f64>)> {
        self.best.as_ref()
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller; u1 in (0, 1] so the log is finite.
        let u1 = ((self.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    /// The next generation's points, each inside `[0, 1]^n`.
    pub fn ask(&mut self) -> Vec<Vec<f64>> {
        let mut points = Vec::with_capacity(self.lambda);
        for _ in 0..self.lambda {
            let z: Vec<f64> = (0..self.n).map(|_| self.normal()).collect();
            let x: Vec<f64> = (0..self.n)
                .map(|i| {
                    let y: f64 = (0..self.n).map(|j| self.b[i][j] * self.d[j] * z[j]).sum();
                    reflect(self.mean[i] + self.sigma * y)
                })
                .collect();
            points.push(x);
        }
        self.asked = points.clone();
        points
    }

    /// Takes back the values of the points of the last [`Cma::ask`] (same order; lower is
    /// better) and updates the distribution. Returns whether a restart happened.
    pub fn tell(&mut self, values: &[f64]) -> bool {
        let n = self.n;
        let asked = std::mem::take(&mut self.asked);
        assert_eq!(values.len(), asked.len(), "tell needs one value per asked point");
        let mut order: Vec<usize> = (0..asked.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
        let top = values[order[0]];
        if self.best.as_ref().is_none_or(|(v, _)| top < *v) {
            self.best = Some((top, asked[order[0]].clone()));
            self.last_improved = self.generation;
        }
        let old = self.mean.clone();
        let ys: Vec<Vec<f64>> = order
            .iter()
            .take(self.weights.len())
            .map(|&k| (0..n).map(|i| (asked[k][i] - old[i]) / self.sigma).collect())
            .collect();
        let yw: Vec<f64> = (0..n).map(|i| self.weights.iter().zip(&ys).map(|(w, y)| w * y[i]).sum()).collect();
        for i in 0..n {
            self.mean[i] = old[i] + self.sigma * yw[i];
        }
        // C^{-1/2} yw = B D^{-1} Bᵀ yw.
        let bt_yw: Vec<f64> = (0..n).map(|j| (0..n).map(|i| self.b[i][j] * yw[i]).sum::<f64>() / self.d[j]).collect();
        let inv_sqrt: Vec<f64> = (0..n).map(|i| (0..n).map(|j| self.b[i][j] * bt_yw[j]).sum()).collect();
        let ks = (self.cs * (2.0 - self.cs) * self.mu_eff).sqrt();
        for i in 0..n {
            self.ps[i] = (1.0 - self.cs) * self.ps[i] + ks * inv_sqrt[i];
        }
        let ps_norm = self.ps.iter().map(|v| v * v).sum::<f64>().sqrt();
        let g = (self.run_generation + 1) as f64;
        let hsig =
            ps_norm / (1.0 - libm::pow(1.0 - self.cs, 2.0 * g)).sqrt() / self.chi_n < 1.4 + 2.0 / (n as f64 + 1.0);
        let kc = (self.cc * (2.0 - self.cc) * self.mu_eff).sqrt();
        for i in 0..n {
            self.pc[i] = (1.0 - self.cc) * self.pc[i] + if hsig { kc * yw[i] } else { 0.0 };
        }
        let delta = if hsig { 0.0 } else { self.cc * (2.0 - self.cc) };
        for i in 0..n {
            for j in 0..n {
                let rank_mu: f64 = self.weights.iter().zip(&ys).map(|(w, y)| w * y[i] * y[j]).sum();
                self.c[i][j] = (1.0 - self.c1 - self.cmu) * self.c[i][j]
                    + self.c1 * (self.pc[i] * self.pc[j] + delta * self.c[i][j])
                    + self.cmu * rank_mu;
            }
        }
        self.sigma *= libm::exp((self.cs / self.damps) * (ps_norm / self.chi_n - 1.0));
        self.sigma = self.sigma.min(1.0);
        let (vals, vecs) = jacobi_eigen(&self.c);
        self.d = vals.iter().map(|v| v.max(1e-20).sqrt()).collect();
        self.b = vecs;
        self.generation += 1;
        self.run_generation += 1;

        let spread = self.sigma * self.d.iter().cloned().fold(0.0, f64::max);
        let stalled = self.generation - self.last_improved > self.settings.stall_generations;
        if spread < self.settings.tol_x || stalled || !spread.is_finite() {
            self.restart();
            return true;
        }
        false
    }

    fn restart(&mut self) {
        self.restarts += 1;
        self.mean = match &self.best {
            Some((_, x)) => x.clone(),
            None => self.mean.clone(),
        };
        self.sigma = self.settings.sigma0;
        self.c = identity(self.n);
        self.b = identity(self.n);
        self.d = vec![1.0; self.n];
        self.pc = vec![0.0; self.n];
        self.ps = vec![0.0; self.n];
        self.run_generation = 0;
        self.last_improved = self.generation;
        self.set_population(self.lambda * 2);
    }
}

/// Mirrors `v` into `[0, 1]`.
fn reflect(v: f64) -> f64 {
    if !v.is_finite() {
        return 0.5;
    }
    let m = v.rem_euclid(2.0);
    if m > 1.0 { 2.0 - m } else { m }
}

fn identity(n: usize) -> Vec<Vec<f64>> {
    (0..n).map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect()).collect()
}

/// Eigenvalues and eigenvectors (columns) of the symmetric matrix `a`, by cyclic Jacobi
/// rotations (Golub & Van Loan, "Matrix Computations", §8.5).
pub fn jacobi_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut a: Vec<Vec<f64>> = a.to_vec();
    let mut v = identity(n);
    for _sweep in 0..64 {
        let off: f64 = (0..n).flat_map(|p| ((p + 1)..n).map(move |q| (p, q))).map(|(p, q)| a[p][q] * a[p][q]).sum();
        let scale: f64 = (0..n).map(|i| a[i][i] * a[i][i]).sum::<f64>().max(f64::MIN_POSITIVE);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i][i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimises `f` on the cube for `generations`, returning the best value.
    fn minimise(f: impl Fn(&[f64]) -> f64, start: &[f64], generations: usize, seed: u64) -> f64 {
        let mut cma = Cma::new(start, CmaSettings::for_dims(start.len()), seed);
        for _ in 0..generations {
            let xs = cma.ask();
            let values: Vec<f64> = xs.iter().map(|x| f(x)).collect();
            cma.tell(&values);
        }
        cma.best().map_or(f64::INFINITY, |(v, _)| *v)
    }

    #[test]
    fn the_sphere_is_solved_from_a_corner() {
        let sphere = |x: &[f64]| x.iter().map(|v| (v - 0.3) * (v - 0.3)).sum::<f64>();
        let best = minimise(sphere, &[0.9; 6], 150, 1);
        assert!(best < 1e-6, "sphere best {best}");
    }

    #[test]
    fn rosenbrock_reaches_its_valley_floor() {
        // Rosenbrock on x = 4y − 2 ∈ [−2, 2]^4; minimum 0 at x = 1 (y = 0.75).
        let rosen = |y: &[f64]| {
            let x: Vec<f64> = y.iter().map(|v| 4.0 * v - 2.0).collect();
            x.windows(2).map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2)).sum::<f64>()
        };
        let best = minimise(rosen, &[0.5; 4], 600, 2);
        assert!(best < 1e-3, "rosenbrock best {best}");
    }

    #[test]
    fn a_noisy_sphere_still_moves_the_mean_to_the_optimum() {
        // Noise of σ = 0.01 on a sphere whose values near the optimum are far smaller.
        let mut noise = ChaCha12Rng::seed_from_u64(9);
        let mut cma = Cma::new(&[0.9; 3], CmaSettings::for_dims(3), 3);
        for _ in 0..120 {
            let xs = cma.ask();
            let values: Vec<f64> = xs
                .iter()
                .map(|x| {
                    let u = (noise.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    x.iter().map(|v| (v - 0.2) * (v - 0.2)).sum::<f64>() + 0.02 * u
                })
                .collect();
            cma.tell(&values);
        }
        let (mean, _) = cma.state();
        let dist = mean.iter().map(|v| (v - 0.2) * (v - 0.2)).sum::<f64>().sqrt();
        assert!(dist < 0.1, "mean {mean:?} is {dist} from the optimum");
    }

    #[test]
    fn the_same_seed_asks_the_same_points() {
        let run = |seed| {
            let mut cma = Cma::new(&[0.5; 5], CmaSettings::for_dims(5), seed);
            let mut all = Vec::new();
            for g in 0..5 {
                let xs = cma.ask();
                let values: Vec<f64> = xs.iter().map(|x| x.iter().sum::<f64>() + g as f64).collect();
                cma.tell(&values);
                all.extend(xs);
            }
            all
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn every_asked_point_is_inside_the_cube() {
        let mut cma = Cma::new(&[0.99; 4], CmaSettings { sigma0: 1.0, ..CmaSettings::for_dims(4) }, 4);
        for _ in 0..20 {
            let xs = cma.ask();
            assert!(xs.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
            let values: Vec<f64> = xs.iter().map(|x| -x[0]).collect();
            cma.tell(&values);
        }
    }

    #[test]
    fn jacobi_diagonalises_a_symmetric_matrix() {
        let a = vec![vec![4.0, 1.0, 0.5], vec![1.0, 3.0, 0.2], vec![0.5, 0.2, 1.0]];
        let (vals, vecs) = jacobi_eigen(&a);
        for k in 0..3 {
            for i in 0..3 {
                let av: f64 = (0..3).map(|j| a[i][j] * vecs[j][k]).sum();
                assert!((av - vals[k] * vecs[i][k]).abs() < 1e-12);
            }
        }
        let trace: f64 = vals.iter().sum();
        assert!((trace - 8.0).abs() < 1e-12);
    }
}
