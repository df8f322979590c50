//! Any bytes as an XFS volume (superblock magic `XFSB` forced in at 0): opening it,
//! walking it, reading every file and link and listing its deleted inodes must never
//! panic, loop or allocate by a size read from the image.
#![no_main]

#[path = "disk_common.rs"]
mod disk_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| disk_common::fuzz_volume(data, 0, b"XFSB"));
