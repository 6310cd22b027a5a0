//! The shortest float digits, as serde_json writes an `f64`. Reachable only through
//! `Doc::write_canonical` (custom message content in a `POST /messages` body): see the
//! `json` module docs for why it is kept.

use super::number::mul_small;

/// The decimal digits of `n·2^e` (`e >= 0`) or of `n·5^-e` (`e < 0`, that is
/// `n·2^e·10^-e`), most significant first.
fn decimal(n: u64, e: i32) -> Vec<u8> {
    let mut big = vec![n as u32, (n >> 32) as u32];
    for _ in 0..e.unsigned_abs() {
        mul_small(&mut big, if e > 0 { 2 } else { 5 });
    }
    // Nine digits at a time from the low end.
    let mut digits: Vec<u8> = Vec::new();
    while big.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for limb in big.iter_mut().rev() {
            let v = rem << 32 | u64::from(*limb);
            *limb = (v / 1_000_000_000) as u32;
            rem = v % 1_000_000_000;
        }
        for _ in 0..9 {
            digits.push((rem % 10) as u8);
            rem /= 10;
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    digits.reverse();
    digits
}

/// The decimal digits of `q`, by subtraction: u128's Display brings its own 128-bit
/// division (~1.3 KB of wasm) for this one use.
pub(super) fn u128_decimal(mut q: u128) -> String {
    let mut s = String::new();
    for k in (0..39).rev() {
        let p = 10u128.pow(k);
        let mut d = b'0';
        while q >= p {
            q -= p;
            d += 1;
        }
        if d > b'0' || !s.is_empty() || k == 0 {
            s.push(char::from(d));
        }
    }
    s
}

/// The value of decimal digits (at most 38 of them).
fn digits_value(d: &[u8]) -> u128 {
    d.iter().fold(0, |v, &x| v * 10 + u128::from(x))
}

/// The shortest decimal that reads back as finite `f > 0`, the closest to `f` of those
/// (ties to even), as `(digits, power of ten of the first digit)`: what serde_json's
/// float writer (zmij) picks.
fn shortest(f: f64) -> (String, i32) {
    let bits = f.to_bits();
    let field = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (m, e) = if field == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, field - 1075)
    };
    // In units of 2^(e-2): f = 4m, and what reads back as f lies within half the gap to
    // each neighbour: 4m ± 2, or 4m - 1 below a power of two (the gap below is half).
    // The bounds read back as f (round half to even) when m is even.
    let below = if fraction == 0 && field > 1 { 1 } else { 2 };
    let inclusive = m % 2 == 0;
    let high = decimal(4 * m + 2, e - 2);
    let len = high.len();
    let pad = |d: Vec<u8>| -> Vec<u8> {
        let mut out = vec![0; len.saturating_sub(d.len())];
        out.extend(d);
        out
    };
    let low = pad(decimal(4 * m - below, e - 2));
    let value = pad(decimal(4 * m, e - 2));
    // Fewest digits first: multiples of 10^p within [low, high].
    for p in (0..len).rev() {
        let keep = len - p;
        if keep > 38 {
            break;
        }
        let split = |d: &[u8]| -> (u128, bool, std::cmp::Ordering) {
            let (head, tail) = d.split_at(keep.min(d.len()));
            let zero = tail.iter().all(|&x| x == 0);
            // The tail against half a unit of the head's last digit: 5000…
            let half = tail
                .iter()
                .enumerate()
                .map(|(i, &x)| x.cmp(if i == 0 { &5 } else { &0 }))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal);
            (digits_value(head), zero, half)
        };
        let (l, l_zero, _) = split(&low);
        let (h, h_zero, _) = split(&high);
        let lo = if inclusive && l_zero { l } else { l + 1 };
        let hi = if !inclusive && h_zero {
            h.saturating_sub(1)
        } else {
            h
        };
        if lo > hi {
            continue;
        }
        let (v, _, half) = split(&value);
        let up = half.is_gt() || (half.is_eq() && v % 2 == 1);
        let q = (v + u128::from(up)).clamp(lo, hi);
        let mut text = u128_decimal(q);
        // q·10^p in units of 10^min(e-2, 0).
        let exp = p as i32 + (e - 2).min(0) + text.len() as i32 - 1;
        while text.len() > 1 && text.ends_with('0') {
            text.pop();
        }
        return (text, exp);
    }
    ("0".into(), 0)
}

/// Appends `f` as serde_json writes a finite `f64`: the shortest digits that read back,
/// as `1.5`, `100.0`, `1e+16`, `1.5e-7`.
pub(crate) fn write_f64(out: &mut String, f: f64) {
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push_str("0.0");
        return;
    }
    let (digits, exp) = shortest(f.abs());
    let n = digits.len() as i32;
    if (-5..=15).contains(&exp) {
        if exp >= n - 1 {
            out.push_str(&digits);
            for _ in 0..exp - (n - 1) {
                out.push('0');
            }
            out.push_str(".0");
        } else if exp >= 0 {
            // `_checked`: `str::split_at` brings core's char-boundary panic (~1.6 KB of
            // wasm); the digits are ASCII, so this always splits.
            let (int, frac) = digits
                .split_at_checked((exp + 1) as usize)
                .unwrap_or((&digits, ""));
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    } else {
        let (first, rest) = digits.split_at_checked(1).unwrap_or((&digits, ""));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&exp.unsigned_abs().to_string());
    }
}
