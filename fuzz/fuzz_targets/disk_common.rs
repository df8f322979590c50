//! Shared by the disk fuzz targets: panic handling around third-party readers, and the
//! exercise every filesystem reader gets.

use riposte_disk::{
    FileKind, FileSystem, FsEntry, FsError, MemorySource, WalkControl, WalkLimits, lookup,
    open_filesystem, walk,
};
use std::io::{self, Read};
use std::sync::{Arc, Mutex, Once};

/// Opens `data` as a volume — with `magic` written at `magic_at` when the input is long
/// enough, to steer the fuzzer to one reader — and exercises the filesystem found.
#[allow(dead_code)]
pub fn fuzz_volume(data: &[u8], magic_at: usize, magic: &[u8]) {
    let mut volume = data.to_vec();
    if let Some(slot) = volume.get_mut(magic_at..magic_at + magic.len()) {
        slot.copy_from_slice(magic);
    }
    run(|| {
        if let Ok(fs) = open_filesystem(Arc::new(MemorySource(volume))) {
            exercise(fs.as_ref());
        }
    });
}

/// Third-party readers whose panics on malformed structures riposte-disk catches and
/// reports as a corrupt volume (`guarded` in `fs/ntfs.rs` and `fs/fat.rs`).
const CAUGHT_CRATES: &[&str] = &["/ntfs-0.4.0/", "/binrw-", "/nt-string-", "/arrayvec-", "/fatfs-0.3.6/"];

/// libfuzzer-sys's panic hook aborts on every panic, even one that is caught: let panics
/// raised inside [`CAUGHT_CRATES`] unwind to riposte-disk's `catch_unwind`, and abort on
/// any other at once, with its stack. A crate panic that riposte-disk does not catch
/// reaches the `catch_unwind` in [`run`], which reports it and aborts.
fn tolerate_caught_crate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_crate = info
                .location()
                .is_some_and(|l| CAUGHT_CRATES.iter().any(|c| l.file().contains(c)));
            if in_crate {
                *LAST_CRATE_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(info.to_string());
            } else {
                abort(info);
            }
        }));
    });
}

static LAST_CRATE_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Runs `f` under [`tolerate_caught_crate_panics`].
pub fn run(f: impl FnOnce()) {
    tolerate_caught_crate_panics();
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        let last = LAST_CRATE_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
        eprintln!("crate panic not caught by riposte-disk: {}", last.unwrap_or_default());
        std::process::abort();
    }
}

/// Bytes read per file or stream, and per input in all.
const FILE_CAP: u64 = 1 << 20;
const TOTAL_CAP: u64 = 16 << 20;
/// Entries also looked up by path (case folding, path splitting).
const LOOKUPS: usize = 64;

/// Reads at most [`FILE_CAP`] (and what is left of `budget`) of `reader`, to the end or the
/// first error.
fn drain(reader: Result<Box<dyn Read + '_>, FsError>, budget: &mut u64) {
    if let Ok(reader) = reader {
        let n = io::copy(&mut reader.take(FILE_CAP.min(*budget)), &mut io::sink()).unwrap_or(0);
        *budget = budget.saturating_sub(n);
    }
}

/// Everything a reader of a filesystem does: walk it, read every file and stream, every
/// link, look entries up by path, and list and read the deleted entries.
pub fn exercise(fs: &dyn FileSystem) {
    let _ = fs.kind();
    let mut budget = TOTAL_CAP;
    let mut lookups = 0;
    let limits = WalkLimits { max_depth: 16, max_entries: 10_000 };
    let _ = walk(fs, limits, |entry| {
        visit(fs, entry, &mut budget);
        if lookups < LOOKUPS {
            lookups += 1;
            let _ = lookup(fs, &entry.path);
            let _ = lookup(fs, &entry.path.to_uppercase());
        }
        WalkControl::Continue
    });
    if let Ok(deleted) = fs.deleted() {
        for entry in deleted.iter().take(10_000) {
            visit(fs, entry, &mut budget);
        }
    }
}

fn visit(fs: &dyn FileSystem, entry: &FsEntry, budget: &mut u64) {
    match entry.kind {
        FileKind::File => drain(fs.open(entry), budget),
        FileKind::Symlink => {
            let _ = fs.read_link(entry);
        }
        FileKind::Directory | FileKind::Other => {}
    }
    for stream in &entry.streams {
        drain(fs.open_stream(entry, stream), budget);
    }
}
