//! A SIMH .tap image on another host, through an rmt session
//! (`rmt-tap:[user@]host:/path/vol%d.tap`).
//!
//! The remote is a plain file, so the records are framed as SIMH does (a
//! 32-bit little-endian length, the data padded to even length, the length
//! again; a zero word is a tape mark) and sent as rmt `W` requests, read
//! back with `R`, positioned with `L` (whose argument order the session
//! probes first, see [`Connection::probe_seek_order`]).
//!
//! The rules:
//!
//! - **Load**: the image is opened `O_RDWR|O_CREAT` (`O_RDONLY` if that is
//!   refused with EACCES or EROFS, or with `read-only`) and scanned once
//!   from the beginning with pmtd's own scanner ([`crate::tap::scan`]) over
//!   the wire, in 1 MiB reads; the medium keeps the index of objects in
//!   memory. A damaged tail ends the tape at the last whole object, as for a
//!   local image.
//! - **Reads** of a mark cost nothing; a record is one `R` of the whole
//!   frame (both length words are checked), preceded by an `L` only when
//!   the file offset is not already there (sequential reads need none).
//! - **Spacing, locate, rewind, end of data** use the index: no request.
//! - **Writing** at the position cuts what follows, as on a tape. rmt has
//!   no truncate, so when old bytes remain after the new object the same
//!   `W` carries an end-of-medium marker word (0xFFFFFFFF) after it: every
//!   SIMH reader stops there, and this medium remembers the logical end.
//!   Writing from the beginning of tape instead reopens the image with
//!   `O_TRUNC`, so a volume rewritten from BOT is a plain image again and
//!   every later write is an append (one `W`, no marker).
//! - **Erase** cuts at the position the same way (a marker if bytes follow).
//! - **Capacity** (`capacity=`, `early-warning=`) is counted in image bytes
//!   as for a local image: a record that would pass the end is refused whole
//!   ([`MediumError::Overflow`]), a tape mark may use 64 bytes past it, and
//!   writes past the early-warning point report early warning.
//! - **Durability**: rmt has no fsync; the data is the server's once its
//!   `W` is answered, and the image is closed (`C`) at unload.
//!
//! [`RmtImageVolumes`] hands out the volumes of a `%d` pattern (vol1.tap,
//! vol2.tap, ...; `volumes=N` at most), one session per volume.

use std::io::{self, Read, Seek, SeekFrom};

use tracing::{info, warn};

use super::conn::{whence, Connection};
use crate::media::spec::{self, RmtTapSpec};
use crate::medium::{Volumes, Medium, MediumError, Object, Room, Stop, Written};
use crate::tap::{self, Obj, EOM_MARKER, ERROR_FLAG, LEN_MASK, MARK};

/// The bytes past the capacity that only tape marks may use.
const MARK_RESERVE: u64 = 64;

/// Bytes per `R` while scanning.
const SCAN_CHUNK: usize = 1 << 20;

/// A SIMH image on another host, mounted.
#[derive(Debug)]
pub struct RmtImage {
    conn: Connection,
    path: String,
    name: String,
    readonly: bool,
    objs: Vec<Obj>,
    /// Indexes in `objs` of the tape marks.
    marks: Vec<usize>,
    pos: usize,
    /// The offset just past the last object.
    end: u64,
    /// The file's length as far as this medium knows (at least `end`).
    file_len: u64,
    /// The server's file offset, if known.
    off: Option<u64>,
    capacity: Option<u64>,
    early_warning: u64,
    scratch: Vec<u8>,
}

/// Reads the remote file through the session, buffered, with seeks that
/// cost nothing until the next read.
struct Remote<'a> {
    conn: &'a mut Connection,
    len: u64,
    cur: u64,
    at: Option<u64>,
    buf: Vec<u8>,
    buf_off: u64,
}

impl Read for Remote<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let in_buf = self.cur >= self.buf_off && self.cur < self.buf_off + self.buf.len() as u64;
        if !in_buf {
            if self.cur >= self.len {
                return Ok(0);
            }
            if self.at != Some(self.cur) {
                let off = i64::try_from(self.cur).map_err(io::Error::other)?;
                self.conn.seek(off, whence::SET)?;
            }
            self.buf.resize(SCAN_CHUNK, 0);
            let n = self.conn.read(&mut self.buf)?;
            self.buf.truncate(n);
            self.buf_off = self.cur;
            self.at = Some(self.cur + n as u64);
            if n == 0 {
                return Ok(0);
            }
        }
        let from = (self.cur - self.buf_off) as usize;
        let n = out.len().min(self.buf.len() - from);
        out[..n].copy_from_slice(&self.buf[from..from + n]);
        self.cur += n as u64;
        Ok(n)
    }
}

