//! Syslog line headers as files on disk hold them: the traditional RFC 3164 form
//! (`Mar  1 10:00:00 host prog[pid]: msg`) and the ISO 8601 form modern rsyslog writes
//! (`2024-03-01T10:00:00.123456+00:00 host prog[pid]: msg`).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};

/// How a line's time was obtained, recorded on events so analysts know what to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// RFC 3164: no year (inferred) and no zone (assumed UTC).
    Rfc3164,
    /// ISO 8601 with an explicit offset.
    Iso(FixedOffset),
}

/// A parsed syslog header; the borrowed parts point into the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub time: DateTime<Utc>,
    pub stamp: Stamp,
    /// The host name written by the syslog daemon.
    pub host: &'a str,
    /// The tag without its pid (`sshd`, `sshd(pam_unix)`, `su`), empty when there is none.
    pub program: &'a str,
    pub pid: Option<&'a str>,
    pub message: &'a str,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses a syslog line. RFC 3164 years come from `reference` (the file's mtime, or now):
/// its year, or the year before when the line's month is later than the reference's
/// month (a December line in a file last written in January).
pub(crate) fn parse_header(line: &str, reference: DateTime<Utc>) -> Result<Header<'_>, String> {
    let line = strip_priority(line);
    let (time, stamp, rest) = if line.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        parse_iso(line)?
    } else {
        parse_rfc3164(line, reference)?
    };
    let rest = rest.trim_start_matches(' ');
    let (host, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let rest = rest.trim_start_matches(' ');
    let (tag, message) = match rest.find(": ") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => match rest.strip_suffix(':') {
            Some(tag) => (tag, ""),
            None => ("", rest),
        },
    };
    let (program, pid) = match tag.strip_suffix(']').and_then(|t| t.rsplit_once('[')) {
        Some((program, pid)) => (program, Some(pid)),
        None => (tag, None),
    };
    Ok(Header {
        time,
        stamp,
        host,
        program,
        pid,
        message,
    })
}

/// Drops a `<PRI>` prefix left by some forwarders.
fn strip_priority(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('<')
        && let Some((pri, rest)) = rest.split_once('>')
        && !pri.is_empty()
        && pri.len() <= 3
        && pri.bytes().all(|b| b.is_ascii_digit())
    {
        return rest;
    }
    line
}

fn parse_iso(line: &str) -> Result<(DateTime<Utc>, Stamp, &str), String> {
    let (token, rest) = line.split_once(' ').unwrap_or((line, ""));
    let t = DateTime::parse_from_rfc3339(token)
        .map_err(|e| format!("bad ISO 8601 timestamp `{token}`: {e}"))?;
    Ok((t.with_timezone(&Utc), Stamp::Iso(*t.offset()), rest))
}

fn parse_rfc3164(
    line: &str,
    reference: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Stamp, &str), String> {
    let bad = || {
        format!(
            "no syslog timestamp at the start of the line: `{}`",
            prefix(line, 32)
        )
    };
    let month = line
        .get(..3)
        .and_then(|m| MONTHS.iter().position(|&x| x == m))
        .ok_or_else(bad)? as u32
        + 1;
    let rest = line[3..]
        .strip_prefix(' ')
        .ok_or_else(bad)?
        .trim_start_matches(' ');
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&digits) {
        return Err(bad());
    }
    let day: u32 = rest[..digits].parse().map_err(|_| bad())?;
    let rest = rest[digits..].strip_prefix(' ').ok_or_else(bad)?;
    let clock = rest.get(..8).ok_or_else(bad)?;
    let shape_ok = clock.bytes().enumerate().all(|(i, b)| {
        if i == 2 || i == 5 {
            b == b':'
        } else {
            b.is_ascii_digit()
        }
    });
    if !shape_ok {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| clock[r].parse::<u32>().map_err(|_| bad());
    let (hour, minute, second) = (num(0..2)?, num(3..5)?, num(6..8)?);
    let rest = &rest[8..];
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(bad());
    }
    let mut year = reference.year();
    if month > reference.month() {
        year -= 1;
    }
    let time = NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| {
            format!(
                "invalid date or time `{}` (year {year} inferred)",
                prefix(line, 15)
            )
        })?;
    Ok((time, Stamp::Rfc3164, rest))
}

/// At most `n` bytes of `s`, cut on a character boundary, for error messages.
pub(crate) fn prefix(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(y: i32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, 15, 0, 0, 0).unwrap()
    }

    #[test]
    fn rfc3164_header_with_pid_and_padded_day() {
        let h = parse_header(
            "Jul  7 08:06:15 combo sshd[19939]: Accepted x",
            reference(2024, 8),
        )
        .unwrap();
        assert_eq!(h.time, Utc.with_ymd_and_hms(2024, 7, 7, 8, 6, 15).unwrap());
        assert_eq!(
            (h.host, h.program, h.pid, h.message),
            ("combo", "sshd", Some("19939"), "Accepted x")
        );
        assert_eq!(h.stamp, Stamp::Rfc3164);
    }

    #[test]
    fn rfc3164_year_rolls_back_when_month_is_after_the_reference() {
        let h = parse_header("Dec 31 23:59:59 h cron: x", reference(2024, 1)).unwrap();
        assert_eq!(
            h.time,
            Utc.with_ymd_and_hms(2023, 12, 31, 23, 59, 59).unwrap()
        );
        let h = parse_header("Jan  1 00:00:00 h cron: x", reference(2024, 1)).unwrap();
        assert_eq!(h.time, Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
    }

    #[test]
    fn iso_header_keeps_the_offset_and_converts_to_utc() {
        let h = parse_header(
            "2024-03-01T10:00:00.123456+01:00 web1 sshd[1]: hi",
            reference(2024, 3),
        )
        .unwrap();
        assert_eq!(h.time.to_rfc3339(), "2024-03-01T09:00:00.123456+00:00");
        assert_eq!(h.stamp, Stamp::Iso(FixedOffset::east_opt(3600).unwrap()));
        assert_eq!((h.host, h.program, h.message), ("web1", "sshd", "hi"));
    }

    #[test]
    fn odd_tags_and_priorities() {
        let r = reference(2005, 7);
        let h = parse_header("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: auth", r).unwrap();
        assert_eq!((h.program, h.pid), ("sshd(pam_unix)", Some("19939")));
        let h = parse_header("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN", r).unwrap();
        assert_eq!(
            (h.host, h.program, h.message),
            ("combo", "-- root", "ROOT LOGIN")
        );
        let h = parse_header("<38>Jul  7 08:06:15 combo su: x", r).unwrap();
        assert_eq!((h.program, h.pid), ("su", None));
        let h = parse_header("Jul  7 08:06:15 combo", r).unwrap();
        assert_eq!((h.host, h.program, h.message), ("combo", "", ""));
    }

    #[test]
    fn bad_timestamps_are_errors() {
        let r = reference(2024, 3);
        for line in [
            "",
            "hello world",
            "Foo 10 06:55:46 h p: m",
            "Dec 10 06:55 h p: m",
            "Dec 10 25:55:46 h p: m",
            "Feb 30 06:55:46 h p: m",
            "Dec 100 06:55:46 h p: m",
            "Dec 10 06:55:46x h p: m",
            "2024-13-01T00:00:00Z h p: m",
            "Dé",
        ] {
            assert!(parse_header(line, r).is_err(), "{line:?} should not parse");
        }
    }
}
