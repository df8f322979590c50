//! Reading inside a collection without ever following a symbolic link: every path
//! component below the collection root is checked with `symlink_metadata`.

use crate::AcquireError;
use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Where a symbolic link points, for messages.
pub(crate) fn link_target(path: &Path) -> String {
    match fs::read_link(path) {
        Ok(target) => target.display().to_string(),
        Err(_) => "an unreadable target".to_string(),
    }
}

/// The metadata of `root/rel…`, refusing if any component below `root` is a symbolic
/// link. `Ok(None)` when the path does not exist or a parent is not a directory.
pub(crate) fn lstat_within(
    root: &Path,
    rel: &[&str],
) -> Result<Option<(PathBuf, Metadata)>, AcquireError> {
    let mut path = root.to_path_buf();
    let mut last = None;
    for (i, part) in rel.iter().enumerate() {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let problem = format!("symbolic link to {} (not followed)", link_target(&path));
                return Err(AcquireError::Unsafe { path, problem });
            }
            Ok(m) if i + 1 < rel.len() && !m.is_dir() => return Ok(None),
            Ok(m) => last = Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AcquireError::io(path, e)),
        }
    }
    Ok(last.map(|m| (path, m)))
}

/// The text of a small regular file at `root/rel…` (lossy UTF-8). `None` when it is
/// absent, reached through a symbolic link, not a regular file, larger than `max` bytes
/// or unreadable; the last four are logged, as they say something odd about the collection.
pub(crate) fn read_small(root: &Path, rel: &[&str], max: u64) -> Option<String> {
    let (path, meta) = match lstat_within(root, rel) {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "skipping host identity file");
            return None;
        }
    };
    if !meta.is_file() || meta.len() > max {
        tracing::warn!(
            path = %path.display(),
            size = meta.len(),
            "skipping host identity file: not a regular file or larger than {max} bytes"
        );
        return None;
    }
    let mut bytes = Vec::new();
    let read = fs::File::open(&path).and_then(|f| f.take(max).read_to_end(&mut bytes));
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read host identity file");
            None
        }
    }
}

/// The names of the regular files directly inside `root/rel…` (sorted), skipping
/// symbolic links, subdirectories and names that are not UTF-8.
pub(crate) fn files_in(root: &Path, rel: &[&str]) -> Vec<String> {
    let dir = match lstat_within(root, rel) {
        Ok(Some((path, meta))) if meta.is_dir() => path,
        Ok(_) => return Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "skipping host identity directory");
            return Vec::new();
        }
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(path = %dir.display(), error = %e, "cannot list host identity directory");
            return Vec::new();
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}
