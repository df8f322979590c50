//! Triage selection: which files of a collection to collect, from a profile of path
//! patterns kept as data (`profiles/*.txt`).
//!
//! Selection never follows a symbolic link, at any depth: a link is reported as skipped,
//! whether it points outside the host folder (`etc -> /etc`, `auth.log -> /etc/shadow`)
//! or inside it. Special files are skipped, and so are files over a size cap.

use crate::AcquireError;
use crate::pattern::{Pattern, Segment};
use crate::safe::link_target;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Default cap on the size of one collected file: 1 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// The built-in Linux profile (`profiles/linux-triage.txt`).
static LINUX: LazyLock<TriageProfile> = LazyLock::new(|| {
    TriageProfile::parse("linux-triage", include_str!("../profiles/linux-triage.txt"))
        .expect("the built-in linux-triage profile is valid (checked by its test)")
});

/// The built-in Windows profile (`profiles/windows-triage.txt`).
static WINDOWS: LazyLock<TriageProfile> = LazyLock::new(|| {
    TriageProfile::parse(
        "windows-triage",
        include_str!("../profiles/windows-triage.txt"),
    )
    .expect("the built-in windows-triage profile is valid (checked by its test)")
});

/// Limits applied while selecting files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriageOptions {
    /// Files larger than this many bytes are skipped (default 1 GiB).
    pub max_file_size: u64,
}

impl Default for TriageOptions {
    fn default() -> Self {
        TriageOptions {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// A named list of path patterns on the original system, e.g. `/home/*/.bash_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageProfile {
    name: String,
    patterns: Vec<Pattern>,
}

impl TriageProfile {
    /// The built-in Linux triage profile: logs, shell histories, accounts, persistence.
    pub fn linux() -> &'static TriageProfile {
        &LINUX
    }

    /// The built-in Windows triage profile: event logs, registry hives, `$MFT`, prefetch,
    /// Amcache, scheduled tasks, start-up folders, PowerShell history.
    pub fn windows() -> &'static TriageProfile {
        &WINDOWS
    }

    /// Parses a profile: one absolute pattern per line, `*` and `?` within a segment,
    /// `#` comments and blank lines ignored.
    pub fn parse(name: &str, text: &str) -> Result<Self, AcquireError> {
        let mut patterns = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let pattern = Pattern::parse(line).map_err(|problem| AcquireError::InvalidProfile {
                profile: name.to_string(),
                line: i + 1,
                problem,
            })?;
            patterns.push(pattern);
        }
        Ok(TriageProfile {
            name: name.to_string(),
            patterns,
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The patterns, as written.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(Pattern::as_str)
    }

    /// True when `original_path` (an absolute path on the original system) matches one of
    /// the profile's patterns.
    pub fn matches(&self, original_path: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(original_path))
    }

    /// Like [`TriageProfile::matches`], ignoring case, for NTFS and FAT volumes.
    pub fn matches_ignore_case(&self, original_path: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| p.matches_ignore_case(original_path))
    }

    /// True when a file this profile selects could lie below the directory `dir` (an
    /// absolute path), so walks of a disk image skip directories that cannot hold one.
    pub fn could_be_below(&self, dir: &str, ignore_case: bool) -> bool {
        self.patterns
            .iter()
            .any(|p| p.could_be_below(dir, ignore_case))
    }

    /// Selects the files of the collection at `host_root` that match this profile.
    /// Fails only when `host_root` is not a real directory; problems with single
    /// files or directories are returned in [`TriageSelection::skipped`].
    pub fn select(
        &self,
        host_root: &Path,
        options: &TriageOptions,
    ) -> Result<TriageSelection, AcquireError> {
        check_host_root(host_root)?;
        let mut walk = Walk::new(options);
        walk.expand_profile(self, host_root, "", false);
        Ok(walk.finish())
    }
}

/// Selects the files of the collection at `host_root` with the built-in Linux profile
/// and default options.
pub fn triage_files(host_root: &Path) -> Result<TriageSelection, AcquireError> {
    TriageProfile::linux().select(host_root, &TriageOptions::default())
}

/// Selects every regular file of the collection at `host_root` (a full acquisition), with
/// default options: symbolic links are never followed, special and oversized files skipped.
pub fn all_files(host_root: &Path) -> Result<TriageSelection, AcquireError> {
    check_host_root(host_root)?;
    let options = TriageOptions::default();
    let mut walk = Walk::new(&options);
    walk.walk_from(host_root.to_path_buf(), String::new(), &[]);
    Ok(walk.finish())
}

