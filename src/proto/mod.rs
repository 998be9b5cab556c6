//! The slave protocol: the Rust mirror of `include/pmt_proto.h`.
//!
//! The C header is the definition; every size and offset here is pinned to it
//! with `static_assertions`, and `tests/c/layout.c` pins the same numbers on
//! the C side. Frames are encoded field by field in native byte order, so the
//! code needs no `unsafe` and no assumption about padding.

use core::mem::{offset_of, size_of};
use static_assertions::const_assert_eq;

pub mod run;
pub mod scsi;
pub mod tape;

pub use tape::*;

/// The tape pair's protocol version, carried in every frame header (2:
/// READRUN; 3: SCSI; 4: the data area).
pub const VERSION: u16 = 4;
/// Frames in a batch start at multiples of this many bytes.
pub const FRAME_ALIGN: usize = 8;
/// Largest record, in bytes (the 24-bit length of a SIMH record).
pub const MAX_RECORD: u32 = 0x00ff_ffff;
/// The slave's ioctl that gives the size of the unit's data area (Linux:
/// `_IOR('p', 1, uint64_t)`).
pub const SIOCAREA: u32 = 0x8008_7001;
/// Size of [`Hdr`] on the wire.
pub const HDR_SIZE: usize = 16;

/// Rounds a frame length up to the batch alignment.
pub const fn align_frame(len: usize) -> usize {
    (len + FRAME_ALIGN - 1) & !(FRAME_ALIGN - 1)
}

/// `struct pmt_hdr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Hdr {
    /// Frame length: header and payload, no padding.
    pub len: u32,
    /// [`VERSION`].
    pub version: u16,
    /// The operation, a wire value of the frame kind ([`Op`] for the tape pair).
    pub op: u16,
    /// Request id, echoed by the reply.
    pub id: u64,
}

const_assert_eq!(size_of::<Hdr>(), HDR_SIZE);
const_assert_eq!(offset_of!(Hdr, len), 0);
const_assert_eq!(offset_of!(Hdr, version), 4);
const_assert_eq!(offset_of!(Hdr, op), 6);
const_assert_eq!(offset_of!(Hdr, id), 8);

/// A little cursor that writes fields at fixed offsets.
pub(crate) struct Put<'a>(&'a mut [u8]);

impl Put<'_> {
    pub(crate) fn bytes(&mut self, at: usize, v: &[u8]) {
        if let Some(dst) = self.0.get_mut(at..at + v.len()) {
            dst.copy_from_slice(v);
        }
    }
}

/// Reads `N` bytes at `at`, zeroes if out of range (callers pass whole frames).
pub(crate) fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = b.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

impl Hdr {
    /// Encodes into the first [`HDR_SIZE`] bytes of `out`.
    pub fn put(&self, out: &mut [u8]) {
        let mut p = Put(out);
        p.bytes(0, &self.len.to_ne_bytes());
        p.bytes(4, &self.version.to_ne_bytes());
        p.bytes(6, &self.op.to_ne_bytes());
        p.bytes(8, &self.id.to_ne_bytes());
    }

    /// Decodes from the first [`HDR_SIZE`] bytes of `b`.
    pub fn get(b: &[u8]) -> Hdr {
        Hdr {
            len: u32::from_ne_bytes(get(b, 0)),
            version: u16::from_ne_bytes(get(b, 4)),
            op: u16::from_ne_bytes(get(b, 6)),
            id: u64::from_ne_bytes(get(b, 8)),
        }
    }
}

#[cfg(test)]
mod header {
    //! Every `#define` of include/pmt_proto.h against the Rust side.
    extern crate std;
    use std::collections::HashMap;
    use std::string::String;

    use super::*;

