//! A tape device as a medium: any st-compatible no-rewind node (`/dev/nst0`,
//! a pmt master such as `/dev/npmtm1`), or a tape drive on another host over
//! rmt; generic over [`StDevice`].
//!
//! What is mapped how:
//!
//! - **Records**: one write(2) per record, one read(2) per record into a
//!   buffer of the largest block ([`TapeOptions::max_block`], 16 MiB - 1 by
//!   default), never smaller (st fails a short buffer with ENOMEM and loses
//!   the record). A device that refuses so large a read (EINVAL, EOVERFLOW:
//!   nothing moved) makes the buffer halve, down to 64 KiB. The block size
//!   is set to variable (MTSETBLK 0) at mount.
//! - **Filemarks**: MTWEOF 1. A zero-length read is a filemark or the end of
//!   data: MTIOCGET's GMT_EOD tells them apart. Without MTIOCGET (rmt), st's
//!   own rule does: st returns 0 at the end of data only right after a
//!   filemark, and fails the read after that with EIO, so a zero read after
//!   a zero read is classified by one more read (EIO: the end of data; data
//!   or another zero: it was a filemark, and the device is spaced back).
//! - **End of data**: GMT_EOD; a read failing with EIO where MTIOCPOS shows
//!   no motion (a blank check not after a filemark); without MTIOCPOS, any
//!   read failing with EIO (a bad block on a remote drive reads as the end).
//! - **Early warning**: st's write that meets early warning returns its
//!   count; the next write returns ENOSPC having written nothing; the one
//!   after may proceed; they alternate until the physical end, where every
//!   write fails (ENOSPC, or EIO once st has seen VOLUME OVERFLOW). So once
//!   an ENOSPC was seen (or MTIOCGET shows GMT_EOT at mount, after a filemark
//!   or a motion), the medium is past early warning: `room().to_ew` is
//!   `Some(0)` and every write reports `Written { early_warning: true }`. A
//!   write that got ENOSPC is retried once; a second failure on the same
//!   record (ENOSPC, or EIO while the device is still online) is the physical
//!   end, [`MediumError::Overflow`], with nothing written. Before early
//!   warning the room is [`Room::UNKNOWN`]: a drive does not say how far it
//!   is, and the write that meets early warning is known only at the next.
//! - **Position**: the logical object address (records and marks from BOT)
//!   is tracked by the medium. With MTIOCPOS (the *exact* mode) motions that
//!   move an unknown amount (MTFSF, MTBSF, MTEOM, MTSEEK, a motion stopped
//!   by a mark) read the address back, so it always equals what MTIOCPOS
//!   says. Without it (rmt, drives without READ POSITION: the *counted*
//!   mode) the medium rewinds at mount and keeps a map of the objects seen
//!   from BOT; motions within the map use MTFSF/MTBSF/MTFSR/MTBSR by exact
//!   counts, motions beyond it read the tape forward (over rmt: the data
//!   crosses the wire). A motion that fails half way loses the position
//!   ([`MediumError::PositionLost`]) unless MTIOCPOS restores it; a rewind
//!   finds it again.
//! - **st's automatic filemark**: st writes a filemark before a rewind,
//!   unload, MTBSF or MTSEEK, and at close, when the last command was a
//!   write. The medium issues MTWEOF 0 first (a flush that writes nothing
//!   and ends st's writing state), so the tape holds exactly the objects
//!   written through the trait. [`Medium::sync`] is MTWEOF 0 too.
//! - **Erase**: MTERASE 0 (a short erase: the end of data at the position).
//! - **Write protection**: opened O_RDONLY (the open fell back) or GMT_WR_PROT:
//!   writes, marks and erase fail with [`MediumError::Protected`].
//! - **A device that goes away** (EIO, ENXIO, ENODEV from a write; a failed
//!   motion on a device that is no longer online; a dropped rmt connection):
//!   an [`MediumError::Io`] at once, never a retry loop.
//!
//! [`TapeVolumes`] hands out volumes: the first is the device as it is, the
//! next comes after MTOFFL (the drive's loader, or an operator, changes the
//! tape), waiting at most [`TapeOptions::load_timeout`] for a medium.

use std::io;
use std::path::Path;
use std::time::Instant;

use tracing::{debug, info, warn};

