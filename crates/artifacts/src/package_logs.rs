//! Package manager logs: `/var/log/dpkg.log*`, `/var/log/apt/history.log*`,
//! `/var/log/yum.log*`, `/var/log/dnf.log*` and `/var/log/dnf.rpm.log*`.
//!
//! Package changes become file events with `package`, `version` (new), `old_version`,
//! `architecture` and `operation`: install → `create_file`, upgrade/downgrade/reinstall
//! → `write_file`, remove/purge/erase → `delete_file`. apt's `Commandline:` and dnf's
//! `Command:` lines become `run` events (`cmd`, apt's `Requested-By` as `username`).
//! dpkg and apt times are local without a zone (read as UTC, `timezone` =
//! `UTC (assumed)`); yum's have no year (inferred from the file's mtime, as for syslog);
//! dnf's carry their offset.
//!
//! dpkg `status`/`configure`/`trigproc`/`startup` lines and dnf's other messages are
//! skipped; a dpkg or yum line of unknown shape is an error record, as is an apt
//! `Start-Date` that does not parse.

use crate::records::{LineHandler, Origin, Out, line_records, rotated};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use riposte_model::{Action, Event};
use std::io::BufRead;

/// apt's `Install:` lines list every package of a transaction.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// Parser for dpkg, apt, yum and dnf logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PackageLogs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dpkg,
    AptHistory,
    Yum,
    Dnf,
}

fn kind_of(path: &str) -> Option<Kind> {
    let name = crate::file_name(path);
    if rotated(name, "dpkg.log") {
        Some(Kind::Dpkg)
    } else if rotated(name, "history.log") && path.contains("apt/") {
        Some(Kind::AptHistory)
    } else if rotated(name, "yum.log") {
        Some(Kind::Yum)
    } else if rotated(name, "dnf.log") || rotated(name, "dnf.rpm.log") {
        Some(Kind::Dnf)
    } else {
        None
    }
}

impl ArtifactParser for PackageLogs {
    fn name(&self) -> &'static str {
        "package_logs"
    }

    fn claims(&self, original_path: &str) -> bool {
        kind_of(original_path).is_some()
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(
            Origin::new(ctx, "package_logs"),
            input,
            MAX_LINE,
            Handler {
                kind: kind_of(&ctx.original_path).unwrap_or(Kind::Dpkg),
                reference: ctx.modified.unwrap_or_else(Utc::now),
                apt: Apt::default(),
            },
        )
    }
}

#[derive(Default)]
struct Apt {
    start: Option<DateTime<Utc>>,
    requested_by: Option<String>,
    /// The `Commandline:` event, held until `Requested-By:` (which follows it) is seen.
    pending: Option<Event>,
}

struct Handler {
    kind: Kind,
    reference: DateTime<Utc>,
    apt: Apt,
}

/// What happened to one package.
struct Change<'a> {
    operation: &'a str,
    package: &'a str,
    arch: Option<&'a str>,
    version: Option<&'a str>,
    old_version: Option<&'a str>,
}

fn action_of(operation: &str) -> Action {
    match operation.to_ascii_lowercase().as_str() {
        "install" | "installed" => Action::FileCreate,
        "remove" | "purge" | "erase" | "erased" | "removed" => Action::FileDelete,
        _ => Action::FileWrite,
    }
}

fn change_event(out: &Out<'_>, time: Option<DateTime<Utc>>, c: &Change<'_>, number: u64) -> Event {
    let version = c.version.unwrap_or("");
    let mut e = out
        .origin
        .event(
            time,
            action_of(c.operation),
            format!("package {} {} {version}", c.operation, c.package)
                .trim_end()
                .to_string(),
            number,
        )
        .with("package", c.package)
        .with("operation", c.operation.to_ascii_lowercase());
    for (key, value) in [
        ("version", c.version),
        ("old_version", c.old_version),
        ("architecture", c.arch),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty() && *v != "<none>") {
            e = e.with(key, v);
        }
    }
    e
}

/// `pkg:amd64` → (`pkg`, `amd64`).
fn split_arch(p: &str) -> (&str, Option<&str>) {
    match p.split_once(':') {
        Some((name, arch)) => (name, Some(arch)),
        None => (p, None),
    }
}

fn local_time(s: &str, format: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, format)
        .ok()
        .map(|t| Utc.from_utc_datetime(&t))
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        let line = text.trim_end();
        if self.kind != Kind::AptHistory && line.trim().is_empty() {
            return;
        }
        match self.kind {
            Kind::Dpkg => dpkg(out, number, line),
            Kind::AptHistory => self.apt_line(out, number, line),
            Kind::Yum => yum(out, number, line, self.reference),
            Kind::Dnf => dnf(out, number, line),
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        if let Some(e) = self.apt.pending.take() {
            out.push(e);
        }
    }
}

