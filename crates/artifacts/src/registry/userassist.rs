//! UserAssist (`NTUSER.DAT`, `…\Explorer\UserAssist\{GUID}\Count`): programs and
//! shortcuts a user started from Explorer. Value names are ROT13-encoded paths; the data
//! holds a run count and the last execution time: 72 bytes since Windows 7 (count at 4,
//! focus count at 8, focus time at 12, FILETIME at 60), 16 bytes before (count at 4,
//! offset by 5, FILETIME at 8).

use super::Emitter;
use super::regf::Hive;
use riposte_model::Action;

const USERASSIST: &str = "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\UserAssist";

/// ROT13 on ASCII letters (what UserAssist does to its value names).
pub(crate) fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

/// What one UserAssist value records.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub run_count: u32,
    pub focus_count: Option<u32>,
    pub focus_ms: Option<u32>,
    pub last_executed: u64,
}

/// Decodes a UserAssist value's data (Windows 7+ or XP layout).
pub(crate) fn decode(data: &[u8]) -> Option<Entry> {
    let u32_at = |at: usize| Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?));
    match data.len() {
        72 => Some(Entry {
            run_count: u32_at(4)?,
            focus_count: u32_at(8),
            focus_ms: u32_at(12),
            last_executed: u64_at(60)?,
        }),
        16 => Some(Entry {
            run_count: u32_at(4)?.saturating_sub(5),
            focus_count: None,
            focus_ms: None,
            last_executed: u64_at(8)?,
        }),
        _ => None,
    }
}

/// One `run` event per UserAssist entry.
pub(super) fn entries(hive: &Hive, out: &mut Emitter) {
    let Some(root) = out.keep(vec![hive.root()]).pop() else {
        return;
    };
    let Some(userassist) = hive.open(&root, USERASSIST) else {
        return;
    };
    let user = out.profile_user();
    for guid in out.keep(hive.subkeys(&userassist)) {
        let Some(count) = hive.subkey(&guid, "Count") else {
            continue;
        };
        for value in out.keep(hive.values(&count)) {
            let name = rot13(&value.name);
            let Some(entry) = decode(&value.data) else {
                // Counters such as UEME_CTLSESSION have other sizes: nothing to report.
                continue;
            };
            let file_name = name.rsplit(['\\', '/']).next().unwrap_or(&name).to_string();
            let message = format!(
                "UserAssist: {name} run {} time(s){}",
                entry.run_count,
                user.as_ref()
                    .map(|u| format!(" by {u}"))
                    .unwrap_or_default()
            );
            let key_name = format!("HKCU\\{USERASSIST}\\{}\\Count", guid.name);
            let raw = serde_json::json!({
                "key": key_name, "value": value.name, "decoded": name,
                "run_count": entry.run_count, "focus_count": entry.focus_count,
                "focus_ms": entry.focus_ms, "last_executed": entry.last_executed,
            })
            .to_string();
            let mut attributes = vec![
                ("file_path", name.clone()),
                ("file_name", file_name),
                ("key_name", key_name),
                ("value_name", value.name.clone()),
                ("run_count", entry.run_count.to_string()),
                ("userassist_guid", guid.name.clone()),
            ];
            if let Some(focus) = entry.focus_count {
                attributes.push(("focus_count", focus.to_string()));
            }
            if let Some(ms) = entry.focus_ms {
                attributes.push(("focus_ms", ms.to_string()));
            }
            if let Some(user) = &user {
                attributes.push(("username", user.clone()));
            }
            let own = (entry.last_executed != 0).then_some((entry.last_executed, "last_executed"));
            out.event(
                Action::ProcessRun,
                own,
                count.last_written,
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
    fn rot13_round_trips_and_keeps_other_characters() {
        assert_eq!(
            rot13("P:\\Jvaqbjf\\flfgrz32\\pzq.rkr"),
            "C:\\Windows\\system32\\cmd.exe"
        );
        assert_eq!(rot13(&rot13("{1AC14E77}\\x.EXE")), "{1AC14E77}\\x.EXE");
    }

    #[test]
    fn decodes_both_layouts_and_refuses_others() {
        let mut win7 = vec![0u8; 72];
        win7[4] = 3;
        win7[8] = 2;
        win7[60..68].copy_from_slice(&0x01d6_8d85_e0da_1e22u64.to_le_bytes());
        let e = decode(&win7).unwrap();
        assert_eq!(
            (e.run_count, e.focus_count, e.last_executed),
            (3, Some(2), 0x01d6_8d85_e0da_1e22)
        );
        let mut xp = vec![0u8; 16];
        xp[4] = 9;
        assert_eq!(decode(&xp).unwrap().run_count, 4);
        assert_eq!(decode(&[0u8; 10]), None);
    }
}
