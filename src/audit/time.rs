//! Instants and durations, parsed by hand.
//!
//! Event logs carry millions of timestamps, so parsing is a byte-level routine rather
//! than a general date library call. Every instant is stored as microseconds since the
//! Unix epoch (UTC) plus the UTC offset it was written with (for display only): the
//! checker compares instants, never strings, so `2023-10-09T01:00:00Z` and
//! `2023-10-09T09:00:00+08:00` are the same moment.

use std::fmt;

pub const MICROS_PER_SEC: i64 = 1_000_000;

/// An instant: µs since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// Why a timestamp was rejected (shown after `line N, column X:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// Not `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` followed by an offset.
    Syntax,
    /// Date or time fields out of range (month 13, 25:00, Feb 30 …).
    Range,
    /// No `Z`/`±HH:MM` and no default offset was given.
    NoOffset,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeError::Syntax => {
                "not an ISO 8601 timestamp (expected e.g. 2023-10-09T09:12:30+08:00)"
            }
            TimeError::Range => "date or time out of range",
            TimeError::NoOffset => {
                "timestamp has no UTC offset (write +08:00 or Z, or pass --default-offset +08:00)"
            }
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Parses `YYYY-MM-DD[T| ]HH:MM[:SS[.f…]]` + `Z` | `±HH:MM` | `±HHMM` | `±HH`.
/// Returns (instant, offset in minutes). `default_offset` (minutes) applies to
/// timestamps written without an offset; without it they are an error.
pub fn parse_instant(s: &str, default_offset: Option<i32>) -> Result<(Micros, i32), TimeError> {
    let b = s.trim_ascii().as_bytes();
    let y = digits(b, 0, 4).ok_or(TimeError::Syntax)? as i64;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(TimeError::Syntax);
    }
    let mo = digits(b, 5, 2).ok_or(TimeError::Syntax)?;
    let d = digits(b, 8, 2).ok_or(TimeError::Syntax)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(TimeError::Syntax);
    }
    let h = digits(b, 11, 2).ok_or(TimeError::Syntax)?;
    if b.get(13) != Some(&b':') {
        return Err(TimeError::Syntax);
    }
    let mi = digits(b, 14, 2).ok_or(TimeError::Syntax)?;
    let mut i = 16;
    let mut sec = 0;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b':') {
        sec = digits(b, 17, 2).ok_or(TimeError::Syntax)?;
        i = 19;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut scale = 100_000;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                frac += (c - b'0') as i64 * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return Err(TimeError::Syntax);
            }
        }
    }
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return Err(TimeError::Range);
    }
    // A leap second (:60) is not representable as a distinct instant; reject it
    // rather than silently merging it with the next second.
    if sec > 59 {
        return Err(TimeError::Range);
    }
    let offset_min: i32 = match b.get(i) {
        None => default_offset.ok_or(TimeError::NoOffset)?,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2).ok_or(TimeError::Syntax)?;
            let rest = &b[i + 3..];
            let om = match rest {
                [] => 0,
                [b':', ..] if rest.len() == 3 => digits(rest, 1, 2).ok_or(TimeError::Syntax)?,
                _ if rest.len() == 2 => digits(rest, 0, 2).ok_or(TimeError::Syntax)?,
                _ => return Err(TimeError::Syntax),
            };
            if oh > 23 || om > 59 {
                return Err(TimeError::Range);
            }
            let v = (oh * 60 + om) as i32;
            if sign == b'-' { -v } else { v }
        }
        _ => return Err(TimeError::Syntax),
    };
    let days = days_from_civil(y, mo, d);
    let local = days * 86_400 + (h * 3600 + mi * 60 + sec) as i64;
    let utc = local - offset_min as i64 * 60;
    Ok((utc * MICROS_PER_SEC + frac, offset_min))
}

/// A date (`2023-10-01`) or an instant, as the start of a period: a bare date is
/// midnight at `offset_min`.
pub fn parse_date_or_instant(s: &str, offset_min: i32) -> Result<Micros, TimeError> {
    let t = s.trim();
    if t.len() == 10 {
        let b = t.as_bytes();
        let y = digits(b, 0, 4).ok_or(TimeError::Syntax)? as i64;
        let mo = digits(b, 5, 2).ok_or(TimeError::Syntax)?;
        let d = digits(b, 8, 2).ok_or(TimeError::Syntax)?;
        if b[4] != b'-' || b[7] != b'-' {
            return Err(TimeError::Syntax);
        }
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
            return Err(TimeError::Range);
        }
        let local = days_from_civil(y, mo, d) * 86_400;
        return Ok((local - offset_min as i64 * 60) * MICROS_PER_SEC);
    }
    parse_instant(t, Some(offset_min)).map(|(m, _)| m)
}

/// `+08:00` / `-05:30` / `Z` → minutes east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s == "Z" || s == "z" || s == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if rest.len() == 4 => (rest[..2].parse().ok()?, rest[2..].parse().ok()?),
        None => (rest.parse().ok()?, 0),
    };
    if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
        return None;
    }
    Some(sign * (h * 60 + m))
}