use super::spec::TapeOptions;
use super::stdev::{gmt, op, FdOpener, StDevice, StOpener};
use super::tape_nav::ObjMap;
use crate::medium::{Volumes, Medium, MediumError, Object, Room, Stop, Written};

/// The smallest read buffer the medium falls back to.
const MIN_BUFFER: usize = 64 * 1024;

/// The largest record (SIMH and SCSI variable blocks).
const MAX_RECORD: usize = (1 << 24) - 1;

/// A mounted tape on an st-compatible device.
#[derive(Debug)]
pub struct TapeMedium<D: StDevice> {
    pub(super) dev: D,
    name: String,
    readonly: bool,
    max_block: usize,
    buf: Vec<u8>,
    /// The logical object address.
    pub(super) pos: u64,
    /// Why the position is unknown, if it is.
    pub(super) lost: Option<String>,
    /// Past early warning (an ENOSPC seen, or GMT_EOT).
    pub(super) past_ew: bool,
    /// The end of data, where known.
    pub(super) eod: Option<u64>,
    /// The last device command was a record write: st would add a filemark.
    wrote: bool,
    /// MTIOCPOS works: motions read the address back.
    pub(super) exact: bool,
    /// MTIOCGET works.
    pub(super) has_status: bool,
    /// Counted mode: the objects seen from BOT.
    pub(super) map: ObjMap,
    /// st may be just past a filemark, where a zero read may be the end of data.
    pub(super) st_fm: bool,
    /// The device went away: why.
    gone: Option<(io::ErrorKind, String)>,
}

fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

