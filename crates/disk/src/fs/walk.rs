//! Generic traversal over any [`FileSystem`]: path lookup and a depth-first walk that
//! survives corrupt directories and cannot loop.

use super::{FileKind, FileSystem, FsEntry, FsError};
use std::collections::HashSet;

/// What the walk should do after visiting an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkControl {
    /// Go on (and descend into this entry if it is a directory).
    Continue,
    /// Do not descend into this directory.
    SkipDirectory,
    /// Stop the whole walk.
    Stop,
}

/// Bounds on a walk, so a corrupt or hostile filesystem cannot make it run forever.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    /// Deepest directory nesting followed (default 256).
    pub max_depth: usize,
    /// Most entries visited (default 50 million).
    pub max_entries: u64,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_depth: 256,
            max_entries: 50_000_000,
        }
    }
}

/// A directory the walk could not read or refused to enter.
#[derive(Debug)]
pub struct WalkProblem {
    /// The directory's path.
    pub path: String,
    /// What went wrong.
    pub error: FsError,
}

/// Visits every entry under the root, parents before children, in directory order.
/// Directories already visited (same id: hard-linked or looping directories) and
/// directories deeper than the limit are not entered; problems are returned, not fatal.
pub fn walk(
    fs: &dyn FileSystem,
    limits: WalkLimits,
    mut visit: impl FnMut(&FsEntry) -> WalkControl,
) -> Result<Vec<WalkProblem>, FsError> {
    let root = fs.root()?;
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    seen.insert(root.id);
    let mut stack = vec![(root, 0usize)];
    let mut visited = 0u64;
    while let Some((dir, depth)) = stack.pop() {
        let entries = match fs.read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                problems.push(WalkProblem {
                    path: dir.path.clone(),
                    error,
                });
                continue;
            }
        };
        let mut subdirs = Vec::new();
        for entry in entries {
            visited += 1;
            if visited > limits.max_entries {
                problems.push(WalkProblem {
                    path: entry.path.clone(),
                    error: FsError::corrupt(
                        fs.kind(),
                        format!("more than {} entries; walk stopped", limits.max_entries),
                    ),
                });
                return Ok(problems);
            }
            match visit(&entry) {
                WalkControl::Stop => return Ok(problems),
                WalkControl::SkipDirectory => continue,
                WalkControl::Continue => {}
            }
            if entry.kind != FileKind::Directory {
                continue;
            }
            if depth + 1 >= limits.max_depth {
                problems.push(WalkProblem {
                    path: entry.path.clone(),
                    error: FsError::corrupt(
                        fs.kind(),
                        format!("directories nested deeper than {}", limits.max_depth),
                    ),
                });
            } else if !seen.insert(entry.id) {
                problems.push(WalkProblem {
                    path: entry.path.clone(),
                    error: FsError::corrupt(
                        fs.kind(),
                        format!(
                            "directory {} reached twice (loop); not entered again",
                            entry.id
                        ),
                    ),
                });
            } else {
                subdirs.push((entry, depth + 1));
            }
        }
        // Reverse so the first subdirectory is walked first.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(problems)
}

/// The entry at `path` (absolute, `/`-separated), without following symbolic links.
/// Names compare without case on NTFS and FAT.
pub fn lookup(fs: &dyn FileSystem, path: &str) -> Result<FsEntry, FsError> {
    let mut current = fs.root()?;
    let fold = fs.kind().case_insensitive();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(FsError::NotFound {
                path: path.to_string(),
            });
        }
        if current.kind != FileKind::Directory {
            return Err(FsError::WrongKind {
                path: current.path,
                problem: "is not a directory".into(),
            });
        }
        let entries = fs.read_dir(&current)?;
        let found = entries.into_iter().find(|e| {
            if fold {
                e.name.to_lowercase() == part.to_lowercase()
            } else {
                e.name == part
            }
        });
        current = found.ok_or_else(|| FsError::NotFound {
            path: path.to_string(),
        })?;
    }
    Ok(current)
}
