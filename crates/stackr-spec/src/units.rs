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

/// A point in time as `logs --since`/`--until` take it, in Unix seconds: a Unix timestamp
/// (`1700000000`), an RFC 3339 time (`2026-12-06T10:00:00Z`, `2026-12-06T11:00:00+01:00`), a
/// date (`2026-12-06`, midnight UTC) or a duration before `now` (`42m`, `1h30m`).
pub fn parse_log_time(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    if let Some(secs) = rfc3339(t) {
        return Ok(secs);
    }
    match parse_duration(t) {
        Ok(d) => Ok(now - d.as_secs() as i64),
        Err(_) => Err(format!(
            "`{t}` is neither a Unix timestamp, an RFC 3339 time (2026-12-06T10:00:00Z) nor a duration (42m)"
        )),
    }
}

/// `YYYY-MM-DD[THH:MM:SS[.frac](Z|±HH:MM)]` in Unix seconds.
fn rfc3339(t: &str) -> Option<i64> {
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (date, rest) = match t.split_once(['T', 't', ' ']) {
        Some((d, r)) => (d, Some(r)),
        None => (t, None),
    };
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let Some(rest) = rest else {
        return Some(days * 86_400);
    };
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, o) = rest.split_at(at);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = o[1..].split_once(':')?;
        (c, sign * (num(oh)? * 3600 + num(om)? * 60))
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.splitn(3, ':');
    let (h, mi, s) = (num(hms.next()?)?, num(hms.next()?)?, num(hms.next()?)?);
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn log_times_read_every_form() {
        let now = 1_800_000_000;
        assert_eq!(parse_log_time("1700000000", now), Ok(1_700_000_000));
        assert_eq!(parse_log_time("1970-01-02", now), Ok(86_400));
        assert_eq!(
            parse_log_time("2026-12-06T10:00:00Z", now),
            Ok(1_796_551_200)
        );
        assert_eq!(
            parse_log_time("2026-12-06T11:00:00.5+01:00", now),
            Ok(1_796_551_200)
        );
        assert_eq!(parse_log_time("42m", now), Ok(now - 42 * 60));
        assert!(parse_log_time("yesterday", now).is_err());
    }
}
