//! 128-bit arithmetic WebAssembly lacks, on the 64-bit instructions it has.
//!
//! Why: WebAssembly has no 128-bit division and no conversion between 128-bit integers and
//! floats, so rustc turns every `u128`/`i128` `/` and `%` in a strategy into a call to
//! `__udivti3`, `__umodti3`, `__divti3` or `__modti3`, and every `u128 as f64` / `f64 as u128`
//! into `__floatuntidf` / `__fixunsdfti`. The versions Rust's `compiler_builtins` ships for
//! `wasm32` are written for a 32-bit machine: they divide by shifting, and every 128-bit shift
//! is itself a call (`__ashlti3`, `__lshrti3`). In the engine's profiles of fixed-point curves
//! (a quadratic invariant, a proactive market maker, u128 square roots and ratios) that
//! division was 14–30 % of the whole run, and the conversions up to 5 % (a blend of curves).
//! WebAssembly does have native 64-bit division, 64-bit conversions and, with the
//! wide-arithmetic instructions the engine enables, a native 64×64→128 multiply: long
//! division by 64-bit digits is a few dozen instructions, a conversion a handful.
//!
//! On `wasm32` the SDK defines those symbols (below; the `wide-builtins` feature, on by default),
//! so every strategy that links the SDK (every crate and single file amm-engine builds) uses
//! them; the linker takes them before `compiler_builtins`' weak ones. The results are the exact ones — quotients and remainders
//! as `/` and `%` give them, conversions rounded as `as` rounds — so results do not change,
//! only the fuel a quote costs. Natively nothing is defined (the hardware does it) and the
//! functions here are plain code the tests compare with the operators.

/// `⌊(hi·2⁶⁴ + lo) / d⌋` and the remainder, for `hi < d` (so the quotient fits u64): long
/// division of the normalised dividend by the divisor's two 32-bit digits, each quotient digit
/// estimated with one 64-bit division and corrected at most twice (Knuth's Algorithm D, in the
/// form of Warren, *Hacker's Delight*, 2nd ed., §9-4 `divlu`).
#[inline(always)]
pub(crate) const fn div_rem_128_by_64(hi: u64, lo: u64, d: u64) -> (u64, u64) {
    const B: u64 = 1 << 32;
    // Normalise: the divisor's top bit set (the dividend shifted alike; `hi < d` keeps it in
    // 128 bits).
    let s = d.leading_zeros();
    let v = d << s;
    let (vn1, vn0) = (v >> 32, v & (B - 1));
    let un32 = if s == 0 { hi } else { (hi << s) | (lo >> (64 - s)) };
    let un10 = lo << s;
    let (un1, un0) = (un10 >> 32, un10 & (B - 1));
    // The high quotient digit. (`q1 < B` is tested first, so `q1·vn0` cannot overflow;
    // `rhat < B` keeps `rhat·B + un1` within u64.)
    let mut q1 = un32 / vn1;
    let mut rhat = un32 - q1 * vn1;
    while q1 >= B || q1 * vn0 > (rhat << 32) + un1 {
        q1 -= 1;
        rhat += vn1;
        if rhat >= B {
            break;
        }
    }
    // The partial remainder (below v, so exact modulo 2⁶⁴), then the low digit.
    let un21 = (un32 << 32).wrapping_add(un1).wrapping_sub(q1.wrapping_mul(v));
    let mut q0 = un21 / vn1;
    rhat = un21 - q0 * vn1;
    while q0 >= B || q0 * vn0 > (rhat << 32) + un0 {
        q0 -= 1;
        rhat += vn1;
        if rhat >= B {
            break;
        }
    }
    // The remainder, normalised back (below v, so exact modulo 2⁶⁴).
    let r = (un21 << 32).wrapping_add(un0).wrapping_sub(q0.wrapping_mul(v)) >> s;
    ((q1 << 32) + q0, r)
}

