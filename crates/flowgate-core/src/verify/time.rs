//! RFC 3339 timestamps (Twitch, Box, Zendesk), parsed and written without a
//! date library: days from the civil date (Howard Hinnant's algorithm).

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn num(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Seconds since the epoch of `2024-01-02T03:04:05[.frac](Z|±hh:mm)`; fractions
/// are dropped; `None` for anything else (including dates before 1970).
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.len() < 20 || !s.is_ascii() {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let mut dp = date.split('-');
    let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, zone) = rest.split_at(8);
    let mut cp = clock.split(':');
    let (h, mi, se) = (num(cp.next()?)?, num(cp.next()?)?, num(cp.next()?)?);
    // Skip a fraction.
    let zone = match zone.strip_prefix('.') {
        Some(frac) => &frac[frac.find(|c: char| !c.is_ascii_digit())?..],
        None => zone,
    };
    let offset: i64 = match zone {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let secs = i64::from(num(&z[1..3])?) * 3600 + i64::from(num(&z[4..6])?) * 60;
            if z.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let t = days_from_civil(i64::from(y), m, d) * 86_400 + i64::from(h * 3600 + mi * 60 + se) - offset;
    u64::try_from(t).ok()
}

/// [`parse_rfc3339`], but a date-time without a zone offset is read as UTC
/// (`2024-03-27T15:42:29.551`, as Orb sends `X-Orb-Timestamp` and its SDKs
/// read it).
pub(crate) fn parse_rfc3339_utc_default(s: &str) -> Option<u64> {
    let s = s.trim();
    parse_rfc3339(s).or_else(|| parse_rfc3339(&format!("{s}Z")))
}

/// `2024-01-02T03:04:05Z` for `secs` since the epoch.
pub(crate) fn format_rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_senders_send() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2023-11-01T00:00:00Z"), Some(1_698_796_800));
        // Twitch: nanoseconds.
        assert_eq!(parse_rfc3339("2023-11-01T00:00:00.123456789Z"), Some(1_698_796_800));
        // Box: an offset.
        assert_eq!(parse_rfc3339("2023-11-01T02:00:00+02:00"), Some(1_698_796_800));
        assert_eq!(parse_rfc3339("2023-10-31T16:00:00-08:00"), Some(1_698_796_800));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        for bad in [
            "",
            "2023-11-01",
            "2023-13-01T00:00:00Z",
            "2023-11-01T25:00:00Z",
            "2023-11-01T00:00:00",
            "1969-12-31T23:59:59Z",
            "２０２３-11-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_rfc3339(1_698_796_800), "2023-11-01T00:00:00Z");
        for t in [0, 1, 951_782_400, 1_709_208_000, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
    }

    #[test]
    fn a_date_time_without_a_zone_is_utc_where_the_sender_says_so() {
        assert_eq!(parse_rfc3339("2023-11-01T00:00:00"), None);
        assert_eq!(parse_rfc3339_utc_default("2023-11-01T00:00:00"), Some(1_698_796_800));
        assert_eq!(parse_rfc3339_utc_default("2023-11-01T00:00:00.551"), Some(1_698_796_800));
        assert_eq!(parse_rfc3339_utc_default("2023-11-01T02:00:00+02:00"), Some(1_698_796_800));
        assert_eq!(parse_rfc3339_utc_default("2023-11-01T00:00:00Z"), Some(1_698_796_800));
        for bad in ["", "2023-11-01", "2023-11-01T00:00", "2023-11-01T00:00:00ZZ", "1700000000"] {
            assert_eq!(parse_rfc3339_utc_default(bad), None, "{bad}");
        }
    }
}
