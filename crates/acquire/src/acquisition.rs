//! One acquisition path: a piece of evidence — a folder laid out like a host's
//! filesystem (or holding loose logs), a triage package, a disk image, one file — becomes
//! the items to collect, with the same options and the same report whoever asks:
//! `riposte investigate` and the worker's collect stage call [`acquire`] alike and keep
//! only what is theirs (where the bytes go, what is recorded).
//!
//! The operating system decides the triage profile, for folders and packages as for disk
//! images: a Windows volume (a drive folder such as `C/`, `Windows/System32` at the root)
//! gets the Windows profile with names compared without case, a Unix root filesystem the
//! Linux profile, a collection holding both gets both, and one holding neither (or whose
//! profiles select nothing) is read as loose logs: every file some artifact parser reads.

use crate::image::{ImageReport, ImageSelection, read_opened_image};
use crate::package::read_package_source;
use crate::package::{EntryFilter, Layout, PackageFormat, PackageLimits, RefusedEntry};
use crate::triage::{CollectedFile, TriageOptions, TriageProfile, Walk, check_host_root};
use crate::{AcquireError, is_disk_image};
use chrono::{DateTime, Utc};
use riposte_disk::{
    FileSource, FsKind, Image, ImageFormat, SharedSource, SourceCursor, format_from_magic,
    open_image, volumes,
};
use riposte_model::{AcquisitionSummary, EvidenceForm, ImageLocation, Provenance, SystemLayout};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the filesystem timeline of a full image acquisition is filed among the items.
pub const FILESYSTEM_TIMELINE: &str = "/$Riposte/filesystem-timeline.body";

/// Most files read from a folder of loose logs.
pub const LOOSE_MAX_FILES: usize = 100_000;

/// Deepest folder level searched for loose logs.
const LOOSE_MAX_DEPTH: usize = 16;

/// Top-level folders that mark a Unix root filesystem. Narrower than the package layout's
/// list: `tmp` and `dev` are common folder names in exports that are not root filesystems.
const UNIX_ROOT_DIRS: [&str; 12] = [
    "bin", "boot", "etc", "home", "lib", "lib64", "opt", "root", "sbin", "srv", "usr", "var",
];

/// Top-level folders of a Windows volume.
const WINDOWS_ROOT_DIRS: [&str; 5] = [
    "windows",
    "users",
    "programdata",
    "program files",
    "program files (x86)",
];

/// How to acquire: the same for the CLI and the platform.
#[derive(Clone, Copy)]
pub struct AcquireOptions<'a> {
    /// Every regular file (and, for disk images, the filesystem timeline) instead of the
    /// triage profiles' selection.
    pub full: bool,
    /// Limits of folder and image selection.
    pub triage: TriageOptions,
    /// Limits of package reading (entries, sizes, compression ratio).
    pub package: PackageLimits,
    /// True when some artifact parser reads a file at this original path: what loose-log
    /// folders and packages are selected by, and what makes an item parsable.
    pub parsable: &'a (dyn Fn(&str) -> bool + Sync),
}

impl<'a> AcquireOptions<'a> {
    /// Triage (or full, with `full`) under default limits.
    pub fn new(full: bool, parsable: &'a (dyn Fn(&str) -> bool + Sync)) -> Self {
        AcquireOptions {
            full,
            triage: TriageOptions::default(),
            package: PackageLimits::default(),
            parsable,
        }
    }
}

/// One item handed to the caller with a stream of its content.
#[derive(Debug)]
pub struct AcquiredItem<'a> {
    /// Its path on the original system (`/var/log/auth.log`, `C:/Windows/…`).
    pub original_path: &'a str,
    /// Last modification time on the original system, when known.
    pub modified: Option<DateTime<Utc>>,
    /// Where it is in a disk image, when it comes from one.
    pub image: Option<ImageLocation>,
    /// The file itself, when the item is a local file (of a folder, or the lone file
    /// given): a caller that needs to read it again opens it with [`CollectedFile::open`].
    pub local: Option<&'a CollectedFile>,
}

