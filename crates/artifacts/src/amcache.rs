//! Amcache (`Windows\AppCompat\Programs\Amcache.hve`), a registry hive in which Windows
//! records the programs present on the system:
//!
//! - `Root\InventoryApplicationFile\*` (Windows 10/11): one `exists` (file) event per
//!   file with `file_path` (`LowerCaseLongPath`), `file_hash` (the SHA-1 of `FileId`
//!   without its `0000` prefix), `link_date` (the PE link time), publisher, version and
//!   size, timed by the key's last write (when Windows last saw the file).
//! - `Root\InventoryApplication\*`: one `host` event per installed application (name,
//!   version, publisher, install directory), timed by the key.
//! - `Root\File\{volume}\*` (Windows 8 and early 10): per file, value `15` is the path,
//!   `101` the SHA-1 (with its `0000` prefix), timed by the key.
//!
//! Transaction logs are not replayed (see [`crate::RegistryHive`]).

use crate::registry::Emitter;
use crate::registry::regf::{Hive, Key};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event};
use std::collections::BTreeMap;
use std::io::BufRead;

const PARSER: &str = "amcache";

/// Parser for `Amcache.hve`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Amcache;

impl ArtifactParser for Amcache {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        crate::file_name(original_path).eq_ignore_ascii_case("amcache.hve")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let mut out = Emitter::new(ctx, PARSER, "Amcache.hve");
        if let Some(data) = out.read_hive(input)
            && let Some(hive) = out.open(&data)
            && let Some(root) = out.keep(vec![hive.root()]).pop()
            && let Some(inner) = hive.subkey(&root, "Root")
        {
            application_files(&hive, &inner, &mut out);
            applications(&hive, &inner, &mut out);
            legacy_files(&hive, &inner, &mut out);
        }
        Box::new(out.results.into_iter())
    }
}

/// All values of a key by lower-case name, rendered as text.
fn values_of(hive: &Hive, key: &Key, out: &mut Emitter) -> BTreeMap<String, String> {
    out.keep(hive.values(key))
        .into_iter()
        .map(|v| (v.name.to_ascii_lowercase(), v.display()))
        .collect()
}

/// A SHA-1 from a `FileId`/`101` value: 40 hex digits after the `0000` padding.
fn sha1_of(file_id: &str) -> Option<String> {
    let id = file_id.trim();
    let hex = id
        .strip_prefix("0000")
        .filter(|h| h.len() == 40)
        .unwrap_or(id);
    (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

fn application_files(hive: &Hive, root: &Key, out: &mut Emitter) {
    let Some(files) = hive.subkey(root, "InventoryApplicationFile") else {
        return;
    };
    for file in out.keep(hive.subkeys(&files)) {
        let v = values_of(hive, &file, out);
        let get = |name: &str| v.get(name).cloned().unwrap_or_default();
        let path = get("lowercaselongpath");
        let name = match get("name") {
            n if n.is_empty() => path.rsplit('\\').next().unwrap_or_default().to_string(),
            n => n,
        };
        let hash = sha1_of(&get("fileid"));
        let message = format!(
            "Amcache file {}{}",
            if path.is_empty() { &name } else { &path },
            hash.as_ref()
                .map(|h| format!(" sha1 {h}"))
                .unwrap_or_default()
        );
        let raw = serde_json::json!({ "key": file.name, "values": v }).to_string();
        let attributes = vec![
            ("file_path", path.clone()),
            ("file_name", name),
            ("file_hash", hash.unwrap_or_default()),
            ("link_date", get("linkdate")),
            ("publisher", get("publisher")),
            ("version", get("version")),
            ("product_name", get("productname")),
            ("size", get("size")),
            ("program_id", get("programid")),
            (
                "amcache_key",
                format!("Root\\InventoryApplicationFile\\{}", file.name),
            ),
        ];
        out.event(
            Action::FileExists,
            None,
            file.last_written,
            message,
            attributes,
            raw,
        );
    }
}

fn applications(hive: &Hive, root: &Key, out: &mut Emitter) {
    let Some(apps) = hive.subkey(root, "InventoryApplication") else {
        return;
    };
    for app in out.keep(hive.subkeys(&apps)) {
        let v = values_of(hive, &app, out);
        let get = |name: &str| v.get(name).cloned().unwrap_or_default();
        let message = format!(
            "Amcache application {} {} ({})",
            get("name"),
            get("version"),
            get("publisher")
        );
        let raw = serde_json::json!({ "key": app.name, "values": v }).to_string();
        let attributes = vec![
            ("program_name", get("name")),
            ("version", get("version")),
            ("publisher", get("publisher")),
            ("install_date", get("installdate")),
            ("file_path", get("rootdirpath")),
            ("uninstall_string", get("uninstallstring")),
            ("program_id", app.name.clone()),
            (
                "amcache_key",
                format!("Root\\InventoryApplication\\{}", app.name),
            ),
        ];
        out.event(
            Action::HostInfo,
            None,
            app.last_written,
            message,
            attributes,
            raw,
        );
    }
}

fn legacy_files(hive: &Hive, root: &Key, out: &mut Emitter) {
    let Some(volumes) = hive.subkey(root, "File") else {
        return;
    };
    for volume in out.keep(hive.subkeys(&volumes)) {
        for file in out.keep(hive.subkeys(&volume)) {
            let v = values_of(hive, &file, out);
            let path = v.get("15").cloned().unwrap_or_default();
            let hash = v.get("101").and_then(|h| sha1_of(h));
            let message = format!("Amcache file {path}");
            let raw = serde_json::json!({ "volume": volume.name, "key": file.name, "values": v })
                .to_string();
            let attributes = vec![
                (
                    "file_name",
                    path.rsplit('\\').next().unwrap_or_default().to_string(),
                ),
                ("file_path", path.clone()),
                ("file_hash", hash.unwrap_or_default()),
                ("product_name", v.get("0").cloned().unwrap_or_default()),
                ("publisher", v.get("1").cloned().unwrap_or_default()),
                (
                    "amcache_key",
                    format!("Root\\File\\{}\\{}", volume.name, file.name),
                ),
            ];
            out.event(
                Action::FileExists,
                None,
                file.last_written,
                message,
                attributes,
                raw,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_drops_the_padding_and_refuses_other_ids() {
        let id = "0000a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
        assert_eq!(
            sha1_of(id).as_deref(),
            Some("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")
        );
        assert_eq!(sha1_of("0000abc"), None);
        assert_eq!(sha1_of(""), None);
    }

    #[test]
    fn claims_amcache_only() {
        assert!(Amcache.claims("C:\\Windows\\AppCompat\\Programs\\Amcache.hve"));
        assert!(!Amcache.claims("C:\\Windows\\AppCompat\\Programs\\Amcache.hve.LOG1"));
    }
}