/// Fails unless `host_root` is a real directory (not a symbolic link).
pub(crate) fn check_host_root(host_root: &Path) -> Result<(), AcquireError> {
    match fs::symlink_metadata(host_root) {
        Ok(m) if m.file_type().is_symlink() => Err(AcquireError::Unsafe {
            path: host_root.to_path_buf(),
            problem: format!(
                "host folder is a symbolic link to {}",
                link_target(host_root)
            ),
        }),
        Ok(m) if !m.is_dir() => Err(AcquireError::NotADirectory {
            path: host_root.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) => Err(AcquireError::io(host_root, e)),
    }
}

/// The outcome of a selection, both sorted by original path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TriageSelection {
    /// Files to collect.
    pub files: Vec<CollectedFile>,
    /// Matching entries that were not selected, with the reason.
    pub skipped: Vec<SkippedFile>,
}

/// One file selected for collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectedFile {
    /// Its path on the original system, e.g. `/var/log/auth.log`.
    pub original_path: String,
    /// Where it is in the evidence library.
    pub local_path: PathBuf,
    /// Size in bytes when selected.
    pub size: u64,
    /// Last modification time, when the filesystem records it.
    pub modified: Option<DateTime<Utc>>,
}

impl CollectedFile {
    /// Opens the file for reading, refusing it if it is no longer a regular file
    /// (e.g. replaced by a symbolic link since it was selected).
    pub fn open(&self) -> Result<File, AcquireError> {
        let path = &self.local_path;
        let refuse = |problem: &str| AcquireError::Unsafe {
            path: path.clone(),
            problem: problem.to_string(),
        };
        let before = fs::symlink_metadata(path).map_err(|e| AcquireError::io(path, e))?;
        if !before.file_type().is_file() {
            return Err(refuse(
                "no longer a regular file (symbolic link or special file)",
            ));
        }
        let file = File::open(path).map_err(|e| AcquireError::io(path, e))?;
        let after = file.metadata().map_err(|e| AcquireError::io(path, e))?;
        if !same_file(&before, &after) {
            return Err(refuse("replaced while being opened"));
        }
        Ok(file)
    }
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &Metadata, b: &Metadata) -> bool {
    b.is_file()
}

/// A matching entry that was not selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// Its path on the original system.
    pub original_path: String,
    /// Why it was skipped.
    pub reason: SkipReason,
}

impl fmt::Display for SkippedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.original_path, self.reason)
    }
}

/// Why a matching entry was not selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// A symbolic link (files and directories alike): never followed.
    Symlink {
        /// Where it points, as stored in the link.
        target: String,
    },
    /// A FIFO, socket or device.
    NotRegular {
        /// What it is.
        file_type: &'static str,
    },
    /// Larger than [`TriageOptions::max_file_size`].
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The cap in bytes.
        limit: u64,
    },
    /// Its metadata or directory listing could not be read.
    Unreadable {
        /// The I/O error.
        error: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Symlink { target } => write!(f, "symbolic link to {target}, not followed"),
            SkipReason::NotRegular { file_type } => write!(f, "{file_type}, not a regular file"),
            SkipReason::TooLarge { size, limit } => {
                write!(f, "{size} bytes, over the {limit}-byte limit")
            }
            SkipReason::Unreadable { error } => write!(f, "unreadable: {error}"),
        }
    }
}

/// The state of one selection, which may combine several profiles and roots (a folder
/// holding a Linux root and a Windows drive folder).
pub(crate) struct Walk<'a> {
    options: &'a TriageOptions,
    /// Compare names without case (Windows volumes).
    ignore_case: bool,
    files: BTreeMap<String, CollectedFile>,
    skipped: BTreeMap<String, SkipReason>,
}

impl<'a> Walk<'a> {
    /// An empty selection under `options`.
    pub(crate) fn new(options: &'a TriageOptions) -> Self {
        Walk {
            options,
            ignore_case: false,
            files: BTreeMap::new(),
            skipped: BTreeMap::new(),
        }
    }

