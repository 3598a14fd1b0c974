//! Fixed-point helpers: basis points, WAD (1e18) fractions, the constant-product quote, and
//! [`mul_div_floor`], the exact `a·b/d` that is fast in WebAssembly.
//!
//! Everything here is integer math with a documented rounding direction (always down, in the
//! pool's favour), so a strategy's quotes are identical in wasm and natively and a quote curve
//! is monotone by construction.

/// One whole in basis points.
pub const BPS: u64 = 10_000;

/// One whole in WAD fixed point.
pub const WAD: u128 = 1_000_000_000_000_000_000;

/// Basis points to a WAD fraction: `bps_to_wad(30)` is 0.003 · 1e18.
pub const fn bps_to_wad(bps: u64) -> u128 {
    bps as u128 * (WAD / BPS as u128)
}

/// A float fraction (0.003 = 30 bps) to WAD, clamped to `[0, 1]`; NaN gives 0.
pub fn fraction_to_wad(fraction: f64) -> u128 {
    if fraction.is_nan() || fraction <= 0.0 {
        0
    } else if fraction >= 1.0 {
        WAD
    } else {
        (fraction * WAD as f64) as u128
    }
}

/// `amount · (1 − fee_bps/10⁴)`, rounded down. A fee above 100 % is treated as 100 %.
pub const fn after_fee_bps(amount: u64, fee_bps: u64) -> u64 {
    let keep = BPS.saturating_sub(fee_bps);
    // With amount = q·10⁴ + r: amount·keep/10⁴ = q·keep + r·keep/10⁴, and the first term is
    // whole, so the floor is q·keep + ⌊r·keep/10⁴⌋ — all in u64 (q·keep ≤ amount, r·keep < 10⁸),
    // where the u128 product and division would cost wasm a software division.
    let (q, r) = (amount / BPS, amount % BPS);
    q * keep + r * keep / BPS
}

/// `amount · (1 − fee_wad/10¹⁸)`, rounded down. A fee above 100 % is treated as 100 %.
pub const fn after_fee_wad(amount: u64, fee_wad: u128) -> u64 {
    let keep = WAD.saturating_sub(fee_wad);
    // keep ≤ 10¹⁸ < 2^64 and the quotient ≤ amount < 2^64.
    mul_div_floor(amount, keep as u64, WAD)
}

/// Constant-product output for an input already net of fees:
/// `⌊reserve_out · input / (reserve_in + input)⌋`. Exact for every u64 argument (the product
/// of two u64 fits u128); 0 when both the input and `reserve_in` are 0.
pub const fn cp_output(input: u64, reserve_in: u64, reserve_out: u64) -> u64 {
    let denominator = reserve_in as u128 + input as u128;
    if denominator == 0 {
        return 0;
    }
    // The quotient is at most reserve_out: it fits u64.
    mul_div_floor(reserve_out, input, denominator)
}

/// `⌊a·b / d⌋`, exact, for a quotient below 2⁶⁴ (else the low 64 bits of the quotient).
/// Panics (a trap, in wasm) when `d` is 0.
///
/// The fixed-point staple — `amount · numerator / denominator` with a u128 product — written so
/// that it is fast in the sandbox: natively this is the u128 division (one hardware 128/64
/// division on x86-64), but WebAssembly has no 128-bit division, and there a plain u128 `/` is a
/// call into a general routine (the SDK's own on wasm32, see the crate docs); a divisor below
/// 2⁶⁴ is divided here, without the call, by two native 64-bit divisions (Knuth's algorithm
/// D). The same result on every target (a test checks the two against each other).
/// [`cp_output`] and [`after_fee_wad`] are built on it.
///
/// ```
/// use amm_strategy_sdk::math::mul_div_floor;
/// // 100 X sold into a pool of 100 X and 10,000 Y, no fee: ⌊10,000·100 / (100 + 100)⌋ Y.
/// assert_eq!(mul_div_floor(10_000, 100, 200), 5_000);
/// assert_eq!(mul_div_floor(u64::MAX, u64::MAX, u64::MAX as u128), u64::MAX);
/// ```
#[inline]
pub const fn mul_div_floor(a: u64, b: u64, d: u128) -> u64 {
    let product = a as u128 * b as u128;
    if cfg!(target_arch = "wasm32") && d <= u64::MAX as u128 && ((product >> 64) as u64) < d as u64 {
        return crate::wide::div_rem_128_by_64((product >> 64) as u64, product as u64, d as u64).0;
    }
    (product / d) as u64
}

/// Constant-product output with a fee taken from the input: `cp_output(after_fee_bps(input))`.
pub const fn cp_output_fee_bps(input: u64, reserve_in: u64, reserve_out: u64, fee_bps: u64) -> u64 {
    cp_output(after_fee_bps(input, fee_bps), reserve_in, reserve_out)
}

/// Constant-product output with a WAD fee taken from the input.
pub const fn cp_output_fee_wad(input: u64, reserve_in: u64, reserve_out: u64, fee_wad: u128) -> u64 {
    cp_output(after_fee_wad(input, fee_wad), reserve_in, reserve_out)
}

