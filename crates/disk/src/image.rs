//! Disk image containers, recognised by their content: raw (also split into numbered
//! segments), E01/EWF, VMDK, VHD, VHDX and qcow2. Each opens into a [`SharedSource`] of
//! the disk's bytes, read on demand: opening a 1 TB image reads only its headers and
//! tables.

mod raw;
mod vhd;

use crate::source::{FileSource, LockedReader, SharedSource};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use raw::split_segments;

/// The container formats Riposte reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// A plain byte-for-byte image (dd), possibly split into `.000`/`.001`… segments.
    Raw,
    /// Expert Witness Format (EnCase `.E01`, also split into `.E02`…).
    Ewf,
    /// VMware VMDK: monolithic or split sparse, streamOptimized, flat, delta chains.
    Vmdk,
    /// Microsoft VHD (Virtual PC / Azure): fixed or dynamic.
    Vhd,
    /// Microsoft VHDX: fixed or dynamic.
    Vhdx,
    /// QEMU qcow2 (v2, v3; uncompressed clusters, no backing file).
    Qcow2,
}

impl ImageFormat {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Ewf => "ewf",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vhd => "vhd",
            ImageFormat::Vhdx => "vhdx",
            ImageFormat::Qcow2 => "qcow2",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An opened disk image.
#[derive(Clone)]
pub struct Image {
    /// The container format found.
    pub format: ImageFormat,
    /// The files it was read from (segments in order; one for most images).
    pub files: Vec<PathBuf>,
    /// The disk's bytes.
    pub source: SharedSource,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("format", &self.format)
            .field("files", &self.files)
            .field("size", &self.source.len())
            .finish()
    }
}

/// Why an image could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The container's structures are invalid.
    #[error("{} is not a readable {format} image: {problem}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The format its magic announced.
        format: ImageFormat,
        /// What the decoder reported.
        problem: String,
    },
}

/// The container format of the file at `path`, from its first and last bytes.
pub fn detect_format(path: &Path) -> Result<ImageFormat, ImageError> {
    let io_error = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    let mut head = [0u8; 512];
    let n = read_up_to(&mut file, &mut head).map_err(io_error)?;
    let head = &head[..n];
    let mut tail = [0u8; 512];
    let tail_len = if len >= 512 {
        file.seek(SeekFrom::Start(len - 512)).map_err(io_error)?;
        read_up_to(&mut file, &mut tail).map_err(io_error)?
    } else {
        0
    };
    Ok(format_from_magic(head, &tail[..tail_len]))
}

/// The container format announced by an image's first bytes (`head`) and last 512 bytes
/// (`tail`, where a VHD keeps its footer); [`ImageFormat::Raw`] when none.
pub fn format_from_magic(head: &[u8], tail: &[u8]) -> ImageFormat {
    if head.starts_with(b"EVF\x09\x0d\x0a\xff\x00") || head.starts_with(b"EVF2\x0d\x0a\x81\x00") {
        ImageFormat::Ewf
    } else if head.starts_with(b"QFI\xfb") {
        ImageFormat::Qcow2
    } else if head.starts_with(b"vhdxfile") {
        ImageFormat::Vhdx
    } else if head.starts_with(b"KDMV")
        || head.starts_with(b"COWD")
        || head.starts_with(b"# Disk DescriptorFile")
    {
        ImageFormat::Vmdk
    } else if head.starts_with(b"conectix") || tail.starts_with(b"conectix") {
        ImageFormat::Vhd
    } else {
        ImageFormat::Raw
    }
}

/// Opens the image at `path`, whatever its container. For a raw image named like a
/// first segment (`disk.000`, `disk.001`, `disk.aa`) the following segments beside it
/// are joined on.
pub fn open_image(path: &Path) -> Result<Image, ImageError> {
    let format = detect_format(path)?;
    let invalid = |problem: String| ImageError::Invalid {
        path: path.to_path_buf(),
        format,
        problem,
    };
    let io_error = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (source, files): (SharedSource, Vec<PathBuf>) = match format {
        ImageFormat::Raw => {
            let segments = split_segments(path);
            if segments.len() > 1 {
                let source = raw::SplitSource::open(&segments).map_err(io_error)?;
                (Arc::new(source), segments)
            } else {
                let file = File::open(path).map_err(io_error)?;
                (
                    Arc::new(FileSource::new(file).map_err(io_error)?),
                    vec![path.to_path_buf()],
                )
            }
        }
        ImageFormat::Ewf => {
            let reader = ewf::EwfReader::open(path).map_err(|e| invalid(e.to_string()))?;
            let size = reader.total_size();
            (
                Arc::new(LockedReader::new(reader, size)),
                vec![path.to_path_buf()],
            )
        }
        ImageFormat::Vmdk => {
            let reader = vmdk::VmdkChainReader::open(path).map_err(|e| invalid(e.to_string()))?;
            let size = reader.virtual_disk_size();
            (
                Arc::new(LockedReader::new(reader, size)),
                vec![path.to_path_buf()],
            )
        }
        ImageFormat::Vhdx => {
            let reader = vhdx::VhdxReader::open(path).map_err(|e| invalid(e.to_string()))?;
            let size = reader.virtual_disk_size();
            (
                Arc::new(LockedReader::new(reader, size)),
                vec![path.to_path_buf()],
            )
        }
        ImageFormat::Qcow2 => {
            let reader = qcow2::Qcow2Reader::open(path).map_err(|e| invalid(e.to_string()))?;
            let size = reader.virtual_disk_size();
            (
                Arc::new(LockedReader::new(reader, size)),
                vec![path.to_path_buf()],
            )
        }
        ImageFormat::Vhd => {
            let file = File::open(path).map_err(io_error)?;
            let source = vhd::VhdSource::open(FileSource::new(file).map_err(io_error)?)
                .map_err(|e| invalid(e.to_string()))?;
            (Arc::new(source), vec![path.to_path_buf()])
        }
    };
    Ok(Image {
        format,
        files,
        source,
    })
}

/// Reads until `buf` is full or the end of the file.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
