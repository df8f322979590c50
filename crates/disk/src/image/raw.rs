//! Raw images split into numbered segments (`disk.000`, `disk.001`, … or `split`'s
//! `disk.aa`, `disk.ab`, …), read as one disk.

use crate::source::{ByteSource, FileSource};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Most segments joined (a 1 TB image in 1 GB segments has 1000).
const MAX_SEGMENTS: usize = 100_000;

/// The segments of a split raw image whose first segment is `first`, in order; just
/// `[first]` when it is not named like a first segment or has no successor.
pub fn split_segments(first: &Path) -> Vec<PathBuf> {
    let mut segments = vec![first.to_path_buf()];
    let Some(ext) = first.extension().and_then(|e| e.to_str()) else {
        return segments;
    };
    let next_name = |ext: &str| first.with_extension(ext);
    if !ext.is_empty() && ext.len() <= 4 && ext.bytes().all(|b| b.is_ascii_digit()) {
        let width = ext.len();
        let Ok(start) = ext.parse::<u64>() else {
            return segments;
        };
        if start > 1 {
            return segments;
        }
        for k in start + 1.. {
            let candidate = next_name(&format!("{k:0width$}"));
            if !candidate.is_file() || segments.len() >= MAX_SEGMENTS {
                break;
            }
            segments.push(candidate);
        }
    } else if ext == "aa" {
        let letters: Vec<char> = ('a'..='z').collect();
        'outer: for a in &letters {
            for b in &letters {
                if *a == 'a' && *b == 'a' {
                    continue;
                }
                let candidate = next_name(&format!("{a}{b}"));
                if !candidate.is_file() {
                    break 'outer;
                }
                segments.push(candidate);
            }
        }
    }
    segments
}

/// Segments read as one byte range.
pub(super) struct SplitSource {
    /// Each segment with the disk offset it starts at.
    segments: Vec<(u64, FileSource)>,
    len: u64,
}

impl SplitSource {
    /// Opens every segment.
    pub(super) fn open(paths: &[PathBuf]) -> io::Result<Self> {
        let mut segments = Vec::with_capacity(paths.len());
        let mut len = 0u64;
        for path in paths {
            let source = FileSource::new(File::open(path)?)?;
            let size = source.len();
            segments.push((len, source));
            len = len.saturating_add(size);
        }
        Ok(SplitSource { segments, len })
    }
}

impl ByteSource for SplitSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        // The last segment starting at or before `offset`.
        let index = self
            .segments
            .partition_point(|(start, _)| *start <= offset)
            .saturating_sub(1);
        let mut done = 0;
        for (start, segment) in &self.segments[index..] {
            let position = offset + done as u64;
            if done == buf.len() || position >= self.len {
                break;
            }
            let within = position.saturating_sub(*start);
            if within >= segment.len() {
                continue;
            }
            let n = segment.read_at(within, &mut buf[done..])?;
            done += n;
            if n == 0 {
                break;
            }
            if (within + n as u64) < segment.len() {
                // A short read inside a segment: return what we have.
                break;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_lettered_segments_are_joined_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("d.000", &b"abc"[..]),
            ("d.001", b"def"),
            ("d.002", b"g"),
            ("x.aa", b"12"),
            ("x.ab", b"34"),
        ] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let segments = split_segments(&dir.path().join("d.000"));
        assert_eq!(segments.len(), 3);
        let source = SplitSource::open(&segments).unwrap();
        let mut buf = [0u8; 7];
        source.read_exact_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"abcdefg");
        let mut mid = [0u8; 3];
        source.read_exact_at(2, &mut mid).unwrap();
        assert_eq!(&mid, b"cde");
        assert_eq!(split_segments(&dir.path().join("x.aa")).len(), 2);
        // A later segment given on its own is not joined with the others.
        assert_eq!(split_segments(&dir.path().join("d.002")).len(), 1);
    }
}
