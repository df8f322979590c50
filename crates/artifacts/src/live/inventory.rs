//! `/$Riposte/live/modules` (`/proc/modules`), `/$Riposte/live/mounts` (`/proc/mounts`)
//! and `/$Riposte/live/units` (`systemctl list-units --state=running`): what the host has
//! loaded, mounted and running, one `host` event per line (`module`, `mount_point`,
//! `unit`), timed when the command ran.

use super::LIVE_PREFIX;
use crate::records::{LineHandler, Origin, Out, line_records};
use crate::word;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event};
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;

/// Parser for the live inventories: kernel modules, mounts, running units.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveInventory;

#[derive(Clone, Copy)]
enum Kind {
    Modules,
    Mounts,
    Units,
}

fn kind(path: &str) -> Option<Kind> {
    match path.strip_prefix(LIVE_PREFIX)? {
        "modules" => Some(Kind::Modules),
        "mounts" => Some(Kind::Mounts),
        "units" => Some(Kind::Units),
        _ => None,
    }
}

impl ArtifactParser for LiveInventory {
    fn name(&self) -> &'static str {
        "live_inventory"
    }

    fn claims(&self, original_path: &str) -> bool {
        kind(original_path).is_some()
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let handler = Handler {
            kind: kind(&ctx.original_path).unwrap_or(Kind::Units),
            time: ctx.modified,
        };
        line_records(Origin::new(ctx, "live_inventory"), input, MAX_LINE, handler)
    }
}

struct Handler {
    kind: Kind,
    time: Option<DateTime<Utc>>,
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        let event = |message: String| {
            out.origin
                .event(self.time, Action::HostInfo, message, number)
                .with("live", "true")
                .with_raw(text)
        };
        let e = match self.kind {
            Kind::Modules if fields.len() >= 2 => {
                event(format!("kernel module loaded: {}", fields[0]))
                    .with("module", fields[0])
                    .with("size", fields[1])
            }
            Kind::Mounts if fields.len() >= 4 => event(format!(
                "{} mounted on {} ({}, {})",
                fields[0], fields[1], fields[2], fields[3]
            ))
            .with("device", fields[0])
            .with("mount_point", fields[1])
            .with("fs_type", fields[2])
            .with("options", fields[3]),
            Kind::Units => match word(text) {
                Some((unit, rest)) => {
                    let description = rest
                        .split_whitespace()
                        .skip(3)
                        .collect::<Vec<_>>()
                        .join(" ");
                    event(format!("running unit {unit}: {description}"))
                        .with("unit", unit)
                        .with("description", description)
                }
                None => return,
            },
            _ => {
                out.error(
                    number,
                    format!("unexpected line: {}", crate::syslog::prefix(text, 120)),
                );
                return;
            }
        };
        out.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str, text: &str) -> Vec<Event> {
        let ctx = ArtifactContext {
            original_path: path.into(),
            ..Default::default()
        };
        LiveInventory
            .parse(
                &ctx,
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            )
            .filter_map(Result::ok)
            .collect()
    }

    #[test]
    fn modules_mounts_and_units() {
        let m = parse(
            "/$Riposte/live/modules",
            "diamorphine 16384 0 - Live 0xffffffffc0a00000 (OE)\n",
        );
        assert_eq!(m[0].attr("module"), Some("diamorphine"));
        let m = parse(
            "/$Riposte/live/mounts",
            "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n",
        );
        assert_eq!(m[0].attr("mount_point"), Some("/dev/shm"));
        let u = parse(
            "/$Riposte/live/units",
            "ssh.service loaded active running OpenBSD Secure Shell server\n",
        );
        assert_eq!(u[0].attr("unit"), Some("ssh.service"));
        assert_eq!(
            u[0].attr("description"),
            Some("OpenBSD Secure Shell server")
        );
    }
}