impl AcquiredItem<'_> {
    /// Its provenance: read by `method` (e.g. `s3`) from `source` on `host`, with its
    /// path, time and place in an image (no cloud volume).
    pub fn provenance(
        &self,
        method: impl Into<String>,
        source: impl Into<String>,
        host: &str,
    ) -> Provenance {
        Provenance {
            method: method.into(),
            source: source.into(),
            host: host.to_string(),
            original_path: self.original_path.to_string(),
            modified: self.modified,
            image: self.image.clone(),
            cloud: None,
            ssh: None,
        }
    }
}

/// Called with each item and its content. An error stops the acquisition (the caller
/// could not store what it was given), except for disk images, where it skips the file.
pub type AcquireVisit<'v> = dyn FnMut(&AcquiredItem<'_>, &mut dyn Read) -> io::Result<()> + 'v;

/// An entry that was not collected, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedEntry {
    /// Its path on the original system, in the package, or `partition N`.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What was read from a triage package.
#[derive(Debug, Clone, Serialize)]
pub struct PackageSummary {
    /// Tar, tar.gz or zip.
    pub format: PackageFormat,
    /// The collector's layout.
    pub layout: Layout,
    /// Entries refused (traversal, links, special files, limits), with the reason.
    pub refused: Vec<RefusedEntry>,
    /// Entries not selected, or the collector's own output.
    pub ignored: u64,
}

/// What an acquisition found, selected and left out.
#[derive(Debug, Clone, Serialize)]
pub struct AcquisitionReport {
    /// What the evidence was.
    pub form: EvidenceForm,
    /// The layouts detected, in order.
    pub layouts: Vec<SystemLayout>,
    /// The selections applied (`linux-triage`, `windows-triage`, `loose-logs`, `full`,
    /// `single-file`).
    pub profiles: Vec<String>,
    /// Items handed over.
    pub items: u64,
    /// Items some artifact parser reads.
    pub parsable: u64,
    /// Entries left out, with the reason.
    pub skipped: Vec<SkippedEntry>,
    /// The package read, for a package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageSummary>,
    /// The image read, for a disk image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageReport>,
}

impl AcquisitionReport {
    fn new(form: EvidenceForm) -> Self {
        AcquisitionReport {
            form,
            layouts: Vec::new(),
            profiles: Vec::new(),
            items: 0,
            parsable: 0,
            skipped: Vec::new(),
            package: None,
            image: None,
        }
    }

    /// The summary recorded on the investigation.
    pub fn summary(&self) -> AcquisitionSummary {
        AcquisitionSummary {
            form: Some(self.form),
            layouts: self.layouts.clone(),
            profiles: self.profiles.clone(),
            items: self.items,
            parsable: self.parsable,
            skipped: self.skipped.len() as u64,
            snapshots: Vec::new(),
        }
    }

    /// Adds what acquiring another disk of the same system found (an instance's data
    /// volume after its root volume): counts, skipped entries, and layouts and profiles
    /// not yet listed. The first disk's image report is kept.
    pub fn absorb(&mut self, other: AcquisitionReport) {
        for layout in other.layouts {
            if !self.layouts.contains(&layout) {
                self.layouts.push(layout);
            }
        }
        self.layouts.sort();
        for profile in other.profiles {
            if !self.profiles.contains(&profile) {
                self.profiles.push(profile);
            }
        }
        self.items += other.items;
        self.parsable += other.parsable;
        self.skipped.extend(other.skipped);
        if self.image.is_none() {
            self.image = other.image;
        }
    }

    /// Records an entry left out, and why.
    pub fn skip(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(SkippedEntry {
            path: path.into(),
            reason: reason.into(),
        });
    }
}

/// Counts what is handed over and refuses a second item with an original path already
/// given (two volumes of one image can hold the same path; one investigation keeps one
/// item per path).
struct Handover<'a, 'v> {
    options: &'a AcquireOptions<'a>,
    visit: &'a mut AcquireVisit<'v>,
    seen: HashSet<String>,
    items: u64,
    parsable: u64,
    duplicates: Vec<SkippedEntry>,
}