/// `(n / d, n % d)` for `u128`, exactly what `/` and `%` give, built from 64-bit divisions and
/// 64×64→128 multiplies only (no 128-bit shift by a variable amount, no 128-bit division, so
/// it never calls itself through the intrinsics it implements). Panics (a trap, in wasm) when
/// `d` is 0, as `/` does.
///
/// A divisor below 2⁶⁴ takes one or two [`div_rem_128_by_64`]; a larger one gives a quotient
/// below 2⁶⁴, estimated from the divisor's top 64 bits and corrected once (Warren, *Hacker's
/// Delight*, 2nd ed., §9-5, `udivdi3` widened to 128 bits).
// (Natively only the tests call it: the hardware divides there; likewise below.)
#[cfg_attr(not(all(feature = "wide-builtins", target_arch = "wasm32")), allow(dead_code))]
#[inline(always)]
pub const fn u128_div_rem(n: u128, d: u128) -> (u128, u128) {
    let (n_hi, n_lo) = ((n >> 64) as u64, n as u64);
    let (d_hi, d_lo) = ((d >> 64) as u64, d as u64);
    if d_hi == 0 {
        assert!(d_lo != 0, "attempt to divide by zero");
        if n_hi == 0 {
            // Both below 2⁶⁴ (many a fixed-point curve's u128 holds a u64): one native division.
            return ((n_lo / d_lo) as u128, (n_lo % d_lo) as u128);
        }
        if n_hi < d_lo {
            let (q, r) = div_rem_128_by_64(n_hi, n_lo, d_lo);
            return (q as u128, r as u128);
        }
        let (q_hi, k) = (n_hi / d_lo, n_hi % d_lo);
        let (q_lo, r) = div_rem_128_by_64(k, n_lo, d_lo);
        return (((q_hi as u128) << 64) | q_lo as u128, r as u128);
    }
    if n < d {
        return (0, n);
    }
    // d ≥ 2⁶⁴: normalise its top 64 bits, divide n/2 by them (no overflow: n/2 < 2¹²⁷ ≤ d1·2⁶⁴),
    // undo the normalisation and the halving: the estimate is the quotient or one above it.
    let s = d_hi.leading_zeros();
    let d1 = if s == 0 { d_hi } else { (d_hi << s) | (d_lo >> (64 - s)) };
    let (q1, _) = div_rem_128_by_64(n_hi >> 1, (n_hi << 63) | (n_lo >> 1), d1);
    let mut q = (q1 >> (63 - s)).saturating_sub(1); // now the quotient or one below it
    // q·d ≤ n, so the product fits 128 bits: q·d_lo widened, q·d_hi in the high half.
    let product = (q as u128 * d_lo as u128).wrapping_add(((q.wrapping_mul(d_hi)) as u128) << 64);
    let mut r = n - product;
    if r >= d {
        q += 1;
        r -= d;
    }
    (q as u128, r)
}

/// `(a / b, a % b)` for `i128`, truncating toward zero as `/` and `%` do (the remainder takes
/// the dividend's sign); `i128::MIN / -1` wraps (Rust checks that case before dividing).
#[cfg_attr(not(all(feature = "wide-builtins", target_arch = "wasm32")), allow(dead_code))]
#[inline(always)]
pub const fn i128_div_rem(a: i128, b: i128) -> (i128, i128) {
    let (q, r) = u128_div_rem(a.unsigned_abs(), b.unsigned_abs());
    let q = if (a < 0) != (b < 0) { (q as i128).wrapping_neg() } else { q as i128 };
    let r = if a < 0 { (r as i128).wrapping_neg() } else { r as i128 };
    (q, r)
}

/// `x as f64`, rounded to nearest (ties to even) as `as` rounds: a value below 2⁶⁴ converts
/// natively; a larger one keeps its top 64 bits, with any lower bit set folded into the last
/// one (a sticky bit, below the rounding position, so the 64-bit conversion rounds as the
/// 128-bit value would), converts them and scales by the power of two shifted out, exactly.
#[cfg_attr(not(all(feature = "wide-builtins", target_arch = "wasm32")), allow(dead_code))]
#[inline]
pub fn u128_to_f64(x: u128) -> f64 {
    let (hi, lo) = ((x >> 64) as u64, x as u64);
    if hi == 0 {
        return lo as f64;
    }
    // Bits above the low 64: 1..=64. `x >> s` has its top bit at 63.
    let s = 64 - hi.leading_zeros();
    let (top, dropped) = if s == 64 { (hi, lo) } else { ((hi << (64 - s)) | (lo >> s), lo << (64 - s)) };
    let top = top | u64::from(dropped != 0);
    (top as f64) * f64::from_bits(u64::from(1023 + s) << 52)
}

