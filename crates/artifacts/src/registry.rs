//! Windows registry hives: `SYSTEM`, `SOFTWARE`, `SAM` and `SECURITY` under
//! `Windows\System32\config\` (and `RegBack`), each user's `NTUSER.DAT` and
//! `UsrClass.dat`. The whole hive is read (bounded by [`MAX_HIVE`]) with the crate's own
//! REGF reader ([`regf`]) and the forensically useful keys become events:
//!
//! | hive | key | event |
//! |---|---|---|
//! | SOFTWARE, NTUSER.DAT | `…\CurrentVersion\Run`, `RunOnce` (also under `Wow6432Node` and `Policies\Explorer\Run`) | `exists_registry` per value: `key_name`, `value_name`, `key_value` and `cmd` (the command) |
//! | SYSTEM | `ControlSet00N\Services\*` of the current control set (`Select\Current`) | `exists_registry` per service with an image: `service_name`, `key_value`/`cmd` (`ImagePath`), `start`, `service_type`, `service_dll`, `service_account` |
//! | SYSTEM | `…\Session Manager\AppCompatCache` (ShimCache, Windows 7 to 11) | `exists` (file) per entry: `file_path`, `file_modified`, `executed` (the Windows 7/8 insert flag) |
//! | SYSTEM | `MountedDevices` | `exists_registry` per mapping: `value_name` (`\DosDevices\C:`), `key_value` (disk signature, GPT id or device path) |
//! | NTUSER.DAT | `…\Explorer\UserAssist\{GUID}\Count` | `run` per program (ROT13-decoded `file_path`, `run_count`, `focus_count`) at its last execution |
//!
//! Each event carries its own time when the artifact records one (UserAssist's last
//! execution, a ShimCache entry's file modification time); otherwise the key's
//! last-write time, and `time_source` says which (`last_executed`, `file_modified`,
//! `key_last_written`). A ShimCache time is the file's, not an execution's. Transaction
//! logs are not replayed: events of a dirty hive are marked `hive_dirty=true` and the
//! hive yields one error saying so.

use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event, EventOrigin};
use std::io::{BufRead, Read};

mod mounted_devices;
mod persistence;
pub(crate) mod regf;
mod services;
mod shimcache;
mod userassist;

const PARSER: &str = "registry";
/// Largest hive read; `SOFTWARE` hives of busy servers reach a few hundred MiB.
pub(crate) const MAX_HIVE: u64 = 1024 * 1024 * 1024;

/// Parser for Windows registry hives.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryHive;

/// Which hive a file is, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HiveKind {
    System,
    Software,
    Sam,
    Security,
    NtUser,
    UsrClass,
}

impl HiveKind {
    fn from_path(path: &str) -> Option<Self> {
        let slashed = path.replace('\\', "/").to_ascii_lowercase();
        let in_config = slashed.contains("/system32/config/");
        Some(match crate::file_name(&slashed) {
            "ntuser.dat" => HiveKind::NtUser,
            "usrclass.dat" => HiveKind::UsrClass,
            "system" if in_config => HiveKind::System,
            "software" if in_config => HiveKind::Software,
            "sam" if in_config => HiveKind::Sam,
            "security" if in_config => HiveKind::Security,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            HiveKind::System => "SYSTEM",
            HiveKind::Software => "SOFTWARE",
            HiveKind::Sam => "SAM",
            HiveKind::Security => "SECURITY",
            HiveKind::NtUser => "NTUSER.DAT",
            HiveKind::UsrClass => "UsrClass.dat",
        }
    }
}

impl ArtifactParser for RegistryHive {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        HiveKind::from_path(original_path).is_some()
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let kind = HiveKind::from_path(&ctx.original_path).unwrap_or(HiveKind::System);
        let mut out = Emitter::new(ctx, PARSER, kind.as_str());
        if let Some(data) = out.read_hive(input)
            && let Some(hive) = out.open(&data)
        {
            match kind {
                HiveKind::Software => persistence::run_keys(&hive, &mut out, "HKLM\\SOFTWARE"),
                HiveKind::NtUser => {
                    persistence::run_keys(&hive, &mut out, "HKCU");
                    userassist::entries(&hive, &mut out);
                }
                HiveKind::System => {
                    services::services(&hive, &mut out);
                    shimcache::entries(&hive, &mut out);
                    mounted_devices::entries(&hive, &mut out);
                }
                // Opened so a damaged or dirty hive is still reported.
                HiveKind::Sam | HiveKind::Security | HiveKind::UsrClass => {}
            }
        }
        Box::new(out.results.into_iter())
    }
}

/// Collects the events and errors of one hive, with what every event shares.
pub(crate) struct Emitter<'c> {
    ctx: &'c ArtifactContext,
    parser: &'static str,
    hive: &'static str,
    dirty: bool,
    record: u64,
    /// What was found so far, in order.
    pub results: Vec<Result<Event, ArtifactError>>,
}

impl<'c> Emitter<'c> {
    /// An emitter for the artifact in `ctx`, read by `parser`, a hive of kind `hive`.
    pub fn new(ctx: &'c ArtifactContext, parser: &'static str, hive: &'static str) -> Self {
        Emitter {
            ctx,
            parser,
            hive,
            dirty: false,
            record: 0,
            results: Vec::new(),
        }
    }

