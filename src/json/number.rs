//! Numbers read exactly as serde_json (without `float_roundtrip`) reads them, so that a
//! value stored or received before the switch from serde_json reads the same.

/// A JSON number as serde_json reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// A non-negative integer that fits a `u64`.
    U(u64),
    /// A negative integer that fits an `i64`.
    I(i64),
    /// Anything else (a fraction, an exponent, an integer out of range, `-0`).
    F(f64),
}

/// Computes a number the way serde_json 1.0 does without `float_roundtrip` (its
/// `parse_integer` … `f64_from_parts`). `text` is well-formed (the parser checked it).
pub(super) fn number_value(text: &[u8]) -> Result<Number, &'static str> {
    const OUT_OF_RANGE: &str = "number out of range";
    let (positive, digits) = match text.split_first() {
        Some((b'-', rest)) => (false, rest),
        _ => (true, text),
    };
    let mut i = 0;
    let mut significand: u64 = 0;
    let mut exponent: i32 = 0;
    let mut float = false;
    // Integer part: once the significand would overflow, serde_json counts the further
    // digits as exponent (parse_long_integer).
    let mut long = false;
    while let Some(&c @ b'0'..=b'9') = digits.get(i) {
        let d = u64::from(c - b'0');
        if long || overflows(significand, d, u64::MAX) {
            long = true;
            float = true;
            exponent = exponent.saturating_add(1);
        } else {
            significand = significand * 10 + d;
        }
        i += 1;
    }
    // Fraction: digits go on into the significand until it would overflow; the rest are
    // dropped (parse_decimal_overflow).
    if digits.get(i) == Some(&b'.') {
        float = true;
        i += 1;
        let mut dropping = false;
        while let Some(&c @ b'0'..=b'9') = digits.get(i) {
            let d = u64::from(c - b'0');
            if dropping || overflows(significand, d, u64::MAX) {
                dropping = true;
            } else {
                significand = significand * 10 + d;
                exponent = exponent.saturating_sub(1);
            }
            i += 1;
        }
    }
    // Exponent.
    if let Some(b'e' | b'E') = digits.get(i) {
        float = true;
        i += 1;
        let positive_exp = match digits.get(i) {
            Some(b'-') => {
                i += 1;
                false
            }
            Some(b'+') => {
                i += 1;
                true
            }
            _ => true,
        };
        let mut exp: i32 = 0;
        while let Some(&c @ b'0'..=b'9') = digits.get(i) {
            let d = i32::from(c - b'0');
            if exp >= i32::MAX / 10 && (exp > i32::MAX / 10 || d > i32::MAX % 10) {
                // parse_exponent_overflow.
                if significand != 0 && positive_exp {
                    return Err(OUT_OF_RANGE);
                }
                return Ok(Number::F(if positive { 0.0 } else { -0.0 }));
            }
            exp = exp * 10 + d;
            i += 1;
        }
        exponent = if positive_exp {
            exponent.saturating_add(exp)
        } else {
            exponent.saturating_sub(exp)
        };
    }
    if !float {
        if positive {
            return Ok(Number::U(significand));
        }
        let neg = (significand as i64).wrapping_neg();
        return Ok(if neg >= 0 {
            Number::F(-(significand as f64))
        } else {
            Number::I(neg)
        });
    }
    // f64_from_parts.
    let mut f = significand as f64;
    loop {
        match pow10(exponent.unsigned_abs()) {
            Some(pow) => {
                if exponent >= 0 {
                    f *= pow;
                    if f.is_infinite() {
                        return Err(OUT_OF_RANGE);
                    }
                } else {
                    f /= pow;
                }
                break;
            }
            None => {
                if f == 0.0 {
                    break;
                }
                if exponent >= 0 {
                    return Err(OUT_OF_RANGE);
                }
                f /= 1e308;
                exponent += 308;
            }
        }
    }
    Ok(Number::F(if positive { f } else { -f }))
}

/// serde_json's `overflow!(a * 10 + b, max)`.
fn overflows(a: u64, b: u64, max: u64) -> bool {
    a >= max / 10 && (a > max / 10 || b > max % 10)
}

/// `10^n` as the nearest `f64` (the value of the literal `1e{n}`), for `n <= 308`.
///
/// serde_json keeps a table of the 309 literals; this computes the same values: exactly
/// up to 10^22, and above by rounding the exact power (a small big integer) to 53 bits,
/// half to even, as the compiler rounds a literal.
pub(super) fn pow10(n: u32) -> Option<f64> {
    if n > 308 {
        return None;
    }
    if n <= 22 {
        let mut f = 1.0;
        for _ in 0..n {
            f *= 10.0;
        }
        return Some(f);
    }
    // 10^n = 5^n · 2^n: round 5^n to 53 bits, then scale by 2^n (exact).
    let mut big: Vec<u32> = vec![1];
    for _ in 0..n {
        mul_small(&mut big, 5);
    }
    let top = big.len() - 1;
    let hi = *big.get(top)?;
    let bits = 32 * top as u32 + (32 - hi.leading_zeros());
    // The top 64 bits, and whether anything below them is set.
    let shift = bits.saturating_sub(64);
    let bit = |k: u32| -> u64 {
        big.get((k / 32) as usize)
            .map_or(0, |l| u64::from(l >> (k % 32) & 1))
    };
    let mut head: u64 = 0;
    for k in (shift..bits).rev() {
        head = head << 1 | bit(k);
    }
    let sticky = (0..shift).any(|k| bit(k) == 1);
    // Round the top 64 bits to 53, half to even (`bits` > 64 here: 5^23 > 2^53).
    let head_bits = bits - shift;
    let drop = head_bits - 53;
    let mut mantissa = head >> drop;
    let rest = head & ((1u64 << drop) - 1);
    let half = 1u64 << (drop - 1);
    if rest > half || (rest == half && (sticky || mantissa & 1 == 1)) {
        mantissa += 1;
    }
    let mut f = mantissa as f64; // exact: at most 2^53
    let mut scale = n + shift + drop;
    while scale > 0 {
        let step = scale.min(60);
        f *= (1u64 << step) as f64;
        scale -= step;
    }
    Some(f)
}

/// `big *= k` (little-endian base 2^32).
pub(super) fn mul_small(big: &mut Vec<u32>, k: u32) {
    let mut carry = 0u64;
    for limb in big.iter_mut() {
        let v = u64::from(*limb) * u64::from(k) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry != 0 {
        big.push(carry as u32);
    }
}
