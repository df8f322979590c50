//! `riposte fs`: look inside a disk image like The Sleuth Kit's `mmls`, `fls` and `icat`,
//! without mounting it: list its volumes, list a directory, print a file.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use riposte_disk::{
    FileKind, FileSystem, FsEntry, Volume, WalkControl, WalkLimits, lookup, open_filesystem,
    open_image, volumes, walk,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `riposte fs` subcommands.
#[derive(Subcommand)]
pub enum FsCommand {
    /// List the image's container format and volumes (partitions and their filesystems).
    Volumes {
        /// A disk image: raw/dd (also split .000/.001…), E01, VMDK, VHD, VHDX or qcow2.
        image: PathBuf,
    },
    /// List a directory of a filesystem in the image.
    Ls(LsArgs),
    /// Write a file of a filesystem in the image to standard output.
    Cat(CatArgs),
}

/// Which filesystem of the image.
#[derive(Args)]
pub struct Selector {
    /// A disk image: raw/dd (also split .000/.001…), E01, VMDK, VHD, VHDX or qcow2.
    pub image: PathBuf,
    /// Partition number as `riposte fs volumes` shows it (default: the only filesystem,
    /// or the first one found).
    #[arg(long, short = 'p')]
    pub partition: Option<usize>,
}

/// Options of `fs ls`.
#[derive(Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub selector: Selector,
    /// Directory to list (default `/`).
    #[arg(default_value = "/")]
    pub path: String,
    /// List everything below the directory, with full paths.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Also list entries recovered from unallocated metadata (deleted files).
    #[arg(long, short = 'd')]
    pub deleted: bool,
}

/// Options of `fs cat`.
#[derive(Args)]
pub struct CatArgs {
    #[command(flatten)]
    pub selector: Selector,
    /// Path of the file in the filesystem.
    pub path: String,
    /// A named data stream (NTFS alternate data stream), e.g. `Zone.Identifier`.
    #[arg(long)]
    pub stream: Option<String>,
}

/// Runs `riposte fs`.
pub fn run(command: FsCommand) -> Result<()> {
    match command {
        FsCommand::Volumes { image } => print_volumes(&image),
        FsCommand::Ls(args) => ls(args),
        FsCommand::Cat(args) => cat(args),
    }
}

fn print_volumes(path: &Path) -> Result<()> {
    let image = open_image(path)?;
    let found = volumes(&image.source)
        .with_context(|| format!("cannot read the partition table of {}", path.display()))?;
    println!(
        "{}: {} image, {} bytes, {} file(s)",
        path.display(),
        image.format,
        image.source.len(),
        image.files.len()
    );
    if found.is_empty() {
        println!("no partition table and no known filesystem");
    }
    for v in &found {
        println!(
            "  {:>3}  {:<4}  offset {:>14}  size {:>14}  {:<8}  {}",
            v.index,
            v.scheme.to_string(),
            v.offset,
            v.size,
            v.filesystem.map_or("-".to_string(), |k| k.to_string()),
            v.description
        );
    }
    Ok(())
}

/// The volume the user chose, or the first with a filesystem.
fn choose(selector: &Selector) -> Result<Volume> {
    let image = open_image(&selector.image)?;
    let found = volumes(&image.source).with_context(|| {
        format!(
            "cannot read the partition table of {}",
            selector.image.display()
        )
    })?;
    match selector.partition {
        Some(n) => {
            let Some(volume) = found.into_iter().find(|v| v.index == n) else {
                bail!(
                    "{} has no partition {n}; see `riposte fs volumes {}`",
                    selector.image.display(),
                    selector.image.display()
                );
            };
            if volume.filesystem.is_none() {
                bail!("partition {n} holds no filesystem Riposte reads (ext, XFS, NTFS, FAT)");
            }
            Ok(volume)
        }
        None => found
            .into_iter()
            .find(|v| v.filesystem.is_some())
            .with_context(|| {
                format!(
                    "no ext, XFS, NTFS or FAT filesystem found in {}; see `riposte fs volumes`",
                    selector.image.display()
                )
            }),
    }
}

fn open(selector: &Selector) -> Result<Box<dyn FileSystem>> {
    let volume = choose(selector)?;
    open_filesystem(volume.source.clone())
        .with_context(|| format!("cannot open the filesystem of partition {}", volume.index))
}

fn kind_letter(kind: FileKind) -> char {
    match kind {
        FileKind::File => 'r',
        FileKind::Directory => 'd',
        FileKind::Symlink => 'l',
        FileKind::Other => '-',
    }
}

fn print_entry(out: &mut impl Write, entry: &FsEntry, name: &str) -> std::io::Result<()> {
    let modified = entry.times.modified.map_or("-".to_string(), |t| {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    });
    let deleted = if entry.deleted { " (deleted)" } else { "" };
    writeln!(
        out,
        "{} {:>10} {:>12} {}  {name}{deleted}",
        kind_letter(entry.kind),
        entry.id,
        entry.size,
        modified
    )?;
    for stream in &entry.streams {
        writeln!(
            out,
            "s {:>10} {:>12} {}  {name}:{stream}",
            entry.id, '-', modified
        )?;
    }
    Ok(())
}

fn ls(args: LsArgs) -> Result<()> {
    let fs = open(&args.selector)?;
    let dir = lookup(fs.as_ref(), &args.path)?;
    if dir.kind != FileKind::Directory {
        bail!("{} is not a directory", args.path);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.recursive {
        let prefix = dir.path.clone();
        let mut write_error = None;
        let problems = walk(fs.as_ref(), WalkLimits::default(), |entry| {
            if entry.path != prefix
                && !entry
                    .path
                    .starts_with(&format!("{}/", prefix.trim_end_matches('/')))
            {
                return if entry.kind == FileKind::Directory && !prefix.starts_with(&entry.path) {
                    WalkControl::SkipDirectory
                } else {
                    WalkControl::Continue
                };
            }
            if let Err(e) = print_entry(&mut out, entry, &entry.path) {
                write_error = Some(e);
                return WalkControl::Stop;
            }
            WalkControl::Continue
        })?;
        if let Some(e) = write_error {
            return Err(e.into());
        }
        for problem in problems {
            eprintln!("warning: {}: {}", problem.path, problem.error);
        }
    } else {
        for entry in fs.read_dir(&dir)? {
            print_entry(&mut out, &entry, &entry.name)?;
        }
    }
    if args.deleted {
        for entry in fs.deleted()? {
            print_entry(&mut out, &entry, &entry.path)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn cat(args: CatArgs) -> Result<()> {
    let fs = open(&args.selector)?;
    let entry = lookup(fs.as_ref(), &args.path)?;
    let mut reader = match (&args.stream, entry.kind) {
        (Some(stream), _) => fs.open_stream(&entry, stream)?,
        (None, FileKind::File) => fs.open(&entry)?,
        (None, FileKind::Symlink) => {
            bail!(
                "{} is a symbolic link to {} (not followed)",
                args.path,
                fs.read_link(&entry)?
            )
        }
        (None, _) => bail!("{} is not a regular file", args.path),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    std::io::copy(&mut reader, &mut out)?;
    out.flush()?;
    Ok(())
}
