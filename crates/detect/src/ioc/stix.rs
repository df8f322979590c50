//! STIX 2.1 bundles: `indicator` objects with simple STIX patterns.
//!
//! Supported: one observation (`[...]`) or several joined by `OR`, each holding equality
//! comparisons joined by `OR` on `file:hashes.'SHA-256'`/`SHA-1`/`MD5`, `file:name`,
//! `ipv4-addr:value`, `ipv6-addr:value`, `domain-name:value`, `url:value`. Anything else
//! (`AND`, `MATCHES`, other objects, qualifiers) makes the indicator unsupported: it is
//! reported in [`super::Import::rejected`] with its id, and the rest is imported. The
//! indicator's `name` (else `description`) becomes the description and its id the source.

use super::{Import, IocError, IocImporter, IocKind, malformed};
use serde_json::Value;

/// Reads STIX 2.1 bundles (or a single indicator object, or an array of objects).
#[derive(Debug, Clone, Copy, Default)]
pub struct StixImporter;

impl IocImporter for StixImporter {
    fn name(&self) -> &'static str {
        "stix"
    }

    fn import(&self, data: &[u8], source: &str) -> Result<Import, IocError> {
        let doc: Value = serde_json::from_slice(data)
            .map_err(|e| malformed("stix", source, format!("not JSON: {e}")))?;
        let objects = match &doc {
            Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("bundle") => o
                .get("objects")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            Value::Object(_) => std::slice::from_ref(&doc),
            Value::Array(items) => items.as_slice(),
            _ => return Err(malformed("stix", source, "not a STIX bundle or object")),
        };
        let mut import = Import::default();
        for (n, object) in objects.iter().enumerate() {
            if object.get("type").and_then(Value::as_str) != Some("indicator") {
                continue;
            }
            let text = |key: &str| object.get(key).and_then(Value::as_str);
            let id = text("id").map_or_else(|| format!("objects[{n}]"), str::to_string);
            let pattern_type = text("pattern_type").unwrap_or("stix");
            if pattern_type != "stix" {
                import.reject(
                    &id,
                    format!("pattern type `{pattern_type}` is not supported"),
                );
                continue;
            }
            let Some(pattern) = text("pattern") else {
                import.reject(&id, "no pattern");
                continue;
            };
            let description = text("name").or(text("description")).unwrap_or("");
            match parse_pattern(pattern) {
                Ok(comparisons) => {
                    for (kind, value) in comparisons {
                        import.add(
                            &id,
                            kind,
                            &value,
                            &format!("{source} {id}"),
                            description,
                            None,
                        );
                    }
                }
                Err(reason) => import.reject(&id, format!("{reason}: {pattern}")),
            }
        }
        Ok(import)
    }
}

/// The (kind, value) pairs of a pattern made only of supported equality comparisons.
fn parse_pattern(pattern: &str) -> Result<Vec<(IocKind, String)>, String> {
    let mut lexer = Lexer {
        rest: pattern.trim(),
    };
    let mut out = Vec::new();
    loop {
        lexer.expect("[")?;
        loop {
            let path = lexer.path()?;
            lexer.expect("=")?;
            let value = lexer.string()?;
            let kind = kind_of(&path).ok_or_else(|| format!("unsupported object path `{path}`"))?;
            out.push((kind, value));
            if !lexer.keyword("OR") {
                break;
            }
        }
        lexer.expect("]")?;
        if lexer.rest.is_empty() {
            return Ok(out);
        }
        if !lexer.keyword("OR") {
            return Err("unsupported pattern (only OR-ed equality comparisons are)".into());
        }
    }
}

fn kind_of(path: &str) -> Option<IocKind> {
    let normalized = path.replace(['\'', '"'], "").to_ascii_lowercase();
    Some(match normalized.as_str() {
        "file:hashes.sha-256" | "file:hashes.sha256" => IocKind::Sha256,
        "file:hashes.sha-1" | "file:hashes.sha1" => IocKind::Sha1,
        "file:hashes.md5" => IocKind::Md5,
        "file:name" => IocKind::FileName,
        "ipv4-addr:value" | "ipv6-addr:value" => IocKind::Ip,
        "domain-name:value" => IocKind::Domain,
        "url:value" => IocKind::Url,
        _ => return None,
    })
}

/// A tiny lexer over the pattern text.
struct Lexer<'a> {
    rest: &'a str,
}

impl<'a> Lexer<'a> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        self.skip_space();
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                Ok(())
            }
            None => Err(format!("unsupported pattern (expected `{token}`)")),
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let matches = self.rest.starts_with(word)
            && self.rest[word.len()..].starts_with(|c: char| c.is_whitespace() || c == '[');
        if matches {
            self.rest = &self.rest[word.len()..];
        }
        matches
    }

    /// An object path: everything up to the comparison operator, quoted parts included.
    fn path(&mut self) -> Result<String, String> {
        self.skip_space();
        let mut end = 0;
        let mut quoted = false;
        for (i, c) in self.rest.char_indices() {
            match c {
                '\'' => quoted = !quoted,
                c if !quoted
                    && (c.is_whitespace() || c == '=' || c == '!' || c == '<' || c == '>') =>
                {
                    break;
                }
                _ => {}
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            return Err("unsupported pattern (expected an object path)".into());
        }
        let path = self.rest[..end].to_string();
        self.rest = &self.rest[end..];
        Ok(path)
    }

    /// A single-quoted string with `\'` and `\\` escapes.
    fn string(&mut self) -> Result<String, String> {
        self.skip_space();
        let body = self
            .rest
            .strip_prefix('\'')
            .ok_or("unsupported pattern (expected a quoted string)")?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                '\'' => {
                    self.rest = &body[i + 1..];
                    return Ok(value);
                }
                c => value.push(c),
            }
        }
        Err("unterminated string".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_with_or_are_read_and_others_refused() {
        let p = parse_pattern("[domain-name:value = 'a.example' OR ipv4-addr:value = '1.2.3.4'] OR [file:hashes.'SHA-256' = 'ab\\'c']").unwrap();
        assert_eq!(
            p,
            vec![
                (IocKind::Domain, "a.example".to_string()),
                (IocKind::Ip, "1.2.3.4".to_string()),
                (IocKind::Sha256, "ab'c".to_string()),
            ]
        );
        assert!(
            parse_pattern(
                "[x509-certificate:issuer = 'CN=x' AND x509-certificate:serial_number = '1']"
            )
            .is_err()
        );
        assert!(parse_pattern("[email-message:subject MATCHES '^x']").is_err());
        assert!(parse_pattern("[url:value = 'http://x'] WITHIN 5 SECONDS").is_err());
        assert!(parse_pattern("[url:value = 'unterminated").is_err());
        assert!(parse_pattern("").is_err());
    }
}
