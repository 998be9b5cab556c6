//! Reading objects from a device: one read(2) per record into a buffer of
//! the largest block, and what a zero read or an EIO means (module doc of
//! [`super`]).

use std::io;

use pmt::abi::linux::{gmt, op};

use tracing::{debug, warn};

use super::medium::{errno, DeviceMedium, MIN_BUFFER};
use super::StDevice;
use crate::media::{MediumError, Object};

impl<D: StDevice> DeviceMedium<D> {
    /// Reads the next object into the internal buffer: the object and, for
    /// a record, its length there.
    pub(super) fn next_object(&mut self) -> Result<Object, MediumError> {
        self.check_pos()?;
        if self.eod == Some(self.pos) {
            return Ok(Object::Eod);
        }
        if self.wrote {
            self.settle()?;
        }
        loop {
            if self.buf.len() != self.max_block {
                self.buf = vec![0u8; self.max_block];
            }
            match self.dev.read(&mut self.buf) {
                Ok(0) => return self.zero_read(),
                Ok(n) => {
                    self.map.learn(self.pos, false);
                    self.pos += 1;
                    self.st_fm = false;
                    return Ok(Object::Record(n));
                }
                Err(e) if matches!(errno(&e), Some(libc::EINVAL) | Some(libc::EOVERFLOW)) && self.max_block > MIN_BUFFER => {
                    // Refused before any motion: learn a smaller buffer.
                    self.max_block = (self.max_block / 2).max(MIN_BUFFER);
                    debug!("{}: read of a large block refused ({e}); buffer now {}", self.name, self.max_block);
                }
                Err(e) if errno(&e) == Some(libc::ENOMEM) => {
                    // A record larger than the buffer: st consumed it.
                    self.map.learn(self.pos, false);
                    self.pos += 1;
                    self.st_fm = false;
                    warn!("{}: a record larger than {} bytes at {}", self.name, self.max_block, self.pos - 1);
                    return Ok(Object::Bad);
                }
                Err(e) if errno(&e) == Some(libc::EIO) => return self.eio_read(e),
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    /// A zero-length read: a filemark, or the end of data.
    fn zero_read(&mut self) -> Result<Object, MediumError> {
        if self.has_status {
            let s = self.dev.mtget().map_err(|e| self.err(e))?;
            if s.has(gmt::EOD) {
                self.eod = Some(self.pos);
                return Ok(Object::Eod);
            }
            self.map.learn(self.pos, true);
            self.pos += 1;
            self.st_fm = true;
            return Ok(Object::Mark);
        }
        if let Some(mark) = self.map.is_mark(self.pos) {
            if !mark {
                warn!("{}: a filemark at {} where a record was seen before", self.name, self.pos);
            }
            self.pos += 1;
            self.st_fm = true;
            return Ok(Object::Mark);
        }
        if !self.st_fm {
            // st reports the end of data by a zero read only right after a
            // filemark: this is a filemark.
            self.map.learn(self.pos, true);
            self.pos += 1;
            self.st_fm = true;
            return Ok(Object::Mark);
        }
        self.classify_zero()
    }

    /// A zero read right after a filemark: read on to tell a filemark from
    /// the end of data, then space the device back (module doc).
    fn classify_zero(&mut self) -> Result<Object, MediumError> {
        let p = self.pos;
        let mut zeros: u64 = 1;
        loop {
            match self.dev.read(&mut self.buf) {
                Ok(0) => {
                    zeros += 1;
                    if zeros > 1 << 20 {
                        return Err(self.lose("more than a million filemarks in a row".into()));
                    }
                }
                Ok(_) => {
                    // Filemarks at p..p+zeros, a record after them; the
                    // device is past the record. Back to p + 1.
                    for i in 0..zeros {
                        self.map.learn(p + i, true);
                    }
                    self.map.learn(p + zeros, false);
                    self.dev.mtop(op::BSR, 1).map_err(|e| self.lose(format!("spacing back over a read-ahead record: {e}")))?;
                    if zeros > 1 {
                        self.back_marks(zeros - 1)?;
                    }
                    break;
                }
                Err(e) if errno(&e) == Some(libc::EIO) => {
                    // The last zero was the end of data.
                    if zeros == 1 {
                        self.eod = Some(p);
                        return Ok(Object::Eod);
                    }
                    for i in 0..zeros - 1 {
                        self.map.learn(p + i, true);
                    }
                    self.eod = Some(p + zeros - 1);
                    if zeros > 2 {
                        self.back_marks(zeros - 2)?;
                    }
                    break;
                }
                Err(e) => return Err(self.lose(format!("reading ahead after a filemark: {e}"))),
            }
        }
        self.pos = p + 1;
        self.st_fm = true;
        Ok(Object::Mark)
    }

    fn back_marks(&mut self, n: u64) -> Result<(), MediumError> {
        let c = i32::try_from(n).map_err(|_| self.lose("too many filemarks to space back".into()))?;
        self.dev.mtop(op::BSF, c).map_err(|e| self.lose(format!("spacing back over read-ahead filemarks: {e}")))
    }

    /// A read failed with EIO: the end of data, a bad record, or the device
    /// is gone.
    fn eio_read(&mut self, e: io::Error) -> Result<Object, MediumError> {
        if !self.alive() {
            return Err(self.err(e));
        }
        if !self.exact {
            self.eod = Some(self.pos);
            return Ok(Object::Eod);
        }
        match self.dev.mtpos() {
            Ok(t) if t == self.pos => {
                self.eod = Some(self.pos);
                Ok(Object::Eod)
            }
            Ok(t) => {
                debug!("{}: a bad record at {}, now at {t}", self.name, self.pos);
                self.pos = t;
                self.st_fm = false;
                Ok(Object::Bad)
            }
            Err(e2) => Err(self.lose(format!("read failed ({e}) and MTIOCPOS too ({e2})"))),
        }
    }
}
