//! The tape pair's frames: drive requests and the drive's replies
//! (`struct pmt_req`, `struct pmt_rep`, `struct pmt_status`).

use core::mem::{offset_of, size_of};
use static_assertions::const_assert_eq;

use super::{get, Hdr, Put, VERSION};

/// The tape pair's frames (the channel's frame kind; the reply boundary
/// says what its replies may carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tape;

/// Size of [`Req`] on the wire.
pub const REQ_SIZE: usize = 48;
/// Size of [`Status`] on the wire.
pub const STATUS_SIZE: usize = 40;
/// Size of [`Rep`] on the wire.
pub const REP_SIZE: usize = 72;
/// Medium bytes charged per record or filemark beyond its payload, at most.
pub const RECORD_COST: u64 = 64;
/// `ds_room` value meaning "no early warning ahead".
pub const ROOM_UNLIMITED: u64 = u64::MAX;

/// A drive operation (`h_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Op {
    /// A master open: test unit ready and mode sense.
    Open = 1,
    /// The master closed: make the data durable.
    Close = 2,
    /// Write one record, or `count` fixed blocks.
    Write = 3,
    /// Read one record, or `count` fixed blocks.
    Read = 4,
    /// Write `count` filemarks (setmarks with [`ReqFlags::SETMARK`]).
    Wfm = 5,
    /// Space `count` units of the kind in `arg` ([`Space`]).
    Space = 6,
    /// Rewind to the beginning of the partition.
    Rewind = 7,
    /// Load ([`ReqFlags::LOAD`]) or unload the medium.
    Load = 8,
    /// Erase from the position to the end of the medium.
    Erase = 9,
    /// Locate to the logical object address in `arg`.
    Locate = 10,
    /// Report the logical object address.
    ReadPos = 11,
    /// Mode select: block size, density, buffered mode, compression.
    Mode = 12,
    /// Report the drive status only.
    Status = 13,
    /// Prevent (`count` 1) or allow (0) medium removal.
    Lock = 14,
    /// Read ahead: whole records from the position, stopping before anything
    /// else (see include/pmt_proto.h).
    ReadRun = 15,
    /// A SCSI command that does not move the medium: the payload is its
    /// command descriptor block, `length` its allocation length.
    Scsi = 16,
}

impl Op {
    /// Decodes a wire value.
    pub const fn from_u16(v: u16) -> Option<Op> {
        Some(match v {
            1 => Op::Open,
            2 => Op::Close,
            3 => Op::Write,
            4 => Op::Read,
            5 => Op::Wfm,
            6 => Op::Space,
            7 => Op::Rewind,
            8 => Op::Load,
            9 => Op::Erase,
            10 => Op::Locate,
            11 => Op::ReadPos,
            12 => Op::Mode,
            13 => Op::Status,
            14 => Op::Lock,
            15 => Op::ReadRun,
            16 => Op::Scsi,
            _ => return None,
        })
    }
}

bitflags::bitflags! {
    /// Request flags (`rq_flags`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct ReqFlags: u32 {
        /// Fixed-block transfer: `count` blocks of the current block size.
        const FIXED = 0x0000_0001;
        /// Suppress the incorrect-length indication.
        const SILI = 0x0000_0002;
        /// Report completion before the motion ends.
        const IMMED = 0x0000_0004;
        /// WFM writes setmarks.
        const SETMARK = 0x0000_0008;
        /// ERASE: long erase.
        const LONG = 0x0000_0010;
        /// LOAD: load (otherwise unload).
        const LOAD = 0x0000_0020;
        /// LOAD: retension.
        const RETEN = 0x0000_0040;
        /// WRITE: the program was told of the end of the volume (ENOSPC)
        /// and writes again (the one write st lets through after ENOSPC). A
        /// drive may refuse it whole, as at its physical end, keeping its
        /// early-warning zone for what was in flight and the closing marks.
        const AFTER_ENOSPC = 0x0000_0080;
        /// MODE: set the block size from `length`.
        const SET_BLKSIZE = 0x0000_0100;
        /// MODE: set the density from `arg`.
        const SET_DENSITY = 0x0000_0200;
        /// MODE: set the buffered mode from `arg2`.
        const SET_DRVBUF = 0x0000_0400;
        /// MODE: set compression from `count`.
        const SET_COMPRESS = 0x0000_0800;
        /// OPEN: opened for reading.
        const OPEN_READ = 0x0001_0000;
        /// OPEN: opened for writing.
        const OPEN_WRITE = 0x0002_0000;
        /// OPEN: O_NONBLOCK.
        const OPEN_NONBLOCK = 0x0004_0000;
        /// OPEN: the no-rewind node.
        const OPEN_NOREWIND = 0x0008_0000;
        /// WRITE, READRUN: the payload is in the data area at offset `arg`
        /// (`length` bytes): the daemon reads the write's data there, or
        /// puts what it reads there and says how much in `dlen`.
        const AREA = 0x0010_0000;
    }
}

