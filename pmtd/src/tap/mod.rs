//! A SIMH .tap image as a tape medium.
//!
//! The image is a sequence of objects from the beginning of tape: a record is
//! a 32-bit little-endian length n, n data bytes padded to an even count, and
//! n again; a tape mark is a zero word. Bit 31 of a record length flags a bad
//! record; 0xFFFFFFFF marks the end of medium and 0xFFFFFFFE an erase gap.
//!
//! The medium keeps an index of every object (offset and length) and of
//! every tape mark, so spacing over files, locating and going to the end of
//! data cost a binary search, not a pass over the image. The index persists
//! beside the image (`IMAGE.pmtidx`, see [`Sidecar`]) so that a large image
//! opens without being read through; it is only a cache, checked against the
//! image when loaded and rebuilt by a scan when it does not match.
//!
//! A damaged tail (a record cut short, a length that does not match) ends the
//! medium at the last complete object: everything before it reads back
//! intact, and the next write replaces the damaged tail. Writing in the middle
//! of the tape cuts off what follows, as on a real tape.

mod fileio;
mod index;
mod scan;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tracing::{debug, warn};

pub use crate::medium::Stop;
use fileio::{pread_append, write_all_vectored_at, IOV_CHUNK};
pub use index::Sidecar;
pub use scan::{scan, scan_from, Scan};

/// A tape mark word.
pub const MARK: u32 = 0;
/// The end-of-medium marker word.
pub const EOM_MARKER: u32 = 0xffff_ffff;
/// An erase gap word.
pub const GAP: u32 = 0xffff_fffe;
/// A half gap (two bytes of gap).
pub const HALF_GAP: u32 = 0xfffe_ffff;
/// Error flag of a record length.
pub const ERROR_FLAG: u32 = 0x8000_0000;
/// Length bits of a record length.
pub const LEN_MASK: u32 = 0x00ff_ffff;
/// Bits 24-30 must be zero in a record length.
pub const RESERVED_BITS: u32 = 0x7f00_0000;

/// Errors of the image store.
#[derive(Debug, Error)]
pub enum TapError {
    /// I/O on the image file failed. The cause is part of the message, not
    /// an error `source`, so that a chain printer shows it once.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The image.
        path: PathBuf,
        /// The cause.
        cause: io::Error,
    },
}

impl From<TapError> for crate::medium::MediumError {
    fn from(e: TapError) -> Self {
        match e {
            TapError::Io { path, cause } => crate::medium::MediumError::io(path.display(), cause),
        }
    }
}

/// One object on the tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Obj {
    /// Byte offset of the object in the image.
    pub off: u64,
    /// Record length; 0 for a tape mark.
    pub len: u32,
    /// The record carries the SIMH error flag.
    pub bad: bool,
}

impl Obj {
    /// True for a tape mark.
    pub fn is_mark(&self) -> bool {
        self.len == 0
    }

    /// Bytes the object takes in the image.
    pub fn size(&self) -> u64 {
        if self.is_mark() {
            4
        } else {
            8 + u64::from(self.len) + u64::from(self.len & 1)
        }
    }

    /// The length word that starts (and, for a record, ends) the object.
    pub fn word(&self) -> u32 {
        self.len | if self.bad { ERROR_FLAG } else { 0 }
    }
}

/// How a loaded image was indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexed {
    /// From its sidecar, plus `scanned` objects found after it.
    Sidecar {
        /// Objects found by scanning past the sidecar's end.
        scanned: usize,
    },
    /// By a scan of the whole image.
    Scan,
}

/// A loaded image.
#[derive(Debug)]
pub struct Tape {
    file: File,
    path: PathBuf,
    objs: Vec<Obj>,
    /// Indices in `objs` of the tape marks, ascending.
    marks: Vec<usize>,
    /// Offset just past the last object: where the next object goes.
    end: u64,
    /// Size of the file (larger than `end` while a damaged tail remains).
    file_len: u64,
    /// Position: index of the next object (0 = beginning of tape).
    pos: usize,
    readonly: bool,
    dirty: bool,
    sidecar: Option<Sidecar>,
}

