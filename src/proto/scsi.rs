//! The changer pair's frames: SCSI commands the library daemon executes
//! (`struct pmt_scsi_req`, `struct pmt_scsi_rep`), and the SCSI terms both
//! kinds of pair use (status codes, sense data).

use core::mem::{offset_of, size_of};
use static_assertions::const_assert_eq;

use super::{get, Hdr, Put};

/// The changer frames' version (`PMT_SCSI_VERSION`).
pub const VERSION: u16 = 1;
/// `PMT_OP_CDB`: execute the command.
pub const OP_CDB: u16 = 1;
/// Bytes of a command descriptor block.
pub const CDB_MAX: usize = 16;
/// Bytes of sense data a reply carries.
pub const SENSE_MAX: usize = 32;
/// Bytes a command may move.
pub const XFER_MAX: u32 = 0x10_0000;
/// Size of [`ScsiReq`] on the wire.
pub const REQ_SIZE: usize = 48;
/// Size of [`ScsiRep`] on the wire.
pub const REP_SIZE: usize = 56;

/// The changer pair's frames (the channel's frame kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scsi;

/// Which way a command's data goes (`sq_dir`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Dir {
    /// No data.
    None = 0,
    /// To the device: the request carries it.
    ToDev = 1,
    /// From the device: the reply carries it.
    FromDev = 2,
}

impl Dir {
    /// Decodes a wire value.
    pub const fn from_u8(v: u8) -> Option<Dir> {
        Some(match v {
            0 => Dir::None,
            1 => Dir::ToDev,
            2 => Dir::FromDev,
            _ => return None,
        })
    }
}

/// SCSI status codes (`sr_status`).
pub mod status {
    /// The command completed.
    pub const GOOD: u8 = 0x00;
    /// The sense data says why it did not.
    pub const CHECK_CONDITION: u8 = 0x02;
    /// The device is busy.
    pub const BUSY: u8 = 0x08;
    /// Reserved by another initiator.
    pub const RESERVATION_CONFLICT: u8 = 0x18;
    /// The device's queue is full.
    pub const TASK_SET_FULL: u8 = 0x28;

    /// True for a status a reply may carry.
    pub const fn known(v: u8) -> bool {
        matches!(v, GOOD | CHECK_CONDITION | BUSY | RESERVATION_CONFLICT | TASK_SET_FULL)
    }
}

/// `struct pmt_scsi_req`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct ScsiReq {
    /// Frame header.
    pub hdr: Hdr,
    /// The command, zero after `cdb_len`.
    pub cdb: [u8; CDB_MAX],
    /// Its length: 6, 10, 12 or 16.
    pub cdb_len: u8,
    /// [`Dir`] as a wire value.
    pub dir: u8,
    /// Zero.
    pub spare0: u16,
    /// Bytes of data.
    pub xfer_len: u32,
    /// The caller's timeout in milliseconds (0: the driver's).
    pub timeout_ms: u32,
    /// Zero.
    pub spare1: u32,
}

/// `struct pmt_scsi_rep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct ScsiRep {
    /// Frame header.
    pub hdr: Hdr,
    /// SCSI status ([`status`]).
    pub status: u8,
    /// Bytes of `sense` that hold sense data.
    pub sense_len: u8,
    /// Zero.
    pub spare0: u16,
    /// `xfer_len` minus the bytes moved.
    pub resid: u32,
    /// Sense data (fixed or descriptor format).
    pub sense: [u8; SENSE_MAX],
}

const_assert_eq!(size_of::<ScsiReq>(), REQ_SIZE);
const_assert_eq!(offset_of!(ScsiReq, hdr), 0);
const_assert_eq!(offset_of!(ScsiReq, cdb), 16);
const_assert_eq!(offset_of!(ScsiReq, cdb_len), 32);
const_assert_eq!(offset_of!(ScsiReq, dir), 33);
const_assert_eq!(offset_of!(ScsiReq, spare0), 34);
const_assert_eq!(offset_of!(ScsiReq, xfer_len), 36);
const_assert_eq!(offset_of!(ScsiReq, timeout_ms), 40);
const_assert_eq!(offset_of!(ScsiReq, spare1), 44);

const_assert_eq!(size_of::<ScsiRep>(), REP_SIZE);
const_assert_eq!(offset_of!(ScsiRep, hdr), 0);
const_assert_eq!(offset_of!(ScsiRep, status), 16);
const_assert_eq!(offset_of!(ScsiRep, sense_len), 17);
const_assert_eq!(offset_of!(ScsiRep, spare0), 18);
const_assert_eq!(offset_of!(ScsiRep, resid), 20);
const_assert_eq!(offset_of!(ScsiRep, sense), 24);

impl ScsiReq {
    /// A request to execute `cdb` (at most [`CDB_MAX`] bytes are taken).
    pub fn new(cdb: &[u8], dir: Dir, xfer_len: u32) -> ScsiReq {
        let mut c = [0u8; CDB_MAX];
        let n = cdb.len().min(CDB_MAX);
        if let (Some(d), Some(s)) = (c.get_mut(..n), cdb.get(..n)) {
            d.copy_from_slice(s);
        }
        ScsiReq {
            hdr: Hdr { len: REQ_SIZE as u32, version: VERSION, op: OP_CDB, id: 0 },
            cdb: c,
            cdb_len: n as u8,
            dir: dir as u8,
            xfer_len,
            ..ScsiReq::default()
        }
    }

