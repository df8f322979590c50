//! The evidence library: a directory with one triage collection per host.

use crate::resolve::{self, Resolution};
use crate::{AcquireError, identity};
use riposte_model::Target;
use serde::Serialize;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A directory holding one sub-folder per host, each laid out like that host's root
/// filesystem (`web01/etc/hostname`, `web01/var/log/auth.log`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceLibrary {
    root: PathBuf,
}

/// One host folder of the library, with the names and IPs its collection declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LibraryHost {
    /// The folder name; identifies the host in the library.
    pub key: String,
    /// The folder: the host's `/`.
    pub root: PathBuf,
    /// Host names, lowercase: the folder name, `etc/hostname`, matching `etc/hosts` names.
    pub names: Vec<String>,
    /// Addresses from the network configuration, matching `etc/hosts` lines, or the
    /// folder name when it is an IP.
    pub ips: Vec<IpAddr>,
}

impl LibraryHost {
    /// Reads the identity of the collection in folder `key` at `root`.
    fn read(key: &str, root: PathBuf) -> Self {
        let (names, ips) = identity::read(key, &root);
        LibraryHost {
            key: key.to_string(),
            root,
            names,
            ips,
        }
    }
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

    /// Every host folder, sorted by key. Hidden folders, plain files and symbolic links
    /// (which could lead outside the library) are not hosts.
    pub fn hosts(&self) -> Result<Vec<LibraryHost>, AcquireError> {
        let entries = fs::read_dir(&self.root).map_err(|e| AcquireError::io(&self.root, e))?;
        let mut hosts = Vec::new();
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
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot stat host folder")
                }
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AcquireError::io(path, e)),
        }
    }

    /// Finds the host an alert's target refers to: by instance id (folder name or a
    /// host name), then host name, then IP. See [`Resolution`].
    pub fn resolve(&self, target: &Target) -> Result<Resolution, AcquireError> {
        Ok(resolve::resolve_in(&self.root, self.hosts()?, target))
    }
}
