//! `/etc/ld.so.preload`: libraries the dynamic loader injects into every process, a
//! classic user-land rootkit hook.
//!
//! Each library path (whitespace- or colon-separated, `#` comments) becomes an `exists`
//! file event without time, with `file_path`, `file_name` and `persistence`
//! `ld_so_preload`. A path that is not absolute or holds control characters is an error
//! record (the loader would not load it; the bytes are still worth a look).

use crate::records::{LineHandler, Origin, Out, line_records};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event};
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;

/// Parser for `/etc/ld.so.preload`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LdSoPreload;

impl ArtifactParser for LdSoPreload {
    fn name(&self) -> &'static str {
        "ld_so_preload"
    }

    fn claims(&self, original_path: &str) -> bool {
        crate::file_name(original_path) == "ld.so.preload"
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(Origin::new(ctx, "ld_so_preload"), input, MAX_LINE, Handler)
    }
}

struct Handler;

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        let line = text.split('#').next().unwrap_or("");
        for path in line.split([' ', '\t', ':']).filter(|p| !p.is_empty()) {
            if !path.starts_with('/') || path.chars().any(char::is_control) {
                out.error(
                    number,
                    format!(
                        "`{}` is not an absolute library path",
                        crate::syslog::prefix(&path.escape_debug().to_string(), 80)
                    ),
                );
                continue;
            }
            let name = crate::file_name(path);
            let e = out
                .origin
                .event(
                    None,
                    Action::FileExists,
                    format!("Library preloaded into every process: {path}"),
                    number,
                )
                .with("file_path", path)
                .with("file_name", name)
                .with("persistence", "ld_so_preload")
                .with_raw(text);
            out.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_comments_and_bad_entries() {
        let ctx = ArtifactContext {
            original_path: "/etc/ld.so.preload".into(),
            ..Default::default()
        };
        let input = b"# rootkit\n/usr/lib/libprocesshider.so /lib/x.so:/lib/y.so\nrelative.so\n";
        let got: Vec<_> = LdSoPreload.parse(&ctx, Box::new(&input[..])).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0].as_ref().unwrap().attr("file_name"),
            Some("libprocesshider.so")
        );
        assert_eq!(
            got[2].as_ref().unwrap().attr("file_path"),
            Some("/lib/y.so")
        );
        assert!(got[3].is_err());
    }
}