    /// Reads the whole hive (bounded); a read failure is recorded.
    pub fn read_hive(&mut self, mut input: Box<dyn BufRead + Send + '_>) -> Option<Vec<u8>> {
        let mut data = Vec::new();
        match (&mut input).take(MAX_HIVE).read_to_end(&mut data) {
            Ok(_) => Some(data),
            Err(source) => {
                self.results.push(Err(ArtifactError::Read {
                    path: self.ctx.original_path.clone(),
                    record: 0,
                    source,
                }));
                None
            }
        }
    }

    /// Opens the hive, recording why when it is not one, that a dirty hive's logs were
    /// not replayed, and that a truncated one lost what was past its end.
    pub fn open<'d>(&mut self, data: &'d [u8]) -> Option<regf::Hive<'d>> {
        match regf::Hive::parse(data) {
            Ok(hive) => {
                self.dirty = hive.dirty;
                if hive.dirty {
                    self.error(
                        "the hive is dirty (its sequence numbers differ) and its transaction logs \
                         (.LOG1/.LOG2) were not replayed: the latest changes may be missing"
                            .into(),
                    );
                }
                if let Some(message) = hive.truncation() {
                    self.error(message);
                }
                Some(hive)
            }
            Err(e) => {
                self.error(e.to_string());
                None
            }
        }
    }

    /// Records a problem with one key or value; parsing goes on.
    pub fn error(&mut self, message: String) {
        self.record += 1;
        self.results.push(Err(ArtifactError::Record {
            path: self.ctx.original_path.clone(),
            record: self.record,
            message,
        }));
    }

    /// Records the errors among `items` and returns the good ones.
    pub fn keep<T>(&mut self, items: Vec<Result<T, regf::RegfError>>) -> Vec<T> {
        let mut good = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(item) => good.push(item),
                Err(e) => self.error(e.to_string()),
            }
        }
        good
    }

    /// Adds an event timed by `own` (a FILETIME the artifact records for the item, and
    /// the name of that time) when set, else by the key's last-write time.
    pub fn event(
        &mut self,
        action: Action,
        own: Option<(u64, &str)>,
        key_last_written: u64,
        message: String,
        attributes: Vec<(&str, String)>,
        raw: String,
    ) {
        self.record += 1;
        let (time, source) = match own.and_then(|(t, s)| Some((crate::mft::filetime(t)?, s))) {
            Some((time, source)) => (Some(time), source),
            None => (crate::mft::filetime(key_last_written), "key_last_written"),
        };
        let origin = EventOrigin {
            parser: self.parser.into(),
            path: self.ctx.original_path.clone(),
            record: Some(self.record),
        };
        let mut event = Event::new(time, self.ctx.host.as_str(), action, message, origin)
            .with("hive", self.hive)
            .with("time_source", source)
            .with_raw(raw);
        if let Some(key_time) = crate::mft::filetime(key_last_written) {
            event = event.with(
                "key_last_written",
                key_time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            );
        }
        for (name, value) in attributes {
            if !value.is_empty() {
                event = event.with(name, value);
            }
        }
        if self.dirty {
            event = event.with("hive_dirty", "true");
        }
        self.results.push(Ok(event));
    }

    /// The user a profile hive belongs to, from its path (`…\Users\bob\NTUSER.DAT`).
    pub fn profile_user(&self) -> Option<String> {
        let parts: Vec<&str> = self.ctx.original_path.split(['/', '\\']).collect();
        let at = parts.iter().position(|p| {
            p.eq_ignore_ascii_case("users") || p.eq_ignore_ascii_case("documents and settings")
        })?;
        // The folder right under Users, unless that is already the hive file itself.
        parts
            .get(at + 1)
            .filter(|u| !u.is_empty() && at + 2 < parts.len())
            .map(|u| u.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_hives_by_path_case_insensitively() {
        let p = RegistryHive;
        assert!(p.claims("C:\\Windows\\System32\\config\\SYSTEM"));
        assert!(p.claims("/mnt/c/windows/system32/config/software"));
        assert!(p.claims("/Windows/System32/config/RegBack/SAM"));
        assert!(p.claims("/Windows/System32/config/SECURITY"));
        assert!(p.claims("C:\\Users\\bob\\NTUSER.DAT"));
        assert!(p.claims("/Users/bob/AppData/Local/Microsoft/Windows/UsrClass.dat"));
        assert!(!p.claims("/Windows/System32/config/SYSTEM.LOG1"));
        assert!(!p.claims("/home/bob/SYSTEM"));
        assert!(!p.claims("/Windows/AppCompat/Programs/Amcache.hve"));
    }

    #[test]
    fn profile_user_comes_from_the_path() {
        let ctx = ArtifactContext {
            original_path: "C:\\Users\\john.doe\\NTUSER.DAT".into(),
            ..Default::default()
        };
        let out = Emitter::new(&ctx, PARSER, "NTUSER.DAT");
        assert_eq!(out.profile_user().as_deref(), Some("john.doe"));
        for path in ["/evidence/NTUSER.DAT", "/Users/NTUSER.DAT"] {
            let ctx = ArtifactContext {
                original_path: path.into(),
                ..Default::default()
            };
            assert_eq!(
                Emitter::new(&ctx, PARSER, "x").profile_user(),
                None,
                "{path}"
            );
        }
    }
}
