//! A tape device as a medium: any st-compatible no-rewind node (`/dev/nst0`,
//! a pmt master such as `/dev/npmtm1`), or a tape drive on another host over
//! rmt; generic over [`StDevice`]: the node itself ([`fd::FdDevice`]), an rmt
//! session ([`rmt::RmtDevice`]), or the tests' simulated master.
//!
//! What is mapped how:
//!
//! - **Records**: one write(2) per record, one read(2) per record into a
//!   buffer of the largest block ([`DeviceOptions::max_block`], 16 MiB - 1 by
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
//!   end, [`crate::media::MediumError::Overflow`], with nothing written. Before early
//!   warning the room is [`crate::media::Room::UNKNOWN`]: a drive does not say how far it
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
//!   ([`crate::media::MediumError::PositionLost`]) unless MTIOCPOS restores it; a rewind
//!   finds it again.
//! - **st's automatic filemark**: st writes a filemark before a rewind,
//!   unload, MTBSF or MTSEEK, and at close, when the last command was a
//!   write. The medium issues MTWEOF 0 first (a flush that writes nothing
//!   and ends st's writing state), so the tape holds exactly the objects
//!   written through the trait. [`crate::media::Medium::sync`] is MTWEOF 0 too.
//! - **Erase**: MTERASE 0 (a short erase: the end of data at the position).
//! - **Write protection**: opened O_RDONLY (the open fell back) or GMT_WR_PROT:
//!   writes, marks and erase fail with [`crate::media::MediumError::Protected`].
//! - **A device that goes away** (EIO, ENXIO, ENODEV from a write; a failed
//!   motion on a device that is no longer online; a dropped rmt connection):
//!   an [`crate::media::MediumError::Io`] at once, never a retry loop.
//!
//! [`DeviceVolumes`] hands out volumes: the first is the device as it is, the
//! next comes after MTOFFL (the drive's loader, or an operator, changes the
//! tape), waiting at most [`DeviceOptions::load_timeout`] for a medium.
//!
//! Errors of a device are `io::Error`s carrying the device's errno
//! (`raw_os_error`), so ENOSPC, EIO, EACCES... keep their meaning whatever
//! the transport. Operation numbers and status bits are Linux's, from the
//! core ([`pmt::abi::linux`]): rmt servers take them too.

pub mod fd;
pub mod medium;
mod nav;
mod read;
pub mod rmt;
pub mod volumes;

use std::fmt;
use std::io;
use std::time::Duration;

pub use fd::{FdDevice, FdOpener};
pub use medium::{DeviceMedium, FdMedium};
pub use rmt::{RmtDevice, RmtDriveVolumes, RmtOpener};
pub use volumes::DeviceVolumes;

/// The largest record a tape medium reads by default: 16 MiB - 1, the
/// largest a SCSI variable-block transfer (and a SIMH record) can be.
pub const MAX_BLOCK: usize = pmt::proto::MAX_RECORD as usize;

/// What unloading a tape device's volume does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unload {
    /// MTOFFL: the drive ejects the tape and its loader (or an operator)
    /// puts the next one in.
    #[default]
    Offline,
    /// MTREW: the tape stays in the drive, rewound, for a library's robot
    /// to take (`unload=rewind`: a drive of a library pmtd drives itself).
    /// There is no next volume: the robot changes tapes.
    Rewind,
}

/// The early-warning zone assumed of a tape drive that does not say (1 MiB):
/// smaller than any real drive's (tens of megabytes) and what a pmt master
/// is commonly given; at most half of it is in flight.
pub const DEFAULT_EW_ZONE: u64 = 1 << 20;

/// Settings of a tape device medium, local or remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceOptions {
    /// Size of the read buffer: the largest record that can be read. A
    /// device that refuses a read this large (EINVAL, EOVERFLOW) makes the
    /// medium halve it, down to 64 KiB.
    pub max_block: usize,
    /// How long to wait for the next medium after an unload.
    pub load_timeout: Duration,
    /// The early-warning zone the drive is assumed to have, in bytes: a
    /// drive does not say how far early warning is, so the data written
    /// behind and not yet answered is kept to half of this (the other half
    /// is for what the program writes after early warning: the record it
    /// retries, trailers, filemarks). [`DEFAULT_EW_ZONE`] unless the spec
    /// says (`early-warning=SIZE`).
    pub early_warning: u64,
    /// How often to look for it meanwhile.
    pub poll: Duration,
    /// What unloading a volume does.
    pub unload: Unload,
}

impl Default for DeviceOptions {
    fn default() -> DeviceOptions {
        DeviceOptions {
            max_block: MAX_BLOCK,
            load_timeout: Duration::from_secs(300),
            poll: Duration::from_millis(500),
            early_warning: DEFAULT_EW_ZONE,
            unload: Unload::Offline,
        }
    }
}

/// What MTIOCGET says, decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MtStatus {
    /// `mt_gstat` ([`pmt::abi::linux::gmt`] bits).
    pub gstat: u32,
    /// `mt_fileno` (-1: unknown).
    pub fileno: i32,
    /// `mt_blkno` (-1: unknown).
    pub blkno: i32,
    /// `mt_dsreg`: block size and density.
    pub dsreg: i64,
}

impl MtStatus {
    /// True if all of `bits` are set.
    pub fn has(&self, bits: u32) -> bool {
        self.gstat & bits == bits
    }
}

/// An st-compatible tape device.
pub trait StDevice: fmt::Debug + Send {
    /// The device's name for logs and errors.
    fn name(&self) -> String;
    /// True if it was opened read only (the medium is write protected).
    fn opened_readonly(&self) -> bool;
    /// One write(2): one record.
    fn write(&mut self, data: &[u8]) -> io::Result<usize>;
    /// One read(2): one record (or 0 at a filemark or the end of data).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// MTIOCTOP with Linux operation numbers ([`pmt::abi::linux::op`]).
    fn mtop(&mut self, op: i16, count: i32) -> io::Result<()>;
    /// MTIOCGET. `ErrorKind::Unsupported` if the device cannot tell.
    fn mtget(&mut self) -> io::Result<MtStatus>;
    /// MTIOCPOS: the logical object address. `ErrorKind::Unsupported` if
    /// the device cannot tell.
    fn mtpos(&mut self) -> io::Result<u64>;
}

/// Opens a device: how a volume sequence gets its volumes.
pub trait StOpener: fmt::Debug + Send {
    /// The device type.
    type Device: StDevice;
    /// Opens it; with `probe`, without waiting for a medium (O_NONBLOCK),
    /// only to ask whether one is there.
    fn open(&mut self, probe: bool) -> io::Result<Self::Device>;
    /// The device's name.
    fn name(&self) -> String;
}
