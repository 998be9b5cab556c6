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

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tracing::{debug, warn};

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

/// Scans an image from the beginning. Stops at the first problem: the medium
/// ends at the last complete object before it. With `strict`, non-zero pad
/// bytes are reported too. Bytes after an end-of-medium marker are not a
/// problem: SIMH puts them beyond the end of the medium, and a medium that
/// cannot truncate its file (an image written over rmt) cuts a tape there.
pub fn scan<R: Read + Seek>(r: &mut R, strict: bool) -> io::Result<Scan> {
    scan_from(r, 0, Vec::new(), strict)
}

/// Scans from byte `start`, appending to `objs` (the objects before it).
pub fn scan_from<R: Read + Seek>(r: &mut R, start: u64, objs: Vec<Obj>, strict: bool) -> io::Result<Scan> {
    let file_len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(start))?;
    let mut rd = BufReader::with_capacity(1 << 16, r);
    let mut s = Scan { file_len, objs, ..Scan::default() };
    let mut off = start;
    let mut word = [0u8; 4];
    while off < file_len {
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
            _ if w & RESERVED_BITS != 0 || w & LEN_MASK == 0 => {
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
    s.end = s.objs.last().map_or(start.min(off), |o| o.off + o.size());
    Ok(s)
}

/// The persistent index beside an image: `IMAGE.pmtidx`.
///
/// A 64-byte header (magic, version, entry size, object count, the image
/// offset the index covers, a CRC32C of the image's first 4 KiB, a CRC32C of
/// the entries) and a 16-byte entry per object (offset, length, flags),
/// appended as the tape grows and cut with it. On load the header must match the image, and the
/// last indexed objects are read back from the image; objects written after
/// the index was last updated are found by scanning on from where it ends.
/// Anything else (no index, a damaged or foreign one) means a full scan.
#[derive(Debug)]
pub struct Sidecar {
    path: PathBuf,
    /// Objects written to the sidecar file.
    synced: usize,
    /// The header must be rewritten (or the whole file, if `synced` is 0).
    dirty: bool,
    /// CRC32C of the first `crc_of` entries as stored (kept running, so an
    /// append costs only the new entries).
    crc: u32,
    crc_of: usize,
}

const IDX_MAGIC: &[u8; 8] = b"PMTIDX\x01\x00";
/// 2: the header carries a CRC32C of the entries.
const IDX_VERSION: u32 = 2;
const IDX_HEADER: u64 = 64;
const IDX_ENTRY: u64 = 16;
/// Indexed objects read back from the image when the index is loaded.
const IDX_CHECK_TAIL: usize = 8;

impl Sidecar {
    /// The sidecar of `image`.
    pub fn path_for(image: &Path) -> PathBuf {
        let mut p = image.as_os_str().to_owned();
        p.push(".pmtidx");
        PathBuf::from(p)
    }

    /// The sidecar of `image` holding `synced` objects whose entries have
    /// CRC32C `crc`.
    fn new(image: &Path, synced: usize, crc: u32, dirty: bool) -> Sidecar {
        Sidecar { path: Sidecar::path_for(image), synced, dirty, crc, crc_of: synced }
    }

    fn header(count: u64, end: u64, head_crc: u32, entries_crc: u32) -> [u8; IDX_HEADER as usize] {
        let mut h = [0u8; IDX_HEADER as usize];
        h[0..8].copy_from_slice(IDX_MAGIC);
        h[8..12].copy_from_slice(&IDX_VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(IDX_ENTRY as u32).to_le_bytes());
        h[16..24].copy_from_slice(&count.to_le_bytes());
        h[24..32].copy_from_slice(&end.to_le_bytes());
        h[32..36].copy_from_slice(&head_crc.to_le_bytes());
        h[36..40].copy_from_slice(&entries_crc.to_le_bytes());
        h
    }

    fn entry(o: &Obj) -> [u8; IDX_ENTRY as usize] {
        let mut e = [0u8; IDX_ENTRY as usize];
        e[0..8].copy_from_slice(&o.off.to_le_bytes());
        e[8..12].copy_from_slice(&o.len.to_le_bytes());
        e[12..16].copy_from_slice(&u32::from(o.bad).to_le_bytes());
        e
    }

    /// Loads the index of `image` if it matches it: the objects, the offset
    /// they end at and the CRC32C of their entries. None means "scan".
    /// Every number is checked before it is used: a damaged index is
    /// refused, never believed, and never makes the loader overflow or
    /// allocate beyond the index file's size.
    fn load(image: &File, image_len: u64, path: &Path) -> Option<(Vec<Obj>, u64, u32)> {
        let mut f = File::open(path).ok()?;
        let mut h = [0u8; IDX_HEADER as usize];
        f.read_exact(&mut h).ok()?;
        let u32at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap_or_default());
        let u64at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or_default());
        if &h[0..8] != IDX_MAGIC || u32at(8) != IDX_VERSION || u64::from(u32at(12)) != IDX_ENTRY {
            return None;
        }
        let (count, end, head_crc, entries_crc) = (u64at(16), u64at(24), u32at(32), u32at(36));
        let bytes = count.checked_mul(IDX_ENTRY)?;
        if f.metadata().ok()?.len() < IDX_HEADER.checked_add(bytes)? || head_crc != head_crc_of(image, image_len.min(end)) {
            return None;
        }
        let mut raw = vec![0u8; usize::try_from(bytes).ok()?];
        f.read_exact(&mut raw).ok()?;
        if crc32c::crc32c(&raw) != entries_crc {
            return None;
        }
        let mut objs = Vec::with_capacity(raw.len() / IDX_ENTRY as usize);
        let mut at = 0u64;
        for e in raw.chunks_exact(IDX_ENTRY as usize) {
            let o = Obj {
                off: u64::from_le_bytes(e[0..8].try_into().ok()?),
                len: u32::from_le_bytes(e[8..12].try_into().ok()?),
                bad: u32::from_le_bytes(e[12..16].try_into().ok()?) & 1 != 0,
            };
            if o.off < at || o.len > LEN_MASK {
                return None;
            }
            at = o.off.checked_add(o.size())?;
            objs.push(o);
        }
        if at != end && !(objs.is_empty() && end == 0) {
            return None;
        }
        // The image may have been cut after the index was written: keep
        // what lies wholly inside it.
        let keep = objs.partition_point(|o| o.off + o.size() <= image_len);
        objs.truncate(keep);
        // Read the last objects back: the index must describe this image.
        let from = objs.len().saturating_sub(IDX_CHECK_TAIL);
        if !objs.get(from..).unwrap_or_default().iter().all(|o| check_obj(image, o)) {
            return None;
        }
        let end = objs.last().map_or(0, |o| o.off + o.size());
        let crc = if keep == raw.len() / IDX_ENTRY as usize {
            entries_crc
        } else {
            crc32c::crc32c(raw.get(..keep * IDX_ENTRY as usize).unwrap_or_default())
        };
        Some((objs, end, crc))
    }

    /// Brings the sidecar file up to date with `objs` (ending at `end`).
    fn store(&mut self, image: &File, objs: &[Obj], end: u64) -> io::Result<()> {
        if !self.dirty && self.synced == objs.len() {
            return Ok(());
        }
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&self.path)?;
        let synced = self.synced.min(objs.len());
        if self.crc_of != synced {
            // Cut since: the running CRC starts again from the kept entries.
            self.crc = objs.get(..synced).unwrap_or_default().iter().fold(0, |c, o| crc32c::crc32c_append(c, &Sidecar::entry(o)));
            self.crc_of = synced;
        }
        let mut buf = Vec::with_capacity((objs.len() - synced) * IDX_ENTRY as usize);
        for o in objs.get(synced..).unwrap_or_default() {
            buf.extend_from_slice(&Sidecar::entry(o));
        }
        let crc = crc32c::crc32c_append(self.crc, &buf);
        f.set_len(IDX_HEADER + objs.len() as u64 * IDX_ENTRY)?;
        f.write_all_at(&buf, IDX_HEADER + synced as u64 * IDX_ENTRY)?;
        f.write_all_at(&Sidecar::header(objs.len() as u64, end, head_crc_of(image, end), crc), 0)?;
        self.synced = objs.len();
        self.crc = crc;
        self.crc_of = objs.len();
        self.dirty = false;
        Ok(())
    }
}

