//! The evidence library: a directory with one triage collection per host.

use crate::resolve::{self, Resolution};
use crate::{AcquireError, identity};
use riposte_model::Target;
use serde::Serialize;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A directory holding one entry per host: a sub-folder laid out like that host's root
/// filesystem (`web01/etc/hostname`, `web01/var/log/auth.log`, …), a triage package
/// (`web02.tar.gz`, `dc01.zip`) or a disk image (`web03.E01`, `db01.vmdk`, `app.000` +
/// `app.001`…), packages and images recognised by content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceLibrary {
    root: PathBuf,
}

/// One host folder of the library, with the names and IPs its collection declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LibraryHost {
    /// The folder name, or the file name without its extension; identifies the host in
    /// the library.
    pub key: String,
    /// The folder (the host's `/`), or the package or image file.
    pub root: PathBuf,
    /// What the evidence is.
    pub kind: HostEvidence,
    /// Host names, lowercase: the folder name, `etc/hostname`, matching `etc/hosts` names.
    pub names: Vec<String>,
    /// Addresses from the network configuration, matching `etc/hosts` lines, or the
    /// folder name when it is an IP.
    pub ips: Vec<IpAddr>,
}

/// The form a host's evidence takes in the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostEvidence {
    /// A folder laid out like the host's root filesystem.
    Folder,
    /// A triage package (tar, tar.gz, zip).
    Package,
    /// A disk image.
    Image,
}

impl LibraryHost {
    /// Reads the identity of the collection in folder `key` at `root`.
    fn read(key: &str, root: PathBuf) -> Self {
        let (names, ips) = identity::read(key, &root);
        LibraryHost {
            key: key.to_string(),
            root,
            kind: HostEvidence::Folder,
            names,
            ips,
        }
    }

    /// A host whose evidence is the package or image file at `path`, named by `key`.
    fn file(key: String, path: PathBuf, kind: HostEvidence) -> Self {
        let (names, ips) = identity::from_key(&key);
        LibraryHost {
            key,
            root: path,
            kind,
            names,
            ips,
        }
    }
}

/// Extensions stripped from a package or image file's name to make its host key.
const EVIDENCE_EXTENSIONS: &[&str] = &[
    ".tar.gz", ".tgz", ".tar", ".zip", ".e01", ".ex01", ".vmdk", ".vhdx", ".vhd", ".qcow2", ".raw",
    ".dd", ".img", ".000", ".001", ".aa",
];

/// The host key and kind of a library file: `Some` for a triage package or disk image
/// (by content) named like a first segment; `None` for anything else.
pub fn evidence_file(path: &Path) -> Option<(String, HostEvidence)> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    // Later segments of a split image belong to the first one.
    let extension = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let later_numbered = extension.len() >= 2
        && extension.bytes().all(|b| b.is_ascii_digit())
        && extension.parse::<u64>().is_ok_and(|n| n > 1);
    let later_ewf = extension.len() == 3
        && extension.starts_with('e')
        && extension[1..].parse::<u64>().is_ok_and(|n| n > 1);
    if later_numbered || later_ewf || (extension == "001" && path.with_extension("000").is_file()) {
        return None;
    }
    let kind = if crate::PackageFormat::detect(path).ok().flatten().is_some() {
        HostEvidence::Package
    } else if crate::is_disk_image(path) {
        HostEvidence::Image
    } else {
        return None;
    };
    let key = EVIDENCE_EXTENSIONS
        .iter()
        .find_map(|ext| {
            lower
                .ends_with(ext)
                .then(|| name[..name.len() - ext.len()].to_string())
        })
        .unwrap_or_else(|| name.to_string());
    (!key.is_empty()).then_some((key, kind))
}

impl EvidenceLibrary {
    /// Opens the library at `root`, which must be an existing directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, AcquireError> {
        let root = root.into();
        match fs::metadata(&root) {
            Ok(m) if m.is_dir() => Ok(EvidenceLibrary { root }),
            Ok(_) => Err(AcquireError::NotADirectory { path: root }),
            Err(e) => Err(AcquireError::io(root, e)),
        }
    }

    /// The library directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every host, sorted by key: folders, then package and image files whose key no
    /// folder has. Hidden entries, other files and symbolic links (which could lead
    /// outside the library) are not hosts.
    pub fn hosts(&self) -> Result<Vec<LibraryHost>, AcquireError> {
        let entries = fs::read_dir(&self.root).map_err(|e| AcquireError::io(&self.root, e))?;
        let mut hosts = Vec::new();
        let mut files = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!(library = %self.root.display(), error = %e, "cannot list an entry");
                    continue;
                }
            };
            let path = entry.path();
            let Some(key) = entry.file_name().to_str().map(str::to_string) else {
                tracing::warn!(path = %path.display(), "skipping host folder whose name is not UTF-8");
                continue;
            };
            match entry.file_type() {
                Ok(t) if t.is_symlink() => {
                    tracing::warn!(path = %path.display(), "skipping host folder that is a symbolic link");
                }
                Ok(t) if t.is_dir() && !key.starts_with('.') => {
                    hosts.push(LibraryHost::read(&key, path))
                }
                Ok(t) if t.is_file() => {
                    if let Some((key, kind)) = evidence_file(&path) {
                        files.push(LibraryHost::file(key, path, kind));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot stat host folder")
                }
            }
        }
        files.sort_by(|a, b| a.root.cmp(&b.root));
        for file in files {
            if hosts.iter().any(|h| h.key == file.key) {
                tracing::warn!(path = %file.root.display(), key = %file.key, "skipping evidence file: another host in the library has the same name");
            } else {
                hosts.push(file);
            }
        }
        hosts.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(hosts)
    }

    /// The host folder called `key`, if there is one (symbolic links excluded).
    pub fn host(&self, key: &str) -> Result<Option<LibraryHost>, AcquireError> {
        let plain = !key.is_empty() && !key.starts_with('.') && !key.contains(['/', '\\']);
        if !plain {
            return Ok(None);
        }
        let path = self.root.join(key);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Ok(Some(LibraryHost::read(key, path))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A package or image file named after the host.
                Ok(self.hosts()?.into_iter().find(|h| h.key == key))
            }
            Err(e) => Err(AcquireError::io(path, e)),
        }
    }

    /// Finds the host an alert's target refers to: by instance id (folder name or a
    /// host name), then host name, then IP. See [`Resolution`].
    pub fn resolve(&self, target: &Target) -> Result<Resolution, AcquireError> {
        Ok(resolve::resolve_in(&self.root, self.hosts()?, target))
    }

    /// [`EvidenceLibrary::resolve`] among hosts listed earlier by [`EvidenceLibrary::hosts`]
    /// (to resolve many targets with one listing).
    pub fn resolve_among(&self, hosts: Vec<LibraryHost>, target: &Target) -> Resolution {
        resolve::resolve_in(&self.root, hosts, target)
    }
}
