//! Any bytes as a FAT12/16/32 volume (boot signature 0x55AA forced in at 510): opening
//! it, walking it, reading every file and listing deleted entries must never panic (the
//! fatfs crate's own panics are caught by riposte-disk), loop or allocate by a size read
//! from the image.
#![no_main]

#[path = "disk_common.rs"]
mod disk_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| disk_common::fuzz_volume(data, 510, b"\x55\xAA"));