/// `x as u128` for `x` in `[0, 2¹²⁸)`, truncated toward zero as `as` truncates (below 0 or NaN
/// give 0 and from 2¹²⁸ up `u128::MAX`, as `as` saturates): the 53-bit significand shifted by
/// its exponent, in two 64-bit halves.
#[cfg_attr(not(all(feature = "wide-builtins", target_arch = "wasm32")), allow(dead_code))]
#[inline]
pub fn f64_to_u128(x: f64) -> u128 {
    if x.is_nan() || x < 1.0 {
        return 0; // below 1 (truncates to 0), negative, or NaN
    }
    if x < 18_446_744_073_709_551_616.0 {
        return (x as u64) as u128; // below 2⁶⁴: native
    }
    if x >= 340_282_366_920_938_463_463_374_607_431_768_211_456.0 {
        return u128::MAX; // 2¹²⁸ and above (infinity too)
    }
    // 2⁶⁴ ≤ x < 2¹²⁸: x = m·2^(e − 52) with e in 64..=127, so the shift is 12..=75 and exact.
    let bits = x.to_bits();
    let m = (bits & ((1 << 52) - 1)) | (1 << 52);
    let shift = ((bits >> 52) & 0x7ff) as u32 - 1023 - 52;
    let (hi, lo) = if shift < 64 { (m >> (64 - shift), m << shift) } else { (m << (shift - 64), 0) };
    ((hi as u128) << 64) | lo as u128
}

/// The intrinsics rustc calls for 128-bit `/`, `%` and float conversions on wasm32 (see the
/// module docs), with the `wide-builtins` feature (on by default). rustc exports every
/// `#[no_mangle]` function of a `cdylib`, so a strategy module lists these six among its exports
/// (about 3 KB); the host calls nothing outside ABI v1.
#[cfg(all(feature = "wide-builtins", target_arch = "wasm32"))]
mod intrinsics {
    use super::{f64_to_u128, i128_div_rem, u128_div_rem, u128_to_f64};

    /// `n / d` for `u128`.
    #[unsafe(no_mangle)]
    pub extern "C" fn __udivti3(n: u128, d: u128) -> u128 {
        u128_div_rem(n, d).0
    }

    /// `n % d` for `u128`.
    #[unsafe(no_mangle)]
    pub extern "C" fn __umodti3(n: u128, d: u128) -> u128 {
        u128_div_rem(n, d).1
    }

    /// `a / b` for `i128`.
    #[unsafe(no_mangle)]
    pub extern "C" fn __divti3(a: i128, b: i128) -> i128 {
        i128_div_rem(a, b).0
    }

    /// `a % b` for `i128`.
    #[unsafe(no_mangle)]
    pub extern "C" fn __modti3(a: i128, b: i128) -> i128 {
        i128_div_rem(a, b).1
    }

    /// `x as f64` for `u128`.
    #[unsafe(no_mangle)]
    pub extern "C" fn __floatuntidf(x: u128) -> f64 {
        u128_to_f64(x)
    }