impl Tape {
    /// Opens (creating it if missing and writable) and indexes an image.
    /// A file without write permission bits is a write-protected medium.
    pub fn open(path: &Path, readonly: bool) -> Result<(Tape, Scan, Indexed), TapError> {
        let io = |cause| TapError::Io { path: path.to_path_buf(), cause };
        let protected = std::fs::metadata(path).map(|m| m.permissions().readonly()).unwrap_or(false);
        let mut readonly = readonly || protected;
        let file = if readonly {
            File::open(path).map_err(io)?
        } else {
            match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path) {
                Ok(f) => f,
                Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem) => {
                    readonly = true;
                    File::open(path).map_err(io)?
                }
                Err(e) => return Err(io(e)),
            }
        };
        let file_len = file.metadata().map_err(io)?.len();
        let spath = Sidecar::path_for(path);
        let mut crc = 0;
        let (scan, how) = match Sidecar::load(&file, file_len, &spath) {
            Some((objs, end, c)) => {
                crc = c;
                let n = objs.len();
                let mut f = &file;
                let s = scan_from(&mut f, end, objs, false).map_err(io)?;
                let scanned = s.objs.len() - n;
                (s, Indexed::Sidecar { scanned })
            }
            None => {
                let mut f = &file;
                (scan(&mut f, false).map_err(io)?, Indexed::Scan)
            }
        };
        let marks = scan.objs.iter().enumerate().filter(|(_, o)| o.is_mark()).map(|(i, _)| i).collect();
        // Objects the sidecar file already holds (when it was used).
        let from_sidecar = match how {
            Indexed::Sidecar { scanned } => scan.objs.len() - scanned,
            Indexed::Scan => 0,
        };
        let unchanged = matches!(how, Indexed::Sidecar { scanned: 0 });
        let tape = Tape {
            file,
            path: path.to_path_buf(),
            objs: scan.objs.clone(),
            marks,
            end: scan.end,
            file_len: scan.file_len,
            pos: 0,
            readonly,
            dirty: false,
            sidecar: Some(Sidecar::new(path, from_sidecar, crc, !unchanged)),
        };
        debug!(image = %path.display(), objects = tape.objs.len(), ?how, "indexed");
        Ok((tape, scan, how))
    }

    /// The image path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if the medium cannot be written.
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// Number of objects (records and marks).
    pub fn len(&self) -> usize {
        self.objs.len()
    }

    /// True if nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }

    /// The position: index of the next object.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to object `p` (clamped to the end of data).
    pub fn set_pos(&mut self, p: usize) {
        self.pos = p.min(self.objs.len());
    }

    /// The object at index `p`.
    pub fn obj(&self, p: usize) -> Option<Obj> {
        self.objs.get(p).copied()
    }

    /// All objects.
    pub fn objs(&self) -> &[Obj] {
        &self.objs
    }

    /// Image offset of object `p` (the end of data for `p == len`).
    pub fn offset_of(&self, p: usize) -> u64 {
        self.objs.get(p).map_or(self.end, |o| o.off)
    }

    /// Index in `marks` of the first mark at or after object `p`.
    fn marks_from(&self, p: usize) -> usize {
        self.marks.partition_point(|&m| m < p)
    }

    /// Spaces forward over `n` tape marks; stops at the end of data.
    /// Returns the marks crossed.
    pub fn space_marks_forward(&mut self, n: u64) -> (u64, Stop) {
        let k = self.marks_from(self.pos);
        let avail = (self.marks.len() - k) as u64;
        if n == 0 {
            return (0, Stop::Done);
        }
        if n <= avail {
            let m = self.marks.get(k + n as usize - 1).copied().unwrap_or(self.objs.len());
            self.pos = m + 1;
            (n, Stop::Done)
        } else {
            self.pos = self.objs.len();
            (avail, Stop::Eod)
        }
    }

    /// Spaces backward over `n` tape marks, stopping just before the last one
    /// crossed (its beginning-of-tape side); stops at the beginning of tape.
    pub fn space_marks_backward(&mut self, n: u64) -> (u64, Stop) {
        let k = self.marks_from(self.pos) as u64;
        if n == 0 {
            return (0, Stop::Done);
        }
        if n <= k {
            self.pos = self.marks.get((k - n) as usize).copied().unwrap_or(0);
            (n, Stop::Done)
        } else {
            self.pos = 0;
            (k, Stop::Bot)
        }
    }

    /// Spaces forward over `n` records. A tape mark stops it (crossed, as
    /// SCSI spacing does); so does the end of data. Returns records crossed.
    pub fn space_records_forward(&mut self, n: u64) -> (u64, Stop) {
        let next_mark = self.marks.get(self.marks_from(self.pos)).copied();
        let limit = next_mark.unwrap_or(self.objs.len());
        let avail = (limit - self.pos) as u64;
        if n <= avail {
            self.pos += n as usize;
            return (n, Stop::Done);
        }
        self.pos = limit;
        match next_mark {
            Some(m) => {
                self.pos = m + 1;
                (avail, Stop::Mark)
            }
            None => (avail, Stop::Eod),
        }
    }

    /// Spaces backward over `n` records. A tape mark stops it (crossed,
    /// leaving the position before it); so does the beginning of tape.
    pub fn space_records_backward(&mut self, n: u64) -> (u64, Stop) {
        let k = self.marks_from(self.pos);
        let prev_mark = k.checked_sub(1).and_then(|i| self.marks.get(i).copied());
        let floor = prev_mark.map_or(0, |m| m + 1);
        let avail = (self.pos - floor) as u64;
        if n <= avail {
            self.pos -= n as usize;
            return (n, Stop::Done);
        }
        match prev_mark {
            Some(m) => {
                self.pos = m;
                (avail, Stop::Mark)
            }
            None => {
                self.pos = 0;
                (avail, Stop::Bot)
            }
        }
    }

    /// Reads the first `buf.len()` bytes of record `o` (at most its length).
    pub fn read_data(&self, o: &Obj, buf: &mut [u8]) -> Result<(), TapError> {
        let n = buf.len().min(o.len as usize);
        let dst = buf.get_mut(..n).unwrap_or_default();
        self.file
            .read_exact_at(dst, o.off + 4)
            .map_err(|cause| TapError::Io { path: self.path.clone(), cause })
    }

    /// Appends the first `max` bytes of record `o` (at most its length) to
    /// `out`, read straight into its spare capacity: nothing zeroed first.
    pub fn append_data(&self, o: &Obj, max: usize, out: &mut Vec<u8>) -> Result<(), TapError> {
        let n = max.min(o.len as usize);
        pread_append(&self.file, out, n, o.off + 4).map_err(|cause| self.io_error(cause))
    }

    /// Appends objects `from..to`, as the image holds them (a record's
    /// length word, data, pad and length word), to `out`: one pread per
    /// stretch of objects that follow each other in the image, straight into
    /// `out`, nothing zeroed or copied on the way.
    pub fn read_framed(&self, from: usize, to: usize, out: &mut Vec<u8>) -> Result<(), TapError> {
        let objs = self.objs.get(from..to).unwrap_or_default();
        let total: u64 = objs.iter().map(|o| o.size()).sum();
        let total = usize::try_from(total).map_err(|_| self.io_error(io::ErrorKind::InvalidInput.into()))?;
        let mark = out.len();
        out.try_reserve(total).map_err(|_| self.io_error(io::ErrorKind::OutOfMemory.into()))?;
        let mut i = 0;
        while i < objs.len() {
            // The stretch objs[i..j] is contiguous in the image.
            let mut j = i + 1;
            while j < objs.len() && objs[j].off == objs[j - 1].off + objs[j - 1].size() {
                j += 1;
            }
            let off = objs[i].off;
            let len = (objs[j - 1].off + objs[j - 1].size() - off) as usize;
            if let Err(e) = pread_append(&self.file, out, len, off) {
                out.truncate(mark);
                return Err(self.io_error(e));
            }
            i = j;
        }
        Ok(())
    }

    fn io_error(&self, source: io::Error) -> TapError {
        TapError::Io { path: self.path.clone(), cause: source }
    }

    /// Everything from the position on is cut off (a write or erase there).
    fn cut(&mut self) -> Result<(), TapError> {
        if self.pos < self.objs.len() || self.file_len > self.end {
            let off = self.offset_of(self.pos);
            self.objs.truncate(self.pos);
            let keep = self.marks_from(self.pos);
            self.marks.truncate(keep);
            self.file.set_len(off).map_err(|cause| TapError::Io { path: self.path.clone(), cause })?;
            self.end = off;
            self.file_len = off;
            self.dirty = true;
            if let Some(sc) = self.sidecar.as_mut() {
                sc.synced = sc.synced.min(self.pos);
                sc.dirty = true;
            }
        }
        Ok(())
    }

    fn append(&mut self, len: u32, bytes: Option<&[u8]>) -> Result<(), TapError> {
        self.cut()?;
        let word = len.to_le_bytes();
        let pad = [0u8; 1];
        // Length, data, pad, length: written straight from the caller's
        // buffer, no staging copy.
        let mut parts: [&[u8]; 4] = [&word, &[], &[], &[]];
        if let Some(data) = bytes {
            parts[1] = data;
            if len & 1 == 1 {
                parts[2] = &pad;
            }
            parts[3] = &word;
        }
        let off = self.end;
        if let Err(cause) = write_all_vectored_at(&self.file, &parts, off) {
            // Whatever reached the file beyond `end` is ignored and cut later.
            self.file_len = self.file_len.max(off + 1);
            return Err(TapError::Io { path: self.path.clone(), cause });
        }
        let o = Obj { off, len, bad: false };
        self.end = off + o.size();
        self.file_len = self.end;
        if o.is_mark() {
            self.marks.push(self.objs.len());
        }
        self.objs.push(o);
        self.pos = self.objs.len();
        self.dirty = true;
        Ok(())
    }

    /// Writes records at the position (each 1..=16 MiB - 1 bytes), one
    /// after the other, with as few system calls as the iovec limit allows:
    /// straight from the callers' buffers. On an error nothing of them is
    /// taken as written (what reached the file beyond the end is ignored and
    /// cut later).
    pub fn write_records(&mut self, records: &[&[u8]]) -> Result<(), TapError> {
        if records.is_empty() {
            return Ok(());
        }
        self.cut()?;
        let words: Vec<[u8; 4]> = records.iter().map(|d| ((d.len() as u32) & LEN_MASK).to_le_bytes()).collect();
        let pad = [0u8; 1];
        let mut parts: Vec<&[u8]> = Vec::with_capacity(records.len() * 4);
        for (d, w) in records.iter().zip(&words) {
            parts.push(w);
            parts.push(d);
            if d.len() % 2 == 1 {
                parts.push(&pad);
            }
            parts.push(w);
        }
        let off = self.end;
        let mut at = off;
        for chunk in parts.chunks(IOV_CHUNK) {
            if let Err(cause) = write_all_vectored_at(&self.file, chunk, at) {
                self.file_len = self.file_len.max(off + 1);
                return Err(TapError::Io { path: self.path.clone(), cause });
            }
            at += chunk.iter().map(|p| p.len() as u64).sum::<u64>();
        }
        let mut o_off = off;
        for d in records {
            let o = Obj { off: o_off, len: (d.len() as u32) & LEN_MASK, bad: false };
            o_off += o.size();
            self.objs.push(o);
        }
        self.end = o_off;
        self.file_len = self.end;
        self.pos = self.objs.len();
        self.dirty = true;
        Ok(())
    }

    /// Writes a record at the position (1..=16 MiB - 1 bytes).
    pub fn write_record(&mut self, data: &[u8]) -> Result<(), TapError> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX) & LEN_MASK;
        debug_assert!(len as usize == data.len() && len > 0);
        self.append(len, Some(data))
    }

    /// Writes a tape mark at the position.
    pub fn write_mark(&mut self) -> Result<(), TapError> {
        self.append(MARK, None)
    }

    /// Erases from the position to the end.
    pub fn erase(&mut self) -> Result<(), TapError> {
        self.cut()
    }

    /// Makes written data durable, and brings the sidecar index up to date.
    pub fn sync(&mut self) -> Result<(), TapError> {
        if self.dirty {
            self.file.sync_data().map_err(|cause| TapError::Io { path: self.path.clone(), cause })?;
            self.dirty = false;
        }
        if !self.readonly {
            if let Some(sc) = self.sidecar.as_mut() {
                if let Err(e) = sc.store(&self.file, &self.objs, self.end) {
                    // Only a cache: the next load scans instead.
                    warn!(index = %sc.path.display(), "cannot update the index: {e}");
                    self.sidecar = None;
                }
            }
        }
        Ok(())
    }
}

