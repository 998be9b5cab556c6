//! A mounted tape on an st-compatible device: the state the medium keeps
//! (position, early warning, end of data, the map of a counted tape) and
//! the writes, marks and erase; reading is in `read.rs`, motions in
//! `nav.rs`.

use std::io;
use std::path::Path;

use pmt::abi::linux::{gmt, op};
use tracing::{debug, info, warn};

use super::fd::FdDevice;
use super::nav::ObjMap;
use super::{DeviceOptions, StDevice, MAX_BLOCK};
use crate::media::{Medium, MediumError, Object, Room, Stop, Written};

/// The smallest read buffer the medium falls back to.
pub(super) const MIN_BUFFER: usize = 64 * 1024;

/// A mounted tape on an st-compatible device.
#[derive(Debug)]
pub struct DeviceMedium<D: StDevice> {
    pub(super) dev: D,
    pub(super) name: String,
    readonly: bool,
    pub(super) max_block: usize,
    /// The early-warning zone assumed ([`DeviceOptions::early_warning`]).
    ew_zone: u64,
    pub(super) buf: Vec<u8>,
    /// The logical object address.
    pub(super) pos: u64,
    /// Why the position is unknown, if it is.
    pub(super) lost: Option<String>,
    /// Past early warning (an ENOSPC seen, or GMT_EOT).
    pub(super) past_ew: bool,
    /// The end of data, where known.
    pub(super) eod: Option<u64>,
    /// The last device command was a record write: st would add a filemark.
    pub(super) wrote: bool,
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

pub(super) fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

impl<D: StDevice> DeviceMedium<D> {
    /// Mounts the medium in `dev` where it stands: variable block mode, the
    /// position from MTIOCPOS (or a rewind where the device cannot tell it).
    pub fn mount(mut dev: D, opts: &DeviceOptions) -> Result<DeviceMedium<D>, MediumError> {
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
        let max_block = opts.max_block.clamp(1, MAX_BLOCK);
        let m = DeviceMedium {
            dev,
            name,
            readonly,
            max_block,
            ew_zone: opts.early_warning,
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

}

impl<D: StDevice> Drop for DeviceMedium<D> {
    fn drop(&mut self) {
        if self.wrote {
            // Keep st from adding a filemark at close.
            let _ = self.dev.mtop(op::WEOF, 0);
        }
    }
}

impl<D: StDevice> Medium for DeviceMedium<D> {
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

    fn in_flight_limit(&self) -> Option<u64> {
        (!self.past_ew).then_some(self.ew_zone / 2)
    }

    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        if self.readonly {
            return Err(self.protected());
        }
        if data.is_empty() || data.len() > MAX_BLOCK {
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
pub type FdMedium = DeviceMedium<FdDevice>;

impl DeviceMedium<FdDevice> {
    /// Opens the node `path` (O_RDWR, O_RDONLY for a write-protected
    /// medium) and mounts the medium in it where it stands.
    pub fn open(path: &Path, opts: &DeviceOptions) -> Result<FdMedium, MediumError> {
        let dev = FdDevice::open(path, false).map_err(|e| MediumError::io(path.display(), e))?;
        DeviceMedium::mount(dev, opts)
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
        let e = FdMedium::open(&plain, &DeviceOptions::default()).unwrap_err().to_string();
        assert_eq!(e, format!("{}: not a tape device (MTIOCTOP refused)", plain.display()));
        let missing = dir.path().join("nst9");
        let e = FdMedium::open(&missing, &DeviceOptions::default()).unwrap_err().to_string();
        assert_eq!(e, format!("{}: No such file or directory (os error 2)", missing.display()));
    }
}