    /// `x as u128` for `f64` (Rust saturates out-of-range values before calling it).
    #[unsafe(no_mangle)]
    pub extern "C" fn __fixunsdfti(x: f64) -> u128 {
        f64_to_u128(x)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn next(z: &mut u64) -> u64 {
        *z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = *z;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    /// A u128 of random width (0 to 128 bits), with runs of ones and zeros now and then (the
    /// digit corrections' edge cases).
    fn wide(z: &mut u64) -> u128 {
        let x = ((next(z) as u128) << 64 | next(z) as u128) >> (next(z) % 129).min(127);
        match next(z) % 8 {
            0 => x | ((1u128 << (next(z) % 128)) - 1),
            1 => x & !((1u128 << (next(z) % 128)) - 1),
            _ => x,
        }
    }

    #[test]
    fn the_wasm_u128_division_is_the_u128_division() {
        // Edge values of both halves and of the normalisation, every pair, then random ones.
        let mut edges = std::vec::Vec::new();
        for hi in [0u128, 1, 2, (1 << 32) - 1, 1 << 32, (1 << 63) - 1, 1 << 63, u64::MAX as u128] {
            for lo in [0u128, 1, 3, (1 << 32) - 1, 1 << 32, (1 << 63) - 1, 1 << 63, u64::MAX as u128] {
                edges.push(hi << 64 | lo);
            }
        }
        let check = |n: u128, d: u128| {
            if d != 0 {
                assert_eq!(u128_div_rem(n, d), (n / d, n % d), "{n} / {d}");
            }
        };
        for &n in &edges {
            for &d in &edges {
                check(n, d);
                check(n, d.wrapping_add(1));
                check(n.wrapping_sub(1), d);
            }
        }
        let mut z = 0x5eed_u64;
        for _ in 0..1_000_000 {
            let (n, d) = (wide(&mut z), wide(&mut z));
            check(n, d);
            check(n, d >> 64); // divisors below 2⁶⁴ with quotients above it
            // A quotient that is exact, and one off either side of it.
            if d != 0 && d < u128::MAX / 3 {
                let q = wide(&mut z) % (u128::MAX / d.max(1));
                let m = q * d;
                check(m, d);
                check(m.wrapping_sub(1), d);
                check(m.saturating_add(1), d);
            }
        }
    }

    #[test]
    fn the_wasm_i128_division_truncates_toward_zero_like_the_i128_division() {
        let mut z = 0x1d_u64;
        let check = |a: i128, b: i128| {
            if b != 0 && !(a == i128::MIN && b == -1) {
                assert_eq!(i128_div_rem(a, b), (a / b, a % b), "{a} / {b}");
            }
        };
        for a in [i128::MIN, i128::MIN + 1, -7, -1, 0, 1, 7, i128::MAX] {
            for b in [i128::MIN, -3, -2, -1, 1, 2, 3, i128::MAX] {
                check(a, b);
            }
        }
        assert_eq!(i128_div_rem(i128::MIN, -1), (i128::MIN, 0), "wraps as wrapping_div does");
        for _ in 0..300_000 {
            let (a, b) = (wide(&mut z) as i128, wide(&mut z) as i128);
            check(a, b);
            check(a, b >> 70);
            check(a >> 3, -b);
        }
    }

    #[test]
    fn the_wasm_u128_to_f64_rounds_as_as_does() {
        let mut z = 0xf10a7_u64;
        let check = |x: u128| assert_eq!(u128_to_f64(x).to_bits(), (x as f64).to_bits(), "{x}");
        for k in 0..128 {
            let p = 1u128 << k;
            for x in [p, p - 1, p + 1, p | (p >> 53), p | (p >> 54), p | (p >> 53) | 1, p | (p >> 54) | 1] {
                check(x);
            }
        }
        check(u128::MAX);
        for _ in 0..1_000_000 {
            let x = wide(&mut z);
            check(x);
            // Halfway cases: 54 significant bits, the last one set, with and without a lower bit.
            let top = x | (1 << 127) >> (next(&mut z) % 64);
            let half = top & !((1u128 << (top.ilog2() - 53)) - 1) | (1u128 << (top.ilog2() - 53));
            check(half);
            check(half | 1);
            check(half - 1);
        }
    }

    #[test]
    fn the_wasm_f64_to_u128_truncates_and_saturates_as_as_does() {
        let mut z = 0xf10a_u64;
        let check = |x: f64| assert_eq!(f64_to_u128(x), x as u128, "{x:e}");
        for x in [0.0, -0.0, 0.5, 1.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, f64::MAX] {
            check(x);
        }
        for k in 0..=129 {
            let p = libm_free_pow2(k);
            for x in [p, p * (1.0 - f64::EPSILON / 2.0), p * (1.0 + f64::EPSILON), p + 0.5, -p] {
                check(x);
            }
        }
        for _ in 0..1_000_000 {
            let x = wide(&mut z) as f64 * (1.0 + (next(&mut z) >> 11) as f64 / (1u64 << 53) as f64);
            check(x);
            check(f64::from_bits(next(&mut z))); // any bit pattern: NaNs, subnormals, negatives
        }
    }

    /// 2^k as an f64 (k below 1024), without `powi` (not in `core`).
    fn libm_free_pow2(k: u32) -> f64 {
        f64::from_bits(u64::from(1023 + k) << 52)
    }

    #[test]
    #[should_panic(expected = "attempt to divide by zero")]
    fn dividing_by_zero_panics_as_the_division_does() {
        let _ = u128_div_rem(1, core::hint::black_box(0));
    }
}