impl Seek for Remote<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let t = match to {
            SeekFrom::Start(x) => Some(x),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.cur.checked_add_signed(d),
        };
        self.cur = t.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok(self.cur)
    }
}

fn frame(data: &[u8]) -> Vec<u8> {
    let w = (data.len() as u32).to_le_bytes();
    let mut v = Vec::with_capacity(data.len() + 13);
    v.extend_from_slice(&w);
    v.extend_from_slice(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v.extend_from_slice(&w);
    v
}

impl RmtImage {
    /// Starts a session, opens the image `path` of `spec` (created if
    /// missing) and scans it.
    pub fn open(spec: &RmtTapSpec, path: &str) -> Result<RmtImage, MediumError> {
        let mut remote = spec.remote.clone();
        remote.path = path.to_owned();
        let name = remote.display();
        let e = |e: io::Error| MediumError::io(&name, e);
        let mut conn = Connection::start(&remote).map_err(e)?;
        let mut readonly = spec.read_only;
        if readonly {
            conn.open(path, "O_RDONLY").map_err(e)?;
        } else if let Err(err) = conn.open(path, "O_RDWR|O_CREAT") {
            if !matches!(err.raw_os_error(), Some(libc::EACCES) | Some(libc::EROFS)) {
                return Err(e(err));
            }
            conn.open(path, "O_RDONLY").map_err(e)?;
            readonly = true;
        }
        conn.probe_seek_order().map_err(e)?;
        let len = conn.seek(0, whence::END).map_err(e)?;
        let scan = {
            let mut r = Remote { conn: &mut conn, len, cur: 0, at: Some(len), buf: Vec::new(), buf_off: 0 };
            tap::scan(&mut r, false).map_err(e)?
        };
        for p in &scan.problems {
            warn!("{name}: {p}; the tape ends at offset {}", scan.end);
        }
        let marks = scan.objs.iter().enumerate().filter(|(_, o)| o.is_mark()).map(|(i, _)| i).collect();
        info!(
            "{name}: {} objects, {} bytes of image{}",
            scan.objs.len(),
            scan.end,
            if readonly { ", write protected" } else { "" }
        );
        Ok(RmtImage {
            conn,
            path: path.to_owned(),
            name,
            readonly,
            objs: scan.objs,
            marks,
            pos: 0,
            end: scan.end,
            file_len: len,
            off: None,
            capacity: spec.capacity,
            early_warning: spec.early_warning,
            scratch: Vec::new(),
        })
    }

    /// The session.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The objects of the tape.
    pub fn objects(&self) -> &[Obj] {
        &self.objs
    }

    /// Closes the image (`C`); the session ends when the medium is dropped.
    pub fn close(&mut self) -> Result<(), MediumError> {
        self.conn.check().map_err(|e| self.err(e))?;
        let r = self.conn.close(&self.path);
        r.map_err(|e| self.err(e))
    }

    fn err(&self, e: io::Error) -> MediumError {
        MediumError::io(&self.name, e)
    }

    fn offset_of(&self, p: usize) -> u64 {
        self.objs.get(p).map_or(self.end, |o| o.off)
    }

    fn seek_to(&mut self, off: u64) -> Result<(), MediumError> {
        if self.off != Some(off) {
            self.off = None;
            let o = i64::try_from(off).map_err(|_| self.err(io::Error::from_raw_os_error(libc::EINVAL)))?;
            let got = self.conn.seek(o, whence::SET).map_err(|e| self.err(e))?;
            if got != off {
                return Err(self.err(io::Error::other(format!("a seek to {off} landed at {got}"))));
            }
            self.off = Some(off);
        }
        Ok(())
    }

    fn past_ew(&self) -> bool {
        self.capacity.is_some() && self.room().to_ew == Some(0)
    }

    /// Writes one object (`bytes`, its frame) at the position, cutting what
    /// follows.
    fn put(&mut self, bytes: Vec<u8>, len: u32, limit: u64) -> Result<Written, MediumError> {
        if self.readonly {
            return Err(MediumError::Protected { medium: self.name.clone() });
        }
        let start = self.offset_of(self.pos);
        let size = bytes.len() as u64;
        if self.capacity.is_some() && start + size > limit {
            return Err(MediumError::Overflow { medium: self.name.clone() });
        }
        if self.pos == 0 && self.file_len > 0 {
            // Rewriting from BOT: a fresh image, every write an append.
            self.off = None;
            let r = self.conn.open(&self.path, "O_RDWR|O_CREAT|O_TRUNC");
            r.map_err(|e| self.err(e))?;
            self.file_len = 0;
            self.off = Some(0);
        }
        let mut bytes = bytes;
        let cut = start + size < self.file_len;
        if cut {
            bytes.extend_from_slice(&EOM_MARKER.to_le_bytes());
        }
        self.seek_to(start)?;
        self.objs.truncate(self.pos);
        let k = self.marks.partition_point(|&m| m < self.pos);
        self.marks.truncate(k);
        self.end = start;
        self.off = None;
        let n = self.conn.write(&bytes).map_err(|e| self.err(e))?;
        if n != bytes.len() {
            return Err(self.err(io::Error::other(format!("short write: {n} of {} bytes", bytes.len()))));
        }
        self.off = Some(start + n as u64);
        self.file_len = self.file_len.max(start + n as u64);
        self.end = start + size;
        if len == 0 {
            self.marks.push(self.objs.len());
        }
        self.objs.push(Obj { off: start, len, bad: false });
        self.pos += 1;
        Ok(Written { early_warning: self.past_ew() })
    }
}

impl Medium for RmtImage {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn readonly(&self) -> bool {
        self.readonly
    }

    fn position(&self) -> u64 {
        self.pos as u64
    }

    fn at_eod(&self) -> Option<bool> {
        Some(self.pos == self.objs.len())
    }

    fn room(&self) -> Room {
        match self.capacity {
            None => Room::UNKNOWN,
            Some(c) => {
                let at = self.offset_of(self.pos);
                Room {
                    to_ew: Some((c - self.early_warning).saturating_sub(at)),
                    to_end: Some(c.saturating_sub(at)),
                }
            }
        }
    }

    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        if data.is_empty() || data.len() > LEN_MASK as usize {
            return Err(MediumError::Unsupported {
                medium: self.name.clone(),
                what: format!("a record of {} bytes", data.len()),
            });
        }
        let limit = self.capacity.unwrap_or(u64::MAX);
        self.put(frame(data), data.len() as u32, limit)
    }

    fn write_mark(&mut self) -> Result<Written, MediumError> {
        let limit = self.capacity.map_or(u64::MAX, |c| c + MARK_RESERVE);
        self.put(MARK.to_le_bytes().to_vec(), 0, limit)
    }

    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        let Some(o) = self.objs.get(self.pos).copied() else {
            return Ok(Object::Eod);
        };
        if o.is_mark() {
            self.pos += 1;
            return Ok(Object::Mark);
        }
        self.seek_to(o.off)?;
        let size = o.size() as usize;
        let mut frame = std::mem::take(&mut self.scratch);
        frame.resize(size, 0);
        let mut got = 0;
        while got < size {
            let r = self.conn.read(&mut frame[got..]);
            match r {
                Ok(0) => {
                    self.off = None;
                    self.scratch = frame;
                    return Err(self.err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the image ends inside the record at offset {}", o.off),
                    )));
                }
                Ok(n) => got += n,
                Err(e) => {
                    self.off = None;
                    self.scratch = frame;
                    return Err(self.err(e));
                }
            }
        }
        self.off = Some(o.off + size as u64);
        let word = o.word().to_le_bytes();
        let ok = frame[..4] == word && frame[size - 4..] == word;
        if ok {
            let n = (o.len as usize).min(max);
            buf.extend_from_slice(&frame[4..4 + n]);
        }
        self.scratch = frame;
        if !ok {
            return Err(self.err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the record at offset {} changed under the medium", o.off),
            )));
        }
        self.pos += 1;
        Ok(if o.word() & ERROR_FLAG != 0 { Object::Bad } else { Object::Record(o.len as usize) })
    }

    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        let want = n.unsigned_abs();
        if n >= 0 {
            let k = self.marks.partition_point(|&m| m < self.pos);
            let limit = self.marks.get(k).copied().unwrap_or(self.objs.len());
            let avail = (limit - self.pos) as u64;
            if want <= avail {
                self.pos += want as usize;
                return Ok((want, Stop::Done));
            }
            self.pos = limit;
            if limit < self.objs.len() {
                self.pos += 1;
                return Ok((avail, Stop::Mark));
            }
            Ok((avail, Stop::Eod))
        } else {
            let k = self.marks.partition_point(|&m| m < self.pos);
            let prev = k.checked_sub(1).map(|i| self.marks[i]);
            let floor = prev.map_or(0, |m| m + 1);
            let avail = (self.pos - floor) as u64;
            if want <= avail {
                self.pos -= want as usize;
                return Ok((want, Stop::Done));
            }
            match prev {
                Some(m) => {
                    self.pos = m;
                    Ok((avail, Stop::Mark))
                }
                None => {
                    self.pos = 0;
                    Ok((avail, Stop::Bot))
                }
            }
        }
    }

    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        let want = n.unsigned_abs();
        let k = self.marks.partition_point(|&m| m < self.pos);
        if n >= 0 {
            if want == 0 {
                return Ok((0, Stop::Done));
            }
            let ahead = (self.marks.len() - k) as u64;
            if want <= ahead {
                self.pos = self.marks[k + want as usize - 1] + 1;
                return Ok((want, Stop::Done));
            }
            self.pos = self.objs.len();
            Ok((ahead, Stop::Eod))
        } else {
            let behind = k as u64;
            if want <= behind {
                self.pos = self.marks[k - want as usize];
                return Ok((want, Stop::Done));
            }
            self.pos = 0;
            Ok((behind, Stop::Bot))
        }
    }

    fn space_eod(&mut self) -> Result<(), MediumError> {
        self.pos = self.objs.len();
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), MediumError> {
        self.pos = 0;
        Ok(())
    }

    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        if addr > self.objs.len() as u64 {
            self.pos = self.objs.len();
            return Ok(Stop::Eod);
        }
        self.pos = addr as usize;
        Ok(Stop::Done)
    }

    fn erase(&mut self) -> Result<(), MediumError> {
        if self.readonly {
            return Err(MediumError::Protected { medium: self.name.clone() });
        }
        let at = self.offset_of(self.pos);
        self.objs.truncate(self.pos);
        let k = self.marks.partition_point(|&m| m < self.pos);
        self.marks.truncate(k);
        self.end = at;
        if at < self.file_len {
            self.seek_to(at)?;
            self.off = None;
            let n = self.conn.write(&EOM_MARKER.to_le_bytes()).map_err(|e| self.err(e))?;
            if n != 4 {
                return Err(self.err(io::Error::other("short write of the end-of-medium marker")));
            }
            self.off = Some(at + 4);
            self.file_len = self.file_len.max(at + 4);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), MediumError> {
        // No fsync in rmt: answered writes are the server's.
        self.conn.check().map_err(|e| self.err(e))
    }
}

