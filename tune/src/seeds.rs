//! Training seeds stratified on the market's volatility.
//!
//! A strategy's edge in a simulation depends first on the volatility the seed draws: over
//! the default market, the drawn market parameters explain R² ≈ 0.85 of a starter's per-seed
//! edge, and volatility alone most of the paired difference between a poor and a good
//! parameter point (R² ≈ 0.8: where the one loses to arbitrage the other earns fees). Pairing
//! cancels what two candidates share, not how differently they respond to volatility, so on
//! 32 consecutive seeds the mean paired difference of two distant points carries the luck of
//! how many calm and how many wild seeds they happened to hold — and a study searches the
//! mean over its training seeds (every generation races on the same ones), so that luck
//! would tilt the whole search toward calm-market or wild-market parameters.
//!
//! So the training seeds are *stratified*: the seeds are sorted into `2^k` buckets by the
//! uniform draw behind their volatility ([`MarketParams::volatility_quantile`]), and seed `i`
//! of a window comes from bucket `bitrev(i)`. Every prefix of `2^j` seeds of a window — the
//! racing rungs 4, 8, 16, 32 — then holds exactly one seed of each of `2^j` equally likely
//! volatility strata, so its mean is still an unbiased estimate of the population mean
//! (proportional stratified sampling, Cochran, *Sampling Techniques*, ch. 5) with the
//! between-strata variance removed. Measured on 1,000 held-out seeds of the default market
//! (pairs of the points studies passed through, regression on volatility as a stand-in for
//! the strata): the variance of a 16- or 32-seed mean paired difference falls to ≈ 0.4 for
//! distant points and stays ≈ 1.0 for close ones; stratifying cannot make it worse.
//!
//! Standard errors are still computed as for independent seeds, which overstates them under
//! stratification: racing stops a candidate no sooner than before. Validation and test keep
//! consecutive seeds (plain random samples), so the numbers a study reports for its winner
//! mean what they always meant.
//!
//! A study trains on window 0 ([`Windows::window`]). Each window takes the next unused seed
//! of each bucket, scanning the segment upwards from its first seed, so windows are disjoint
//! and a window is a function of the segment's first seed, its length and its index alone
//! (resumed and distributed studies see the same seeds).

use amm_engine::market::MarketParams;

/// Seeds of the training windows: window `w`, index `i` → seed.
#[derive(Clone, Debug)]
pub struct Windows {
    bits: u32,
    /// Seeds of each bucket, in increasing order, as far as scanned.
    buckets: Vec<Vec<u64>>,
    /// The next seed to scan.
    next: u64,
}

impl Windows {
    /// Windows of `len` seeds (buckets: `len` rounded up to a power of two) drawn from the
    /// seeds at and above `first`.
    pub fn new(first: u64, len: usize) -> Windows {
        let strata = len.max(1).next_power_of_two();
        Windows { bits: strata.trailing_zeros(), buckets: vec![Vec::new(); strata], next: first }
    }

    /// The bucket of seed index `i` of a window: `i`'s low `bits` bits reversed, so that every
    /// prefix of `2^j` indices visits `2^j` different strata of width `2^-j`.
    fn bucket(&self, i: usize) -> usize {
        let strata = self.buckets.len();
        let i = i % strata;
        if self.bits == 0 { 0 } else { i.reverse_bits() >> (usize::BITS - self.bits) }
    }

    /// Seed `i` of window `window` (`i` below the length given to [`Windows::new`]; past it,
    /// indices wrap around and repeat the window's seeds).
    pub fn seed(&mut self, window: u64, i: usize) -> u64 {
        let b = self.bucket(i);
        let rank = window as usize;
        while self.buckets[b].len() <= rank {
            let seed = self.next;
            self.next = self.next.wrapping_add(1); // (terminates even at the top of u64)
            let q = MarketParams::volatility_quantile(seed);
            let k = ((q * self.buckets.len() as f64) as usize).min(self.buckets.len() - 1);
            self.buckets[k].push(seed);
        }
        self.buckets[b][rank]
    }

    /// The seeds of window `window`, `len` of them.
    pub fn window(&mut self, window: u64, len: usize) -> Vec<u64> {
        (0..len).map(|i| self.seed(window, i)).collect()
    }

    /// The last seed the first `windows` windows of `len` seeds use (to check the segment
    /// against other seed ranges before a study starts).
    ///
    /// Past 2²² seeds the scan would take seconds: the bound is then twice the expected span
    /// (a bucket that far behind its share has probability far below 10⁻¹⁰⁰).
    pub fn span(first: u64, len: usize, windows: u64) -> u64 {
        let mut w = Windows::new(first, len);
        let expected = windows.saturating_mul(w.buckets.len() as u64);
        if expected > 1 << 22 {
            return first.saturating_add(expected.saturating_mul(2));
        }
        let mut last = first;
        if windows > 0 {
            for i in 0..len {
                last = last.max(w.seed(windows - 1, i));
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn stratum(seed: u64, strata: usize) -> usize {
        (MarketParams::volatility_quantile(seed) * strata as f64) as usize
    }

    #[test]
    fn every_power_of_two_prefix_holds_one_seed_per_stratum() {
        let mut w = Windows::new(1_000_000_000, 32);
        for window in [0, 1, 7, 40] {
            let seeds = w.window(window, 32);
            for j in 0..=5 {
                let n = 1usize << j;
                let strata: BTreeSet<usize> = seeds[..n].iter().map(|&s| stratum(s, n)).collect();
                assert_eq!(strata.len(), n, "window {window}, first {n} seeds: strata {strata:?}");
            }
        }
    }

    #[test]
    fn windows_are_disjoint_and_inside_the_segment() {
        let mut w = Windows::new(500, 32);
        let mut all = BTreeSet::new();
        for window in 0..50 {
            for s in w.window(window, 32) {
                assert!(s >= 500);
                assert!(all.insert(s), "seed {s} used twice");
            }
        }
        assert_eq!(Windows::span(500, 32, 50), *all.iter().next_back().unwrap_or(&0));
    }

    #[test]
    fn a_window_does_not_depend_on_what_was_asked_before() {
        let mut a = Windows::new(7, 32);
        let late = a.window(9, 32);
        let mut b = Windows::new(7, 32);
        for window in 0..9 {
            b.window(window, 32);
        }
        assert_eq!(b.window(9, 32), late);
        // Lengths that are not powers of two round up to one.
        let mut c = Windows::new(7, 20);
        assert_eq!(c.window(9, 20), late[..20].to_vec());
    }

    #[test]
    fn the_stratified_mean_of_the_quantile_is_near_a_half_in_every_window() {
        // A plain window of 32 uniform draws has a mean with sd ≈ 0.051; stratified, ≈ 0.005.
        let mut w = Windows::new(3_000, 32);
        for window in 0..20 {
            let seeds = w.window(window, 32);
            let m = seeds.iter().map(|&s| MarketParams::volatility_quantile(s)).sum::<f64>() / 32.0;
            assert!((m - 0.5).abs() < 0.02, "window {window}: mean quantile {m}");
        }
    }
}