    /// The command's bytes.
    pub fn command(&self) -> &[u8] {
        self.cdb.get(..usize::from(self.cdb_len)).unwrap_or(&self.cdb)
    }

    /// The data direction, if the wire value is known.
    pub fn direction(&self) -> Option<Dir> {
        Dir::from_u8(self.dir)
    }

    /// Encodes into `[u8; REQ_SIZE]`.
    pub fn to_bytes(&self) -> [u8; REQ_SIZE] {
        let mut out = [0u8; REQ_SIZE];
        self.hdr.put(&mut out);
        let mut p = Put(&mut out);
        p.bytes(16, &self.cdb);
        p.bytes(32, &[self.cdb_len, self.dir]);
        p.bytes(34, &self.spare0.to_ne_bytes());
        p.bytes(36, &self.xfer_len.to_ne_bytes());
        p.bytes(40, &self.timeout_ms.to_ne_bytes());
        p.bytes(44, &self.spare1.to_ne_bytes());
        out
    }

    /// Decodes from the first [`REQ_SIZE`] bytes of `b`.
    pub fn from_bytes(b: &[u8]) -> ScsiReq {
        let [cdb_len, dir] = get::<2>(b, 32);
        ScsiReq {
            hdr: Hdr::get(b),
            cdb: get(b, 16),
            cdb_len,
            dir,
            spare0: u16::from_ne_bytes(get(b, 34)),
            xfer_len: u32::from_ne_bytes(get(b, 36)),
            timeout_ms: u32::from_ne_bytes(get(b, 40)),
            spare1: u32::from_ne_bytes(get(b, 44)),
        }
    }
}

impl ScsiRep {
    /// A GOOD reply to `req`, with no data.
    pub fn good(req: &ScsiReq) -> ScsiRep {
        ScsiRep {
            hdr: Hdr { len: REP_SIZE as u32, version: VERSION, op: req.hdr.op, id: req.hdr.id },
            resid: req.xfer_len,
            ..ScsiRep::default()
        }
    }

    /// The sense data.
    pub fn sense_data(&self) -> &[u8] {
        self.sense.get(..usize::from(self.sense_len)).unwrap_or(&self.sense)
    }

    /// Encodes into `[u8; REP_SIZE]`.
    pub fn to_bytes(&self) -> [u8; REP_SIZE] {
        let mut out = [0u8; REP_SIZE];
        self.hdr.put(&mut out);
        let mut p = Put(&mut out);
        p.bytes(16, &[self.status, self.sense_len]);
        p.bytes(18, &self.spare0.to_ne_bytes());
        p.bytes(20, &self.resid.to_ne_bytes());
        p.bytes(24, &self.sense);
        out
    }

    /// Decodes from the first [`REP_SIZE`] bytes of `b`.
    pub fn from_bytes(b: &[u8]) -> ScsiRep {
        let [status, sense_len] = get::<2>(b, 16);
        ScsiRep {
            hdr: Hdr::get(b),
            status,
            sense_len,
            spare0: u16::from_ne_bytes(get(b, 18)),
            resid: u32::from_ne_bytes(get(b, 20)),
            sense: get(b, 24),
        }
    }
}

/// Sense data as SCSI lays it out, read and written.
pub mod sense {
    /// Bytes of fixed-format sense data with the additional sense code
    /// and qualifier (SPC's 18).
    pub const FIXED_LEN: usize = 18;

    /// The sense key, additional sense code and qualifier of fixed (0x70,
    /// 0x71) or descriptor (0x72, 0x73) sense data, if it holds them.
    pub fn decode(s: &[u8]) -> Option<(u8, u8, u8)> {
        let at = |i: usize| s.get(i).copied();
        match at(0)? & 0x7f {
            0x70 | 0x71 => Some((at(2)? & 0x0f, at(12).unwrap_or(0), at(13).unwrap_or(0))),
            0x72 | 0x73 => Some((at(1)? & 0x0f, at(2).unwrap_or(0), at(3).unwrap_or(0))),
            _ => None,
        }
    }

    /// Fixed-format sense data (current error) for `key`, `asc`, `ascq`.
    pub fn fixed(key: u8, asc: u8, ascq: u8) -> [u8; FIXED_LEN] {
        let mut s = [0u8; FIXED_LEN];
        s[0] = 0x70;
        s[2] = key & 0x0f;
        s[7] = (FIXED_LEN - 8) as u8;
        s[12] = asc;
        s[13] = ascq;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut q = ScsiReq::new(&[0xb8, 0x12, 0, 1, 0, 4, 0, 0, 0x40, 0, 0, 0], Dir::FromDev, 16384);
        q.hdr.id = 7;
        q.timeout_ms = 300_000;
        let b = q.to_bytes();
        assert_eq!(ScsiReq::from_bytes(&b), q);
        assert_eq!(q.command().len(), 12);
        assert_eq!(b[32], 12);
        let mut r = ScsiRep::good(&q);
        r.status = status::CHECK_CONDITION;
        let s = sense::fixed(5, 0x3b, 0x0e);
        r.sense[..s.len()].copy_from_slice(&s);
        r.sense_len = s.len() as u8;
        r.resid = 16384;
        let b = r.to_bytes();
        assert_eq!(ScsiRep::from_bytes(&b), r);
        assert_eq!(sense::decode(r.sense_data()), Some((5, 0x3b, 0x0e)));
        assert_eq!(sense::decode(&[0x72, 0x06, 0x28, 0x00]), Some((6, 0x28, 0)));
        assert_eq!(sense::decode(&[0x00; 18]), None);
    }
}