    /// `#define PMT_NAME VALUE` lines, the value parsed as C writes it
    /// (decimal or hex, with a u, ull suffix).
    fn defines() -> HashMap<String, u64> {
        let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/pmt_proto.h")).unwrap();
        h.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("#define")).then_some(())?;
                let name = w.next()?;
                let v = w.next()?.trim_end_matches(['u', 'l', 'U', 'L']);
                let v = match v.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                    None => v.parse().ok()?,
                };
                Some((String::from(name), v))
            })
            .collect()
    }

    #[test]
    fn every_define_matches_the_rust_side() {
        let d = defines();
        let mut want: std::vec::Vec<(String, u64)> = std::vec![
            ("PMT_PROTO_VERSION".into(), VERSION.into()),
            ("PMT_FRAME_ALIGN".into(), FRAME_ALIGN as u64),
            ("PMT_MAX_RECORD".into(), MAX_RECORD.into()),
            ("PMT_RECORD_COST".into(), RECORD_COST),
            ("PMT_ROOM_UNLIMITED".into(), ROOM_UNLIMITED),
            ("PMT_RUN_OVERHEAD".into(), run::OVERHEAD as u64),
            ("PMT_HDR_SIZE".into(), HDR_SIZE as u64),
            ("PMT_REQ_SIZE".into(), REQ_SIZE as u64),
            ("PMT_STATUS_SIZE".into(), STATUS_SIZE as u64),
            ("PMT_REP_SIZE".into(), REP_SIZE as u64),
            ("PMT_SCSI_VERSION".into(), scsi::VERSION.into()),
            ("PMT_OP_CDB".into(), scsi::OP_CDB.into()),
            ("PMT_CDB_MAX".into(), scsi::CDB_MAX as u64),
            ("PMT_SENSE_MAX".into(), scsi::SENSE_MAX as u64),
            ("PMT_SCSI_XFER_MAX".into(), scsi::XFER_MAX.into()),
            ("PMT_DIR_NONE".into(), scsi::Dir::None as u64),
            ("PMT_DIR_TO_DEV".into(), scsi::Dir::ToDev as u64),
            ("PMT_DIR_FROM_DEV".into(), scsi::Dir::FromDev as u64),
            ("PMT_STATUS_GOOD".into(), scsi::status::GOOD.into()),
            ("PMT_STATUS_CHECK_CONDITION".into(), scsi::status::CHECK_CONDITION.into()),
            ("PMT_STATUS_BUSY".into(), scsi::status::BUSY.into()),
            ("PMT_STATUS_RESERVATION_CONFLICT".into(), scsi::status::RESERVATION_CONFLICT.into()),
            ("PMT_STATUS_TASK_SET_FULL".into(), scsi::status::TASK_SET_FULL.into()),
            ("PMT_SCSI_REQ_SIZE".into(), scsi::REQ_SIZE as u64),
            ("PMT_SCSI_REP_SIZE".into(), scsi::REP_SIZE as u64),
            ("PMT_SIOCAREA".into(), SIOCAREA.into()),
        ];
        let mut max_op = 0;
        for v in 0..=u16::MAX {
            if let Some(op) = Op::from_u16(v) {
                let name = std::format!("{op:?}").to_uppercase();
                want.push((std::format!("PMT_OP_{name}"), v.into()));
                max_op = v;
            }
        }
        want.push(("PMT_OP_MAX".into(), max_op.into()));
        for (name, f) in ReqFlags::all().iter_names() {
            want.push((std::format!("PMT_RF_{name}"), f.bits().into()));
        }
        for v in 0..=u8::MAX {
            if let Some(k) = SenseKey::from_u8(v) {
                let name = match k {
                    SenseKey::NoSense => "NO_SENSE",
                    SenseKey::Recovered => "RECOVERED",
                    SenseKey::NotReady => "NOT_READY",
                    SenseKey::MediumError => "MEDIUM_ERROR",
                    SenseKey::HardwareError => "HARDWARE_ERROR",
                    SenseKey::IllegalRequest => "ILLEGAL_REQUEST",
                    SenseKey::UnitAttention => "UNIT_ATTENTION",
                    SenseKey::DataProtect => "DATA_PROTECT",
                    SenseKey::BlankCheck => "BLANK_CHECK",
                    SenseKey::Aborted => "ABORTED",
                    SenseKey::VolumeOverflow => "VOLUME_OVERFLOW",
                };
                want.push((std::format!("PMT_SK_{name}"), v.into()));
            }
            if let Some(s) = Space::from_u64(v.into()) {
                let name = std::format!("{s:?}").to_uppercase();
                want.push((std::format!("PMT_SP_{name}"), v.into()));
            }
        }
        for (name, f) in SenseFlags::all().iter_names() {
            want.push((std::format!("PMT_SF_{name}"), f.bits().into()));
        }
        for (name, f) in DriveFlags::all().iter_names() {
            want.push((std::format!("PMT_DS_{name}"), f.bits().into()));
        }
        for (name, v) in [
            ("NONE", asc::NONE),
            ("NOT_READY", asc::NOT_READY),
            ("WRITE_ERROR", asc::WRITE_ERROR),
            ("READ_ERROR", asc::READ_ERROR),
            ("INVALID_FIELD", asc::INVALID_FIELD),
            ("WRITE_PROTECTED", asc::WRITE_PROTECTED),
            ("MEDIUM_CHANGED", asc::MEDIUM_CHANGED),
            ("POSITION_ERROR", asc::POSITION_ERROR),
            ("NO_MEDIUM", asc::NO_MEDIUM),
        ] {
            want.push((std::format!("PMT_ASC_{name}"), v.into()));
        }
        for (name, v) in &want {
            assert_eq!(d.get(name), Some(v), "{name}");
        }
        // Nothing in the header is left unchecked (PMT_PROTO_H is the guard).
        let mut unchecked: std::vec::Vec<&String> =
            d.keys().filter(|k| !want.iter().any(|(n, _)| n == *k)).collect();
        unchecked.sort();
        assert!(unchecked.is_empty(), "header defines the Rust side does not: {unchecked:?}");
    }
}
