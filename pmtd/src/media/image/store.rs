//! Where the bytes of an image live: a small trait with two
//! implementations, a local file ([`super::file::FileStore`], with its
//! `.pmtidx` index) and a file on another host over rmt
//! ([`super::remote::RmtStore`]). The image medium above keeps the index,
//! the position and the capacity; a store only reads, writes and ends the
//! bytes at offsets it is given.

use std::fmt;
use std::io;

use super::scan::Scan;
use super::simh::Obj;

/// How a loaded image was indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexed {
    /// From its sidecar index, plus `scanned` objects found after it.
    Sidecar {
        /// Objects found by scanning past the sidecar's end.
        scanned: usize,
    },
    /// By a scan of the whole image.
    Scan,
}

/// What loading an image found: the scan (objects, problems, lengths) and
/// how it was indexed.
#[derive(Debug)]
pub struct Loaded {
    /// The objects, the end of data and the problems that ended it.
    pub scan: Scan,
    /// Whether an index saved beside the image was used.
    pub how: Indexed,
}

/// The bytes of an image.
pub trait Store: fmt::Debug + Send {
    /// A short name for logs and errors (a path, `host:path`).
    fn name(&self) -> String;

    /// True if the image cannot be written.
    fn readonly(&self) -> bool;

    /// Finds the objects of the image from its beginning, stopping at the
    /// first damaged one (an index saved beside it may spare the scan).
    fn load(&mut self) -> io::Result<Loaded>;

    /// Appends exactly `len` bytes from offset `off` to `out`.
    fn read_at(&mut self, off: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()>;

    /// Fills `dst` with the bytes from offset `off`. The default reads
    /// them with [`Store::read_at`] and copies them.
    fn read_into(&mut self, off: u64, dst: &mut [u8]) -> io::Result<()> {
        let mut v = Vec::new();
        self.read_at(off, dst.len(), &mut v)?;
        dst.copy_from_slice(&v);
        Ok(())
    }

    /// Writes `parts`, one after the other, at offset `off`, and ends the
    /// image after them: whatever followed `off` is gone. On an error
    /// nothing of them counts as written.
    fn write_end(&mut self, off: u64, parts: &[&[u8]]) -> io::Result<()>;

    /// Ends the image at offset `off` (an erase there).
    fn cut(&mut self, off: u64) -> io::Result<()>;

    /// Makes everything written so far durable; `objs` (ending at `end`)
    /// is the image's index, for a store that keeps it beside the image.
    fn sync(&mut self, objs: &[Obj], end: u64) -> io::Result<()>;

    /// Closes the image at unload, after [`Store::sync`].
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}