impl<'a, 'v> Handover<'a, 'v> {
    fn new(options: &'a AcquireOptions<'a>, visit: &'a mut AcquireVisit<'v>) -> Self {
        Handover {
            options,
            visit,
            seen: HashSet::new(),
            items: 0,
            parsable: 0,
            duplicates: Vec::new(),
        }
    }

    fn give(&mut self, item: &AcquiredItem<'_>, content: &mut dyn Read) -> io::Result<()> {
        if !self.seen.insert(item.original_path.to_string()) {
            let place = item
                .image
                .as_ref()
                .map(|l| format!(" (partition {})", l.partition))
                .unwrap_or_default();
            self.duplicates.push(SkippedEntry {
                path: item.original_path.to_string(),
                reason: format!("an item with this path was already collected{place}"),
            });
            return Ok(());
        }
        (self.visit)(item, content)?;
        self.items += 1;
        if (self.options.parsable)(item.original_path) {
            self.parsable += 1;
        }
        Ok(())
    }

    fn finish(self, report: &mut AcquisitionReport) {
        report.items = self.items;
        report.parsable = self.parsable;
        report.skipped.extend(self.duplicates);
    }
}

/// Acquires the evidence at `path` — a folder, a triage package or a disk image
/// (recognised by content), or one file — handing every selected item to `visit`.
/// Problems with single entries are in the report's `skipped`; an error means the evidence
/// could not be read at all, or `visit` failed.
pub fn acquire(
    path: &Path,
    options: &AcquireOptions<'_>,
    visit: &mut AcquireVisit<'_>,
) -> Result<AcquisitionReport, AcquireError> {
    let meta = fs::symlink_metadata(path).map_err(|e| AcquireError::io(path, e))?;
    if meta.is_dir() {
        return acquire_folder(path, options, visit);
    }
    if !meta.is_file() {
        // Symbolic links (and devices) are refused like `check_host_root` does.
        check_host_root(path)?;
        return Err(AcquireError::Unsafe {
            path: path.to_path_buf(),
            problem: "neither a folder nor a regular file".into(),
        });
    }
    if PackageFormat::detect(path)?.is_some() {
        let file = fs::File::open(path).map_err(|e| AcquireError::io(path, e))?;
        let source: SharedSource =
            Arc::new(FileSource::new(file).map_err(|e| AcquireError::io(path, e))?);
        return acquire_package(&source, path, options, visit);
    }
    if is_disk_image(path) {
        return acquire_image(path, options, visit);
    }
    acquire_file(path, options, visit, meta.modified().ok().map(Into::into))
}

/// Acquires evidence whose bytes are a [`SharedSource`] rather than a local path (an
/// object in S3 read with range requests), named `name` (e.g. `s3://bucket/key`): a triage
/// package or a raw disk image, recognised by content like [`acquire`] does, else one
/// file whose original path is guessed from the name. Other image containers (E01,
/// VMDK, …) need their files on local disk and are refused with a reason.
pub fn acquire_source(
    source: &SharedSource,
    name: &str,
    options: &AcquireOptions<'_>,
    visit: &mut AcquireVisit<'_>,
) -> Result<AcquisitionReport, AcquireError> {
    let path = Path::new(name);
    if PackageFormat::detect_source(source)
        .map_err(|e| AcquireError::io(path, e))?
        .is_some()
    {
        return acquire_package(source, path, options, visit);
    }
    let mut head = vec![0u8; 4096.min(source.len() as usize)];
    let mut tail = vec![0u8; 512.min(source.len() as usize)];
    source
        .read_at(0, &mut head)
        .and_then(|_| source.read_at(source.len() - tail.len() as u64, &mut tail))
        .map_err(|e| AcquireError::io(path, e))?;
    let format = format_from_magic(&head, &tail);
    if format != ImageFormat::Raw {
        return Err(AcquireError::Unsafe {
            path: path.to_path_buf(),
            problem: format!(
                "a {} image can only be read from local files; convert it to a raw image, or copy it into the evidence library",
                format.as_str()
            ),
        });
    }
    if volumes(source).is_ok_and(|v| v.iter().any(|v| v.filesystem.is_some())) {
        let image = Image {
            format,
            files: vec![path.to_path_buf()],
            source: source.clone(),
        };
        return acquire_opened_image(&image, options, visit);
    }
    let mut report = AcquisitionReport::new(EvidenceForm::File);
    report.layouts.push(SystemLayout::LooseLogs);
    report.profiles.push("single-file".into());
    let original_path = guess_original_path(path, options.parsable);
    let mut handover = Handover::new(options, visit);
    let item = AcquiredItem {
        original_path: &original_path,
        modified: None,
        image: None,
        local: None,
    };
    handover
        .give(&item, &mut SourceCursor::new(source.clone()))
        .map_err(|e| AcquireError::io(path, e))?;
    handover.finish(&mut report);
    Ok(report)
}