    /// Adds what `profile` selects below `root`, whose files' original paths start with
    /// `prefix` (`""` for a root filesystem, `C:` for a drive folder).
    pub(crate) fn expand_profile(
        &mut self,
        profile: &TriageProfile,
        root: &Path,
        prefix: &str,
        ignore_case: bool,
    ) {
        self.ignore_case = ignore_case;
        for pattern in &profile.patterns {
            self.expand(root, prefix, pattern);
        }
        self.ignore_case = false;
    }

    /// The selection made.
    pub(crate) fn finish(self) -> TriageSelection {
        TriageSelection {
            files: self.files.into_values().collect(),
            skipped: self
                .skipped
                .into_iter()
                .map(|(original_path, reason)| SkippedFile {
                    original_path,
                    reason,
                })
                .collect(),
        }
    }

    /// Visits every entry under `dir`, whose path on the original system is `original`,
    /// depth first, never following links; `exclude` names entries of `dir` itself to leave
    /// out (drive folders walked under their own prefix).
    pub(crate) fn walk_from(&mut self, dir: PathBuf, original: String, exclude: &[OsString]) {
        let top = dir.clone();
        let mut stack = vec![(dir, original)];
        while let Some((dir, original)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) => {
                    let original = if original.is_empty() { "/" } else { &original };
                    self.skip(original.to_string(), unreadable(&e));
                    continue;
                }
            };
            let mut names: Vec<OsString> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .filter(|name| dir != top || !exclude.contains(name))
                .collect();
            names.sort();
            let mut subdirs = Vec::new();
            for name in names {
                let child = format!("{original}/{}", name.to_string_lossy());
                let path = dir.join(&name);
                let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
                self.visit(path, child, !is_dir, &mut subdirs);
            }
            stack.extend(subdirs.into_iter().rev());
        }
    }

    /// Expands `pattern` one segment at a time from `root`.
    fn expand(&mut self, root: &Path, prefix: &str, pattern: &Pattern) {
        let segments = pattern.segments();
        let mut frontier = vec![(root.to_path_buf(), prefix.to_string())];
        for (i, segment) in segments.iter().enumerate() {
            if *segment == Segment::Rest {
                // `**`: every file below the directories reached so far.
                for (dir, original) in frontier {
                    self.walk_from(dir, original, &[]);
                }
                return;
            }
            let last = i + 1 == segments.len();
            let mut next = Vec::new();
            for (dir, original) in frontier {
                for name in self.candidates(&dir, &original, segment) {
                    let child = format!("{original}/{}", name.to_string_lossy());
                    self.visit(dir.join(name), child, last, &mut next);
                }
            }
            frontier = next;
        }
    }

    /// Names in `dir` that may match `segment`: the literal itself, or the matching
    /// entries of the listing (always the listing when case is ignored).
    fn candidates(&mut self, dir: &Path, original: &str, segment: &Segment) -> Vec<OsString> {
        if let (Segment::Literal(name), false) = (segment, self.ignore_case) {
            return vec![OsString::from(name)];
        }
        let ignore_case = self.ignore_case;
        match fs::read_dir(dir) {
            Ok(entries) => {
                let mut names: Vec<OsString> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name())
                    .filter(|n| {
                        let name = n.to_string_lossy();
                        if ignore_case {
                            segment.matches_ignore_case(&name)
                        } else {
                            segment.matches(&name)
                        }
                    })
                    .collect();
                names.sort();
                names
            }
            Err(e) => {
                let original = if original.is_empty() { "/" } else { original };
                self.skip(original.to_string(), unreadable(&e));
                Vec::new()
            }
        }
    }

    /// Selects, skips or descends into one matching entry.
    fn visit(
        &mut self,
        path: PathBuf,
        original: String,
        last: bool,
        next: &mut Vec<(PathBuf, String)>,
    ) {
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => return self.skip(original, unreadable(&e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = link_target(&path);
            return self.skip(original, SkipReason::Symlink { target });
        }
        if kind.is_dir() {
            // Directories lead on; one matched by a file pattern is simply not a file.
            if !last {
                next.push((path, original));
            }
            return;
        }
        if !last {
            return;
        }
        if !kind.is_file() {
            let file_type = special_kind(&meta);
            return self.skip(original, SkipReason::NotRegular { file_type });
        }
        let limit = self.options.max_file_size;
        if meta.len() > limit {
            let size = meta.len();
            return self.skip(original, SkipReason::TooLarge { size, limit });
        }
        let file = CollectedFile {
            original_path: original.clone(),
            local_path: path,
            size: meta.len(),
            modified: meta.modified().ok().map(DateTime::<Utc>::from),
        };
        self.files.insert(original, file);
    }

    fn skip(&mut self, original: String, reason: SkipReason) {
        tracing::debug!(path = %original, %reason, "triage: skipped");
        self.skipped.insert(original, reason);
    }
}

