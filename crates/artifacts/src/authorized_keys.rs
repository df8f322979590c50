//! OpenSSH `authorized_keys` files: `/root/.ssh/authorized_keys*` and
//! `/home/<user>/.ssh/authorized_keys*`.
//!
//! One `host` event (persistence: whoever holds the private key can log on) per key, with
//! no time: `username` (from the path), `key_type`, `fingerprint` (`SHA256:` + unpadded
//! base64 of the SHA-256 of the key blob, as `ssh-keygen -lf` prints it), `key_bits`
//! (RSA, DSA, ECDSA, Ed25519), `comment`, `options`, and `command` / `from` when those
//! options are set. A line whose key is not valid base64, or whose blob does not name
//! the key type, is an error record.

use crate::records::{LineHandler, Origin, Out, line_records};
use crate::shell_history::user_from_path;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use riposte_model::{Action, Event};
use sha2::{Digest, Sha256};
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;

/// Parser for `authorized_keys` files.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorizedKeys;

impl ArtifactParser for AuthorizedKeys {
    fn name(&self) -> &'static str {
        "authorized_keys"
    }

    fn claims(&self, original_path: &str) -> bool {
        crate::file_name(original_path).starts_with("authorized_keys")
            && original_path.contains("/.ssh/")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let user = user_from_path(&ctx.original_path).map(str::to_string);
        line_records(
            Origin::new(ctx, "authorized_keys"),
            input,
            MAX_LINE,
            Handler { user },
        )
    }
}

struct Handler {
    user: Option<String>,
}

/// Is this word a key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `sk-…@openssh.com`)?
fn is_key_type(w: &str) -> bool {
    w.starts_with("ssh-") || w.starts_with("ecdsa-sha2-") || w.starts_with("sk-")
}

/// Splits `options keytype base64 comment`; options may hold quoted spaces.
fn split_options(line: &str) -> (Option<&str>, &str) {
    let first = line.split_ascii_whitespace().next().unwrap_or("");
    if is_key_type(first) {
        return (None, line);
    }
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quotes = !in_quotes,
            ' ' | '\t' if !in_quotes => return (Some(&line[..i]), line[i..].trim_start()),
            _ => {}
        }
    }
    (Some(line), "")
}

/// `command="…"` / `from="…"` out of an options string.
fn option_value(options: &str, name: &str) -> Option<String> {
    let mut rest = options;
    loop {
        let at = rest.find(name)?;
        let before_ok = at == 0 || rest.as_bytes()[at - 1] == b',';
        let after = &rest[at + name.len()..];
        if before_ok && let Some(v) = after.strip_prefix("=\"") {
            let mut value = String::new();
            let mut chars = v.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => return Some(value),
                    c => value.push(c),
                }
            }
            return Some(value);
        }
        rest = after;
    }
}

/// SSH wire-format string: u32 length + bytes.
fn ssh_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let s = b.get(4..4usize.checked_add(len)?)?;
    Some((s, &b[4 + len..]))
}

/// Bits of an mpint (leading zero bytes ignored).
fn mpint_bits(m: &[u8]) -> usize {
    let m = &m[m.iter().position(|&b| b != 0).unwrap_or(m.len())..];
    match m.first() {
        None => 0,
        Some(&top) => (m.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

fn key_bits(key_type: &str, blob: &[u8]) -> Option<usize> {
    let (_, rest) = ssh_string(blob)?;
    match key_type {
        "ssh-rsa" => {
            let (_e, rest) = ssh_string(rest)?;
            let (n, _) = ssh_string(rest)?;
            Some(mpint_bits(n))
        }
        "ssh-dss" => ssh_string(rest).map(|(p, _)| mpint_bits(p)),
        "ssh-ed25519" | "sk-ssh-ed25519@openssh.com" => Some(256),
        t if t.contains("nistp256") => Some(256),
        t if t.contains("nistp384") => Some(384),
        t if t.contains("nistp521") => Some(521),
        _ => None,
    }
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        let line = text.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let (options, rest) = split_options(line);
        let mut words = rest.splitn(3, [' ', '\t']);
        let key_type = words.next().unwrap_or("");
        let b64 = words.next().unwrap_or("").trim();
        let comment = words.next().unwrap_or("").trim();
        if !is_key_type(key_type) {
            out.error(
                number,
                format!("no key type in `{}`", crate::syslog::prefix(line, 60)),
            );
            return;
        }
        let blob = match STANDARD.decode(b64) {
            Ok(b) => b,
            Err(e) => return out.error(number, format!("{key_type} key is not base64: {e}")),
        };
        let named = ssh_string(&blob).map(|(t, _)| t);
        if named != Some(key_type.as_bytes()) {
            out.error(
                number,
                format!("{key_type} key blob does not name its type"),
            );
            return;
        }
        let fingerprint = format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&blob)));
        let user = self.user.as_deref().unwrap_or("");
        let mut message = format!("SSH key {key_type} {fingerprint} authorized for {user}");
        if !comment.is_empty() {
            message.push_str(&format!(" ({comment})"));
        }
        let mut e = out
            .origin
            .event(None, Action::HostInfo, message, number)
            .with("key_type", key_type)
            .with("fingerprint", fingerprint.as_str())
            .with("persistence", "ssh_authorized_key")
            .with("file_path", out.origin.path.as_str())
            .with_raw(text);
        if !user.is_empty() {
            e = e.with("username", user);
        }
        if let Some(bits) = key_bits(key_type, &blob) {
            e = e.with("key_bits", bits.to_string());
        }
        if !comment.is_empty() {
            e = e.with("comment", comment);
        }
        if let Some(options) = options {
            e = e.with("options", options);
            for name in ["command", "from"] {
                if let Some(v) = option_value(options, name) {
                    e = e.with(name, v);
                }
            }
            if let Some(cmd) = e.attr("command").map(str::to_string) {
                e = e.with("cmd", cmd);
            }
        }
        out.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_with_quoted_spaces() {
        let (o, rest) = split_options(
            "from=\"10.0.0.0/8\",command=\"echo \\\"hi there\\\"\",no-pty ssh-ed25519 AAAA c",
        );
        let o = o.unwrap();
        assert_eq!(rest, "ssh-ed25519 AAAA c");
        assert_eq!(option_value(o, "command").unwrap(), "echo \"hi there\"");
        assert_eq!(option_value(o, "from").unwrap(), "10.0.0.0/8");
        assert_eq!(split_options("ssh-rsa AAAA").0, None);
    }

    #[test]
    fn claims() {
        assert!(AuthorizedKeys.claims("/root/.ssh/authorized_keys"));
        assert!(AuthorizedKeys.claims("/home/bob/.ssh/authorized_keys2"));
        assert!(!AuthorizedKeys.claims("/home/bob/.ssh/known_hosts"));
    }
}