impl<D: StDevice> TapeMedium<D> {
    /// Mounts the medium in `dev` where it stands: variable block mode, the
    /// position from MTIOCPOS (or a rewind where the device cannot tell it).
    pub fn mount(mut dev: D, opts: &TapeOptions) -> Result<TapeMedium<D>, MediumError> {
        let name = dev.name();
        if let Err(e) = dev.mtop(op::SETBLK, 0) {
            return Err(match errno(&e) {
                Some(libc::ENOTTY) => {
                    MediumError::Unsupported { medium: name, what: "not a tape device (MTIOCTOP refused)".into() }
                }
                Some(libc::EINVAL) => {
                    MediumError::Unsupported { medium: name, what: "the drive refuses variable block mode".into() }
                }
                _ => MediumError::io(name, e),
            });
        }
        let status = match dev.mtget() {
            Ok(s) => Some(s),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => None,
            Err(e) => return Err(MediumError::io(name, e)),
        };
        if let Some(s) = status {
            if !s.has(gmt::ONLINE) {
                return Err(MediumError::io(name, io::Error::from_raw_os_error(libc::ENOMEDIUM)));
            }
        }
        let readonly = dev.opened_readonly() || status.is_some_and(|s| s.has(gmt::WR_PROT));
        let (exact, pos) = match dev.mtpos() {
            Ok(p) => (true, p),
            Err(e) => {
                debug!("{name}: no MTIOCPOS ({e}): rewinding, positions counted from BOT");
                dev.mtop(op::REW, 1).map_err(|e| MediumError::io(&name, e))?;
                (false, 0)
            }
        };
        let max_block = opts.max_block.clamp(1, MAX_RECORD);
        let m = TapeMedium {
            dev,
            name,
            readonly,
            max_block,
            buf: Vec::new(),
            pos,
            lost: None,
            past_ew: status.is_some_and(|s| s.has(gmt::EOT)),
            eod: status.filter(|s| s.has(gmt::EOD)).map(|_| pos),
            wrote: false,
            exact,
            has_status: status.is_some(),
            map: ObjMap::default(),
            st_fm: false,
            gone: None,
        };
        info!(
            "{}: mounted at object {pos}{}{}",
            m.name,
            if m.readonly { ", write protected" } else { "" },
            if m.exact { "" } else { " (positions counted from BOT)" }
        );
        Ok(m)
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device, mutable (a volume sequence unloads through it).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// True if motions read the address back with MTIOCPOS.
    pub fn exact(&self) -> bool {
        self.exact
    }

    /// The size of the read buffer (learned down from the option).
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// An I/O error; if the device is gone with it (no longer online, the
    /// session broken), every later operation fails at once the same way.
    pub(super) fn err(&mut self, e: io::Error) -> MediumError {
        if self.gone.is_none() && !self.alive() {
            warn!("{}: the device is gone: {e}", self.name);
            self.gone = Some((e.kind(), e.to_string()));
        }
        MediumError::io(&self.name, e)
    }

    /// Fails if the device is gone.
    pub(super) fn check_gone(&self) -> Result<(), MediumError> {
        match &self.gone {
            Some((kind, why)) => Err(MediumError::io(&self.name, io::Error::new(*kind, why.clone()))),
            None => Ok(()),
        }
    }

    /// Records that the position is lost and says so.
    pub(super) fn lose(&mut self, why: String) -> MediumError {
        warn!("{}: position lost: {why}", self.name);
        self.lost = Some(why.clone());
        MediumError::PositionLost { medium: self.name.clone(), why }
    }

    /// Fails if the position is lost, unless MTIOCPOS can restore it.
    pub(super) fn check_pos(&mut self) -> Result<(), MediumError> {
        self.check_gone()?;
        let Some(why) = self.lost.clone() else {
            return Ok(());
        };
        if self.exact {
            if let Ok(p) = self.dev.mtpos() {
                debug!("{}: position {p} restored by MTIOCPOS", self.name);
                self.pos = p;
                self.lost = None;
                return Ok(());
            }
        }
        Err(MediumError::PositionLost { medium: self.name.clone(), why })
    }

    /// True if the device still has its medium online (or cannot say, and
    /// answered the last command).
    pub(super) fn alive(&mut self) -> bool {
        match self.dev.mtget() {
            Ok(s) => s.has(gmt::ONLINE),
            Err(e) => e.kind() == io::ErrorKind::Unsupported,
        }
    }

    /// Ends st's writing state without writing anything (MTWEOF 0), so st
    /// adds no filemark of its own before a motion or at close.
    pub(super) fn settle(&mut self) -> Result<(), MediumError> {
        if self.wrote {
            self.dev.mtop(op::WEOF, 0).map_err(|e| self.err(e))?;
            self.wrote = false;
        }
        Ok(())
    }

    /// After a motion: early warning as MTIOCGET says it.
    pub(super) fn refresh_ew(&mut self) {
        self.past_ew = self.has_status && self.dev.mtget().is_ok_and(|s| s.has(gmt::EOT));
    }

    /// A write or filemark failed for no reason the medium knows: whether
    /// it reached the tape is unknown, so is the position.
    fn write_failed(&mut self, e: io::Error) -> MediumError {
        self.lost = Some(format!("a write failed: {e}"));
        self.err(e)
    }

    fn protected(&self) -> MediumError {
        MediumError::Protected { medium: self.name.clone() }
    }

    /// A record or mark was written at the position.
    fn wrote_object(&mut self, mark: bool) {
        self.map.cut(self.pos, Some(mark));
        self.pos += 1;
        self.eod = Some(self.pos);
        self.st_fm = false;
    }

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

impl<D: StDevice> Drop for TapeMedium<D> {
    fn drop(&mut self) {
        if self.wrote {
            // Keep st from adding a filemark at close.
            let _ = self.dev.mtop(op::WEOF, 0);
        }
    }
}

impl<D: StDevice> Medium for TapeMedium<D> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn readonly(&self) -> bool {
        self.readonly
    }

    fn position(&self) -> u64 {
        self.pos
    }

    fn at_eod(&self) -> Option<bool> {
        self.eod.map(|e| e == self.pos)
    }

    fn room(&self) -> Room {
        if self.past_ew {
            Room { to_ew: Some(0), to_end: None }
        } else {
            Room::UNKNOWN
        }
    }

    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        if self.readonly {
            return Err(self.protected());
        }
        if data.is_empty() || data.len() > MAX_RECORD {
            return Err(MediumError::Unsupported {
                medium: self.name.clone(),
                what: format!("a record of {} bytes", data.len()),
            });
        }
        self.check_pos()?;
        let mut refused = false;
        loop {
            let r = self.dev.write(data);
            match r {
                Ok(n) if n == data.len() => {
                    self.wrote = true;
                    self.wrote_object(false);
                    return Ok(Written { early_warning: self.past_ew });
                }
                Ok(0) => {
                    // What dump treats as the end of tape: as ENOSPC.
                    if refused {
                        return Err(MediumError::Overflow { medium: self.name.clone() });
                    }
                    refused = true;
                    self.past_ew = true;
                }
                Ok(n) => {
                    self.wrote = true;
                    self.wrote_object(false);
                    return Err(self.err(io::Error::other(format!("short write: {n} of {} bytes", data.len()))));
                }
                Err(e) => match errno(&e) {
                    Some(libc::ENOSPC) if refused => {
                        return Err(MediumError::Overflow { medium: self.name.clone() });
                    }
                    Some(libc::ENOSPC) => {
                        // st's alternation: the write after early warning is
                        // refused, the next one proceeds.
                        debug!("{}: ENOSPC at {}: past early warning", self.name, self.pos);
                        refused = true;
                        self.past_ew = true;
                    }
                    Some(libc::EIO) if refused && self.alive() => {
                        return Err(MediumError::Overflow { medium: self.name.clone() });
                    }
                    Some(libc::EACCES) | Some(libc::EROFS) => {
                        self.readonly = true;
                        return Err(self.protected());
                    }
                    _ => return Err(self.write_failed(e)),
                },
            }
        }
    }

