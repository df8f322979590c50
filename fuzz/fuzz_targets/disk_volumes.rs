//! Any bytes as a whole disk: the container format from its first and last 512 bytes, its
//! partition table (MBR with its chain of extended boot records, or GPT), and the root
//! directory of every volume holding a known filesystem. Nothing may panic, loop, or put
//! a volume outside the disk.
#![no_main]

#[path = "disk_common.rs"]
mod disk_common;

use disk_common::run;
use libfuzzer_sys::fuzz_target;
use riposte_disk::{MemorySource, SharedSource, image::format_from_magic, open_filesystem, volumes};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let head = &data[..data.len().min(512)];
    let tail = &data[data.len().saturating_sub(512)..];
    let _ = format_from_magic(head, tail).as_str();
    run(|| {
        let disk: SharedSource = Arc::new(MemorySource(data.to_vec()));
        let Ok(found) = volumes(&disk) else { return };
        for volume in &found {
            assert_eq!(volume.size, volume.source.len(), "{volume:?}: size and source disagree");
            assert!(volume.size <= disk.len(), "{volume:?}: larger than the disk");
            if volume.filesystem.is_none() {
                continue;
            }
            if let Ok(fs) = open_filesystem(volume.source.clone()) {
                if let Ok(root) = fs.root() {
                    let _ = fs.read_dir(&root);
                }
            }
        }
    });
});