/// RFC 3339 rendering of an instant at the offset it was written with.
pub fn format_instant(t: Micros, offset_min: i32) -> String {
    let local = t.div_euclid(MICROS_PER_SEC) + offset_min as i64 * 60;
    let frac = t.rem_euclid(MICROS_PER_SEC);
    let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if frac != 0 {
        let f = format!("{frac:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    if offset_min == 0 {
        out.push('Z');
    } else {
        let sign = if offset_min < 0 { '-' } else { '+' };
        let a = offset_min.abs();
        out.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
    }
    out
}

/// Parses a duration: `20m`, `20min`, `1h30m`, `48h`, `7d`, `90s`, `0`, or ISO 8601
/// `PT20M` / `P7D`. Returns microseconds.
pub fn parse_duration(s: &str) -> Option<Micros> {
    let t = s.trim();
    if t == "0" {
        return Some(0);
    }
    if let Some(iso) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
        return parse_iso_duration(iso);
    }
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    let mut total: i64 = 0;
    let mut rest = t;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if n_end == 0 {
            return None;
        }
        let n: i64 = rest[..n_end].parse().ok()?;
        rest = rest[n_end..].trim_start();
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "s" | "sec" | "secs" | "second" | "seconds" | "秒" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" | "分钟" | "分" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" | "小时" | "时" => 3600,
            "d" | "day" | "days" | "日" | "天" => 86_400,
            "w" | "week" | "weeks" | "周" => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?.checked_mul(MICROS_PER_SEC)?)?;
        rest = rest[u_end..].trim_start();
    }
    Some(if neg { -total } else { total })
}

fn parse_iso_duration(s: &str) -> Option<Micros> {
    let mut total: i64 = 0;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        match c {
            'T' | 't' => in_time = true,
            '0'..='9' => num.push(c),
            _ => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                let unit = match (c.to_ascii_uppercase(), in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(unit)?.checked_mul(MICROS_PER_SEC)?)?;
                any = true;
            }
        }
    }
    (any && num.is_empty()).then_some(total)
}

/// `1h30m` style rendering of a duration (for messages and reports).
pub fn format_duration(d: Micros) -> String {
    let neg = d < 0;
    let mut s = d.unsigned_abs() / MICROS_PER_SEC as u64;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m")] {
        if s >= unit {
            out.push_str(&format!("{}{name}", s / unit));
            s %= unit;
        }
    }
    if s > 0 || out.is_empty() || out == "-" {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("2023-10-09T09:12:30+08:00", "2023-10-09T01:12:30Z")]
    #[test_case("2023-10-09 09:12:30+0800", "2023-10-09T01:12:30Z")]
    #[test_case("2023-10-09T01:12:30Z", "2023-10-09T01:12:30Z")]
    #[test_case("2023-10-09T01:12:30.250Z", "2023-10-09T01:12:30.25Z")]
    #[test_case("2024-02-29T23:59:59-05:00", "2024-03-01T04:59:59Z")]
    #[test_case("2023-10-09T09:12+08", "2023-10-09T01:12:00Z")]
    #[test_case("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z")]
    fn instants_round_trip_through_utc(input: &str, utc: &str) {
        let (t, _) = parse_instant(input, None).unwrap();
        assert_eq!(format_instant(t, 0), utc);
    }

    #[test_case("2023-10-09T09:12:30", TimeError::NoOffset)]
    #[test_case("2023-02-29T09:12:30Z", TimeError::Range)]
    #[test_case("2023-10-09T24:00:00Z", TimeError::Range)]
    #[test_case("2023-10-09T23:59:60Z", TimeError::Range)]
    #[test_case("2023/10/09 09:12:30+08:00", TimeError::Syntax)]
    #[test_case("2023-10-09T09:12:30+08:00x", TimeError::Syntax)]
    #[test_case("2023-10-09T09:12:30.+08:00", TimeError::Syntax)]
    #[test_case("", TimeError::Syntax)]
    #[test_case("2023-10-09T09:12:30+24:00", TimeError::Range)]
    fn bad_timestamps_are_rejected(input: &str, err: TimeError) {
        assert_eq!(parse_instant(input, None), Err(err));
    }

    #[test]
    fn naive_timestamp_takes_the_explicit_default_offset() {
        let (t, off) = parse_instant("2023-10-09T09:00:00", Some(480)).unwrap();
        assert_eq!(off, 480);
        assert_eq!(format_instant(t, off), "2023-10-09T09:00:00+08:00");
    }

    #[test]
    fn same_instant_in_two_offsets_is_equal() {
        let a = parse_instant("2023-10-09T09:00:00+08:00", None).unwrap().0;
        let b = parse_instant("2023-10-09T10:00:00+09:00", None).unwrap().0;
        let c = parse_instant("2023-10-09T01:00:00Z", None).unwrap().0;
        assert_eq!((a, b), (c, c));
    }

    #[test_case("20m", 1200)]
    #[test_case("20 min", 1200)]
    #[test_case("1h30m", 5400)]
    #[test_case("48h", 172_800)]
    #[test_case("7d", 604_800)]
    #[test_case("PT20M", 1200)]
    #[test_case("P1DT2H", 93_600)]
    #[test_case("0", 0)]
    #[test_case("-12h", -43_200)]
    #[test_case("30分钟", 1800)]
    fn durations(input: &str, secs: i64) {
        assert_eq!(parse_duration(input), Some(secs * MICROS_PER_SEC));
    }

    #[test_case("20x")]
    #[test_case("h")]
    #[test_case("")]
    #[test_case("PT")]
    fn bad_durations(input: &str) {
        assert_eq!(parse_duration(input), None);
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for z in (-200_000..200_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn durations_render_compactly() {
        assert_eq!(
            format_duration(20 * 60 * MICROS_PER_SEC + MICROS_PER_SEC),
            "20m1s"
        );
        assert_eq!(format_duration(48 * 3600 * MICROS_PER_SEC), "2d");
        assert_eq!(format_duration(0), "0s");
    }
}
