//! The data directory holds API key hashes, alerts, sealed credentials and evidence: it
//! and everything Riposte writes in it are for the service account alone (0700 and 0600),
//! whatever the process umask. Existing paths are tightened too, so a data directory made
//! by an older version stops being world-readable on the next start.

use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) if missing; `dir` itself ends up mode 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Creates `file` empty if missing; it ends up mode 0600. Its directory must exist.
pub fn private_file(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(file)?;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .map(|_| ())
    }
}
