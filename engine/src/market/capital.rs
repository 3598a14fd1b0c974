//! Capital allocation between strategies at each epoch boundary.
//!
//! Each live strategy's epoch is scored with a downside penalty, `s = e − λ·max(0, −e)`, and
//! weights are a floored softmax: `w = w_min + (1 − n·w_min)·softmax(s/T)`. The weights sum to
//! one and none is below the floor, exactly. Pools are valued at the fair price (`y + x·P`),
//! and each gets its weight of the total by scaling both reserves, which keeps its price.

/// `e − λ·max(0, −e)`: a loss counts `1 + λ` times.
pub fn risk_adjusted(edge: f64, lambda: f64) -> f64 {
    edge - lambda * (-edge).max(0.0)
}

/// Floored softmax weights of `scores` at `temperature`, written into `weights`.
pub fn weights(scores: &[f64], temperature: f64, min_weight: f64, weights: &mut Vec<f64>) {
    weights.clear();
    let n = scores.len();
    if n == 0 {
        return;
    }
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    weights.extend(scores.iter().map(|s| libm::exp((s - top) / temperature)));
    let sum: f64 = weights.iter().sum();
    let free = 1.0 - n as f64 * min_weight;
    for w in weights.iter_mut() {
        *w = min_weight + free * (*w / sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_respect_the_floor() {
        let mut w = Vec::new();
        for scores in [vec![0.0, 0.0], vec![1e3, -1e3, 5.0], vec![-50.0; 7], vec![3.0, 2.0, 1.0, 0.5, -0.5]] {
            weights(&scores, 1.0, 0.02, &mut w);
            let sum: f64 = w.iter().sum();
            assert!((sum - 1.0).abs() < 1e-12, "{scores:?}: sum {sum}");
            assert!(w.iter().all(|&x| x >= 0.02), "{scores:?}: {w:?}");
        }
        weights(&[1e3, -1e3], 1.0, 0.02, &mut w);
        assert_eq!(w[1], 0.02, "a hopeless strategy keeps exactly the floor");
    }

    #[test]
    fn losses_are_penalised() {
        assert_eq!(risk_adjusted(10.0, 2.0), 10.0);
        assert_eq!(risk_adjusted(-10.0, 2.0), -30.0);
    }
}