/// `2024-01-01 10:00:00 install pkg:amd64 <none> 1.0`.
fn dpkg(out: &mut Out<'_>, number: u64, line: &str) {
    let bad = || format!("not a dpkg log line: `{}`", crate::syslog::prefix(line, 60));
    let (Some(stamp), Some(rest)) = (line.get(..19), line.get(20..)) else {
        return out.error(number, bad());
    };
    let Some(time) = local_time(stamp, "%Y-%m-%d %H:%M:%S") else {
        return out.error(number, bad());
    };
    let w: Vec<&str> = rest.split_ascii_whitespace().collect();
    let (operation, package, old, new) = match w.as_slice() {
        [
            op @ ("install" | "upgrade" | "remove" | "purge" | "downgrade"),
            pkg,
            old,
            new,
        ] => (*op, *pkg, *old, *new),
        [
            "status" | "configure" | "trigproc" | "startup" | "conffile",
            ..,
        ] => return,
        _ => return out.error(number, bad()),
    };
    let (package, arch) = split_arch(package);
    let (version, old_version) = match operation {
        "remove" | "purge" => (Some(old), None),
        _ => (Some(new), Some(old)),
    };
    let change = Change {
        operation,
        package,
        arch,
        version,
        old_version,
    };
    let e = change_event(out, Some(time), &change, number)
        .with("timezone", "UTC (assumed)")
        .with("package_manager", "dpkg")
        .with_raw(line);
    out.push(e);
}

impl Handler {
    fn apt_line(&mut self, out: &mut Out<'_>, number: u64, line: &str) {
        let Some((key, value)) = line.split_once(": ") else {
            if line.trim().is_empty() {
                // End of a transaction block.
                if let Some(e) = self.apt.pending.take() {
                    out.push(e);
                }
                self.apt = Apt::default();
            } else {
                out.error(
                    number,
                    format!(
                        "not an apt history line: `{}`",
                        crate::syslog::prefix(line, 60)
                    ),
                );
            }
            return;
        };
        let value = value.trim();
        if key != "Requested-By"
            && let Some(e) = self.apt.pending.take()
        {
            out.push(e);
        }
        match key {
            "Start-Date" => {
                let squeezed = value.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
                self.apt.start = local_time(&squeezed, "%Y-%m-%d %H:%M:%S");
                self.apt.requested_by = None;
                if self.apt.start.is_none() {
                    out.error(number, format!("bad apt Start-Date `{value}`"));
                }
            }
            "Commandline" => {
                let e = out
                    .origin
                    .event(
                        self.apt.start,
                        Action::ProcessRun,
                        format!("apt: {value}"),
                        number,
                    )
                    .with("cmd", value)
                    .with("package_manager", "apt")
                    .with("timezone", "UTC (assumed)")
                    .with_raw(line);
                self.apt.pending = Some(e);
            }
            "Requested-By" => {
                // `bob (1000)`.
                let (user, uid) = match value.split_once(" (") {
                    Some((u, id)) => (u, id.strip_suffix(')')),
                    None => (value, None),
                };
                self.apt.requested_by = Some(user.to_string());
                if let Some(mut e) = self.apt.pending.take() {
                    e = e.with("username", user);
                    if let Some(uid) = uid {
                        e = e.with("uid", uid);
                    }
                    out.push(e);
                }
            }
            "Install" | "Upgrade" | "Remove" | "Purge" | "Reinstall" | "Downgrade" => {
                for (package, versions) in apt_packages(value) {
                    let (package, arch) = split_arch(package);
                    let mut vs = versions.split(", ");
                    let first = vs.next();
                    let second = vs.next().filter(|v| *v != "automatic");
                    let (version, old_version) = match (key, second) {
                        ("Upgrade" | "Downgrade", Some(new)) => (Some(new), first),
                        _ => (first, None),
                    };
                    let change = Change {
                        operation: key,
                        package,
                        arch,
                        version,
                        old_version,
                    };
                    let mut e = change_event(out, self.apt.start, &change, number)
                        .with("package_manager", "apt")
                        .with("timezone", "UTC (assumed)");
                    if versions.ends_with("automatic") {
                        e = e.with("automatic", "true");
                    }
                    if let Some(user) = &self.apt.requested_by {
                        e = e.with("username", user.as_str());
                    }
                    out.push(e.with_raw(crate::syslog::prefix(line, 4096)));
                }
            }
            _ => {} // End-Date, Error, Requested-By variants, …
        }
    }
}

/// `a:amd64 (1.0), b:amd64 (1.0, 1.1), c (2, automatic)` → (package, versions).
fn apt_packages(list: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let Some((package, after)) = rest.split_once(" (") else {
            break;
        };
        let Some((versions, after)) = after.split_once(')') else {
            break;
        };
        out.push((package.trim(), versions));
        rest = after.trim_start_matches([',', ' ']);
    }
    out
}

