//! A software x87 `long double` (80-bit extended precision: 64-bit mantissa, 15-bit
//! exponent, denormals) for INCRBYFLOAT and HINCRBYFLOAT, which Redis computes in C
//! `long double` on x86-64. Rust has no such type, so the three operations Redis uses
//! are emulated exactly, with a small big-integer:
//!
//! - [`LongDouble::parse`] is Redis's `string2ld`: glibc `strtold` (decimal and hex
//!   forms, `inf`/`infinity`, correctly rounded to nearest-even) plus Redis's checks
//!   (length below `MAX_LONG_DOUBLE_CHARS`, the whole string consumed, no leading
//!   space, no NaN, no overflow to infinity, no underflow of a non-zero to zero);
//! - [`LongDouble::checked_add`] is `+` rounded to nearest-even, `None` when the sum
//!   is NaN or infinite (Redis's "increment would produce NaN or Infinity");
//! - [`LongDouble::to_human`] is `ld2string(.., LD_STR_HUMAN)`: `%.17Lf` (the exact
//!   decimal expansion rounded half-even to 17 decimals, all integer digits), then
//!   trailing zeros and the dot trimmed, and `-0` printed as `0`.

use std::cmp::Ordering;

/// Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses inputs of this length or more.
const MAX_CHARS: usize = 5 * 1024;
/// Bits in the mantissa (the x87 format has an explicit integer bit).
const MANT_BITS: i64 = 64;
/// Weight of the mantissa's lowest bit for the smallest exponent (denormals): 2^-16445.
const EMIN: i64 = -16382 - 63;
/// Weight of the mantissa's lowest bit for the largest exponent: 2^16320.
const EMAX: i64 = 16383 - 63;
/// Exponents written in the input are clamped here: far beyond any finite result,
/// small enough that no arithmetic on them overflows.
const EXP_CAP: i64 = 1 << 40;
/// 10^17: `%.17Lf` prints 17 decimals.
const TEN_POW_17: u128 = 100_000_000_000_000_000;

/// An x87 extended-precision value: finite `(-1)^neg × mant × 2^exp` (with
/// `EMIN <= exp <= EMAX` once rounded) or an infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    Finite { neg: bool, mant: u64, exp: i64 },
    Inf { neg: bool },
}

/// Why a rounded result is not a finite non-zero value.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Rounds to an infinity (strtold: ERANGE with HUGE_VALL).
    Overflow,
    /// A non-zero value that rounds to zero (strtold: ERANGE with 0).
    Underflow,
}

