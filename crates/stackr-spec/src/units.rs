//! Durations, sizes and CPU counts, each with errors of its own.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("the duration is empty")]
    Empty,
    #[error("`{0}` has no unit")]
    MissingUnit(String),
    #[error("`{unit}` is not a unit of time")]
    UnknownUnit { unit: String },
    #[error("expected a number before `{unit}`")]
    MissingNumber { unit: String },
    #[error("a duration cannot be negative")]
    Negative,
    #[error("the duration is too long")]
    Overflow,
}

/// Parses `500ms`, `10s`, `1m30s`, `1h`, `1.5s`, `250us`, `10ns` (Go's duration syntax, as
/// compose accepts). A bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative);
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if num.is_empty() {
            return Err(DurationError::MissingNumber { unit: unit.into() });
        }
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(s.into()));
        }
        let nanos_per: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            other => {
                return Err(DurationError::UnknownUnit { unit: other.into() });
            }
        };
        let value: f64 = num
            .parse()
            .map_err(|_| DurationError::MissingNumber { unit: unit.into() })?;
        let nanos = value * nanos_per as f64;
        if !nanos.is_finite() || nanos > u64::MAX as f64 {
            return Err(DurationError::Overflow);
        }
        total = total.saturating_add(nanos.round() as u128);
        rest = next;
    }
    let total = u64::try_from(total).map_err(|_| DurationError::Overflow)?;
    Ok(Duration::from_nanos(total))
}

/// Renders a duration the way users write them: `1m30s`, `500ms`.
pub fn format_duration(d: Duration) -> String {
    let mut nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, per) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if nanos >= per {
            out.push_str(&format!("{}{unit}", nanos / per));
            nanos %= per;
        }
    }
    out
}

/// Why a size did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    #[error("the size is empty")]
    Empty,
    #[error("`{unit}` is not a unit of size")]
    UnknownUnit { unit: String },
    #[error("expected a number")]
    NotANumber,
    #[error("a size cannot be negative")]
    Negative,
    #[error("the size is too large")]
    Overflow,
}

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, per) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
            if b >= per && b.is_multiple_of(per) {
                return write!(f, "{}{unit}", b / per);
            }
        }
        write!(f, "{b}b")
    }
}

/// Parses `512m`, `4G`, `1.5g`, `64k`, `100b`, `1gb`, `2MiB` (binary units, case-insensitive,
/// as Docker reads them). A number without a unit is bytes.
pub fn parse_size(text: &str) -> Result<ByteSize, SizeError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(SizeError::Empty);
    }
    if s.starts_with('-') {
        return Err(SizeError::Negative);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(SizeError::NotANumber);
    }
    let value: f64 = num.parse().map_err(|_| SizeError::NotANumber)?;
    let per: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return Err(SizeError::UnknownUnit {
                unit: unit.trim().into(),
            });
        }
    };
    let bytes = value * per as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(SizeError::Overflow);
    }
    Ok(ByteSize(bytes.round() as u64))
}

/// Why a CPU count did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CpusError {
    #[error("expected a number of CPUs such as `2` or `0.5`")]
    NotANumber,
    #[error("a CPU count must be more than zero")]
    NotPositive,
    #[error("a CPU count must be a multiple of 0.000000001")]
    TooPrecise,
}

/// A CPU count, kept as billionths of a CPU (Docker's `NanoCpus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpus(pub u64);

impl Cpus {
    pub fn nano_cpus(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1_000_000_000;
        let frac = self.0 % 1_000_000_000;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Parses `2`, `0.5`, `1.25`.
pub fn parse_cpus(text: &str) -> Result<Cpus, CpusError> {
    let s = text.trim();
    let value: f64 = s.parse().map_err(|_| CpusError::NotANumber)?;
    if !value.is_finite() {
        return Err(CpusError::NotANumber);
    }
    if value <= 0.0 {
        return Err(CpusError::NotPositive);
    }
    let nanos = value * 1e9;
    if nanos > u64::MAX as f64 {
        return Err(CpusError::NotANumber);
    }
    if (nanos - nanos.round()).abs() > 1e-3 {
        return Err(CpusError::TooPrecise);
    }
    Ok(Cpus(nanos.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("1h2m3s4ms"),
            Ok(Duration::from_millis(3_723_004))
        );
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_duration("10"),
            Err(DurationError::MissingUnit("10".into()))
        );
        assert_eq!(
            parse_duration("10sec"),
            Err(DurationError::UnknownUnit { unit: "sec".into() })
        );
        assert_eq!(parse_duration("-1s"), Err(DurationError::Negative));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("s"),
            Err(DurationError::MissingNumber { unit: "s".into() })
        );
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m"), Ok(ByteSize(512 << 20)));
        assert_eq!(parse_size("4G"), Ok(ByteSize(4 << 30)));
        assert_eq!(parse_size("1gb"), Ok(ByteSize(1 << 30)));
        assert_eq!(parse_size("1.5k"), Ok(ByteSize(1536)));
        assert_eq!(parse_size("100"), Ok(ByteSize(100)));
        assert_eq!(
            parse_size("4 GB"),
            Ok(ByteSize(4 << 30)),
            "a space before the unit is accepted"
        );
        assert_eq!(
            parse_size("4x"),
            Err(SizeError::UnknownUnit { unit: "x".into() })
        );
        assert_eq!(parse_size("g"), Err(SizeError::NotANumber));
        assert_eq!(ByteSize(4 << 30).to_string(), "4g");
        assert_eq!(ByteSize(1000).to_string(), "1000b");
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("2"), Ok(Cpus(2_000_000_000)));
        assert_eq!(parse_cpus("0.5"), Ok(Cpus(500_000_000)));
        assert_eq!(parse_cpus("0"), Err(CpusError::NotPositive));
        assert_eq!(parse_cpus("two"), Err(CpusError::NotANumber));
        assert_eq!(Cpus(1_250_000_000).to_string(), "1.25");
    }
}
