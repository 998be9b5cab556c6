//! A SIMH .tap image as a tape medium.
//!
//! The image is a sequence of objects from the beginning of tape: a record is
//! a 32-bit little-endian length n, n data bytes padded to an even count, and
//! n again; a tape mark is a zero word. Bit 31 of a record length flags a bad
//! record; 0xFFFFFFFF marks the end of medium and 0xFFFFFFFE an erase gap.
//!
//! Opening scans the image into an in-memory index (offset and length of each
//! object). A damaged tail (a record cut short, a length that does not match)
//! ends the medium at the last complete object: everything before it reads
//! back intact, and the next write replaces the damaged tail. Writing in the
//! middle of the tape cuts off what follows, as on a real tape.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use thiserror::Error;

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
    /// I/O on the image file failed.
    #[error("{path}: {source}")]
    Io {
        /// The image.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
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
}

/// What a scan of an image found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The objects, in order.
    pub objs: Vec<Obj>,
    /// Offset just past the last complete object.
    pub end: u64,
    /// Size of the file.
    pub file_len: u64,
    /// Problems found; the first one ended the scan.
    pub problems: Vec<String>,
    /// An end-of-medium marker ended the data.
    pub eom_marker: bool,
}

/// Scans an image. Stops at the first problem: the medium ends at the last
/// complete object before it. With `strict`, bytes after an end-of-medium
/// marker and non-zero pad bytes are reported too.
pub fn scan<R: Read + Seek>(r: &mut R, strict: bool) -> io::Result<Scan> {
    let file_len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut rd = BufReader::with_capacity(1 << 16, r);
    let mut s = Scan { file_len, ..Scan::default() };
    let mut off = 0u64;
    let mut word = [0u8; 4];
    loop {
        if off == file_len {
            break;
        }
        if file_len - off < 4 {
            s.problems.push(format!("{} stray bytes at offset {off}", file_len - off));
            break;
        }
        rd.read_exact(&mut word)?;
        let w = u32::from_le_bytes(word);
        match w {
            MARK => {
                s.objs.push(Obj { off, len: 0, bad: false });
                off += 4;
            }
            EOM_MARKER => {
                s.eom_marker = true;
                if strict && off + 4 < file_len {
                    s.problems.push(format!("{} bytes after the end-of-medium marker at offset {off}", file_len - off - 4));
                }
                break;
            }
            GAP => off += 4,
            HALF_GAP => {
                // Two bytes of gap: the next word starts two bytes on.
                rd.seek_relative(-2)?;
                off += 2;
            }
            _ if w & 0xff00_0000 == 0xff00_0000 => {
                s.problems.push(format!("reserved marker {w:#010x} at offset {off}"));
                break;
            }
            _ if w & RESERVED_BITS != 0 => {
                s.problems.push(format!("bad record length word {w:#010x} at offset {off}"));
                break;
            }
            _ => {
                let len = w & LEN_MASK;
                let padded = u64::from(len) + u64::from(len & 1);
                if off + 8 + padded > file_len {
                    s.problems.push(format!("record of {len} bytes at offset {off} is cut short"));
                    break;
                }
                if strict && len & 1 == 1 {
                    rd.seek_relative(i64::from(len))?;
                    let mut pad = [0u8; 1];
                    rd.read_exact(&mut pad)?;
                    if pad[0] != 0 {
                        s.problems.push(format!("non-zero pad byte after the record at offset {off}"));
                    }
                } else {
                    rd.seek_relative(padded as i64)?;
                }
                rd.read_exact(&mut word)?;
                let trail = u32::from_le_bytes(word);
                if trail != w {
                    s.problems.push(format!(
                        "record at offset {off}: leading length {w:#010x}, trailing length {trail:#010x}"
                    ));
                    break;
                }
                s.objs.push(Obj { off, len, bad: w & ERROR_FLAG != 0 });
                off += 8 + padded;
            }
        }
    }
    // Trailing gaps and a damaged tail are overwritten by the next write.
    s.end = s.objs.last().map_or(0, |o| o.off + o.size());
    Ok(s)
}

/// pwritev(2) until every part is written.
fn write_all_vectored_at(file: &File, parts: &[&[u8]], mut off: u64) -> io::Result<()> {
    let mut iov: Vec<libc::iovec> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() })
        .collect();
    let mut first = 0;
    while first < iov.len() {
        let Ok(fileoff) = libc::off_t::try_from(off) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let rest = iov.get(first..).unwrap_or_default();
        // SAFETY: every iovec points into a live slice of `parts` (or into
        // one after advancing), with its length; pwritev only reads them.
        let n = unsafe { libc::pwritev(file.as_raw_fd(), rest.as_ptr(), rest.len() as libc::c_int, fileoff) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        let mut n = n as usize;
        off += n as u64;
        while n > 0 {
            let Some(v) = iov.get_mut(first) else { break };
            if n >= v.iov_len {
                n -= v.iov_len;
                first += 1;
            } else {
                // SAFETY: n < iov_len, so the advanced pointer stays in the slice.
                v.iov_base = unsafe { v.iov_base.cast::<u8>().add(n) }.cast();
                v.iov_len -= n;
                n = 0;
            }
        }
    }
    Ok(())
}

