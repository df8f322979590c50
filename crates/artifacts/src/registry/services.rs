//! Services and drivers of the current control set (`SYSTEM\Select\Current` names it:
//! 1 → `ControlSet001`). One event per service with an `ImagePath` or a `ServiceDll`,
//! timed by the service key's last write (the time it was installed or last changed).

use super::Emitter;
use super::regf::{Hive, Key};
use riposte_model::Action;

/// The current control set's name and key (`ControlSet001` when `Select` is missing).
pub(super) fn current_control_set(hive: &Hive, root: &Key) -> Option<(String, Key)> {
    let current = hive
        .open(root, "Select")
        .and_then(|select| hive.value(&select, "Current"))
        .and_then(|v| v.as_u64())
        .filter(|n| (1..1000).contains(n))
        .unwrap_or(1);
    let name = format!("ControlSet{current:03}");
    let key = hive.subkey(root, &name)?;
    Some((name, key))
}

fn start_name(start: u64) -> &'static str {
    match start {
        0 => "boot",
        1 => "system",
        2 => "auto",
        3 => "demand",
        4 => "disabled",
        _ => "unknown",
    }
}

fn type_name(kind: u64) -> &'static str {
    match kind {
        0x1 => "kernel_driver",
        0x2 => "file_system_driver",
        0x4 => "adapter",
        0x8 => "recognizer_driver",
        0x10 => "own_process",
        0x20 => "share_process",
        0x50 | 0x60 => "user_service",
        0x110 | 0x120 => "interactive_process",
        _ => "other",
    }
}

/// One event per service of the current control set.
pub(super) fn services(hive: &Hive, out: &mut Emitter) {
    let Some(root) = out.keep(vec![hive.root()]).pop() else {
        return;
    };
    let Some((set_name, set)) = current_control_set(hive, &root) else {
        return;
    };
    let Some(services) = hive.subkey(&set, "Services") else {
        return;
    };
    for service in out.keep(hive.subkeys(&services)) {
        let values = out.keep(hive.values(&service));
        let text = |name: &str| {
            values
                .iter()
                .find(|v| v.name.eq_ignore_ascii_case(name))
                .map(|v| v.display())
        };
        let number = |name: &str| {
            values
                .iter()
                .find(|v| v.name.eq_ignore_ascii_case(name))
                .and_then(|v| v.as_u64())
        };
        let service_dll = hive
            .subkey(&service, "Parameters")
            .and_then(|p| hive.value(&p, "ServiceDll"))
            .or_else(|| {
                values
                    .iter()
                    .find(|v| v.name.eq_ignore_ascii_case("ServiceDll"))
                    .cloned()
            })
            .map(|v| v.display());
        let image = text("ImagePath");
        if image.is_none() && service_dll.is_none() {
            continue;
        }
        let key_name = format!("HKLM\\SYSTEM\\{set_name}\\Services\\{}", service.name);
        let image = image.unwrap_or_default();
        let start = number("Start");
        let kind = number("Type");
        let mut message = format!("service {}: {image}", service.name);
        if let Some(dll) = &service_dll {
            message.push_str(&format!(" (ServiceDll {dll})"));
        }
        if let Some(start) = start {
            message.push_str(&format!(", start {}", start_name(start)));
        }
        let raw = serde_json::json!({
            "key": key_name,
            "values": values.iter().map(|v| (v.name.clone(), v.display())).collect::<std::collections::BTreeMap<_, _>>(),
            "service_dll": service_dll,
        })
        .to_string();
        let attributes = vec![
            ("key_name", key_name.clone()),
            ("service_name", service.name.clone()),
            ("key_value", image.clone()),
            ("cmd", image),
            ("service_dll", service_dll.unwrap_or_default()),
            ("display_name", text("DisplayName").unwrap_or_default()),
            ("service_account", text("ObjectName").unwrap_or_default()),
            ("start", start.map(|s| s.to_string()).unwrap_or_default()),
            (
                "start_name",
                start.map(start_name).unwrap_or_default().to_string(),
            ),
            (
                "service_type",
                kind.map(|k| format!("{k:#x}")).unwrap_or_default(),
            ),
            (
                "service_type_name",
                kind.map(type_name).unwrap_or_default().to_string(),
            ),
            ("control_set", set_name.clone()),
        ];
        out.event(
            Action::RegistryExists,
            None,
            service.last_written,
            message,
            attributes,
            raw,
        );
    }
}