/// SPACE kinds (`rq_arg`), the SCSI SPACE codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Space {
    /// Logical blocks (records).
    Blocks = 0,
    /// Filemarks.
    Filemarks = 1,
    /// End of data.
    Eod = 3,
    /// Setmarks.
    Setmarks = 4,
}

impl Space {
    /// Decodes a wire value.
    pub const fn from_u64(v: u64) -> Option<Space> {
        Some(match v {
            0 => Space::Blocks,
            1 => Space::Filemarks,
            3 => Space::Eod,
            4 => Space::Setmarks,
            _ => return None,
        })
    }
}

/// SCSI sense keys (`rp_sense`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum SenseKey {
    /// No sense; with no flag the command succeeded.
    #[default]
    NoSense = 0x0,
    /// Recovered error.
    Recovered = 0x1,
    /// Not ready (no medium, or becoming ready).
    NotReady = 0x2,
    /// Medium error.
    MediumError = 0x3,
    /// Hardware error.
    HardwareError = 0x4,
    /// Illegal request.
    IllegalRequest = 0x5,
    /// Unit attention (new medium).
    UnitAttention = 0x6,
    /// Data protect (write protected).
    DataProtect = 0x7,
    /// Blank check (end of data).
    BlankCheck = 0x8,
    /// Aborted command.
    Aborted = 0xb,
    /// Volume overflow (physical end of medium).
    VolumeOverflow = 0xd,
}

impl SenseKey {
    /// Decodes a wire value.
    pub const fn from_u8(v: u8) -> Option<SenseKey> {
        Some(match v {
            0x0 => SenseKey::NoSense,
            0x1 => SenseKey::Recovered,
            0x2 => SenseKey::NotReady,
            0x3 => SenseKey::MediumError,
            0x4 => SenseKey::HardwareError,
            0x5 => SenseKey::IllegalRequest,
            0x6 => SenseKey::UnitAttention,
            0x7 => SenseKey::DataProtect,
            0x8 => SenseKey::BlankCheck,
            0xb => SenseKey::Aborted,
            0xd => SenseKey::VolumeOverflow,
            _ => return None,
        })
    }
}

bitflags::bitflags! {
    /// Sense flags (`rp_sflags`), at their SCSI bit positions.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct SenseFlags: u8 {
        /// A filemark was crossed.
        const FMK = 0x80;
        /// Early warning, end of medium, or beginning of partition.
        const EOM = 0x40;
        /// Incorrect length.
        const ILI = 0x20;
    }
}

/// Additional sense codes used on the wire.
pub mod asc {
    /// No additional code (ASCQ 01 filemark, 02 EOM, 04 BOP, 05 EOD).
    pub const NONE: u8 = 0x00;
    /// Logical unit not ready.
    pub const NOT_READY: u8 = 0x04;
    /// Write error.
    pub const WRITE_ERROR: u8 = 0x0c;
    /// Unrecovered read error.
    pub const READ_ERROR: u8 = 0x11;
    /// Invalid field in the command.
    pub const INVALID_FIELD: u8 = 0x24;
    /// Write protected.
    pub const WRITE_PROTECTED: u8 = 0x27;
    /// Medium may have changed.
    pub const MEDIUM_CHANGED: u8 = 0x28;
    /// Positioning error.
    pub const POSITION_ERROR: u8 = 0x3b;
    /// Medium not present.
    pub const NO_MEDIUM: u8 = 0x3a;
    /// ASCQ with [`NONE`]: filemark detected.
    pub const Q_FILEMARK: u8 = 0x01;
    /// ASCQ with [`NONE`]: end of medium / early warning.
    pub const Q_EOM: u8 = 0x02;
    /// ASCQ with [`NONE`]: beginning of partition.
    pub const Q_BOP: u8 = 0x04;
    /// ASCQ with [`NONE`]: end of data.
    pub const Q_EOD: u8 = 0x05;
}

