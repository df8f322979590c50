//! One indicator: its kind, normalized value and provenance.

use ipnet::IpNet;
use riposte_model::Severity;
use serde::Serialize;
use std::net::IpAddr;

/// What an indicator's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IocKind {
    /// SHA-256 file hash.
    Sha256,
    /// SHA-1 file hash.
    Sha1,
    /// MD5 file hash.
    Md5,
    /// IPv4/IPv6 address or network (CIDR).
    Ip,
    /// Domain name; its subdomains match too.
    Domain,
    /// URL.
    Url,
    /// Full file path (Windows paths compare case-insensitively).
    FilePath,
    /// File name without folder.
    FileName,
}

/// File extensions that make a dotted name a file name rather than a domain when the
/// type must be guessed (none is also a top-level domain: no `com`, `zip`, `sh`, `pl`).
const FILE_EXTENSIONS: &[&str] = &[
    "exe", "dll", "sys", "scr", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "jse", "hta",
    "msi", "lnk", "jar", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "pdf", "rtf",
    "rar", "7z", "iso", "bin", "dat", "tmp", "elf", "php", "asp", "aspx", "jsp", "txt", "log",
    "ocx", "cpl", "inf", "wsf",
];

impl IocKind {
    /// The name used in CSV files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            IocKind::Sha256 => "sha256",
            IocKind::Sha1 => "sha1",
            IocKind::Md5 => "md5",
            IocKind::Ip => "ip",
            IocKind::Domain => "domain",
            IocKind::Url => "url",
            IocKind::FilePath => "file_path",
            IocKind::FileName => "file_name",
        }
    }

    /// A kind from its name or a common alias (`sha-256`, `ipv4`, `cidr`, `hostname`,
    /// `filename`, `path`, …), case-insensitive.
    pub fn from_name(name: &str) -> Option<IocKind> {
        Some(
            match name
                .trim()
                .to_ascii_lowercase()
                .replace(['-', ' '], "_")
                .as_str()
            {
                "sha256" | "sha_256" => IocKind::Sha256,
                "sha1" | "sha_1" => IocKind::Sha1,
                "md5" => IocKind::Md5,
                "ip" | "ipv4" | "ipv6" | "ip_address" | "cidr" | "ipv4_addr" | "ipv6_addr" => {
                    IocKind::Ip
                }
                "domain" | "hostname" | "domain_name" | "fqdn" => IocKind::Domain,
                "url" | "uri" => IocKind::Url,
                "file_path" | "filepath" | "path" => IocKind::FilePath,
                "file_name" | "filename" => IocKind::FileName,
                _ => return None,
            },
        )
    }

    /// Guesses the kind of a value: hex of 32/40/64 digits is a hash, an address or CIDR
    /// an IP, `scheme://` a URL, a slash or backslash a path, a dotted name ending in a
    /// known file extension (`.exe`, `.dll`, …) a file name, another dotted name a domain.
    pub fn detect(value: &str) -> Option<IocKind> {
        let v = value.trim();
        if v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return match v.len() {
                64 => Some(IocKind::Sha256),
                40 => Some(IocKind::Sha1),
                32 => Some(IocKind::Md5),
                _ => None,
            };
        }
        if parse_ip(v).is_some() {
            return Some(IocKind::Ip);
        }
        if v.contains("://") {
            return Some(IocKind::Url);
        }
        if v.contains(['/', '\\']) {
            return Some(IocKind::FilePath);
        }
        let extension = v.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        if extension.is_some_and(|e| FILE_EXTENSIONS.contains(&e.as_str())) {
            return Some(IocKind::FileName);
        }
        normalize_domain(v).is_ok().then_some(IocKind::Domain)
    }
}

/// One indicator of compromise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    /// Its kind.
    pub kind: IocKind,
    /// Its value, normalized (hashes, domains and Windows paths lowercase; IPs canonical).
    pub value: String,
    /// Where it came from (feed, file, MISP event, STIX indicator id).
    pub source: String,
    /// What it is (the feed's comment or the indicator's name).
    pub description: String,
    /// Its severity, when the source gives one.
    pub severity: Option<Severity>,
}

impl Indicator {
    /// An indicator with `value` checked and normalized for `kind`; the error says why
    /// the value is not one.
    pub fn new(
        kind: IocKind,
        value: &str,
        source: impl Into<String>,
        description: impl Into<String>,
    ) -> Result<Self, String> {
        Ok(Indicator {
            kind,
            value: normalize(kind, value)?,
            source: source.into(),
            description: description.into(),
            severity: None,
        })
    }

    /// Sets the severity (builder style).
    pub fn with_severity(mut self, severity: Option<Severity>) -> Self {
        self.severity = severity;
        self
    }
}