/// Where a lone file most likely lived, so the right parser claims it: its own path, then
/// the usual log and home folders, else the root.
pub fn guess_original_path(file: &Path, parsable: &dyn Fn(&str) -> bool) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let absolute = file.to_string_lossy().to_string();
    loose_original_path(&absolute, &name, parsable)
}

/// The original path of a loose file found at `at` (its path in the collection) named
/// `name`: `at` when a parser reads it there, else `/var/log/NAME`, `/root/NAME`, `/NAME`.
fn loose_original_path(at: &str, name: &str, parsable: &dyn Fn(&str) -> bool) -> String {
    for candidate in [
        at.to_string(),
        format!("/var/log/{name}"),
        format!("/root/{name}"),
    ] {
        if parsable(&candidate) {
            return candidate;
        }
    }
    format!("/{name}")
}

fn acquire_file(
    path: &Path,
    options: &AcquireOptions<'_>,
    visit: &mut AcquireVisit<'_>,
    modified: Option<DateTime<Utc>>,
) -> Result<AcquisitionReport, AcquireError> {
    let mut report = AcquisitionReport::new(EvidenceForm::File);
    report.layouts.push(SystemLayout::LooseLogs);
    report.profiles.push("single-file".into());
    let local = CollectedFile {
        original_path: guess_original_path(path, options.parsable),
        local_path: path.to_path_buf(),
        size: fs::metadata(path)
            .map_err(|e| AcquireError::io(path, e))?
            .len(),
        modified,
    };
    let mut file = local.open()?;
    let mut handover = Handover::new(options, visit);
    let item = AcquiredItem {
        original_path: &local.original_path,
        modified,
        image: None,
        local: Some(&local),
    };
    handover
        .give(&item, &mut file)
        .map_err(|e| AcquireError::io(path, e))?;
    handover.finish(&mut report);
    Ok(report)
}

/// What the top level of a folder says about the systems it holds.
#[derive(Debug, Default)]
struct FolderSystems {
    /// Drive folders (`C/`) holding a Windows volume, with their drive prefix (`C:`).
    drives: Vec<(OsString, String)>,
    /// `Windows/System32` (any case) at the root.
    windows_root: bool,
    /// Unix root folders at the root.
    linux: bool,
}

fn folder_systems(root: &Path) -> FolderSystems {
    let mut found = FolderSystems::default();
    let Ok(entries) = fs::read_dir(root) else {
        return found;
    };
    let is_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let mut names: Vec<OsString> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let path = root.join(&name);
        if !is_dir(&path) {
            continue;
        }
        let text = name.to_string_lossy().to_string();
        let lower = text.to_ascii_lowercase();
        if UNIX_ROOT_DIRS.contains(&lower.as_str()) && text == lower {
            found.linux = true;
        }
        if lower == "windows" && child_dir_ignore_case(&path, "system32").is_some() {
            found.windows_root = true;
        }
        let drive = text.len() == 1 && text.as_bytes()[0].is_ascii_alphabetic();
        if drive && holds_windows_volume(&path) {
            found
                .drives
                .push((name.clone(), format!("{}:", text.to_ascii_uppercase())));
        }
    }
    found
}

/// True when `dir` has a Windows volume's top-level folders (`Windows`, `Users`, …, any
/// case), read in one listing.
fn holds_windows_volume(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            WINDOWS_ROOT_DIRS.contains(&name.as_str()) && e.file_type().is_ok_and(|t| t.is_dir())
        })
    })
}