bitflags::bitflags! {
    /// Drive status flags (`ds_flags`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct DriveFlags: u32 {
        /// A medium is loaded and ready.
        const READY = 0x0000_0001;
        /// The medium is write protected.
        const WRPROT = 0x0000_0002;
        /// At the beginning of the partition.
        const BOP = 0x0000_0004;
        /// At the end of recorded data.
        const EOD = 0x0000_0008;
        /// Between early warning and the end of medium.
        const EW = 0x0000_0010;
        /// Compression is on.
        const COMPRESS = 0x0000_0020;
        /// Medium removal is prevented.
        const LOCKED = 0x0000_0040;
        /// The drive asks for cleaning.
        const CLEAN = 0x0000_0080;
    }
}

/// `struct pmt_req`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Req {
    /// Frame header.
    pub hdr: Hdr,
    /// [`ReqFlags`] bits.
    pub flags: u32,
    /// Signed count: blocks, filemarks; MODE: compression.
    pub count: i32,
    /// Bytes to transfer; MODE: block size.
    pub length: u64,
    /// SPACE kind; LOCATE address; MODE density; OPEN unit.
    pub arg: u64,
    /// MODE: buffered mode.
    pub arg2: u32,
    /// Zero.
    pub spare: u32,
}

/// `struct pmt_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Status {
    /// [`DriveFlags`] bits.
    pub flags: u32,
    /// Block size, 0 = variable.
    pub blksize: u32,
    /// Smallest block accepted.
    pub minblk: u32,
    /// Largest block accepted.
    pub maxblk: u32,
    /// Density code.
    pub density: u8,
    /// Buffered mode.
    pub drvbuf: u8,
    /// Zero.
    pub spare0: u16,
    /// Zero.
    pub spare1: u32,
    /// Logical object address: records and marks from the beginning.
    pub position: u64,
    /// Medium bytes before early warning (see [`RECORD_COST`]).
    pub room: u64,
}

/// `struct pmt_rep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Rep {
    /// Frame header.
    pub hdr: Hdr,
    /// [`SenseKey`] as a wire value.
    pub sense: u8,
    /// [`SenseFlags`] bits.
    pub sflags: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
    /// Data bytes the daemon put in the data area (a request with
    /// [`ReqFlags::AREA`]); zero otherwise.
    pub dlen: u32,
    /// SCSI INFORMATION: requested minus actual.
    pub resid: i64,
    /// Drive status after the command.
    pub status: Status,
}

const_assert_eq!(size_of::<Req>(), REQ_SIZE);
const_assert_eq!(offset_of!(Req, hdr), 0);
const_assert_eq!(offset_of!(Req, flags), 16);
const_assert_eq!(offset_of!(Req, count), 20);
const_assert_eq!(offset_of!(Req, length), 24);
const_assert_eq!(offset_of!(Req, arg), 32);
const_assert_eq!(offset_of!(Req, arg2), 40);
const_assert_eq!(offset_of!(Req, spare), 44);

const_assert_eq!(size_of::<Status>(), STATUS_SIZE);
const_assert_eq!(offset_of!(Status, flags), 0);
const_assert_eq!(offset_of!(Status, blksize), 4);
const_assert_eq!(offset_of!(Status, minblk), 8);
const_assert_eq!(offset_of!(Status, maxblk), 12);
const_assert_eq!(offset_of!(Status, density), 16);
const_assert_eq!(offset_of!(Status, drvbuf), 17);
const_assert_eq!(offset_of!(Status, spare0), 18);
const_assert_eq!(offset_of!(Status, spare1), 20);
const_assert_eq!(offset_of!(Status, position), 24);
const_assert_eq!(offset_of!(Status, room), 32);

