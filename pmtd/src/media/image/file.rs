//! An image in a local file, with its index persisted beside it
//! (`IMAGE.pmtidx`, see [`Sidecar`]) so that a large image opens without
//! being read through. Records are written straight from the callers'
//! buffers with pwritev(2) and read straight into the caller's buffer with
//! pread(2): nothing staged, nothing zeroed. Writing anywhere but at the end
//! of the file truncates it there first.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use tracing::{debug, warn};

use super::scan::{scan, scan_from};
use super::sidecar::Sidecar;
use super::simh::Obj;
use super::store::{Indexed, Loaded, Store};

/// Iovecs per pwritev: Linux's IOV_MAX.
const IOV_CHUNK: usize = 1024;

/// An image file.
#[derive(Debug)]
pub struct FileStore {
    file: File,
    path: PathBuf,
    /// Size of the file (larger than the end of data while a damaged tail
    /// remains, or after a write that failed half way).
    len: u64,
    readonly: bool,
    /// Written since the last fdatasync.
    dirty: bool,
    sidecar: Option<Sidecar>,
}

impl FileStore {
    /// Opens (creating it if missing and writable) an image file. A file
    /// without write permission bits is a write-protected image.
    pub fn open(path: &Path, read_only: bool) -> io::Result<FileStore> {
        let protected = std::fs::metadata(path).map(|m| m.permissions().readonly()).unwrap_or(false);
        let mut readonly = read_only || protected;
        let file = if readonly {
            File::open(path)?
        } else {
            match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path) {
                Ok(f) => f,
                Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem) => {
                    readonly = true;
                    File::open(path)?
                }
                Err(e) => return Err(e),
            }
        };
        let len = file.metadata()?.len();
        Ok(FileStore { file, path: path.to_path_buf(), len, readonly, dirty: false, sidecar: None })
    }

    /// The image path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Truncates the file at `off` if anything lies beyond it.
    fn truncate(&mut self, off: u64) -> io::Result<()> {
        if off < self.len {
            if let Some(sc) = self.sidecar.as_mut() {
                sc.cut(off);
            }
            self.file.set_len(off)?;
            self.len = off;
            self.dirty = true;
        }
        Ok(())
    }
}

impl Store for FileStore {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn readonly(&self) -> bool {
        self.readonly
    }

    /// The index beside the image, checked against it, and a scan of
    /// whatever follows what it covers; a full scan without one.
    fn load(&mut self) -> io::Result<Loaded> {
        let spath = Sidecar::path_for(&self.path);
        let mut crc = 0;
        let mut f = &self.file;
        let (scan, how) = match Sidecar::load(&self.file, self.len, &spath) {
            Some((objs, end, c)) => {
                crc = c;
                let n = objs.len();
                let s = scan_from(&mut f, end, objs, false)?;
                let scanned = s.objs.len() - n;
                (s, Indexed::Sidecar { scanned })
            }
            None => (scan(&mut f, false)?, Indexed::Scan),
        };
        // Objects the sidecar file already holds (when it was used).
        let from_sidecar = match how {
            Indexed::Sidecar { scanned } => scan.objs.len() - scanned,
            Indexed::Scan => 0,
        };
        let unchanged = matches!(how, Indexed::Sidecar { scanned: 0 });
        self.sidecar = Some(Sidecar::new(&self.path, from_sidecar, crc, !unchanged));
        self.len = scan.file_len;
        debug!(image = %self.path.display(), objects = scan.objs.len(), ?how, "indexed");
        Ok(Loaded { scan, how })
    }

    fn read_at(&mut self, off: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        pread_append(&self.file, out, len, off)
    }

    fn read_into(&mut self, off: u64, dst: &mut [u8]) -> io::Result<()> {
        let mut done = 0usize;
        while let Some(rest) = dst.get_mut(done..).filter(|r| !r.is_empty()) {
            match rustix::io::pread(&self.file, rest, off + done as u64) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => done += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn write_end(&mut self, off: u64, parts: &[&[u8]]) -> io::Result<()> {
        self.truncate(off)?;
        self.dirty = true;
        match write_all_vectored_at(&self.file, parts, off) {
            Ok(n) => {
                self.len = off + n;
                Ok(())
            }
            Err(e) => {
                // Whatever reached the file is beyond the end of data, and
                // cut by the next write.
                self.len = self.len.max(off + 1);
                Err(e)
            }
        }
    }

    fn cut(&mut self, off: u64) -> io::Result<()> {
        self.truncate(off)
    }

    /// fdatasync of the image, then the index beside it.
    fn sync(&mut self, objs: &[Obj], end: u64) -> io::Result<()> {
        if self.dirty {
            self.file.sync_data()?;
            self.dirty = false;
        }
        if !self.readonly {
            if let Some(sc) = self.sidecar.as_mut() {
                if let Err(e) = sc.store(&self.file, objs, end) {
                    // Only a cache: the next load scans instead.
                    warn!(index = %sc.path().display(), "cannot update the index: {e}");
                    self.sidecar = None;
                }
            }
        }
        Ok(())
    }
}

/// pwritev(2) until every part is written, IOV_CHUNK iovecs at a time;
/// returns the bytes written.
fn write_all_vectored_at(file: &File, parts: &[&[u8]], mut off: u64) -> io::Result<u64> {
    let start = off;
    let mut iov: Vec<IoSlice<'_>> = parts.iter().filter(|p| !p.is_empty()).map(|p| IoSlice::new(p)).collect();
    let mut rest: &mut [IoSlice<'_>] = &mut iov;
    while !rest.is_empty() {
        let chunk = rest.get(..rest.len().min(IOV_CHUNK)).unwrap_or_default();
        match rustix::io::pwritev(file, chunk, off) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                off += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(off - start)
}

/// Reads exactly `len` bytes at `off` of `file` into the spare capacity of
/// `out` and extends `out` over them.
#[allow(unsafe_code)]
fn pread_append(file: &File, out: &mut Vec<u8>, len: usize, off: u64) -> io::Result<()> {
    out.try_reserve(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut done = 0usize;
    while done < len {
        let Some(spare) = out.spare_capacity_mut().get_mut(done..len) else {
            return Err(io::ErrorKind::OutOfMemory.into());
        };
        match rustix::io::pread(file, spare, off + done as u64) {
            Ok(([], _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok((read, _)) => done += read.len(),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // SAFETY: the loop initialised the `len` bytes of spare capacity after
    // the old length (pread reports what it wrote, and nothing else counts),
    // and `try_reserve` made them part of the allocation.
    unsafe { out.set_len(out.len() + len) };
    Ok(())
}