/// The sub-folder of `dir` named `name` without regard to case.
fn child_dir_ignore_case(dir: &Path, name: &str) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name().to_string_lossy().eq_ignore_ascii_case(name)
                && e.file_type().is_ok_and(|t| t.is_dir())
        })
        .map(|e| e.path())
}

fn acquire_folder(
    root: &Path,
    options: &AcquireOptions<'_>,
    visit: &mut AcquireVisit<'_>,
) -> Result<AcquisitionReport, AcquireError> {
    check_host_root(root)?;
    let mut report = AcquisitionReport::new(EvidenceForm::Folder);
    let systems = folder_systems(root);
    if !systems.drives.is_empty() || systems.windows_root {
        report.layouts.push(SystemLayout::Windows);
    }
    if systems.linux {
        report.layouts.push(SystemLayout::Linux);
    }
    let mut walk = Walk::new(&options.triage);
    if options.full {
        report.profiles.push("full".into());
        let drives: Vec<OsString> = systems.drives.iter().map(|(d, _)| d.clone()).collect();
        walk.walk_from(root.to_path_buf(), String::new(), &drives);
        for (dir, prefix) in &systems.drives {
            walk.walk_from(root.join(dir), prefix.clone(), &[]);
        }
    } else {
        if systems.linux {
            report.profiles.push(TriageProfile::linux().name().into());
            walk.expand_profile(TriageProfile::linux(), root, "", false);
        }
        if systems.windows_root || !systems.drives.is_empty() {
            report.profiles.push(TriageProfile::windows().name().into());
            if systems.windows_root {
                walk.expand_profile(TriageProfile::windows(), root, "", true);
            }
            for (dir, prefix) in &systems.drives {
                walk.expand_profile(TriageProfile::windows(), &root.join(dir), prefix, true);
            }
        }
    }
    let selection = walk.finish();
    for skipped in &selection.skipped {
        report.skip(&skipped.original_path, skipped.reason.to_string());
    }
    let mut handover = Handover::new(options, visit);
    if selection.files.is_empty() && !options.full {
        // No profile applies, or the profiles found nothing: loose logs.
        report.layouts.push(SystemLayout::LooseLogs);
        report.profiles.push("loose-logs".into());
        loose_logs(root, options, &mut report, &mut handover)?;
    }
    for file in &selection.files {
        // `open` refuses a file swapped for a symbolic link since it was selected.
        let mut content = match file.open() {
            Ok(content) => content,
            Err(e) => {
                report.skip(&file.original_path, e.to_string());
                continue;
            }
        };
        let item = AcquiredItem {
            original_path: &file.original_path,
            modified: file.modified,
            image: None,
            local: Some(file),
        };
        handover
            .give(&item, &mut content)
            .map_err(|e| AcquireError::io(&file.local_path, e))?;
    }
    handover.finish(&mut report);
    Ok(report)
}

/// Every file below `root` that some parser reads, by its place in the folder or its name
/// (`/Security.evtx`, `logs/auth.log` → `/var/log/auth.log`). Links are not followed.
fn loose_logs(
    root: &Path,
    options: &AcquireOptions<'_>,
    report: &mut AcquisitionReport,
    handover: &mut Handover<'_, '_>,
) -> Result<(), AcquireError> {
    let mut taken = 0usize;
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(LOOSE_MAX_DEPTH)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let at = e
                    .path()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .map(|p| format!("/{}", p.display()))
                    .unwrap_or_else(|| "/".into());
                report.skip(at, format!("unreadable: {e}"));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        let at = format!("/{}", relative.to_string_lossy());
        let name = entry.file_name().to_string_lossy().to_string();
        let original_path = loose_original_path(&at, &name, options.parsable);
        if !(options.parsable)(&original_path) {
            continue;
        }
        if taken == LOOSE_MAX_FILES {
            report.skip(
                at,
                format!("more than {LOOSE_MAX_FILES} loose files; the rest are not read"),
            );
            break;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                report.skip(at, format!("unreadable: {e}"));
                continue;
            }
        };
        if meta.len() > options.triage.max_file_size {
            report.skip(
                at,
                format!(
                    "{} bytes, over the {}-byte limit",
                    meta.len(),
                    options.triage.max_file_size
                ),
            );
            continue;
        }
        let file = CollectedFile {
            original_path: original_path.clone(),
            local_path: entry.path().to_path_buf(),
            size: meta.len(),
            modified: meta.modified().ok().map(Into::into),
        };
        let mut content = match file.open() {
            Ok(content) => content,
            Err(e) => {
                report.skip(at, e.to_string());
                continue;
            }
        };
        taken += 1;
        let item = AcquiredItem {
            original_path: &original_path,
            modified: file.modified,
            image: None,
            local: Some(&file),
        };
        handover
            .give(&item, &mut content)
            .map_err(|e| AcquireError::io(&file.local_path, e))?;
    }
    Ok(())
}

