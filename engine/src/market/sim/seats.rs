//! Seat and draw derivation: every hash that turns a simulation's seed, the run's salt and an
//! entrant's name into its seat, its WASI seed, its audit sample and its private draws.
//!
//! Why together and apart from the loop: these are the fairness rules of the simulation in
//! code. Each is a function of the seed and the entrant's *name*, never of its place in the
//! config, so permuting the `[[strategy]]` entries changes nobody's results; everything a
//! strategy must not predict (probe sizes, cross-checks, audits, its WASI randomness) mixes in
//! the run's salt, and nothing from the market's own streams does. Changing any constant here
//! changes every result: they are part of what a seed means.

/// 64-bit mixing (splitmix64's finaliser).
#[inline]
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a name (FNV-1a, then mixed): the same on every machine.
pub(super) fn name_key(name: &str) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    mix(h)
}

/// The seating of simulation `seed`: `seats[k]` is the config index of the entrant in seat `k`.
///
/// Seats are ordered by a hash of the seed and the entrant's name, so they are a fresh draw in
/// every simulation and move with the entrant, not with its place in the config: permuting the
/// config's entries seats everyone the same. Entrants with the same name are ordered by a hash
/// of the seed and their config index (they are the same strategy, so which of them sits first
/// is a coin toss per seed, never always the first listed).
pub fn seating(names: &[&str], seed: u64) -> Vec<usize> {
    let mut seats: Vec<usize> = (0..names.len()).collect();
    let key = |i: usize| {
        let primary = mix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ name_key(names[i]));
        let secondary = mix(primary ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        (primary, secondary)
    };
    seats.sort_by_key(|&i| key(i));
    seats
}

/// Whether quote number `n` of the seat keyed `key` is audited: a fixed hash, so the sample is
/// deterministic and independent of threads, yet not predictable by the strategy.
#[inline]
pub(super) fn audit_due(key: u64, n: u64, threshold: u64) -> bool {
    threshold == u64::MAX || mix(key ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) < threshold
}

/// The hash threshold below which a call is audited at `rate` (0 = none, 1 = all).
pub(super) fn audit_threshold(rate: f64) -> u64 {
    if rate >= 1.0 {
        u64::MAX
    } else if rate <= 0.0 {
        0
    } else {
        (rate * u64::MAX as f64) as u64
    }
}

/// A counter-based stream of uniform draws: `mix(key + n·φ)` for n = 1, 2, … — as good as the
/// 64-bit mixer for sampling, deterministic everywhere, and a few nanoseconds a draw (a ChaCha
/// stream per pool cost more than the draws were worth).
#[derive(Clone, Copy, Debug)]
pub(super) struct Draws {
    key: u64,
    n: u64,
}

impl Draws {
    /// The stream of `name` (a pool's, or the router's) in simulation `seed` (salted).
    pub(super) fn new(seed: u64, name: &str) -> Self {
        Self { key: mix(seed ^ name_key(name).rotate_left(29) ^ 0xA4B1_7A6E_0000_0003), n: 0 }
    }

    /// Uniform in [0, 1).
    #[inline]
    pub(super) fn uniform(&mut self) -> f64 {
        self.n += 1;
        let z = mix(self.key.wrapping_add(self.n.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n`.
    #[inline]
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((self.uniform() * n as f64) as u64).min(n.saturating_sub(1))
    }
}

/// Salt separating the hook audit sample from the quote audit sample.
pub(super) const HOOK_AUDIT_SALT: u64 = 0x400C_A0D1_7000_0001;

/// The run's secret as a key: mixed into every draw a strategy must not predict (probe sizes,
/// cross-checks, audits, its WASI randomness), never into the market's own streams.
pub(super) fn salt_key(salt: &str) -> u64 {
    name_key(salt).rotate_left(13)
}

/// The WASI seed of entrant `name` in simulation `seed`: seeded by the simulation and the
/// strategy's name, never by its place.
pub(super) fn wasi_seed(seed: u64, name: &str, salt_key: u64) -> u64 {
    mix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ name_key(name) ^ salt_key)
}

/// The key of a seat's audit sample ([`audit_due`]), from its WASI seed.
pub(super) fn audit_key(wasi_seed: u64) -> u64 {
    wasi_seed.rotate_left(17) ^ 0xA0D1_7A0D_17A0_D17A
}