    fn write_mark(&mut self) -> Result<Written, MediumError> {
        if self.readonly {
            return Err(self.protected());
        }
        self.check_pos()?;
        let mut refused = false;
        loop {
            match self.dev.mtop(op::WEOF, 1) {
                Ok(()) => {
                    self.wrote = false;
                    self.wrote_object(true);
                    if self.has_status && !self.past_ew {
                        self.past_ew = self.dev.mtget().is_ok_and(|s| s.has(gmt::EOT));
                    }
                    return Ok(Written { early_warning: self.past_ew });
                }
                Err(e) => match errno(&e) {
                    Some(libc::ENOSPC) if !refused => {
                        refused = true;
                        self.past_ew = true;
                    }
                    Some(libc::ENOSPC) => return Err(MediumError::Overflow { medium: self.name.clone() }),
                    Some(libc::EIO) if self.past_ew && self.alive() => {
                        return Err(MediumError::Overflow { medium: self.name.clone() });
                    }
                    Some(libc::EACCES) | Some(libc::EROFS) => {
                        self.readonly = true;
                        return Err(self.protected());
                    }
                    _ => return Err(self.write_failed(e)),
                },
            }
        }
    }

    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        let o = self.next_object()?;
        if let Object::Record(n) = o {
            buf.extend_from_slice(&self.buf[..n.min(max)]);
        }
        Ok(o)
    }

    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        self.nav_space_records(n)
    }

    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        self.nav_space_marks(n)
    }

    fn space_eod(&mut self) -> Result<(), MediumError> {
        self.nav_space_eod()
    }

    fn rewind(&mut self) -> Result<(), MediumError> {
        self.check_gone()?;
        self.settle()?;
        self.dev.mtop(op::REW, 1).map_err(|e| self.err(e))?;
        self.pos = 0;
        self.lost = None;
        self.past_ew = false;
        self.st_fm = false;
        Ok(())
    }

    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        self.nav_locate(addr)
    }

    fn erase(&mut self) -> Result<(), MediumError> {
        if self.readonly {
            return Err(self.protected());
        }
        self.check_pos()?;
        self.settle()?;
        match self.dev.mtop(op::ERASE, 0) {
            Ok(()) => {
                self.map.cut(self.pos, None);
                self.eod = Some(self.pos);
                Ok(())
            }
            Err(e) if matches!(errno(&e), Some(libc::EACCES) | Some(libc::EROFS)) => Err(self.protected()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn sync(&mut self) -> Result<(), MediumError> {
        self.check_gone()?;
        self.settle()
    }
}

/// A local tape device node as a medium.
pub type TapeDevice = TapeMedium<super::stdev::FdDevice>;

impl TapeMedium<super::stdev::FdDevice> {
    /// Opens the node `path` (O_RDWR, O_RDONLY for a write-protected
    /// medium) and mounts the medium in it where it stands.
    pub fn open(path: &Path, opts: &TapeOptions) -> Result<TapeDevice, MediumError> {
        let dev = super::stdev::FdDevice::open(path, false).map_err(|e| MediumError::io(path.display(), e))?;
        TapeMedium::mount(dev, opts)
    }
}

/// Volumes of a tape device: the first is the medium in the device as it
/// is; unloading is MTOFFL, and the next volume is whatever medium the
/// device reports next (its loader's, or an operator's), waited for at most
/// [`TapeOptions::load_timeout`].
#[derive(Debug)]
pub struct TapeVolumes<O: StOpener> {
    opener: O,
    opts: TapeOptions,
    loaded: usize,
}

impl TapeVolumes<FdOpener> {
    /// The volume sequence of a device node.
    pub fn device(path: &Path, opts: TapeOptions) -> TapeVolumes<FdOpener> {
        TapeVolumes::new(FdOpener { path: path.to_owned() }, opts)
    }
}

impl<O: StOpener> TapeVolumes<O> {
    /// A volume sequence over any way of opening the device.
    pub fn new(opener: O, opts: TapeOptions) -> TapeVolumes<O> {
        TapeVolumes { opener, opts, loaded: 0 }
    }

    /// One attempt to open the device with a medium: Ok(Err(why)) if there
    /// is none yet.
    fn try_open(&mut self) -> Result<Result<TapeMedium<O::Device>, io::Error>, MediumError> {
        let name = self.opener.name();
        let not_ready = |e: &io::Error| {
            matches!(
                errno(e),
                Some(libc::ENOMEDIUM) | Some(libc::EIO) | Some(libc::EBUSY) | Some(libc::EAGAIN)
            )
        };
        // Ask first without waiting (O_NONBLOCK), so the bound is ours.
        match self.opener.open(true) {
            Ok(mut probe) => match probe.mtget() {
                Ok(s) if !s.has(gmt::ONLINE) => return Ok(Err(io::Error::from_raw_os_error(libc::ENOMEDIUM))),
                _ => drop(probe),
            },
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
            Err(e) if not_ready(&e) => return Ok(Err(e)),
            Err(e) => return Err(MediumError::io(name, e)),
        }
        let dev = match self.opener.open(false) {
            Ok(d) => d,
            Err(e) if not_ready(&e) => return Ok(Err(e)),
            Err(e) => return Err(MediumError::io(name, e)),
        };
        match TapeMedium::mount(dev, &self.opts) {
            Ok(m) => Ok(Ok(m)),
            Err(MediumError::Io { cause, .. }) if errno(&cause) == Some(libc::ENOMEDIUM) => Ok(Err(cause)),
            Err(e) => Err(e),
        }
    }

    /// Opens the device once a medium is there, waiting at most the load
    /// timeout.
    fn wait_for_medium(&mut self) -> Result<TapeMedium<O::Device>, MediumError> {
        let deadline = Instant::now() + self.opts.load_timeout;
        loop {
            let why = match self.try_open()? {
                Ok(m) => return Ok(m),
                Err(why) => why,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(MediumError::io(
                    self.opener.name(),
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no medium within {:?} (last: {why})", self.opts.load_timeout),
                    ),
                ));
            }
            std::thread::sleep(self.opts.poll.min(deadline - now));
        }
    }
}

impl<O: StOpener> Volumes for TapeVolumes<O> {
    type Medium = TapeMedium<O::Device>;

    fn load_next(&mut self) -> Result<Option<Self::Medium>, MediumError> {
        let m = self.wait_for_medium()?;
        self.loaded += 1;
        info!("{}: volume {} loaded", m.name, self.loaded);
        Ok(Some(m))
    }

    fn unload(&mut self, mut medium: Self::Medium) -> Result<(), MediumError> {
        medium.sync()?;
        medium.dev.mtop(op::OFFL, 1).map_err(|e| medium.err(e))?;
        info!("{}: volume {} unloaded", medium.name, self.loaded);
        Ok(())
    }

    fn has_next(&self) -> bool {
        // The drive's loader (or an operator) decides; the wait tells.
        true
    }

    fn volume(&self) -> Option<usize> {
        (self.loaded > 0).then_some(self.loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_what_is_not_a_tape_says_so_once() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let e = TapeDevice::open(&plain, &TapeOptions::default()).unwrap_err().to_string();
        assert_eq!(e, format!("{}: not a tape device (MTIOCTOP refused)", plain.display()));
        let missing = dir.path().join("nst9");
        let e = TapeDevice::open(&missing, &TapeOptions::default()).unwrap_err().to_string();
        assert_eq!(e, format!("{}: No such file or directory (os error 2)", missing.display()));
    }
}
