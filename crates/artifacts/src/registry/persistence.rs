//! Autostart keys: `Run`, `RunOnce` and their `Wow6432Node` and policy twins, in
//! `SOFTWARE` (HKLM) and `NTUSER.DAT` (HKCU). One event per value, timed by the key.

use super::Emitter;
use super::regf::Hive;
use riposte_model::Action;

/// The autostart keys, relative to the hive root (`SOFTWARE` hives have no `Software\`
/// level: it is stripped for them).
const RUN_KEYS: &[&str] = &[
    "Software\\Microsoft\\Windows\\CurrentVersion\\Run",
    "Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
    "Software\\Microsoft\\Windows\\CurrentVersion\\RunServices",
    "Software\\Microsoft\\Windows\\CurrentVersion\\RunServicesOnce",
    "Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\Run",
    "Software\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Run",
    "Software\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
    "Software\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\Run",
];

/// Every value of every autostart key present; `prefix` is how the hive root is named
/// (`HKLM\SOFTWARE` or `HKCU`).
pub(super) fn run_keys(hive: &Hive, out: &mut Emitter, prefix: &str) {
    let Some(root) = out.keep(vec![hive.root()]).pop() else {
        return;
    };
    let software_hive = prefix.ends_with("SOFTWARE");
    let user = out.profile_user();
    for path in RUN_KEYS {
        let relative = if software_hive {
            path.trim_start_matches("Software\\")
        } else {
            path
        };
        let Some(key) = hive.open(&root, relative) else {
            continue;
        };
        let key_name = format!("{prefix}\\{relative}");
        for value in out.keep(hive.values(&key)) {
            let command = value.display();
            let shown_name = if value.name.is_empty() {
                "(default)"
            } else {
                value.name.as_str()
            };
            let message = format!("autostart {key_name}\\{shown_name}: {command}");
            let raw = serde_json::json!({
                "key": key_name, "value": value.name, "type": value.kind, "data": command,
            })
            .to_string();
            let mut attributes = vec![
                ("key_name", key_name.clone()),
                ("value_name", value.name.clone()),
                ("key_value", command.clone()),
                ("cmd", command),
                ("autostart", "true".to_string()),
            ];
            if let Some(user) = &user {
                attributes.push(("username", user.clone()));
            }
            out.event(
                Action::RegistryExists,
                None,
                key.last_written,
                message,
                attributes,
                raw,
            );
        }
    }
}