/// Natural logarithm without `std` (which `no_std` wasm strategies lack), accurate to ~1e-12
/// relative for positive normal `x`; NaN for `x ≤ 0` or NaN, and for subnormals.
///
/// Splits `x = m·2^e` with `m` in [√½, √2) and sums the series of `ln m = 2·atanh((m−1)/(m+1))`,
/// which converges fast there (|z| < 0.172).
pub fn ln(x: f64) -> f64 {
    if !(x > 0.0 && x.is_normal()) {
        return if x == f64::INFINITY { x } else { f64::NAN };
    }
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let series = z
        * (1.0
            + z2 * (1.0 / 3.0
                + z2 * (1.0 / 5.0 + z2 * (1.0 / 7.0 + z2 * (1.0 / 9.0 + z2 * (1.0 / 11.0 + z2 / 13.0))))));
    exponent as f64 * core::f64::consts::LN_2 + 2.0 * series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_matches_std() {
        extern crate std;
        for &x in &[1e-300, 1e-9, 0.37, 0.999_999, 1.0, 1.000_001, 2.0, 100.0, 1e18, 1.7e308] {
            let (ours, exact) = (ln(x), std::primitive::f64::ln(x));
            assert!((ours - exact).abs() <= 1e-12 * exact.abs().max(1.0), "ln({x}) = {ours}, std says {exact}");
        }
        assert!(ln(0.0).is_nan() && ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn fee_conversions() {
        assert_eq!(bps_to_wad(30), 3_000_000_000_000_000);
        assert_eq!(bps_to_wad(10_000), WAD);
        assert_eq!(after_fee_bps(1_000_000, 30), 997_000);
        assert_eq!(after_fee_bps(999, 30), 996); // 996.003 rounds down
        assert_eq!(after_fee_bps(5, 20_000), 0);
        assert_eq!(after_fee_wad(1_000_000, bps_to_wad(30)), 997_000);
        assert_eq!(fraction_to_wad(f64::NAN), 0);
        assert_eq!(fraction_to_wad(2.0), WAD);
    }

    #[test]
    fn constant_product_output_is_exact_and_never_overflows() {
        // 100 X / 10_000 Y pool, buy X with 100 Y at no fee: 100·100/(10_000+100) = 0.990099 X.
        let nano = 1_000_000_000u64;
        assert_eq!(cp_output(100 * nano, 10_000 * nano, 100 * nano), 990_099_009);
        assert_eq!(cp_output(u64::MAX, u64::MAX, u64::MAX), u64::MAX / 2);
        assert_eq!(cp_output(0, 0, 5), 0);
        assert_eq!(cp_output_fee_bps(100 * nano, 10_000 * nano, 100 * nano, 0), 990_099_009);
        assert!(cp_output_fee_bps(100 * nano, 10_000 * nano, 100 * nano, 30) < 990_099_009);
    }

    #[test]
    fn the_wasm_division_is_the_u128_division() {
        extern crate std;
        // `div_rem_128_by_64` (wasm's path) against u128 division: edge cases of the normalisation
        // and the digit corrections, then random dividends and divisors of every size.
        let exact = |hi: u64, lo: u64, d: u64| ((((hi as u128) << 64) | lo as u128) / d as u128) as u64;
        let mut cases = std::vec::Vec::new();
        for d in [1u64, 2, 3, 10_000, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, (1 << 63) - 1, 1 << 63, u64::MAX] {
            for hi in [0, 1, d / 2, d.saturating_sub(1)] {
                for lo in [0, 1, (1 << 32) - 1, 1 << 63, u64::MAX] {
                    if hi < d {
                        cases.push((hi, lo, d));
                    }
                }
            }
        }
        let mut z = 0x5eed_u64;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        for _ in 0..2_000_000 {
            // A divisor of random width (1 to 64 bits), a dividend below d·2⁶⁴.
            let d = (next() >> (next() % 64)).max(1);
            let (hi, lo) = (next() % d, next() >> (next() % 64));
            cases.push((hi, lo, d));
        }
        for (hi, lo, d) in cases {
            assert_eq!(crate::wide::div_rem_128_by_64(hi, lo, d).0, exact(hi, lo, d), "({hi}·2^64 + {lo}) / {d}");
        }
        // The fee and constant-product helpers against their u128 definitions.
        for _ in 0..200_000 {
            let (x, rin, rout) = (next() >> (next() % 64), next() >> (next() % 64), next() >> (next() % 64));
            let fee = next() % 10_500;
            let wad = (next() as u128) % (WAD + 10);
            let keep_bps = BPS.saturating_sub(fee) as u128;
            assert_eq!(after_fee_bps(x, fee) as u128, x as u128 * keep_bps / BPS as u128, "{x} at {fee} bps");
            assert_eq!(after_fee_wad(x, wad) as u128, x as u128 * WAD.saturating_sub(wad) / WAD, "{x} at {wad}");
            let den = rin as u128 + x as u128;
            let expected = (rout as u128 * x as u128).checked_div(den).unwrap_or(0);
            assert_eq!(cp_output(x, rin, rout) as u128, expected, "{x} {rin} {rout}");
        }
    }

    #[test]
    fn constant_product_is_monotone_in_input() {
        let (rin, rout) = (10_000_000_000_000u64, 100_000_000_000u64);
        let mut last = 0;
        for i in 0..2_000u64 {
            let out = cp_output_fee_bps(i * i * 1_000_003, rin, rout, 30);
            assert!(out >= last, "output fell at step {i}");
            last = out;
        }
    }
}
