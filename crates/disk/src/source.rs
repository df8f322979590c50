//! Random-access byte sources: an image file, a decoded container (E01, VMDK, …), or a
//! window of either (a partition). Readers take `&self`, so one source can serve many
//! readers at once; raw files are read with positioned reads and no lock.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

/// Bytes that can be read at any offset.
pub trait ByteSource: Send + Sync {
    /// Length in bytes.
    fn len(&self) -> u64;

    /// True when the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at or past
    /// the end).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_at(offset + done as u64, &mut buf[done..])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "read of {} bytes at offset {offset} runs past the end ({} bytes)",
                        buf.len(),
                        self.len()
                    ),
                ));
            }
            done += n;
        }
        Ok(())
    }
}

/// A shared byte source.
pub type SharedSource = Arc<dyn ByteSource>;

/// A regular file, read with positioned reads (`pread`).
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Wraps an open file.
    pub fn new(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(FileSource { file, len })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        self.file.read_at(&mut buf[..want], offset)
    }
}

/// Bytes in memory (tests, fuzzing, small resident streams).
#[derive(Debug, Clone)]
pub struct MemorySource(pub Vec<u8>);

impl ByteSource for MemorySource {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        if start >= self.0.len() {
            return Ok(0);
        }
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
}

/// A `Read + Seek` decoder (E01, VMDK, …) behind a lock, as a byte source.
pub struct LockedReader<R> {
    reader: Mutex<R>,
    len: u64,
}

impl<R: Read + Seek + Send> LockedReader<R> {
    /// Wraps `reader`, whose decoded length is `len`.
    pub fn new(reader: R, len: u64) -> Self {
        LockedReader {
            reader: Mutex::new(reader),
            len,
        }
    }
}

impl<R: Read + Seek + Send> ByteSource for LockedReader<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        let mut reader = self
            .reader
            .lock()
            .map_err(|_| io::Error::other("image reader poisoned by an earlier panic"))?;
        reader.seek(SeekFrom::Start(offset))?;
        let mut done = 0;
        while done < want {
            match reader.read(&mut buf[done..want]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// A window `[offset, offset + len)` of another source: a partition.
#[derive(Clone)]
pub struct Slice {
    inner: SharedSource,
    offset: u64,
    len: u64,
}

impl Slice {
    /// The window of `inner` starting at `offset`, `len` bytes long, clipped to `inner`.
    pub fn new(inner: SharedSource, offset: u64, len: u64) -> Self {
        let end = offset.saturating_add(len).min(inner.len());
        let offset = offset.min(end);
        Slice {
            inner,
            offset,
            len: end - offset,
        }
    }
}

impl ByteSource for Slice {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        self.inner.read_at(self.offset + offset, &mut buf[..want])
    }
}

/// A `Read + Seek` cursor over a source, for libraries that want one. Writes fail: every
/// source is read-only evidence.
#[derive(Clone)]
pub struct SourceCursor {
    source: SharedSource,
    position: u64,
}

impl SourceCursor {
    /// A cursor at offset 0.
    pub fn new(source: SharedSource) -> Self {
        SourceCursor {
            source,
            position: 0,
        }
    }
}

impl Read for SourceCursor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.source.read_at(self.position, buf)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for SourceCursor {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.source.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.position = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the image",
            )),
        }
    }
}

impl Write for SourceCursor {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "evidence is read-only",
        ))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_reads_only_its_window_and_clips_to_the_source() {
        let base: SharedSource = Arc::new(MemorySource((0u8..100).collect()));
        let slice = Slice::new(base.clone(), 10, 20);
        let mut buf = [0u8; 30];
        assert_eq!(slice.read_at(0, &mut buf).unwrap(), 20);
        assert_eq!(buf[0], 10);
        assert_eq!(buf[19], 29);
        assert_eq!(slice.read_at(20, &mut buf).unwrap(), 0);
        let clipped = Slice::new(base, 90, 1 << 40);
        assert_eq!(clipped.len(), 10);
        assert!(clipped.read_exact_at(5, &mut [0u8; 6]).is_err());
    }

    #[test]
    fn cursor_seeks_and_refuses_writes() {
        let base: SharedSource = Arc::new(MemorySource((0u8..10).collect()));
        let mut cursor = SourceCursor::new(base);
        cursor.seek(SeekFrom::End(-2)).unwrap();
        let mut buf = Vec::new();
        cursor.read_to_end(&mut buf).unwrap();
        assert_eq!(buf, vec![8, 9]);
        assert!(cursor.seek(SeekFrom::Current(-20)).is_err());
        assert!(cursor.write(b"x").is_err());
    }
}
