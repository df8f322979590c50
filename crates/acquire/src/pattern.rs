//! Triage patterns: absolute paths of the original system where a segment may hold
//! `*` (any run of characters) and `?` (one character). Wildcards never cross a `/`,
//! so every pattern is expanded one directory at a time, listing only directories it
//! names: a huge collection is never walked whole.

use std::fmt;

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A plain name, looked up directly.
    Literal(String),
    /// A name with `*` or `?`, matched against a directory listing.
    Wild(String),
    /// `**` as the last segment: everything below, at any depth.
    Rest,
}

impl Segment {
    /// True when `name` matches this segment.
    pub(crate) fn matches(&self, name: &str) -> bool {
        match self {
            Segment::Literal(s) => s == name,
            Segment::Wild(p) => wildcard_match(p, name),
            Segment::Rest => true,
        }
    }

    /// Like [`Segment::matches`], ignoring case (NTFS, FAT).
    pub(crate) fn matches_ignore_case(&self, name: &str) -> bool {
        match self {
            Segment::Literal(s) => s.to_lowercase() == name.to_lowercase(),
            Segment::Wild(p) => wildcard_match(&p.to_lowercase(), &name.to_lowercase()),
            Segment::Rest => true,
        }
    }
}

/// A parsed pattern such as `/home/*/.bash_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

impl Pattern {
    /// Parses one pattern line, explaining what is wrong when it is not valid.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| format!("pattern {text:?} must be an absolute path (start with /)"))?;
        let mut segments = Vec::new();
        let count = rest.split('/').count();
        for (i, seg) in rest.split('/').enumerate() {
            if seg == "**" && i + 1 == count && i > 0 {
                segments.push(Segment::Rest);
                continue;
            }
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!(
                    "pattern {text:?} has an empty, `.` or `..` segment"
                ));
            }
            if seg.contains("**") || seg.contains(['[', ']', '{', '}', '\\']) {
                return Err(format!(
                    "pattern {text:?}: only `*` and `?` within one segment, and `**` as the last segment below a directory, are supported"
                ));
            }
            segments.push(if seg.contains(['*', '?']) {
                Segment::Wild(seg.to_string())
            } else {
                Segment::Literal(seg.to_string())
            });
        }
        Ok(Pattern {
            text: text.to_string(),
            segments,
        })
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments, root first.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// True when the original-system path `path` matches the whole pattern.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.matches_with(path, Segment::matches)
    }

    /// True when `path` matches the whole pattern, ignoring case (NTFS, FAT).
    pub(crate) fn matches_ignore_case(&self, path: &str) -> bool {
        self.matches_with(path, Segment::matches_ignore_case)
    }

    fn matches_with(&self, path: &str, segment_matches: fn(&Segment, &str) -> bool) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match self.segments.last() {
            Some(Segment::Rest) => {
                let fixed = &self.segments[..self.segments.len() - 1];
                parts.len() > fixed.len()
                    && fixed.iter().zip(&parts).all(|(s, p)| segment_matches(s, p))
            }
            _ => {
                parts.len() == self.segments.len()
                    && self
                        .segments
                        .iter()
                        .zip(parts)
                        .all(|(s, p)| segment_matches(s, p))
            }
        }
    }

    /// True when a file matching the pattern could lie below the directory `dir` (an
    /// absolute path; `/` for the root), so a walk can skip directories that cannot.
    pub(crate) fn could_be_below(&self, dir: &str, ignore_case: bool) -> bool {
        let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        let segment_matches = if ignore_case {
            Segment::matches_ignore_case
        } else {
            Segment::matches
        };
        for (i, part) in parts.iter().enumerate() {
            match self.segments.get(i) {
                Some(Segment::Rest) => return true,
                Some(segment) if segment_matches(segment, part) => {}
                _ => return false,
            }
        }
        parts.len() < self.segments.len()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Glob match of one name: `*` any run of characters, `?` exactly one.
/// Iterative with a single backtrack point, so linear-ish and never recursive.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_within_a_segment() {
        assert!(wildcard_match("auth.log*", "auth.log"));
        assert!(wildcard_match("auth.log*", "auth.log.2.gz"));
        assert!(!wildcard_match("auth.log*", "old-auth.log"));
        assert!(wildcard_match("*.journal*", "system@0005.journal~"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!wildcard_match("*a*b*c", "xxaxxbxxcxx"));
        assert!(wildcard_match("é*", "éa"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn patterns_match_whole_paths_segment_by_segment() {
        let p = Pattern::parse("/home/*/.bash_history").unwrap();
        assert!(p.matches("/home/alice/.bash_history"));
        assert!(!p.matches("/home/alice/sub/.bash_history"));
        assert!(!p.matches("/home/.bash_history"));
        assert!(!p.matches("home/alice/.bash_history"));
        assert_eq!(p.segments()[1], Segment::Wild("*".into()));
    }

    #[test]
    fn invalid_patterns_are_explained() {
        for bad in [
            "var/log/x",
            "/var//x",
            "/var/../etc",
            "/var/**/x",
            "/etc/[ab]",
            "/etc/",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