/// The volumes of an `rmt-tap:` spec: the images of its `%d` pattern in
/// order (at most `volumes=N`), or its one image.
#[derive(Debug)]
pub struct RmtImageVolumes {
    spec: RmtTapSpec,
    loaded: usize,
}

impl RmtImageVolumes {
    /// The volume sequence of `spec`.
    pub fn new(spec: RmtTapSpec) -> RmtImageVolumes {
        RmtImageVolumes { spec, loaded: 0 }
    }

    /// The remote path of volume `n` (from 1).
    pub fn path_of(&self, n: usize) -> Result<String, MediumError> {
        spec::volume_path(&self.spec.remote.path, n)
            .map_err(|why| MediumError::Unsupported { medium: self.spec.remote.display(), what: why })
    }
}

impl Volumes for RmtImageVolumes {
    type Medium = RmtImage;

    fn load_next(&mut self) -> Result<Option<RmtImage>, MediumError> {
        if !self.has_next() {
            return Ok(None);
        }
        let path = self.path_of(self.loaded + 1)?;
        let m = RmtImage::open(&self.spec, &path)?;
        self.loaded += 1;
        Ok(Some(m))
    }

    fn unload(&mut self, mut medium: RmtImage) -> Result<(), MediumError> {
        medium.close()
    }

    fn has_next(&self) -> bool {
        if self.loaded == 0 {
            return true;
        }
        spec::is_pattern(&self.spec.remote.path) && self.spec.volumes.is_none_or(|n| self.loaded < n)
    }

    fn volume(&self) -> Option<usize> {
        (self.loaded > 0).then_some(self.loaded)
    }
}
