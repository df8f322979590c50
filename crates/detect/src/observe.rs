//! Reading observables out of events whatever parser wrote them: paths compared the way
//! the system that logged them does, hashes in any case and container, accounts without
//! their domain, process and logon ids in decimal or hex, IP addresses in any attribute.

use riposte_model::{Event, IpLocality};
use std::net::IpAddr;

/// Attributes naming an account, by the parsers' names (normalized and as logged).
pub(crate) const USER_KEYS: &[&str] = &[
    "username",
    "target_user",
    "User",
    "TargetUserName",
    "SubjectUserName",
    "SourceUser",
    "TargetUser",
    "ruser",
    "acct",
];

/// Attributes holding a command line.
pub(crate) const CMD_KEYS: &[&str] = &[
    "cmd",
    "CommandLine",
    "parent_cmd",
    "ParentCommandLine",
    "proctitle",
];

/// A path as the system compares it: Windows paths (a drive, a `\Device\` volume, or any
/// backslash) lowercased with `/` as `\` and without their drive or volume, so that
/// `C:\Windows\x.exe` and `\Device\HarddiskVolume3\Windows\X.exe` are equal; POSIX paths
/// as they are. `None` for values that are not paths.
pub(crate) fn normalize_path(path: &str) -> Option<String> {
    let p = path.trim().trim_matches('"');
    if p.is_empty() {
        return None;
    }
    let windows = p.contains('\\') || has_drive(p);
    if !windows {
        return p.starts_with('/').then(|| p.to_string());
    }
    let mut s = p.replace('/', "\\").to_lowercase();
    for prefix in ["\\\\?\\", "\\??\\"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
    }
    if has_drive(&s) {
        s.drain(..2);
    } else if let Some(rest) = s.strip_prefix("\\device\\") {
        // `\Device\HarddiskVolume3\…`: drop the volume's name.
        match rest.find('\\') {
            Some(i) => s = rest[i..].to_string(),
            None => return None,
        }
    } else if s.starts_with("%systemroot%") {
        s = s.replacen("%systemroot%", "\\windows", 1);
    }
    (s.starts_with('\\') && s.len() > 1).then_some(s)
}

fn has_drive(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The last component of a path, lowercased when the path is a Windows one.
pub(crate) fn file_name_key(path: &str) -> Option<String> {
    let p = path.trim().trim_matches('"');
    let name = p.rsplit(['\\', '/']).next().unwrap_or(p);
    if name.is_empty() || name == p && !p.contains('.') {
        return None;
    }
    Some(if p.contains('\\') || has_drive(p) {
        name.to_lowercase()
    } else {
        name.to_string()
    })
}

/// The hex digests in a value: a bare hash, or Sysmon's `SHA1=…,MD5=…,SHA256=…`.
pub(crate) fn hashes(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split([',', ';', ' ', '=', ':'])
        .filter(|t| matches!(t.len(), 32 | 40 | 64) && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

/// An account without its domain (`DOMAIN\bob`, `bob@corp.example`), lowercased.
pub(crate) fn user_key(user: &str) -> Option<String> {
    let u = user.trim();
    let u = u.rsplit('\\').next().unwrap_or(u);
    let u = u.split('@').next().unwrap_or(u);
    (!u.is_empty() && u != "-" && u != "?").then(|| u.to_lowercase())
}

/// An IP address in an attribute value (`::ffff:` mapped IPv4 as IPv4, `[v6]` unwrapped).
pub(crate) fn ip(value: &str) -> Option<IpAddr> {
    let v = value.trim();
    let v = v
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(v);
    let first = v.bytes().next()?;
    if !(first.is_ascii_hexdigit() || first == b':') {
        return None;
    }
    let ip: IpAddr = v.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// Whether an address is on the investigated network or outside it.
pub(crate) fn locality(ip: IpAddr) -> IpLocality {
    let internal = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
        }
    };
    if internal {
        IpLocality::Internal
    } else {
        IpLocality::External
    }
}

/// A remote address worth following: not loopback, not unspecified.
pub(crate) fn is_remote(ip: IpAddr) -> bool {
    !ip.is_loopback() && !ip.is_unspecified()
}

/// A process or logon id logged in decimal (`420`) or hex (`0x1a4`).
pub(crate) fn number(value: &str) -> Option<u64> {
    let v = value.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// The event's attribute, if present and meaningful (not empty, not `-`).
pub(crate) fn attr<'e>(e: &'e Event, key: &str) -> Option<&'e str> {
    e.attr(key)
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "-")
}

/// Windows event log record: `(provider is Sysmon, event id)`.
pub(crate) fn evtx_id(e: &Event) -> Option<(WinLog, &str)> {
    if e.origin.parser != "evtx" {
        return None;
    }
    let id = e.attr("event_id")?;
    let provider = e.attr("provider").unwrap_or("");
    let channel = e.attr("channel").unwrap_or("");
    let log = if provider.eq_ignore_ascii_case("Microsoft-Windows-Sysmon")
        || channel.eq_ignore_ascii_case("Microsoft-Windows-Sysmon/Operational")
    {
        WinLog::Sysmon
    } else if provider.eq_ignore_ascii_case("Microsoft-Windows-Security-Auditing")
        || channel.eq_ignore_ascii_case("Security")
    {
        WinLog::Security
    } else {
        WinLog::Other
    };
    Some((log, id))
}

/// The Windows logs whose records the chains read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WinLog {
    Sysmon,
    Security,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths_compare_without_case_drive_or_volume() {
        let a = normalize_path(r"C:\Windows\System32\svchost.exe");
        assert_eq!(a.as_deref(), Some(r"\windows\system32\svchost.exe"));
        assert_eq!(
            normalize_path(r"\Device\HarddiskVolume3\Windows\System32\SVCHOST.EXE"),
            a
        );
        assert_eq!(normalize_path(r#""c:/windows/system32/svchost.exe""#), a);
        assert_eq!(normalize_path("/tmp/X"), Some("/tmp/X".into()));
        assert_eq!(normalize_path("svchost.exe"), None);
        assert_eq!(normalize_path(r"\Device\"), None);
        assert_eq!(file_name_key(r"C:\A\B.EXE").as_deref(), Some("b.exe"));
        assert_eq!(file_name_key("/tmp/B.sh").as_deref(), Some("B.sh"));
    }

    #[test]
    fn hashes_users_ips_and_ids() {
        let h: Vec<_> = hashes("SHA1=AA11AA11AA11AA11AA11AA11AA11AA11AA11AA11,MD5=0123456789ABCDEF0123456789ABCDEF,IMPHASH=00").collect();
        assert_eq!(
            h,
            [
                "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11",
                "0123456789abcdef0123456789abcdef"
            ]
        );
        assert_eq!(user_key(r"CORP\Bob").as_deref(), Some("bob"));
        assert_eq!(user_key("bob@corp.example").as_deref(), Some("bob"));
        assert_eq!(user_key("-"), None);
        assert_eq!(ip("::ffff:10.0.0.1"), "10.0.0.1".parse().ok());
        assert_eq!(ip("true"), None);
        assert_eq!(
            locality("100.64.1.1".parse().unwrap()),
            IpLocality::Internal
        );
        assert_eq!(locality("8.8.8.8".parse().unwrap()), IpLocality::External);
        assert_eq!(locality("fd00::1".parse().unwrap()), IpLocality::Internal);
        assert_eq!(number("0x1a4"), Some(420));
        assert_eq!(number("420"), Some(420));
        assert_eq!(number("x"), None);
    }
}