const_assert_eq!(size_of::<Rep>(), REP_SIZE);
const_assert_eq!(offset_of!(Rep, hdr), 0);
const_assert_eq!(offset_of!(Rep, sense), 16);
const_assert_eq!(offset_of!(Rep, sflags), 17);
const_assert_eq!(offset_of!(Rep, asc), 18);
const_assert_eq!(offset_of!(Rep, ascq), 19);
const_assert_eq!(offset_of!(Rep, dlen), 20);
const_assert_eq!(offset_of!(Rep, resid), 24);
const_assert_eq!(offset_of!(Rep, status), 32);

impl Req {
    /// A request for `op` with every other field zero.
    pub fn new(op: Op) -> Req {
        Req {
            hdr: Hdr { len: REQ_SIZE as u32, version: VERSION, op: op as u16, id: 0 },
            ..Req::default()
        }
    }

    /// The operation, if the wire value is known.
    pub fn op(&self) -> Option<Op> {
        Op::from_u16(self.hdr.op)
    }

    /// The request flags (unknown bits dropped).
    pub fn flags(&self) -> ReqFlags {
        ReqFlags::from_bits_truncate(self.flags)
    }

    /// Encodes into `[u8; REQ_SIZE]`.
    pub fn to_bytes(&self) -> [u8; REQ_SIZE] {
        let mut out = [0u8; REQ_SIZE];
        self.hdr.put(&mut out);
        let mut p = Put(&mut out);
        p.bytes(16, &self.flags.to_ne_bytes());
        p.bytes(20, &self.count.to_ne_bytes());
        p.bytes(24, &self.length.to_ne_bytes());
        p.bytes(32, &self.arg.to_ne_bytes());
        p.bytes(40, &self.arg2.to_ne_bytes());
        p.bytes(44, &self.spare.to_ne_bytes());
        out
    }

    /// Decodes from the first [`REQ_SIZE`] bytes of `b`.
    pub fn from_bytes(b: &[u8]) -> Req {
        Req {
            hdr: Hdr::get(b),
            flags: u32::from_ne_bytes(get(b, 16)),
            count: i32::from_ne_bytes(get(b, 20)),
            length: u64::from_ne_bytes(get(b, 24)),
            arg: u64::from_ne_bytes(get(b, 32)),
            arg2: u32::from_ne_bytes(get(b, 40)),
            spare: u32::from_ne_bytes(get(b, 44)),
        }
    }
}

impl Status {
    /// The drive flags (unknown bits dropped).
    pub fn flags(&self) -> DriveFlags {
        DriveFlags::from_bits_truncate(self.flags)
    }

    fn put(&self, out: &mut [u8]) {
        let mut p = Put(out);
        p.bytes(0, &self.flags.to_ne_bytes());
        p.bytes(4, &self.blksize.to_ne_bytes());
        p.bytes(8, &self.minblk.to_ne_bytes());
        p.bytes(12, &self.maxblk.to_ne_bytes());
        p.bytes(16, &[self.density, self.drvbuf]);
        p.bytes(18, &self.spare0.to_ne_bytes());
        p.bytes(20, &self.spare1.to_ne_bytes());
        p.bytes(24, &self.position.to_ne_bytes());
        p.bytes(32, &self.room.to_ne_bytes());
    }

    fn get(b: &[u8]) -> Status {
        let [density, drvbuf] = get::<2>(b, 16);
        Status {
            flags: u32::from_ne_bytes(get(b, 0)),
            blksize: u32::from_ne_bytes(get(b, 4)),
            minblk: u32::from_ne_bytes(get(b, 8)),
            maxblk: u32::from_ne_bytes(get(b, 12)),
            density,
            drvbuf,
            spare0: u16::from_ne_bytes(get(b, 18)),
            spare1: u32::from_ne_bytes(get(b, 20)),
            position: u64::from_ne_bytes(get(b, 24)),
            room: u64::from_ne_bytes(get(b, 32)),
        }
    }
}

impl Rep {
    /// A GOOD reply to `req` carrying `status`, with no data.
    pub fn good(req: &Req, status: Status) -> Rep {
        Rep {
            hdr: Hdr { len: REP_SIZE as u32, version: VERSION, op: req.hdr.op, id: req.hdr.id },
            status,
            ..Rep::default()
        }
    }