/// CRC32C of the first 4 KiB of the image (up to `end`): ties an index to
/// its image.
fn head_crc_of(image: &File, end: u64) -> u32 {
    let mut b = vec![0u8; end.min(4096) as usize];
    match image.read_exact_at(&mut b, 0) {
        Ok(()) => crc32c::crc32c(&b),
        Err(_) => 0,
    }
}

/// Reads an object's framing words back from the image.
fn check_obj(image: &File, o: &Obj) -> bool {
    let mut w = [0u8; 4];
    if image.read_exact_at(&mut w, o.off).is_err() || u32::from_le_bytes(w) != o.word() {
        return false;
    }
    if o.is_mark() {
        return true;
    }
    let trail = o.off + 4 + u64::from(o.len) + u64::from(o.len & 1);
    image.read_exact_at(&mut w, trail).is_ok() && u32::from_le_bytes(w) == o.word()
}

/// Iovecs per pwritev: Linux's IOV_MAX.
const IOV_CHUNK: usize = 1024;

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

pub use crate::medium::Stop;

/// Reads exactly `len` bytes at `off` of `file` into the spare capacity of
/// `out` (reserved by the caller) and extends `out` over them.
fn pread_append(file: &File, out: &mut Vec<u8>, len: usize, mut off: u64) -> io::Result<()> {
    if out.capacity() - out.len() < len {
        out.try_reserve(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    }
    let mut done = 0usize;
    while done < len {
        let Ok(fileoff) = libc::off_t::try_from(off) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let spare = out.spare_capacity_mut();
        // SAFETY: `spare` has at least len - done bytes past `done`
        // (reserved above); pread writes at most that many there, and only
        // what it reports as read is then counted as initialised.
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().add(done).cast(), len - done, fileoff) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        done += n as usize;
        off += n as u64;
    }
    // SAFETY: pread initialised the `len` bytes after the old length.
    unsafe { out.set_len(out.len() + len) };
    Ok(())
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

    /// A tape of `files` files of `recs` records each, closed by two marks.
    fn build(dir: &Path, files: usize, recs: usize) -> PathBuf {
        let p = dir.join("t.tap");
        let (mut t, _, _) = Tape::open(&p, false).unwrap();
        for f in 0..files {
            for r in 0..recs {
                t.write_record(&[(f * 7 + r) as u8; 33]).unwrap();
            }
            t.write_mark().unwrap();
        }
        t.write_mark().unwrap();
        t.sync().unwrap();
        p
    }

    #[test]
    fn spacing_over_marks_and_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 5, 3); // objects: 4 per file, then a mark
        let (mut t, _, _) = Tape::open(&p, false).unwrap();
        assert_eq!(t.len(), 21);
        assert_eq!(t.space_marks_forward(2), (2, Stop::Done));
        assert_eq!(t.pos(), 8);
        assert_eq!(t.space_records_forward(2), (2, Stop::Done));
        assert_eq!(t.pos(), 10);
        assert_eq!(t.space_records_forward(5), (1, Stop::Mark));
        assert_eq!(t.pos(), 12);
        assert_eq!(t.space_records_backward(1), (0, Stop::Mark));
        assert_eq!(t.pos(), 11, "before the mark");
        assert_eq!(t.space_records_backward(10), (3, Stop::Mark));
        assert_eq!(t.pos(), 7);
        // Just before the mark ending file 1: one mark back is the mark
        // ending file 0, and the position is before it.
        assert_eq!(t.space_marks_backward(1), (1, Stop::Done));
        assert_eq!(t.pos(), 3);
        t.set_pos(9);
        assert_eq!(t.space_marks_backward(1), (1, Stop::Done));
        assert_eq!(t.pos(), 7, "before the mark ending file 1");
        assert_eq!(t.space_marks_backward(9), (1, Stop::Bot));
        assert_eq!(t.pos(), 0);
        assert_eq!(t.space_records_backward(1), (0, Stop::Bot));
        assert_eq!(t.space_marks_forward(100), (6, Stop::Eod));
        assert_eq!(t.pos(), 21);
        assert_eq!(t.space_records_forward(1), (0, Stop::Eod));
    }

    #[test]
    fn sidecar_is_used_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 50, 2);
        let (t, _, how) = Tape::open(&p, false).unwrap();
        assert_eq!(how, Indexed::Sidecar { scanned: 0 });
        assert_eq!(t.len(), 50 * 3 + 1);
        drop(t);
        // Objects written after the last index update are found by a scan
        // from where the index ends.
        {
            let (mut t, _, _) = Tape::open(&p, false).unwrap();
            t.set_pos(t.len());
            t.write_record(b"late").unwrap();
            // No sync: the sidecar still has the old count.
        }
        let (t, _, how) = Tape::open(&p, false).unwrap();
        assert_eq!(how, Indexed::Sidecar { scanned: 1 });
        assert_eq!(t.len(), 50 * 3 + 2);
        drop(t);
        // A different image under the same name: the index is refused.
        std::fs::write(&p, rec(b"other")).unwrap();
        let (t, _, how) = Tape::open(&p, false).unwrap();
        assert_eq!(how, Indexed::Scan);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_damaged_index_is_refused_at_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 20, 2);
        let (t, _, _) = Tape::open(&p, false).unwrap();
        let objs = t.objs().to_vec();
        drop(t);
        let good = std::fs::read(Sidecar::path_for(&p)).unwrap();
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            std::fs::write(Sidecar::path_for(&p), &bad).unwrap();
            let (t, _, how) = Tape::open(&p, true).unwrap();
            assert_eq!(t.objs(), &objs[..], "byte {at} of the index changed");
            // Spare header bytes are not covered; everything else is.
            if !(40..64).contains(&at) {
                assert_eq!(how, Indexed::Scan, "byte {at} of the index changed");
            }
        }
        // Counts that would overflow or allocate without bound.
        let mut huge = good.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(Sidecar::path_for(&p), &huge).unwrap();
        assert_eq!(Tape::open(&p, true).unwrap().2, Indexed::Scan);
    }

    #[test]
    fn cut_image_with_a_sidecar_recovers_every_complete_object() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 3, 2);
        let full = std::fs::read(&p).unwrap();
        let sidecar = std::fs::read(Sidecar::path_for(&p)).unwrap();
        let (t, _, _) = Tape::open(&p, false).unwrap();
        let objs = t.objs().to_vec();
        drop(t);
        for cut in 0..=full.len() {
            std::fs::write(&p, &full[..cut]).unwrap();
            std::fs::write(Sidecar::path_for(&p), &sidecar).unwrap();
            let (t, _, _) = Tape::open(&p, false).unwrap();
            let whole = objs.iter().filter(|o| o.off + o.size() <= cut as u64).count();
            assert_eq!(t.len(), whole, "cut at {cut}");
            assert_eq!(t.objs(), &objs[..whole], "cut at {cut}");
        }
    }

    #[test]
    fn writing_after_a_cut_replaces_the_damaged_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 2, 2);
        let full = std::fs::read(&p).unwrap();
        let (t, _, _) = Tape::open(&p, false).unwrap();
        let objs = t.objs().to_vec();
        drop(t);
        for cut in 0..=full.len() {
            std::fs::write(&p, &full[..cut]).unwrap();
            let _ = std::fs::remove_file(Sidecar::path_for(&p));
            let (mut t, _, _) = Tape::open(&p, false).unwrap();
            let whole = t.len();
            t.set_pos(whole);
            t.write_record(b"after the cut").unwrap();
            t.sync().unwrap();
            drop(t);
            // The image is whole again: strict framing, old objects kept.
            let s = scan(&mut File::open(&p).unwrap(), true).unwrap();
            assert!(s.problems.is_empty(), "cut at {cut}: {:?}", s.problems);
            assert_eq!(s.objs.len(), whole + 1, "cut at {cut}");
            assert_eq!(&s.objs[..whole], &objs[..whole], "cut at {cut}");
            let (t, _, how) = Tape::open(&p, false).unwrap();
            assert_eq!(how, Indexed::Sidecar { scanned: 0 }, "cut at {cut}");
            let mut buf = [0u8; 13];
            t.read_data(&t.obj(whole).unwrap(), &mut buf).unwrap();
            assert_eq!(&buf, b"after the cut", "cut at {cut}");
        }
    }
}