impl LongDouble {
    /// Zero with the given sign.
    pub fn zero(neg: bool) -> LongDouble {
        LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        }
    }

    /// Redis's `string2ld`: the value of `text`, or `None` when Redis answers
    /// "value is not a valid float" for it.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= MAX_CHARS {
            return None;
        }
        let (neg, rest) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Inf { neg });
        }
        let rounded = if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
            let s = scan(&rest[2..], 16, b'p')?;
            let bexp = s.exp.saturating_sub(s.frac.saturating_mul(4));
            from_binary(neg, &s.digits, bexp)
        } else {
            let s = scan(rest, 10, b'e')?;
            from_decimal(neg, &s.digits, s.exp.saturating_sub(s.frac))
        };
        rounded.ok()
    }

    /// Whether this is neither infinite nor NaN.
    pub fn is_finite(&self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// `self + other` rounded to nearest-even; `None` when the result is NaN or an
    /// infinity (an infinite operand, or an overflow).
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        let (
            LongDouble::Finite {
                neg: an,
                mant: am,
                exp: ae,
            },
            LongDouble::Finite {
                neg: bn,
                mant: bm,
                exp: be,
            },
        ) = (self, other)
        else {
            return None;
        };
        if am == 0 && bm == 0 {
            return Some(LongDouble::zero(an && bn));
        }
        let e = match (am, bm) {
            (0, _) => be,
            (_, 0) => ae,
            _ => ae.min(be),
        };
        let a = if am == 0 {
            Big::default()
        } else {
            Big::from_u128(am as u128).shl((ae - e) as u64)
        };
        let b = if bm == 0 {
            Big::default()
        } else {
            Big::from_u128(bm as u128).shl((be - e) as u64)
        };
        let (neg, sum) = if an == bn {
            (an, a.add(&b))
        } else {
            match a.cmp(&b) {
                Ordering::Greater => (an, a.sub(&b)),
                Ordering::Less => (bn, b.sub(&a)),
                Ordering::Equal => return Some(LongDouble::zero(false)),
            }
        };
        round(neg, &sum, e, false).ok()
    }

    /// Redis's `ld2string(.., LD_STR_HUMAN)`: `%.17Lf` with the trailing zeros (and
    /// then the dot) removed; `-0` becomes `0`.
    pub fn to_human(&self) -> String {
        let (neg, mant, exp) = match *self {
            LongDouble::Inf { neg } => return if neg { "-inf" } else { "inf" }.to_string(),
            LongDouble::Finite { neg, mant, exp } => (neg, mant, exp),
        };
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        if exp >= 0 {
            out.push_str(&Big::from_u128(mant as u128).shl(exp as u64).to_decimal());
        } else {
            let k = -exp;
            // value × 10^17 = mant × 10^17 / 2^k, rounded half-even. mant × 10^17 <
            // 2^121, so from k = 122 on it is below one half: zero.
            let scaled = if k >= 122 {
                0
            } else {
                let t = mant as u128 * TEN_POW_17;
                let q = t >> k;
                let r = t & ((1u128 << k) - 1);
                let half = 1u128 << (k - 1);
                if r > half || (r == half && q & 1 == 1) {
                    q + 1
                } else {
                    q
                }
            };
            out.push_str(&(scaled / TEN_POW_17).to_string());
            let frac = scaled % TEN_POW_17;
            if frac != 0 {
                let digits = format!("{frac:017}");
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

/// The digits of a number as written: digit values (integer and fraction parts
/// together), how many were after the dot, and the written exponent (clamped).
struct Scanned {
    digits: Vec<u8>,
    frac: i64,
    exp: i64,
}

/// Match the whole of `s` against `digits [. digits] [marker [+-] decimal-digits]`
/// (at least one mantissa digit), as strtold reads it; `None` if anything is left.
fn scan(s: &[u8], radix: u32, marker: u8) -> Option<Scanned> {
    let digit = |c: u8| (c as char).to_digit(radix).map(|d| d as u8);
    let mut i = 0;
    let mut digits = Vec::new();
    let mut frac = 0i64;
    while let Some(d) = s.get(i).and_then(|&c| digit(c)) {
        digits.push(d);
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = s.get(i).and_then(|&c| digit(c)) {
            digits.push(d);
            frac += 1;
            i += 1;
        }
    }
    if digits.is_empty() {
        return None;
    }
    let mut exp = 0i64;
    if s.get(i).is_some_and(|&c| c | 0x20 == marker) {
        i += 1;
        let neg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
            exp = (exp * 10 + i64::from(c - b'0')).min(EXP_CAP);
            i += 1;
        }
        if i == start {
            return None;
        }
        if neg {
            exp = -exp;
        }
    }
    if i != s.len() {
        return None;
    }
    Some(Scanned { digits, frac, exp })
}

/// The decimal `digits × 10^exp10` rounded to the format.
fn from_decimal(neg: bool, digits: &[u8], exp10: i64) -> Result<LongDouble, Range> {
    let Some(first) = digits.iter().position(|&d| d != 0) else {
        return Ok(LongDouble::zero(neg));
    };
    let mut digits = &digits[first..];
    let mut exp10 = exp10;
    while let Some((&0, rest)) = digits.split_last() {
        digits = rest;
        exp10 += 1;
    }
    // 10^(mag-1) <= value < 10^mag. The largest finite value is 1.19e4932 and
    // anything below half the smallest denormal (1.8e-4951) rounds to zero.
    let mag = digits.len() as i64 + exp10;
    if mag > 4933 {
        return Err(Range::Overflow);
    }
    if mag < -4950 {
        return Err(Range::Underflow);
    }
    let d = Big::from_digits(digits, 10);
    if exp10 >= 0 {
        return round(neg, &d.mul(&Big::pow10(exp10 as u64)), 0, false);
    }
    // value = d / p. Scale so the quotient has 66 or 67 bits: the 64 kept, a
    // rounding bit and more, with whatever remains as the sticky bit.
    let p = Big::pow10((-exp10) as u64);
    let k = 66 + p.bit_len() as i64 - d.bit_len() as i64;
    let (num, den) = if k >= 0 {
        (d.shl(k as u64), p)
    } else {
        (d, p.shl((-k) as u64))
    };
    let (q, inexact) = divide(&num, &den);
    round(neg, &Big::from_u128(q), -k, inexact)
}

/// The hexadecimal `digits × 2^bexp` rounded to the format.
fn from_binary(neg: bool, digits: &[u8], bexp: i64) -> Result<LongDouble, Range> {
    let n = Big::from_digits(digits, 16);
    if n.is_zero() {
        return Ok(LongDouble::zero(neg));
    }
    round(neg, &n, bexp.clamp(-EXP_CAP, EXP_CAP), false)
}

/// Round `(n + f) × 2^e` to nearest-even in the format, where `f` is a fraction in
/// (0, 1) when `sticky` (only with `n >= 2^65`) and 0 otherwise.
fn round(neg: bool, n: &Big, e: i64, sticky: bool) -> Result<LongDouble, Range> {
    if n.is_zero() {
        return if sticky {
            Err(Range::Underflow)
        } else {
            Ok(LongDouble::zero(neg))
        };
    }
    let shift = (n.bit_len() as i64 - MANT_BITS).max(EMIN - e);
    let mut mant;
    let mut exp = e + shift;
    if shift <= 0 {
        // Exact: fewer than 64 significant bits (never with `sticky`, see above).
        mant = n.low_u64() << (-shift);
    } else {
        let shift = shift as u64;
        mant = n.shr(shift).low_u64();
        let half = n.bit(shift - 1);
        let rest = sticky || n.any_below(shift - 1);
        if half && (rest || mant & 1 == 1) {
            mant = match mant.checked_add(1) {
                Some(m) => m,
                None => {
                    exp += 1;
                    1 << 63
                }
            };
        }
    }
    if mant == 0 {
        return Err(Range::Underflow);
    }
    if exp > EMAX {
        return Err(Range::Overflow);
    }
    Ok(LongDouble::Finite { neg, mant, exp })
}

/// `(floor(num / den), remainder != 0)`, for a quotient known to be below 2^128.
fn divide(num: &Big, den: &Big) -> (u128, bool) {
    if num.cmp(den) == Ordering::Less {
        return (0, !num.is_zero());
    }
    if let (Some(n), Some(d)) = (num.to_u128(), den.to_u128()) {
        // The common case (a short decimal): machine division.
        return (n / d, n % d != 0);
    }
    let span = num.bit_len() - den.bit_len();
    let mut rem = num.clone();
    let mut q = 0u128;
    for i in (0..=span.min(127)).rev() {
        let d = den.shl(i);
        if rem.cmp(&d) != Ordering::Less {
            rem = rem.sub(&d);
            q |= 1 << i;
        }
    }
    (q, !rem.is_zero())
}

/// An unsigned big integer: little-endian 64-bit limbs, no high zero limbs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big {
    limbs: Vec<u64>,
}

impl Big {
    fn trimmed(mut limbs: Vec<u64>) -> Big {
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        Big { limbs }
    }

    fn from_u128(v: u128) -> Big {
        Big::trimmed(vec![v as u64, (v >> 64) as u64])
    }

    /// The number written with `digits` (values below `radix`), most significant first.
    fn from_digits(digits: &[u8], radix: u64) -> Big {
        // Digits per chunk so that radix^chunk fits in a u64.
        let per = if radix == 16 { 15 } else { 19 };
        let mut n = Big::default();
        for chunk in digits.chunks(per) {
            let value = chunk
                .iter()
                .fold(0u64, |acc, &d| acc * radix + u64::from(d));
            n.mul_add_small(radix.pow(chunk.len() as u32), value);
        }
        n
    }

    /// 10^n.
    fn pow10(n: u64) -> Big {
        let mut b = Big::from_u128(1);
        let mut left = n;
        while left >= 19 {
            b.mul_add_small(10u64.pow(19), 0);
            left -= 19;
        }
        b.mul_add_small(10u64.pow(left as u32), 0);
        b
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(top) => (self.limbs.len() as u64 - 1) * 64 + 64 - u64::from(top.leading_zeros()),
        }
    }

    /// The value, when it fits in a u128.
    fn to_u128(&self) -> Option<u128> {
        match self.limbs.as_slice() {
            [] => Some(0),
            [lo] => Some(u128::from(*lo)),
            [lo, hi] => Some(u128::from(*lo) | (u128::from(*hi) << 64)),
            _ => None,
        }
    }

    fn low_u64(&self) -> u64 {
        self.limbs.first().copied().unwrap_or(0)
    }

    /// Bit `i` (0 = least significant).
    fn bit(&self, i: u64) -> bool {
        let limb = i / 64;
        limb < self.limbs.len() as u64 && (self.limbs[limb as usize] >> (i % 64)) & 1 == 1
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let full = (i / 64).min(self.limbs.len() as u64) as usize;
        if self.limbs[..full].iter().any(|&l| l != 0) {
            return true;
        }
        let part = i % 64;
        full < self.limbs.len() && full as u64 == i / 64 && part != 0 && {
            self.limbs[full] & ((1u64 << part) - 1) != 0
        }
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let bits = n % 64;
        let mut limbs = vec![0u64; (n / 64) as usize];
        if bits == 0 {
            limbs.extend_from_slice(&self.limbs);
        } else {
            let mut carry = 0u64;
            for &l in &self.limbs {
                limbs.push((l << bits) | carry);
                carry = l >> (64 - bits);
            }
            limbs.push(carry);
        }
        Big::trimmed(limbs)
    }

    fn shr(&self, n: u64) -> Big {
        let skip = n / 64;
        if skip >= self.limbs.len() as u64 {
            return Big::default();
        }
        let src = &self.limbs[skip as usize..];
        let bits = n % 64;
        if bits == 0 {
            return Big::trimmed(src.to_vec());
        }
        let limbs = (0..src.len())
            .map(|i| {
                let high = src.get(i + 1).map_or(0, |&h| h << (64 - bits));
                (src[i] >> bits) | high
            })
            .collect();
        Big::trimmed(limbs)
    }

    /// self = self × m + a.
    fn mul_add_small(&mut self, m: u64, a: u64) {
        let mut carry = u128::from(a);
        for l in self.limbs.iter_mut() {
            let t = u128::from(*l) * u128::from(m) + carry;
            *l = t as u64;
            carry = t >> 64;
        }
        if carry != 0 {
            self.limbs.push(carry as u64);
        }
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn mul(&self, other: &Big) -> Big {
        let mut out = vec![0u64; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &b) in other.limbs.iter().enumerate() {
                let t = u128::from(a) * u128::from(b) + u128::from(out[i + j]) + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            out[i + other.limbs.len()] = carry as u64;
        }
        Big::trimmed(out)
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let (long, short) = if self.limbs.len() >= other.limbs.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut out = Vec::with_capacity(long.limbs.len() + 1);
        let mut carry = false;
        for (i, &a) in long.limbs.iter().enumerate() {
            let b = short.limbs.get(i).copied().unwrap_or(0);
            let (s1, c1) = a.overflowing_add(b);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            out.push(s2);
            carry = c1 || c2;
        }
        out.push(u64::from(carry));
        Big::trimmed(out)
    }

    /// self − other, for self ≥ other.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.limbs.len());
        let mut borrow = false;
        for (i, &a) in self.limbs.iter().enumerate() {
            let b = other.limbs.get(i).copied().unwrap_or(0);
            let (d1, b1) = a.overflowing_sub(b);
            let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
            out.push(d2);
            borrow = b1 || b2;
        }
        Big::trimmed(out)
    }

    /// Divide in place by `d` (non-zero), returning the remainder.
    fn div_rem_small(&mut self, d: u64) -> u64 {
        let mut rem = 0u128;
        for l in self.limbs.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*l);
            *l = (cur / u128::from(d)) as u64;
            rem = cur % u128::from(d);
        }
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
        rem as u64
    }

    fn to_decimal(&self) -> String {
        const CHUNK: u64 = 10_000_000_000_000_000_000;
        if self.is_zero() {
            return "0".to_string();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_rem_small(CHUNK));
        }
        let mut out = String::with_capacity(chunks.len() * 19);
        for (i, c) in chunks.iter().rev().enumerate() {
            if i == 0 {
                out.push_str(&c.to_string());
            } else {
                out.push_str(&format!("{c:019}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(s: &str) -> LongDouble {
        LongDouble::parse(s.as_bytes()).unwrap_or_else(|| panic!("{s} should parse"))
    }

    fn sum(a: &str, b: &str) -> String {
        ld(a).checked_add(ld(b)).expect("finite sum").to_human()
    }

    // Expected texts below are what redis-server 7.0.15 (x86-64) answered.
    #[test]
    fn sums_print_like_redis() {
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("1e17", "1"), "100000000000000001");
        assert_eq!(sum("0", "3.0e3"), "3000");
        assert_eq!(sum("0.1", "1e30"), "1000000000000000000024696061952");
        assert_eq!(
            sum("1000000000000000000024696061952", "1e35"),
            "100001000000000000000987557936496640"
        );
        assert_eq!(sum("1e-20", "-1e-20"), "0");
        assert_eq!(sum("-0", "-0"), "0");
    }

    #[test]
    fn formatting_rounds_half_even_and_trims() {
        assert_eq!(ld("0.000003814697265625").to_human(), "0.00000381469726562");
        assert_eq!(ld("-1e-20").to_human(), "0");
        assert_eq!(ld("1e-4950").to_human(), "0");
        assert_eq!(ld("5.").to_human(), "5");
        assert_eq!(ld(".5").to_human(), "0.5");
        assert_eq!(ld("+5").to_human(), "5");
        assert_eq!(ld("0x1.8p3").to_human(), "12");
        let big = ld("5.0e300").to_human();
        assert_eq!(big.len(), 301);
        assert!(big.ends_with("364415613697326381227602608128"));
        assert!(ld("1e4000").to_human().starts_with(
            "999999999999999999996546387309962378493249258350695763130150833304326194330634"
        ));
    }

    #[test]
    fn parse_accepts_and_refuses_like_string2ld() {
        for bad in [
            "",
            " 1",
            "1 ",
            "\t1",
            "1e",
            "0x",
            "0x.p1",
            "0x1p",
            "nan",
            "NAN",
            "-nan(12)",
            "infin",
            "1_0",
            "-.e1",
            "1.2e4932",
            "1e-5000",
            "0x1p-16446",
            "1\0",
            "\0",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(LongDouble::parse(&[b'1'; MAX_CHARS]), None);
        let mut long = vec![b'0'; MAX_CHARS - 2];
        long.push(b'1');
        assert!(LongDouble::parse(&long).is_some());
        assert!(!ld("inf").is_finite());
        assert!(!ld("-INFINITY").is_finite());
        assert!(ld("0e999999999999").is_finite());
        assert!(ld("0x1p-16445").is_finite());
        assert!(ld("1.18973149535723176502e+4932").is_finite());
        assert_eq!(LongDouble::parse(b"1.18973149535723176508e+4932"), None);
        assert_eq!(ld("0X1P2").to_human(), "4");
        assert_eq!(ld("0x.8").to_human(), "0.5");
        assert_eq!(ld("1.5E+2").to_human(), "150");
    }

    #[test]
    fn overflow_and_infinities_are_refused_on_add() {
        let max = ld("1.18973149535723176502e+4932");
        assert_eq!(max.checked_add(max), None);
        assert_eq!(ld("inf").checked_add(ld("1")), None);
        assert_eq!(ld("1").checked_add(ld("-inf")), None);
    }

    #[test]
    fn big_integer_basics() {
        let a = Big::pow10(40);
        assert_eq!(a.to_decimal(), format!("1{}", "0".repeat(40)));
        assert_eq!(a.shl(70).shr(70), a);
        assert_eq!(a.add(&a).sub(&a), a);
        assert_eq!(
            Big::from_digits(&[1, 2, 3], 10)
                .mul(&Big::from_u128(1000))
                .to_decimal(),
            "123000"
        );
        assert!(a.shl(3).any_below(44));
        assert!(!Big::from_u128(1 << 100).any_below(100));
        assert!(Big::from_u128(1 << 100).any_below(101));
        assert_eq!(divide(&Big::from_u128(100), &Big::from_u128(7)), (14, true));
        // The long division agrees with the machine one.
        let (n, d) = (
            Big::pow10(40).shl(9),
            Big::pow10(39).add(&Big::from_u128(3)),
        );
        let (q, inexact) = divide(&n, &d);
        assert_eq!(q, 5119);
        assert!(inexact);
        assert_eq!(
            divide(&Big::pow10(45), &Big::pow10(43)),
            (100, false),
            "exact quotient of big operands"
        );
    }
}
