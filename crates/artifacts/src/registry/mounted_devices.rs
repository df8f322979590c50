//! `SYSTEM\MountedDevices`: which volume got which drive letter or volume GUID. A value's
//! data is an MBR disk signature and partition offset (12 bytes), a GPT partition id
//! (`DMIO:ID:` and a GUID) or a device path in UTF-16 (USB sticks: `\??\USBSTOR#…`).

use super::Emitter;
use super::regf::{Hive, utf16_z};
use riposte_model::Action;

/// Every mapping, timed by the key.
pub(super) fn entries(hive: &Hive, out: &mut Emitter) {
    let Some(root) = out.keep(vec![hive.root()]).pop() else {
        return;
    };
    let Some(key) = hive.open(&root, "MountedDevices") else {
        return;
    };
    for value in out.keep(hive.values(&key)) {
        let device = describe(&value.data);
        let message = format!("mounted device {} → {device}", value.name);
        let raw = serde_json::json!({
            "value": value.name,
            "data": value.data.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        })
        .to_string();
        out.event(
            Action::RegistryExists,
            None,
            key.last_written,
            message,
            vec![
                ("key_name", "HKLM\\SYSTEM\\MountedDevices".to_string()),
                ("value_name", value.name.clone()),
                ("key_value", device.clone()),
                ("device", device),
            ],
            raw,
        );
    }
}

/// A readable description of a `MountedDevices` value's data.
fn describe(data: &[u8]) -> String {
    if data.len() == 12 {
        let signature = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&data[4..12]);
        return format!(
            "MBR disk signature {signature:08x}, partition offset {}",
            u64::from_le_bytes(offset)
        );
    }
    if let Some(guid) = data.strip_prefix(b"DMIO:ID:").filter(|g| g.len() == 16) {
        return format!("GPT partition {}", guid_string(guid));
    }
    let text = utf16_z(data);
    if !text.is_empty() && text.chars().all(|c| !c.is_control()) {
        return text;
    }
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// A GUID in its registry form from its 16 mixed-endian bytes.
pub(crate) fn guid_string(g: &[u8]) -> String {
    if g.len() < 16 {
        return String::new();
    }
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}}}",
        u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10..16]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_three_kinds_of_mapping() {
        let mbr = [0x78, 0x56, 0x34, 0x12, 0, 0, 0x10, 0, 0, 0, 0, 0];
        assert_eq!(
            describe(&mbr),
            "MBR disk signature 12345678, partition offset 1048576"
        );
        let mut gpt = b"DMIO:ID:".to_vec();
        gpt.extend([
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        assert_eq!(
            describe(&gpt),
            "GPT partition {00112233-4455-6677-8899-AABBCCDDEEFF}"
        );
        let path: Vec<u8> = "\\??\\USBSTOR#Disk"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(describe(&path), "\\??\\USBSTOR#Disk");
    }
}