/// A loaded image.
#[derive(Debug)]
pub struct Tape {
    file: File,
    path: PathBuf,
    objs: Vec<Obj>,
    /// Offset just past the last object: where the next object goes.
    end: u64,
    /// Size of the file (larger than `end` while a damaged tail remains).
    file_len: u64,
    /// Position: index of the next object (0 = beginning of tape).
    pos: usize,
    readonly: bool,
    dirty: bool,
}

impl Tape {
    /// Opens (creating it if missing and writable) and scans an image.
    pub fn open(path: &Path, readonly: bool) -> Result<(Tape, Scan), TapError> {
        let io = |source| TapError::Io { path: path.to_path_buf(), source };
        let mut readonly = readonly;
        let file = if readonly {
            File::open(path).map_err(io)?
        } else {
            match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    readonly = true;
                    File::open(path).map_err(io)?
                }
                Err(e) => return Err(io(e)),
            }
        };
        let mut f = &file;
        let scan = scan(&mut f, false).map_err(io)?;
        let tape = Tape {
            file,
            path: path.to_path_buf(),
            objs: scan.objs.clone(),
            end: scan.end,
            file_len: scan.file_len,
            pos: 0,
            readonly,
            dirty: false,
        };
        Ok((tape, scan))
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

    /// Reads the first `buf.len()` bytes of record `o` (at most its length).
    pub fn read_data(&self, o: &Obj, buf: &mut [u8]) -> Result<(), TapError> {
        let n = buf.len().min(o.len as usize);
        let dst = buf.get_mut(..n).unwrap_or_default();
        self.file
            .read_exact_at(dst, o.off + 4)
            .map_err(|source| TapError::Io { path: self.path.clone(), source })
    }

    /// Everything from the position on is cut off (a write or erase there).
    fn cut(&mut self) -> Result<(), TapError> {
        if self.pos < self.objs.len() || self.file_len > self.end {
            let off = self.offset_of(self.pos);
            self.objs.truncate(self.pos);
            self.file.set_len(off).map_err(|source| TapError::Io { path: self.path.clone(), source })?;
            self.end = off;
            self.file_len = off;
            self.dirty = true;
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
        if let Err(source) = write_all_vectored_at(&self.file, &parts, off) {
            // Whatever reached the file beyond `end` is ignored and cut later.
            self.file_len = self.file_len.max(off + 1);
            return Err(TapError::Io { path: self.path.clone(), source });
        }
        let o = Obj { off, len, bad: false };
        self.end = off + o.size();
        self.file_len = self.end;
        self.objs.push(o);
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

    /// Makes written data durable.
    pub fn sync(&mut self) -> Result<(), TapError> {
        if self.dirty {
            self.file.sync_data().map_err(|source| TapError::Io { path: self.path.clone(), source })?;
            self.dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn rec(data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(data);
        if data.len() % 2 == 1 {
            v.push(0);
        }
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v
    }

    #[test]
    fn scans_records_marks_and_gaps() {
        let mut img = rec(b"abc");
        img.extend_from_slice(&MARK.to_le_bytes());
        img.extend_from_slice(&GAP.to_le_bytes());
        img.extend(rec(b"hello!"));
        img.extend_from_slice(&MARK.to_le_bytes());
        img.extend_from_slice(&MARK.to_le_bytes());
        let s = scan(&mut Cursor::new(&img), true).unwrap();
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let lens: Vec<u32> = s.objs.iter().map(|o| o.len).collect();
        assert_eq!(lens, vec![3, 0, 6, 0, 0]);
        assert_eq!(s.end, img.len() as u64);
        assert_eq!(s.objs[2].off, 12 + 4 + 4);
    }

    #[test]
    fn damaged_tail_ends_at_last_complete_object() {
        let mut img = rec(b"first");
        img.extend_from_slice(&MARK.to_le_bytes());
        let good = img.len();
        img.extend(rec(&[7u8; 100]));
        for cut in good..img.len() {
            let s = scan(&mut Cursor::new(&img[..cut]), false).unwrap();
            assert_eq!(s.objs.len(), 2, "cut at {cut}");
            assert_eq!(s.end, good as u64, "cut at {cut}");
            assert_eq!(s.problems.is_empty(), cut == good, "cut at {cut}");
        }
    }

    #[test]
    fn mismatched_trailer_is_a_problem() {
        let mut img = rec(b"abcd");
        let n = img.len();
        img[n - 1] = 9;
        let s = scan(&mut Cursor::new(&img), false).unwrap();
        assert!(s.objs.is_empty());
        assert_eq!(s.end, 0);
        assert_eq!(s.problems.len(), 1);
    }
}
