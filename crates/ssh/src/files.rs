//! The file part of a collection: the triage profile's files read over SFTP.
//!
//! The walk lists only directories a profile pattern could reach, never follows a link
//! (SFTP listings carry `lstat` attributes), skips `/proc`, `/sys`, devices, FIFOs and
//! sockets, and bounds file size, count and total bytes. Small files are fetched several
//! at a time (SFTP requests are pipelined over the one connection); large ones stream.

use crate::{ItemSink, RemoteItem, SshError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use riposte_acquire::{SkippedEntry, TriageProfile};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, FileType};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Trees never walked: kernel interfaces, not files.
const PSEUDO_TREES: [&str; 2] = ["/proc", "/sys"];

/// Files at most this big are fetched whole, several at a time.
const SMALL_FILE: u64 = 4 << 20;

/// Small files fetched at once.
const PARALLEL_FETCHES: usize = 16;

/// Which files to collect.
#[derive(Clone, Copy)]
pub enum FileSelection<'a> {
    /// The files a triage profile names.
    Profile(&'a TriageProfile),
    /// Every regular file (a full collection).
    All,
}

impl FileSelection<'_> {
    fn wants(&self, path: &str) -> bool {
        match self {
            FileSelection::Profile(p) => p.matches(path),
            FileSelection::All => true,
        }
    }

    fn could_be_below(&self, dir: &str) -> bool {
        match self {
            FileSelection::Profile(p) => p.could_be_below(dir, false),
            FileSelection::All => true,
        }
    }
}

/// Bounds of a file collection.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Largest file read (default 1 GiB, as for packages and folders).
    pub max_file_size: u64,
    /// Most files (default 1,000,000).
    pub max_files: u64,
    /// Most bytes in all (default 64 GiB).
    pub max_total_bytes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        let package = riposte_acquire::PackageLimits::default();
        FileLimits {
            max_file_size: package.max_file_size,
            max_files: package.max_entries,
            max_total_bytes: package.max_total_bytes,
        }
    }
}

/// What the file part did.
#[derive(Debug, Default)]
pub struct FilesReport {
    /// Files handed to the sink.
    pub items: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Entries left out, with the reason.
    pub skipped: Vec<SkippedEntry>,
}

/// A selected file, found by the walk.
struct Selected {
    path: String,
    attrs: FileAttributes,
}

/// Walks the host under `selection` and hands each selected file to `sink`.
pub(crate) async fn collect_files(
    sftp: Arc<SftpSession>,
    selection: FileSelection<'_>,
    limits: FileLimits,
    sink: &mut dyn ItemSink,
    report: &mut FilesReport,
) -> Result<(), SshError> {
    let selected = walk(&sftp, selection, limits, report).await;
    let mut small = Vec::new();
    for file in selected {
        if size(&file.attrs) <= SMALL_FILE {
            small.push(file);
            continue;
        }
        stream_one(&sftp, file, limits, sink, report).await?;
    }
    let fetches = futures::stream::iter(small.into_iter().map(|file| {
        let sftp = sftp.clone();
        async move {
            let content = fetch_small(&sftp, &file).await;
            (file, content)
        }
    }))
    .buffered(PARALLEL_FETCHES);
    futures::pin_mut!(fetches);
    while let Some((file, content)) = fetches.next().await {
        match content {
            Ok(bytes) => {
                let item = item_of(&file);
                report.bytes += bytes.len() as u64;
                report.items += 1;
                sink.put(&item, &mut bytes.as_slice())
                    .await
                    .map_err(|e| SshError::Sink {
                        path: file.path.clone(),
                        source: e,
                    })?;
            }
            Err(reason) => report.skipped.push(SkippedEntry {
                path: file.path,
                reason,
            }),
        }
    }
    Ok(())
}