/// `nmap-2:7.80-1.el8.x86_64` → (name, version, arch).
fn split_nevra(nevra: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, arch) = match nevra.rsplit_once('.') {
        Some((r, a)) if !a.contains('-') => (r, Some(a)),
        _ => (nevra, None),
    };
    let Some((name_ver, _release)) = rest.rsplit_once('-') else {
        return (nevra, None, None);
    };
    match name_ver.rsplit_once('-') {
        Some((name, _)) => (name, Some(&rest[name.len() + 1..]), arch),
        None => (nevra, None, None),
    }
}

/// `Jan 01 10:00:00 Installed: nmap-2:7.80-1.el8.x86_64`.
fn yum(out: &mut Out<'_>, number: u64, line: &str, reference: DateTime<Utc>) {
    let bad = || format!("not a yum log line: `{}`", crate::syslog::prefix(line, 60));
    let (Some(stamp), Some(rest)) = (line.get(..15), line.get(16..)) else {
        return out.error(number, bad());
    };
    let header_line = format!("{stamp} h p: x");
    let Ok(time) = crate::syslog::parse_header(&header_line, reference).map(|h| h.time) else {
        return out.error(number, bad());
    };
    let Some((op, nevra)) = rest.split_once(": ") else {
        return out.error(number, bad());
    };
    if !matches!(
        op,
        "Installed" | "Updated" | "Erased" | "Reinstalled" | "Downgraded"
    ) {
        return out.error(number, bad());
    }
    let (package, version, arch) = split_nevra(nevra.trim());
    let change = Change {
        operation: op,
        package,
        arch,
        version,
        old_version: None,
    };
    let e = change_event(out, Some(time), &change, number)
        .with("package_manager", "yum")
        .with("timezone", "UTC (assumed)")
        .with("year_inferred", "true")
        .with("nevra", nevra.trim())
        .with_raw(line);
    out.push(e);
}

/// `2024-01-01T10:00:00+0000 SUBDEBUG Installed: nmap-…`, `… DDEBUG Command: dnf install x`.
fn dnf(out: &mut Out<'_>, number: u64, line: &str) {
    let Some((stamp, rest)) = line.split_once(' ') else {
        return;
    };
    let time = DateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(stamp));
    let Ok(time) = time else {
        return; // continuation lines (tracebacks, transaction tables)
    };
    let offset = time.offset().to_string();
    let time = time.with_timezone(&Utc);
    let Some((_level, msg)) = rest.split_once(' ') else {
        return;
    };
    if let Some(cmd) = msg.strip_prefix("Command: ") {
        let e = out
            .origin
            .event(
                Some(time),
                Action::ProcessRun,
                format!("dnf: {cmd}"),
                number,
            )
            .with("cmd", cmd)
            .with("package_manager", "dnf")
            .with("timezone", offset)
            .with_raw(line);
        return out.push(e);
    }
    let Some((op, nevra)) = msg.split_once(": ") else {
        return;
    };
    let op = match op {
        "Installed" | "Install" => "Installed",
        "Upgraded" | "Upgrade" => "Upgraded",
        "Erase" | "Erased" | "Removed" => "Erased",
        "Reinstalled" | "Reinstall" => "Reinstalled",
        "Downgraded" | "Downgrade" => "Downgraded",
        _ => return,
    };
    let (package, version, arch) = split_nevra(nevra.trim());
    let change = Change {
        operation: op,
        package,
        arch,
        version,
        old_version: None,
    };
    let e = change_event(out, Some(time), &change, number)
        .with("package_manager", "dnf")
        .with("timezone", offset)
        .with("nevra", nevra.trim())
        .with_raw(line);
    out.push(e);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nevra_and_apt_lists() {
        assert_eq!(
            split_nevra("nmap-2:7.80-1.el8.x86_64"),
            ("nmap", Some("2:7.80-1.el8"), Some("x86_64"))
        );
        assert_eq!(
            split_nevra("python3-libs-3.6.8-51.el8.x86_64"),
            ("python3-libs", Some("3.6.8-51.el8"), Some("x86_64"))
        );
        assert_eq!(
            apt_packages("a:amd64 (1.0), b:amd64 (1.0, 1.1), c (2, automatic)"),
            vec![
                ("a:amd64", "1.0"),
                ("b:amd64", "1.0, 1.1"),
                ("c", "2, automatic")
            ]
        );
    }

    #[test]
    fn claims() {
        for p in [
            "/var/log/dpkg.log",
            "/var/log/dpkg.log.2.gz",
            "/var/log/apt/history.log.1.gz",
            "/var/log/yum.log",
            "/var/log/dnf.rpm.log",
        ] {
            assert!(PackageLogs.claims(p), "{p}");
        }
        assert!(!PackageLogs.claims("/home/x/.history.log"));
        assert!(!PackageLogs.claims("/var/log/apt/term.log"));
    }
}