/// `value` checked and normalized for `kind`.
pub(crate) fn normalize(kind: IocKind, value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("empty value".into());
    }
    let hash = |len: usize| {
        if v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(v.to_ascii_lowercase())
        } else {
            Err(format!("`{v}` is not {len} hex digits"))
        }
    };
    match kind {
        IocKind::Sha256 => hash(64),
        IocKind::Sha1 => hash(40),
        IocKind::Md5 => hash(32),
        IocKind::Ip => parse_ip(v)
            .map(|net| net.to_string())
            .ok_or_else(|| format!("`{v}` is not an IP address or CIDR")),
        IocKind::Domain => normalize_domain(v),
        IocKind::Url => normalize_url(v),
        IocKind::FilePath => Ok(normalize_path(v)),
        IocKind::FileName if v.contains(['/', '\\']) => Err(format!("`{v}` has a folder")),
        IocKind::FileName => Ok(v.to_lowercase()),
    }
}

/// An address or network; a single address is a /32 or /128 network.
pub(crate) fn parse_ip(v: &str) -> Option<IpNet> {
    let v = v.trim().trim_start_matches('[').trim_end_matches(']');
    v.parse::<IpAddr>()
        .map(IpNet::from)
        .or_else(|_| v.parse::<IpNet>().map(|n| n.trunc()))
        .ok()
}

/// Lowercase, no trailing dot, letters/digits/`-`/`_` labels, at least two labels, and a
/// top-level label that is not all digits.
pub(crate) fn normalize_domain(v: &str) -> Result<String, String> {
    let d = v.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_digit()));
    if labels.len() >= 2 && d.len() <= 253 && labels.iter().all(label_ok) && tld_ok {
        Ok(d)
    } else {
        Err(format!("`{v}` is not a domain name"))
    }
}

/// Scheme and host lowercase, the rest as is; a URL without a scheme gets none added.
pub(crate) fn normalize_url(v: &str) -> Result<String, String> {
    if v.chars().any(char::is_whitespace) {
        return Err(format!("`{v}` is not a URL (it has spaces)"));
    }
    let (scheme, rest) = v.split_once("://").unwrap_or(("", v));
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest[..host_end].is_empty() {
        return Err(format!("`{v}` is not a URL (no host)"));
    }
    let head = rest[..host_end].to_ascii_lowercase();
    let tail = &rest[host_end..];
    Ok(if scheme.is_empty() {
        format!("{head}{tail}")
    } else {
        format!("{}://{head}{tail}", scheme.to_ascii_lowercase())
    })
}

/// The host of a URL (without port or credentials), lowercase.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether a path is a Windows one: a drive letter or a backslash.
pub(crate) fn is_windows_path(p: &str) -> bool {
    let b = p.as_bytes();
    p.contains('\\') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// Windows paths lowercase with backslashes; others as they are.
pub(crate) fn normalize_path(p: &str) -> String {
    let p = p.trim();
    if is_windows_path(p) {
        p.replace('/', "\\").to_lowercase()
    } else {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_detected_from_values() {
        let cases = [
            ("44d88612fea8a8f36de82e1278abb02f", Some(IocKind::Md5)),
            (
                "3395856ce81f2b7382dee72602f798b642f14140",
                Some(IocKind::Sha1),
            ),
            (
                "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
                Some(IocKind::Sha256),
            ),
            ("10.0.0.0/8", Some(IocKind::Ip)),
            ("2001:db8::1", Some(IocKind::Ip)),
            ("http://evil.example/x", Some(IocKind::Url)),
            ("C:\\Windows\\Temp\\x.exe", Some(IocKind::FilePath)),
            ("mimikatz.exe", Some(IocKind::FileName)),
            ("update.evil.example", Some(IocKind::Domain)),
            ("not a thing", None),
            ("abcd", None),
        ];
        for (value, kind) in cases {
            assert_eq!(IocKind::detect(value), kind, "{value}");
        }
    }

    #[test]
    fn values_are_normalized_or_refused() {
        let n = |k, v| normalize(k, v);
        assert_eq!(
            n(IocKind::Md5, " 44D88612FEA8A8F36DE82E1278ABB02F").unwrap(),
            "44d88612fea8a8f36de82e1278abb02f"
        );
        assert!(n(IocKind::Sha1, "44d88612fea8a8f36de82e1278abb02f").is_err());
        assert_eq!(n(IocKind::Ip, "10.1.2.3/8").unwrap(), "10.0.0.0/8");
        assert_eq!(n(IocKind::Ip, "1.2.3.4").unwrap(), "1.2.3.4/32");
        assert_eq!(n(IocKind::Domain, "Evil.Example.").unwrap(), "evil.example");
        assert!(n(IocKind::Domain, "domain autuo.xicp.net").is_err());
        assert!(n(IocKind::Domain, "10.0.0.1").is_err());
        assert_eq!(
            n(IocKind::Url, "HTTP://Evil.Example/A?b").unwrap(),
            "http://evil.example/A?b"
        );
        assert_eq!(
            n(IocKind::FilePath, "C:/Temp/X.exe").unwrap(),
            "c:\\temp\\x.exe"
        );
        assert_eq!(n(IocKind::FilePath, "/tmp/X").unwrap(), "/tmp/X");
        assert_eq!(
            url_host("https://user@Evil.Example:8443/x").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            url_host("http://[2001:db8::1]:80/").as_deref(),
            Some("2001:db8::1")
        );
    }
}