fn unreadable(e: &io::Error) -> SkipReason {
    SkipReason::Unreadable {
        error: e.to_string(),
    }
}

/// What kind of special file `meta` describes.
fn special_kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "FIFO";
        } else if t.is_socket() {
            return "socket";
        } else if t.is_block_device() {
            return "block device";
        } else if t.is_char_device() {
            return "character device";
        }
    }
    let _ = meta;
    "special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profile_parses_and_covers_the_basics() {
        let linux = TriageProfile::linux();
        assert_eq!(linux.name(), "linux-triage");
        let patterns: Vec<&str> = linux.patterns().collect();
        for expected in [
            "/var/log/auth.log*",
            "/var/log/secure*",
            "/var/log/syslog*",
            "/var/log/messages*",
            "/home/*/.bash_history",
            "/home/*/.zsh_history",
            "/root/.bash_history",
            "/root/.zsh_history",
            "/etc/passwd",
            "/etc/group",
            "/etc/hostname",
            "/etc/hosts",
            "/etc/crontab",
            "/etc/sudoers",
        ] {
            assert!(patterns.contains(&expected), "{expected}");
        }
    }

    #[test]
    fn profile_errors_name_the_line() {
        let err = TriageProfile::parse("custom", "# ok\n/etc/passwd\nvar/log\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "triage profile custom, line 3: pattern \"var/log\" must be an absolute path (start with /)"
        );
    }

    #[test]
    fn windows_profile_matches_without_case_and_prunes_directories() {
        let windows = TriageProfile::windows();
        assert!(windows.matches_ignore_case("/WINDOWS/system32/winevt/logs/Security.evtx"));
        assert!(windows.matches_ignore_case("/$MFT"));
        assert!(windows.matches_ignore_case(
            "/Windows/System32/Tasks/Microsoft/Windows/Defrag/ScheduledDefrag"
        ));
        assert!(windows.matches_ignore_case(
            "/Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt"
        ));
        assert!(!windows.matches("/WINDOWS/system32/winevt/logs/Security.evtx"));
        assert!(!windows.matches_ignore_case("/Windows/System32/kernel32.dll"));
        assert!(windows.could_be_below("/windows/system32", true));
        assert!(windows.could_be_below("/Windows/System32/Tasks/a/b/c", true));
        assert!(!windows.could_be_below("/Program Files", true));
        assert!(!windows.could_be_below("/Windows/WinSxS", true));
    }

    #[test]
    fn double_star_takes_everything_below_a_directory() {
        let profile = TriageProfile::parse("t", "/etc/systemd/**\n/tmp/**\n").unwrap();
        assert!(profile.matches("/etc/systemd/system/evil.service"));
        assert!(profile.matches("/tmp/a/b/c/d"));
        assert!(!profile.matches("/etc/systemd"));
        assert!(!profile.matches("/etc/passwd"));
        assert!(profile.could_be_below("/tmp/x/y", false));
        assert!(!profile.could_be_below("/usr", false));
        assert!(TriageProfile::parse("t", "/**").is_err());
        assert!(TriageProfile::parse("t", "/a/**/b").is_err());

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp/.x/deep")).unwrap();
        std::fs::write(dir.path().join("tmp/.x/deep/implant"), b"elf").unwrap();
        std::fs::write(dir.path().join("tmp/top"), b"1").unwrap();
        let selected = profile
            .select(dir.path(), &TriageOptions::default())
            .unwrap();
        let paths: Vec<&str> = selected
            .files
            .iter()
            .map(|f| f.original_path.as_str())
            .collect();
        assert_eq!(paths, vec!["/tmp/.x/deep/implant", "/tmp/top"]);
    }

    #[test]
    fn options_default_to_one_gib() {
        assert_eq!(TriageOptions::default().max_file_size, 1024 * 1024 * 1024);
    }
}
