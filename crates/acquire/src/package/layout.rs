//! Where a collector put each file, and where it was on the original system.
//!
//! - **UAC** (Unix-like Artifacts Collector): files under `[root]/`, e.g.
//!   `uac-web01-linux-20240101/[root]/var/log/auth.log` → `/var/log/auth.log`.
//! - **Velociraptor** offline collector: `uploads/<accessor>/<percent-encoded path>`, e.g.
//!   `uploads/auto/C%3A/Windows/System32/winevt/Logs/Security.evtx` →
//!   `C:/Windows/System32/winevt/Logs/Security.evtx`, `uploads/file/etc/passwd` → `/etc/passwd`.
//! - **KAPE**: a drive-letter folder, e.g. `C/Windows/Prefetch/X.pf` → `C:/Windows/Prefetch/X.pf`.
//! - **Plain**: a root filesystem, possibly in one top folder (`web01/etc/passwd` → `/etc/passwd`).
//!
//! Windows paths keep their drive letter and use `/`.

use serde::Serialize;
use std::fmt;

/// A collector's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Unix-like Artifacts Collector.
    Uac,
    /// Velociraptor offline collector.
    Velociraptor,
    /// KAPE target collection.
    Kape,
    /// A root filesystem.
    Plain,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Uac => "UAC",
            Layout::Velociraptor => "Velociraptor",
            Layout::Kape => "KAPE",
            Layout::Plain => "plain root filesystem",
        })
    }
}

/// Top-level folders of a Unix root filesystem.
const ROOT_DIRS: [&str; 14] = [
    "bin", "boot", "etc", "home", "lib", "lib64", "opt", "root", "sbin", "srv", "tmp", "usr",
    "var", "dev",
];

/// Top-level folders of a Windows volume that mark a KAPE drive folder.
const WINDOWS_DIRS: [&str; 7] = [
    "windows",
    "users",
    "programdata",
    "program files",
    "program files (x86)",
    "$mft",
    "$extend",
];

fn components(name: &str) -> Vec<&str> {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

fn is_drive(c: &str) -> bool {
    c.len() == 1 && c.as_bytes()[0].is_ascii_alphabetic()
}

/// Index of the KAPE drive folder in `parts`, if any.
fn kape_drive(parts: &[&str]) -> Option<usize> {
    parts
        .windows(2)
        .position(|w| is_drive(w[0]) && WINDOWS_DIRS.contains(&w[1].to_ascii_lowercase().as_str()))
}

impl Layout {
    /// Recognises the layout from the archive's entry names.
    pub fn detect<'a>(names: impl IntoIterator<Item = &'a str>) -> Layout {
        let mut velociraptor = false;
        let mut kape = false;
        for name in names {
            let parts = components(name);
            if parts.contains(&"[root]") {
                return Layout::Uac;
            }
            if parts.first() == Some(&"uploads") && parts.len() > 2 {
                velociraptor = true;
            }
            if kape_drive(&parts).is_some() {
                kape = true;
            }
        }
        if velociraptor {
            Layout::Velociraptor
        } else if kape {
            Layout::Kape
        } else {
            Layout::Plain
        }
    }

    /// The original path of entry `name` (already checked for traversal), or `None` when
    /// the entry is the collector's own output (logs, reports) rather than a collected file.
    /// `strip` is the common top folder of a plain layout, if any.
    pub fn original_path(self, name: &str, strip: Option<&str>) -> Option<String> {
        let parts = components(name);
        match self {
            Layout::Uac => {
                let at = parts.iter().position(|c| *c == "[root]")?;
                let rest = &parts[at + 1..];
                (!rest.is_empty()).then(|| format!("/{}", rest.join("/")))
            }
            Layout::Velociraptor => {
                if parts.first() != Some(&"uploads") || parts.len() < 3 {
                    return None;
                }
                let decoded: Vec<String> = parts[2..].iter().map(|c| percent_decode(c)).collect();
                windows_or_unix(&decoded)
            }
            Layout::Kape => {
                let at = kape_drive(&parts)?;
                let rest = &parts[at + 1..];
                Some(format!(
                    "{}:/{}",
                    parts[at].to_ascii_uppercase(),
                    rest.join("/")
                ))
            }
            Layout::Plain => {
                let rest = match strip {
                    Some(top) if parts.first() == Some(&top) => &parts[1..],
                    _ => &parts[..],
                };
                (!rest.is_empty()).then(|| format!("/{}", rest.join("/")))
            }
        }
    }

    /// For a plain layout: the one top folder every entry is in, when it is not itself a
    /// root-filesystem folder (`web01/etc/…` → `web01`).
    pub fn common_top<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let mut top: Option<&str> = None;
        for name in names {
            if name.ends_with('/') {
                // A directory entry (zip): says nothing about where files are.
                continue;
            }
            let parts = components(name);
            let first = *parts.first()?;
            if parts.len() == 1 {
                // A file at the top level: no common folder to strip.
                return None;
            }
            match top {
                None => top = Some(first),
                Some(t) if t != first => return None,
                Some(_) => {}
            }
        }
        // A Windows volume's own folder (`Windows/System32/…`) is not a host folder either.
        top.filter(|t| {
            !ROOT_DIRS.contains(t) && !WINDOWS_DIRS.contains(&t.to_ascii_lowercase().as_str())
        })
        .map(str::to_string)
    }
}