/// True for a Windows original path (`C:/…`), with the path from the volume's root.
fn windows_volume_path(original: &str) -> Option<&str> {
    let bytes = original.as_bytes();
    (bytes.len() > 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/')
        .then(|| &original[2..])
}

/// The package selection: the profiles of the systems the package holds, decided from
/// every original path before any entry is read.
struct PackageFilter<'a> {
    options: &'a AcquireOptions<'a>,
    linux: Cell<bool>,
    windows: Cell<bool>,
    loose: Cell<bool>,
    layouts: RefCell<Vec<SystemLayout>>,
}

impl PackageFilter<'_> {
    fn windows_match(original: &str) -> bool {
        let volume_path = windows_volume_path(original).unwrap_or(original);
        TriageProfile::windows().matches_ignore_case(volume_path)
    }

    fn profiles(&self) -> Vec<String> {
        if self.options.full {
            return vec!["full".into()];
        }
        let mut profiles = Vec::new();
        if self.linux.get() {
            profiles.push(TriageProfile::linux().name().to_string());
        }
        if self.windows.get() {
            profiles.push(TriageProfile::windows().name().to_string());
        }
        if self.loose.get() {
            profiles.push("loose-logs".into());
        }
        profiles
    }
}

impl EntryFilter for PackageFilter<'_> {
    fn survey(&self, original_paths: &[String]) {
        let first_lower = |p: &str| {
            p.trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("")
                .to_string()
        };
        let windows = original_paths.iter().any(|p| {
            windows_volume_path(p).is_some() || {
                let lower = p.to_ascii_lowercase();
                lower.starts_with("/windows/system32/")
            }
        });
        let linux = original_paths.iter().any(|p| {
            windows_volume_path(p).is_none() && UNIX_ROOT_DIRS.contains(&first_lower(p).as_str())
        });
        let mut layouts = Vec::new();
        if windows {
            layouts.push(SystemLayout::Windows);
        }
        if linux {
            layouts.push(SystemLayout::Linux);
        }
        self.windows.set(windows);
        self.linux.set(linux);
        let selects_any = original_paths.iter().any(|p| {
            (linux && TriageProfile::linux().matches(p)) || (windows && Self::windows_match(p))
        });
        if !selects_any {
            layouts.push(SystemLayout::LooseLogs);
            self.loose.set(true);
        }
        *self.layouts.borrow_mut() = layouts;
    }

    fn accepts(&self, original_path: &str) -> bool {
        if self.options.full {
            return true;
        }
        if self.loose.get() {
            return (self.options.parsable)(original_path);
        }
        (self.linux.get() && TriageProfile::linux().matches(original_path))
            || (self.windows.get() && Self::windows_match(original_path))
    }
}

