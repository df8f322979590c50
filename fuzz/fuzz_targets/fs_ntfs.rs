//! Any bytes as an NTFS volume (OEM id `NTFS    ` forced in at 3): opening it, walking
//! it, reading every file, alternate data stream and link and listing deleted MFT records
//! must never panic (the ntfs crate's own panics are caught by riposte-disk), loop or
//! allocate by a size read from the image.
#![no_main]

#[path = "disk_common.rs"]
mod disk_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| disk_common::fuzz_volume(data, 3, b"NTFS    "));