    /// The sense key, if the wire value is known.
    pub fn sense_key(&self) -> Option<SenseKey> {
        SenseKey::from_u8(self.sense)
    }

    /// The sense flags (unknown bits dropped).
    pub fn sense_flags(&self) -> SenseFlags {
        SenseFlags::from_bits_truncate(self.sflags)
    }

    /// True when the command completed without any condition to report.
    pub fn is_good(&self) -> bool {
        self.sense == SenseKey::NoSense as u8 && self.sflags == 0
    }

    /// Number of data bytes that follow the reply, from the header length.
    pub fn data_len(&self) -> usize {
        (self.hdr.len as usize).saturating_sub(REP_SIZE)
    }

    /// Encodes into `[u8; REP_SIZE]`.
    pub fn to_bytes(&self) -> [u8; REP_SIZE] {
        let mut out = [0u8; REP_SIZE];
        self.hdr.put(&mut out);
        let mut p = Put(&mut out);
        p.bytes(16, &[self.sense, self.sflags, self.asc, self.ascq]);
        p.bytes(20, &self.dlen.to_ne_bytes());
        p.bytes(24, &self.resid.to_ne_bytes());
        if let Some(st) = out.get_mut(32..32 + STATUS_SIZE) {
            self.status.put(st);
        }
        out
    }

    /// Decodes from the first [`REP_SIZE`] bytes of `b`.
    pub fn from_bytes(b: &[u8]) -> Rep {
        let [sense, sflags, asc, ascq] = get::<4>(b, 16);
        Rep {
            hdr: Hdr::get(b),
            sense,
            sflags,
            asc,
            ascq,
            dlen: u32::from_ne_bytes(get(b, 20)),
            resid: i64::from_ne_bytes(get(b, 24)),
            status: Status::get(b.get(32..).unwrap_or(&[])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{align_frame, MAX_RECORD};

    #[test]
    fn req_round_trip() {
        let r = Req {
            hdr: Hdr { len: 48 + 10, version: VERSION, op: Op::Write as u16, id: 0x0102_0304_0506_0708 },
            flags: ReqFlags::FIXED.bits() | ReqFlags::SILI.bits(),
            count: -7,
            length: 10,
            arg: 0xdead_beef_0000_0001,
            arg2: 9,
            spare: 0,
        };
        let b = r.to_bytes();
        assert_eq!(Req::from_bytes(&b), r);
        // Field placement matches the C layout.
        assert_eq!(&b[0..4], &58u32.to_ne_bytes());
        assert_eq!(&b[6..8], &(Op::Write as u16).to_ne_bytes());
        assert_eq!(&b[20..24], &(-7i32).to_ne_bytes());
        assert_eq!(&b[32..40], &0xdead_beef_0000_0001u64.to_ne_bytes());
    }

    #[test]
    fn rep_round_trip() {
        let mut r = Rep::good(&Req::new(Op::Read), Status::default());
        r.sense = SenseKey::BlankCheck as u8;
        r.sflags = (SenseFlags::EOM | SenseFlags::FMK).bits();
        r.asc = asc::NONE;
        r.ascq = asc::Q_EOD;
        r.resid = -5;
        r.status = Status {
            flags: (DriveFlags::READY | DriveFlags::EOD).bits(),
            blksize: 512,
            minblk: 1,
            maxblk: MAX_RECORD,
            density: 0x44,
            drvbuf: 1,
            position: 12345,
            room: ROOM_UNLIMITED,
            ..Status::default()
        };
        let b = r.to_bytes();
        assert_eq!(Rep::from_bytes(&b), r);
        assert_eq!(b[16], SenseKey::BlankCheck as u8);
        assert_eq!(&b[24..32], &(-5i64).to_ne_bytes());
        assert_eq!(&b[32 + 24..32 + 32], &12345u64.to_ne_bytes());
        assert!(!r.is_good());
    }

    #[test]
    fn align() {
        assert_eq!(align_frame(48), 48);
        assert_eq!(align_frame(49), 56);
        assert_eq!(align_frame(72 + 1), 80);
    }

    #[test]
    fn ops_decode() {
        for v in 0..=20u16 {
            match Op::from_u16(v) {
                Some(op) => assert_eq!(op as u16, v),
                None => assert!(v == 0 || v > 16),
            }
        }
    }
}
