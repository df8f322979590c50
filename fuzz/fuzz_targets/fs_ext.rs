//! Any bytes as an ext2/3/4 volume (superblock magic 0xEF53 forced in at 1080): opening
//! it, walking it, reading every file and link and listing its deleted inodes must never
//! panic, loop or allocate by a size read from the image.
#![no_main]

#[path = "disk_common.rs"]
mod disk_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| disk_common::fuzz_volume(data, 1080, b"\x53\xEF"));