/// Lists the directories a selected file could be in; returns the selected files in path
/// order, within the count and total bounds.
async fn walk(
    sftp: &SftpSession,
    selection: FileSelection<'_>,
    limits: FileLimits,
    report: &mut FilesReport,
) -> Vec<Selected> {
    let mut selected = Vec::new();
    let mut total = 0u64;
    let mut dirs = vec!["/".to_string()];
    while let Some(dir) = dirs.pop() {
        let listing = match sftp.read_dir(dir.as_str()).await {
            Ok(listing) => listing,
            Err(e) => {
                report.skipped.push(SkippedEntry {
                    path: dir.clone(),
                    reason: format!("cannot list the directory: {e}"),
                });
                continue;
            }
        };
        let mut entries: Vec<(String, FileAttributes)> = listing
            .map(|entry| (entry.file_name(), entry.metadata()))
            .filter(|(name, _)| name != "." && name != "..")
            .collect();
        entries.sort_by(|a, b| b.0.cmp(&a.0));
        for (name, attrs) in entries {
            let path = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            match attrs.file_type() {
                FileType::Dir => {
                    if !PSEUDO_TREES.contains(&path.as_str()) && selection.could_be_below(&path) {
                        dirs.push(path);
                    }
                }
                FileType::File => {
                    if !selection.wants(&path) {
                        continue;
                    }
                    let size = size(&attrs);
                    let reason = if size > limits.max_file_size {
                        Some(format!(
                            "larger than the {} MiB limit ({} MiB)",
                            limits.max_file_size >> 20,
                            size >> 20
                        ))
                    } else if selected.len() as u64 >= limits.max_files {
                        Some(format!("over the limit of {} files", limits.max_files))
                    } else if total.saturating_add(size) > limits.max_total_bytes {
                        Some(format!(
                            "over the limit of {} GiB in all",
                            limits.max_total_bytes >> 30
                        ))
                    } else {
                        None
                    };
                    match reason {
                        Some(reason) => report.skipped.push(SkippedEntry { path, reason }),
                        None => {
                            total += size;
                            selected.push(Selected { path, attrs });
                        }
                    }
                }
                FileType::Symlink => {
                    if selection.wants(&path) {
                        report.skipped.push(SkippedEntry {
                            path,
                            reason: "symbolic link (never followed)".into(),
                        });
                    }
                }
                FileType::Other => {
                    if selection.wants(&path) {
                        report.skipped.push(SkippedEntry {
                            path,
                            reason: "not a regular file (device, FIFO or socket)".into(),
                        });
                    }
                }
            }
        }
    }
    selected.sort_by(|a, b| a.path.cmp(&b.path));
    selected
}

fn size(attrs: &FileAttributes) -> u64 {
    attrs.size.unwrap_or(0)
}

fn modified(attrs: &FileAttributes) -> Option<DateTime<Utc>> {
    attrs
        .mtime
        .and_then(|t| DateTime::from_timestamp(i64::from(t), 0))
}

fn item_of(file: &Selected) -> RemoteItem {
    RemoteItem {
        original_path: file.path.clone(),
        modified: modified(&file.attrs),
        command: None,
    }
}

/// Opens a selected file and checks it is still the regular file listed: a file replaced
/// by a link since the listing (pointing, say, at `/etc/shadow`) is refused. SFTP has no
/// inode numbers, so the check compares type, owner and mode of the path (`lstat`) and of
/// the opened handle (`fstat`) with the listing's.
async fn open_checked(
    sftp: &SftpSession,
    file: &Selected,
) -> Result<russh_sftp::client::fs::File, String> {
    let handle = sftp
        .open(file.path.as_str())
        .await
        .map_err(|e| format!("cannot open: {e}"))?;
    let now = sftp
        .symlink_metadata(file.path.as_str())
        .await
        .map_err(|e| format!("cannot check: {e}"))?;
    let opened = handle
        .metadata()
        .await
        .map_err(|e| format!("cannot check: {e}"))?;
    let same = |a: &FileAttributes, b: &FileAttributes| {
        a.file_type() == b.file_type()
            && a.uid == b.uid
            && a.gid == b.gid
            && a.permissions == b.permissions
    };
    if now.file_type() != FileType::File || !same(&now, &file.attrs) || !same(&opened, &now) {
        return Err("replaced since it was listed (not read)".into());
    }
    Ok(handle)
}

async fn fetch_small(sftp: &SftpSession, file: &Selected) -> Result<Vec<u8>, String> {
    let handle = open_checked(sftp, file).await?;
    let mut bytes = Vec::with_capacity(size(&file.attrs) as usize);
    // A file that grew since it was listed is read up to the small-file bound twice over.
    handle
        .take(SMALL_FILE * 2)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("read failed: {e}"))?;
    Ok(bytes)
}

async fn stream_one(
    sftp: &SftpSession,
    file: Selected,
    limits: FileLimits,
    sink: &mut dyn ItemSink,
    report: &mut FilesReport,
) -> Result<(), SshError> {
    let handle = match open_checked(sftp, &file).await {
        Ok(handle) => handle,
        Err(reason) => {
            report.skipped.push(SkippedEntry {
                path: file.path,
                reason,
            });
            return Ok(());
        }
    };
    let mut content = handle.take(limits.max_file_size);
    let mut counted = Counted {
        inner: &mut content,
        bytes: 0,
    };
    sink.put(&item_of(&file), &mut counted)
        .await
        .map_err(|e| SshError::Sink {
            path: file.path.clone(),
            source: e,
        })?;
    report.bytes += counted.bytes;
    report.items += 1;
    Ok(())
}

/// Counts the bytes read through it.
struct Counted<'a, R> {
    inner: &'a mut R,
    bytes: u64,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<'_, R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut *self.inner).poll_read(cx, buf);
        self.bytes += (buf.filled().len() - before) as u64;
        poll
    }
}