/// `C:`/`\\.\C:` first component → `C:/rest`; otherwise `/rest`.
fn windows_or_unix(parts: &[String]) -> Option<String> {
    let first = parts.first()?;
    let drive = first
        .trim_start_matches("\\\\.\\")
        .trim_start_matches("\\\\?\\");
    if drive.len() == 2 && drive.ends_with(':') && is_drive(&drive[..1]) {
        let rest = parts[1..].join("/");
        return Some(format!("{}/{rest}", drive.to_ascii_uppercase()));
    }
    Some(format!("/{}", parts.join("/")))
}

/// Decodes `%XX` escapes (Velociraptor encodes `:`, `\` and other characters so).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uac_maps_root_and_ignores_its_own_output() {
        let names = [
            "uac-web01-linux-20240101/uac.log",
            "uac-web01-linux-20240101/live_response/process/ps.txt",
            "uac-web01-linux-20240101/[root]/var/log/auth.log",
        ];
        let layout = Layout::detect(names.iter().copied());
        assert_eq!(layout, Layout::Uac);
        assert_eq!(layout.original_path(names[0], None), None);
        assert_eq!(layout.original_path(names[1], None), None);
        assert_eq!(
            layout.original_path(names[2], None).as_deref(),
            Some("/var/log/auth.log")
        );
    }

    #[test]
    fn velociraptor_decodes_drives_and_unix_paths() {
        let names = [
            "uploads/auto/C%3A/Windows/System32/winevt/Logs/Security.evtx",
            "uploads/ntfs/%5C%5C.%5CC%3A/$MFT",
            "uploads/file/etc/passwd",
            "results/Windows.KapeFiles.Targets%2FAll File Metadata.json",
        ];
        let layout = Layout::detect(names.iter().copied());
        assert_eq!(layout, Layout::Velociraptor);
        let mapped: Vec<Option<String>> = names
            .iter()
            .map(|n| layout.original_path(n, None))
            .collect();
        assert_eq!(
            mapped,
            [
                Some("C:/Windows/System32/winevt/Logs/Security.evtx".to_string()),
                Some("C:/$MFT".to_string()),
                Some("/etc/passwd".to_string()),
                None
            ]
        );
    }

    #[test]
    fn kape_and_plain_layouts() {
        let kape = [
            "2024-01-01T000000_triage/C/Windows/Prefetch/CMD.EXE-1.pf",
            "2024-01-01T000000_triage/c/Users/bob/NTUSER.DAT",
        ];
        let layout = Layout::detect(kape.iter().copied());
        assert_eq!(layout, Layout::Kape);
        assert_eq!(
            layout.original_path(kape[1], None).as_deref(),
            Some("C:/Users/bob/NTUSER.DAT")
        );

        let plain = [
            "web01/",
            "web01/etc/",
            "web01/etc/passwd",
            "web01/var/log/auth.log",
        ];
        assert_eq!(Layout::detect(plain.iter().copied()), Layout::Plain);
        let top = Layout::common_top(plain.iter().copied());
        assert_eq!(top.as_deref(), Some("web01"));
        assert_eq!(
            Layout::Plain
                .original_path(plain[3], top.as_deref())
                .as_deref(),
            Some("/var/log/auth.log")
        );
        let windows_root = [
            "Windows/System32/winevt/Logs/Security.evtx",
            "Windows/System32/config/SYSTEM",
        ];
        assert_eq!(Layout::common_top(windows_root.iter().copied()), None);
        let rootfs = ["./etc/passwd", "./var/log/syslog"];
        assert_eq!(Layout::common_top(rootfs.iter().copied()), None);
        assert_eq!(
            Layout::Plain.original_path(rootfs[0], None).as_deref(),
            Some("/etc/passwd")
        );
    }
}
