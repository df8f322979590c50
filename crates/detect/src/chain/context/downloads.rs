//! Files that came from the network and that a chain process ran or named on its command
//! line: on Windows a Sysmon 11/15 file creation before the process started (with a
//! Zone.Identifier, in a download or browser-cache folder, or written by a browser or
//! downloader); on Linux an earlier curl/wget/scp command of the same user naming the file.

use super::{Finder, Found, MAX_FOUND, short_name};
use crate::chain::index::Index;
use crate::chain::node::Node;
use crate::observe::{self, attr};
use crate::shorten;
use chrono::{DateTime, Utc};
use riposte_model::{LinkKind, OriginKind};

pub(crate) struct Downloads;

impl Finder for Downloads {
    fn name(&self) -> &'static str {
        "downloads"
    }

    fn find(&self, ix: &Index<'_>, links: &[Node<'_>], _: Option<DateTime<Utc>>) -> Vec<Found> {
        let mut out: Vec<Found> = Vec::new();
        for (li, node) in links.iter().enumerate() {
            if node.kind != LinkKind::Process {
                continue;
            }
            let found = if node.linux {
                linux(ix, node)
            } else {
                windows(ix, node)
            };
            if let Some((pos, description)) = found
                && !out.iter().any(|f| f.event == pos)
            {
                out.push(Found {
                    kind: OriginKind::FileDownload,
                    event: pos,
                    link: li,
                    remote_ip: None,
                    description,
                });
            }
            if out.len() == MAX_FOUND {
                break;
            }
        }
        out
    }
}

/// The last download, before the process started, of its image or of a file its command
/// line names.
fn windows(ix: &Index<'_>, node: &Node<'_>) -> Option<(usize, String)> {
    let mut paths: Vec<String> = node
        .image
        .and_then(observe::normalize_path)
        .into_iter()
        .collect();
    if let Some(cmd) = node.cmd {
        paths.extend(
            cmd.split(['"', ',', ' '])
                .filter(|t| t.len() > 3)
                .filter_map(observe::normalize_path),
        );
    }
    let mut best: Option<usize> = None;
    for path in &paths {
        for &pos in ix.downloads(node.host, path).iter().rev() {
            let e = ix.events.get(pos)?;
            let before = match (e.time, node.time) {
                (Some(t), Some(start)) => t <= start,
                _ => true,
            };
            if before && Some(pos) != node.event {
                if best.is_none_or(|b| ix.events.get(b).map(|b| b.time) < Some(e.time)) {
                    best = Some(pos);
                }
                break;
            }
        }
    }
    let pos = best?;
    let e = ix.events.get(pos)?;
    let file = attr(e, "TargetFilename").map_or("a file", |f| {
        short_name(f.strip_suffix(":Zone.Identifier").unwrap_or(f))
    });
    let by = attr(e, "Image").map_or("a process", short_name);
    Some((pos, format!("{file} downloaded by {by}")))
}

/// The last fetch command of the same user, before this command, that names one of the
/// files this command uses.
fn linux(ix: &Index<'_>, node: &Node<'_>) -> Option<(usize, String)> {
    let (cmd, user, t) = (node.cmd?, node.user?, node.time?);
    let files: Vec<&str> = cmd
        .split_whitespace()
        .enumerate()
        .filter(|(i, w)| *i > 0 || w.contains('/'))
        .map(|(_, w)| w.trim_matches(['"', '\'', ';', '&', '|']))
        .filter(|w| !w.starts_with('-'))
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .filter(|name| name.len() >= 3)
        .collect();
    if files.is_empty() {
        return None;
    }
    let fetches = ix.fetches(node.host, user);
    let pos = fetches.iter().rev().copied().find(|&pos| {
        let Some(e) = ix.events.get(pos) else {
            return false;
        };
        let before = e.time.is_some_and(|ft| ft <= t);
        let fetched = attr(e, "cmd").unwrap_or("");
        before
            && Some(pos) != node.event
            && fetched
                .split(|c: char| c.is_whitespace() || matches!(c, '/' | '"' | '\'' | '=' | '>'))
                .any(|token| files.contains(&token))
    })?;
    let fetched = attr(ix.events.get(pos)?, "cmd").unwrap_or("");
    Some((pos, format!("fetched: {}", shorten(fetched, 80))))
}
