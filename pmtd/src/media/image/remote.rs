//! An image in a file on another host, through an rmt session
//! (`rmt-tap:[user@]host:/path/vol%d.tap`).
//!
//! The remote is a plain file: the image's bytes are sent as rmt `W`
//! requests, read back with `R`, positioned with `L` (whose argument order
//! the session probes first, see [`Connection::probe_seek_order`]), each
//! `L` only when the server's file offset is not already there (sequential
//! reads and appends need none).
//!
//! - **Load**: the image is opened `O_RDWR|O_CREAT` (`O_RDONLY` if that is
//!   refused with EACCES or EROFS, or with `read-only`) and scanned once
//!   from the beginning over the wire, in 1 MiB reads.
//! - **Ending the data**: rmt has no truncate, so when old bytes remain
//!   after what is written (or at an erase) the same `W` carries an
//!   end-of-medium marker word (0xFFFFFFFF) after it: every SIMH reader
//!   stops there. Writing from the beginning of tape instead reopens the
//!   image with `O_TRUNC`, so a volume rewritten from BOT is a plain image
//!   again and every later write is an append (one `W`, no marker).
//! - **Durability**: rmt has no fsync; the data is the server's once its
//!   `W` is answered, and the image is closed (`C`) at unload.

use std::io::{self, Read, Seek, SeekFrom};

use super::scan::scan;
use super::simh::{Obj, EOM_MARKER};
use super::store::{Indexed, Loaded, Store};
use crate::media::rmt::conn::{whence, Connection};
use crate::media::rmt::Remote;

/// Bytes per `R` while scanning.
const SCAN_CHUNK: usize = 1 << 20;

/// An image file on another host, open in an rmt session.
#[derive(Debug)]
pub struct RmtStore {
    conn: Connection,
    path: String,
    name: String,
    readonly: bool,
    /// The file's length as far as this store knows.
    len: u64,
    /// The server's file offset, if known.
    off: Option<u64>,
}

impl RmtStore {
    /// Starts a session and opens the image `path` on `remote`'s host
    /// (created if missing).
    pub fn open(remote: &Remote, path: &str, read_only: bool) -> io::Result<RmtStore> {
        let mut remote = remote.clone();
        remote.path = path.to_owned();
        let mut conn = Connection::start(&remote)?;
        let mut readonly = read_only;
        if readonly {
            conn.open(path, "O_RDONLY")?;
        } else if let Err(err) = conn.open(path, "O_RDWR|O_CREAT") {
            if !matches!(err.raw_os_error(), Some(libc::EACCES) | Some(libc::EROFS)) {
                return Err(err);
            }
            conn.open(path, "O_RDONLY")?;
            readonly = true;
        }
        conn.probe_seek_order()?;
        let len = conn.seek(0, whence::END)?;
        Ok(RmtStore { conn, path: path.to_owned(), name: remote.display(), readonly, len, off: Some(len) })
    }

    /// The session.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn seek_to(&mut self, off: u64) -> io::Result<()> {
        if self.off != Some(off) {
            self.off = None;
            let o = i64::try_from(off).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            let got = self.conn.seek(o, whence::SET)?;
            if got != off {
                return Err(io::Error::other(format!("a seek to {off} landed at {got}")));
            }
            self.off = Some(off);
        }
        Ok(())
    }

    /// Starts the image afresh (`O_TRUNC`): what a cut at the beginning of
    /// tape is, since nothing needs to stay.
    fn restart(&mut self) -> io::Result<()> {
        self.off = None;
        self.conn.open(&self.path, "O_RDWR|O_CREAT|O_TRUNC")?;
        self.len = 0;
        self.off = Some(0);
        Ok(())
    }

    /// Writes `bytes` at `off`, followed by an end-of-medium marker if
    /// older bytes would remain after them.
    fn put(&mut self, off: u64, mut bytes: Vec<u8>) -> io::Result<()> {
        if off == 0 && self.len > 0 {
            self.restart()?;
        }
        if off + (bytes.len() as u64) < self.len {
            bytes.extend_from_slice(&EOM_MARKER.to_le_bytes());
        }
        self.seek_to(off)?;
        self.off = None;
        let n = self.conn.write(&bytes)?;
        if n != bytes.len() {
            return Err(io::Error::other(format!("short write: {n} of {} bytes", bytes.len())));
        }
        self.off = Some(off + n as u64);
        self.len = self.len.max(off + n as u64);
        Ok(())
    }
}

impl Store for RmtStore {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn readonly(&self) -> bool {
        self.readonly
    }

    fn load(&mut self) -> io::Result<Loaded> {
        let len = self.len;
        let at = self.off;
        let mut r = RemoteReader { conn: &mut self.conn, len, cur: 0, at, buf: Vec::new(), buf_off: 0 };
        let s = scan(&mut r, false);
        self.off = r.at;
        Ok(Loaded { scan: s?, how: Indexed::Scan })
    }

    fn read_at(&mut self, off: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let at = out.len();
        out.try_reserve(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
        out.resize(at + len, 0);
        let r = (|| {
            self.seek_to(off)?;
            let mut got = 0;
            while got < len {
                self.off = None;
                let n = self.conn.read(out.get_mut(at + got..at + len).unwrap_or_default())?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the image ends inside the object at offset {off}"),
                    ));
                }
                got += n;
                self.off = Some(off + got as u64);
            }
            Ok(())
        })();
        if r.is_err() {
            out.truncate(at);
        }
        r
    }

    fn write_end(&mut self, off: u64, parts: &[&[u8]]) -> io::Result<()> {
        let bytes = parts.concat();
        self.put(off, bytes).inspect_err(|_| self.len = self.len.max(off + 1))
    }

    fn cut(&mut self, off: u64) -> io::Result<()> {
        if off == 0 && self.len > 0 {
            self.restart()
        } else if off < self.len {
            self.put(off, Vec::new())
        } else {
            Ok(())
        }
    }

    fn sync(&mut self, _: &[Obj], _: u64) -> io::Result<()> {
        // No fsync in rmt: answered writes are the server's.
        self.conn.check()
    }

    fn close(&mut self) -> io::Result<()> {
        self.conn.check()?;
        self.conn.close(&self.path)
    }
}

/// Reads the remote file through the session, buffered, with seeks that
/// cost nothing until the next read: what the scanner reads the image with.
struct RemoteReader<'a> {
    conn: &'a mut Connection,
    len: u64,
    cur: u64,
    /// The server's file offset, if known.
    at: Option<u64>,
    buf: Vec<u8>,
    buf_off: u64,
}

impl Read for RemoteReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let in_buf = self.cur >= self.buf_off && self.cur < self.buf_off + self.buf.len() as u64;
        if !in_buf {
            if self.cur >= self.len {
                return Ok(0);
            }
            if self.at != Some(self.cur) {
                let off = i64::try_from(self.cur).map_err(io::Error::other)?;
                self.at = None;
                self.conn.seek(off, whence::SET)?;
            }
            self.buf.resize(SCAN_CHUNK, 0);
            self.at = None;
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

impl Seek for RemoteReader<'_> {
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
