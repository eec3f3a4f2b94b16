//! The arithmetic of the language (the operators and functions of the crate docs), shared by constant folding and the machine so
//! that a folded constant has exactly the bits the machine would have computed.

use std::hint::black_box;

/// A binary operator or two-argument function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Min,
    Max,
}

impl Bin {
    /// Whether `a op b` and `b op a` are the same value for every `a` and `b` (NaN payloads
    /// aside), so that the compiler may swap the operands.
    pub(crate) fn commutes(self) -> bool {
        matches!(self, Bin::Add | Bin::Mul | Bin::Min | Bin::Max)
    }

    /// `a op b`.
    #[inline]
    pub(crate) fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Rem => a % b,
            Bin::Pow => pow(a, b),
            Bin::Min => min(a, b),
            Bin::Max => max(a, b),
        }
    }
}

/// A one-argument function (or negation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Un {
    Neg,
    Exp,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Round,
}

impl Un {
    /// `f(a)`.
    #[inline]
    pub(crate) fn apply(self, a: f64) -> f64 {
        match self {
            Un::Neg => -a,
            Un::Exp => a.exp(),
            Un::Sqrt => a.sqrt(),
            Un::Abs => a.abs(),
            Un::Floor => a.floor(),
            Un::Ceil => a.ceil(),
            Un::Round => a.round(),
        }
    }
}

/// `pow(a, b)`: the C library's `pow`.
///
/// The base goes through [`black_box`] so that the optimizer never rewrites a call with a
/// constant base into another function (`pow(2, x)` into `exp2(x)`), whose results may differ.
#[inline]
pub(crate) fn pow(a: f64, b: f64) -> f64 {
    black_box(a).powf(b)
}

/// `pow(2, y)`, exactly as [`pow`] computes it, but without a library call when `y` is an
/// integer whose power of two is a normal number: `2^y` is then exactly representable, so a
/// correct `pow` returns exactly it, and it can be built from its exponent bits.
#[inline]
pub(crate) fn pow2(y: f64) -> f64 {
    // Saturating and NaN-to-zero; the comparison below rejects every inexact case.
    let n = y as i32;
    if f64::from(n) == y && (-1022..=1023).contains(&n) {
        pow2_int(n.unsigned_abs(), n < 0)
    } else {
        pow(2.0, y)
    }
}

/// `pow(2, n)` for `retried = n`, see [`pow2`].
#[inline]
pub(crate) fn pow2_u32(n: u32) -> f64 {
    if n <= 1023 {
        pow2_int(n, false)
    } else {
        pow(2.0, f64::from(n))
    }
}

/// `2^n` or `2^-n` for `n` at most 1023 (1022 when negative): the biased exponent in place.
#[inline(always)]
fn pow2_int(n: u32, negative: bool) -> f64 {
    let biased = if negative { 1023 - n } else { 1023 + n };
    f64::from_bits(u64::from(biased) << 52)
}

/// `min(a, b)`: NaN when either is NaN, and `-0` below `+0`, so it does not depend on the
/// order of its arguments.
#[inline]
pub(crate) fn min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else if b < a {
        b
    } else if a == b {
        // Equal: the same value, or zeros of either sign.
        if a.is_sign_negative() { a } else { b }
    } else {
        f64::NAN
    }
}

/// `max(a, b)`: NaN when either is NaN, and `+0` above `-0`, so it does not depend on the
/// order of its arguments.
#[inline]
pub(crate) fn max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else if b > a {
        b
    } else if a == b {
        if a.is_sign_negative() { b } else { a }
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_matches_pow_on_its_fast_path_and_around_it() {
        for n in -1100..=1100 {
            let y = f64::from(n);
            assert_eq!(pow2(y).to_bits(), pow(2.0, y).to_bits(), "2^{n}");
        }
        for n in 0..=2000u32 {
            assert_eq!(
                pow2_u32(n).to_bits(),
                pow(2.0, f64::from(n)).to_bits(),
                "2^{n}"
            );
        }
        for y in [
            0.5,
            -0.5,
            1e-300,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e10,
            -1e10,
        ] {
            assert_eq!(pow2(y).to_bits(), pow(2.0, y).to_bits(), "2^{y}");
        }
        assert!(pow2(f64::NAN).is_nan());
    }

    #[test]
    fn min_max_are_symmetric() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for a in values {
            for b in values {
                assert_eq!(min(a, b).to_bits(), min(b, a).to_bits(), "min({a}, {b})");
                assert_eq!(max(a, b).to_bits(), max(b, a).to_bits(), "max({a}, {b})");
            }
        }
        assert_eq!(max(-0.0, 0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(min(-0.0, 0.0).to_bits(), (-0.0f64).to_bits());
        assert!(max(1.0, f64::NAN).is_nan());
        assert!(min(f64::NAN, 1.0).is_nan());
    }
}