fn acquire_package(
    source: &SharedSource,
    path: &Path,
    options: &AcquireOptions<'_>,
    visit: &mut AcquireVisit<'_>,
) -> Result<AcquisitionReport, AcquireError> {
    let mut report = AcquisitionReport::new(EvidenceForm::Package);
    let filter = PackageFilter {
        options,
        linux: Cell::new(false),
        windows: Cell::new(false),
        loose: Cell::new(false),
        layouts: RefCell::new(Vec::new()),
    };
    let mut handover = Handover::new(options, visit);
    let read = read_package_source(
        source,
        path,
        &options.package,
        &filter,
        &mut |entry, reader| {
            let item = AcquiredItem {
                original_path: &entry.original_path,
                modified: entry.modified,
                image: None,
                local: None,
            };
            handover.give(&item, reader)
        },
    )?;
    handover.finish(&mut report);
    report.layouts = filter.layouts.take();
    report.profiles = filter.profiles();
    for refused in &read.refused {
        report.skip(&refused.archive_path, &refused.reason);
    }
    report.package = Some(PackageSummary {
        format: read.format,
        layout: read.layout,
        refused: read.refused,
        ignored: read.ignored,
    });
    Ok(report)
}

fn acquire_image(
    path: &Path,
    options: &AcquireOptions<'_>,
    visit: &mut AcquireVisit<'_>,
) -> Result<AcquisitionReport, AcquireError> {
    let image = open_image(path).map_err(|e| AcquireError::Unsafe {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    acquire_opened_image(&image, options, visit)
}

/// Acquires a disk whose bytes are already open — an image file, or a remote block device
/// such as an EBS snapshot read in place — exactly as [`acquire`] acquires an image file:
/// the triage profile of each volume's operating system (or every file when `full`, plus
/// the filesystem timeline), the same report. Reads go through the image's source on the
/// calling thread.
pub fn acquire_opened_image(
    image: &Image,
    options: &AcquireOptions<'_>,
    visit: &mut AcquireVisit<'_>,
) -> Result<AcquisitionReport, AcquireError> {
    let path = image.files.first().cloned().unwrap_or_default();
    let path = path.as_path();
    let mut report = AcquisitionReport::new(EvidenceForm::Image);
    let selection = if options.full {
        ImageSelection::Full
    } else {
        ImageSelection::Triage
    };
    // The filesystem timeline is staged in an anonymous temporary file, then handed over
    // after the files like any other item.
    let mut body = options
        .full
        .then(tempfile::tempfile)
        .transpose()
        .map_err(|e| AcquireError::io(std::env::temp_dir(), e))?;
    let mut handover = Handover::new(options, visit);
    let image = {
        let mut body_writer = body.as_mut().map(io::BufWriter::new);
        let image = read_opened_image(
            image,
            selection,
            &options.triage,
            &mut |item, reader| {
                let acquired = AcquiredItem {
                    original_path: item.original_path,
                    modified: item.entry.times.modified,
                    image: Some(item.location.clone()),
                    local: None,
                };
                handover.give(&acquired, reader)
            },
            body_writer.as_mut().map(|w| w as &mut dyn Write),
        )?;
        if let Some(writer) = body_writer.as_mut() {
            writer
                .flush()
                .map_err(|e| AcquireError::io(std::env::temp_dir(), e))?;
        }
        image
    };
    if let Some(body) = body.as_mut() {
        body.rewind()
            .map_err(|e| AcquireError::io(std::env::temp_dir(), e))?;
        let item = AcquiredItem {
            original_path: FILESYSTEM_TIMELINE,
            modified: None,
            image: None,
            local: None,
        };
        handover
            .give(&item, body)
            .map_err(|e| AcquireError::io(path, e))?;
    }
    handover.finish(&mut report);
    let mut layouts = Vec::new();
    for volume in &image.volumes {
        match volume.filesystem {
            Some(FsKind::Ntfs | FsKind::Fat) => layouts.push(SystemLayout::Windows),
            Some(_) => layouts.push(SystemLayout::Linux),
            None => {}
        }
        for problem in &volume.problems {
            report.skip(format!("partition {}", volume.index), problem);
        }
    }
    layouts.sort();
    layouts.dedup();
    report.profiles = if options.full {
        vec!["full".into()]
    } else {
        layouts
            .iter()
            .map(|l| match l {
                SystemLayout::Windows => TriageProfile::windows().name().to_string(),
                _ => TriageProfile::linux().name().to_string(),
            })
            .collect()
    };
    report.layouts = layouts;
    for skipped in &image.skipped {
        report.skip(&skipped.original_path, skipped.reason.to_string());
    }
    report.image = Some(image);
    Ok(report)
}
