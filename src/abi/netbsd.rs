//! The NetBSD mtio ABI (sys/sys/mtio.h): operation numbers, ioctl numbers,
//! `struct mtget`, and the ioctl dispatch of NetBSD's st.c (stioctl) for a
//! unit created with [`crate::Abi::NetBsd`].

use crate::drv::{Answer, Ioctl, MtOp, TapeStatus};
use crate::errno::{Errno, Result};
use crate::host::{UserIn, UserOut};

/// `_IOW('m', 1, struct mtop)` (IOC_IN is 0x80000000 on NetBSD).
pub const MTIOCTOP: u32 = 0x8008_6d01;
/// `_IOR('m', 2, struct mtget)`.
pub const MTIOCGET: u32 = 0x4038_6d02;
/// `_IO('m', 3)`: ignore EOT errors.
pub const MTIOCIEOT: u32 = 0x2000_6d03;
/// `_IO('m', 4)`: enable EOT errors.
pub const MTIOCEEOT: u32 = 0x2000_6d04;
/// `_IOR('m', 5, u_int32_t)`: logical block position.
pub const MTIOCRDSPOS: u32 = 0x4004_6d05;
/// `_IOR('m', 6, u_int32_t)`: hardware block position.
pub const MTIOCRDHPOS: u32 = 0x4004_6d06;
/// `_IOW('m', 5, u_int32_t)`: locate to a logical block.
pub const MTIOCSLOCATE: u32 = 0x8004_6d05;
/// `_IOW('m', 6, u_int32_t)`: locate to a hardware block.
pub const MTIOCHLOCATE: u32 = 0x8004_6d06;

/// `sizeof(struct mtget)`.
pub const MTGET_SIZE: usize = 56;
/// `mt_dsreg` bit: read-only.
pub const MT_DS_RDONLY: u16 = 0x10;
/// `mt_dsreg` bits: mounted.
pub const MT_DS_MOUNTED: u16 = 0x03;

/// MTIOCTOP operation numbers (`mt_op`, sys/sys/mtio.h): `MT` + the name.
pub mod op {
    /// `MTWEOF`.
    pub const WEOF: i16 = 0;
    /// `MTFSF`.
    pub const FSF: i16 = 1;
    /// `MTBSF`.
    pub const BSF: i16 = 2;
    /// `MTFSR`.
    pub const FSR: i16 = 3;
    /// `MTBSR`.
    pub const BSR: i16 = 4;
    /// `MTREW`.
    pub const REW: i16 = 5;
    /// `MTOFFL`.
    pub const OFFL: i16 = 6;
    /// `MTNOP`.
    pub const NOP: i16 = 7;
    /// `MTRETEN`.
    pub const RETEN: i16 = 8;
    /// `MTERASE`.
    pub const ERASE: i16 = 9;
    /// `MTEOM`.
    pub const EOM: i16 = 10;
    /// `MTNBSF`.
    pub const NBSF: i16 = 11;
    /// `MTCACHE`.
    pub const CACHE: i16 = 12;
    /// `MTNOCACHE`.
    pub const NOCACHE: i16 = 13;
    /// `MTSETBSIZ`.
    pub const SETBSIZ: i16 = 14;
    /// `MTSETDNSTY`.
    pub const SETDNSTY: i16 = 15;
    /// `MTCMPRSS`.
    pub const CMPRSS: i16 = 16;
    /// `MTEWARN`.
    pub const EWARN: i16 = 17;
}

/// The operation of an `mt_op` value.
pub fn decode_op(v: i16) -> Option<MtOp> {
    Some(match v {
        op::WEOF => MtOp::Weof,
        op::FSF => MtOp::Fsf,
        op::BSF => MtOp::Bsf,
        op::FSR => MtOp::Fsr,
        op::BSR => MtOp::Bsr,
        op::REW => MtOp::Rew,
        op::OFFL => MtOp::Offl,
        op::NOP => MtOp::Nop,
        op::RETEN => MtOp::Reten,
        op::ERASE => MtOp::Erase,
        op::EOM => MtOp::Eom,
        op::NBSF => MtOp::Nbsf,
        op::CACHE => MtOp::Cache,
        op::NOCACHE => MtOp::NoCache,
        op::SETBSIZ => MtOp::SetBlk,
        op::SETDNSTY => MtOp::SetDensity,
        op::CMPRSS => MtOp::Compression,
        op::EWARN => MtOp::Ewarn,
        _ => return None,
    })
}

/// NetBSD `struct mtget`: shorts type, dsreg, erreg, resid; then int32
/// fileno, blkno, blksiz, density, mblksiz[4], mdensity[4]. As NetBSD's
/// st fills it: `mt_erreg` the last sense key and `mt_resid` the last
/// residue as a short (latched, [`crate::Policy::latch_sense`]), each
/// mode's block size and density (0 where none was set).
pub fn mtget(s: &TapeStatus) -> [u8; MTGET_SIZE] {
    let mut b = [0u8; MTGET_SIZE];
    let mut dsreg = 0u16;
    if s.online {
        dsreg |= MT_DS_MOUNTED;
    }
    if s.wr_prot {
        dsreg |= MT_DS_RDONLY;
    }
    // st: `st->mt_resid = (short) info`.
    let shorts: [u16; 4] = [0x07 /* MT_ISAR, as NetBSD st reports */, dsreg, u16::from(s.sense_key), s.resid as i16 as u16];
    for (i, v) in shorts.iter().enumerate() {
        if let Some(d) = b.get_mut(i * 2..i * 2 + 2) {
            d.copy_from_slice(&v.to_ne_bytes());
        }
    }
    let mut ints = [0i32; 12];
    ints[0] = s.fileno;
    ints[1] = s.blkno;
    ints[2] = s.blksize as i32;
    ints[3] = i32::from(s.density);
    for (i, m) in s.modes.iter().enumerate() {
        if let Some(v) = ints.get_mut(4 + i) {
            *v = m.blksize.map_or(0, |x| x as i32);
        }
        if let Some(v) = ints.get_mut(8 + i) {
            *v = i32::from(m.density.unwrap_or(0));
        }
    }
    for (i, v) in ints.iter().enumerate() {
        if let Some(d) = b.get_mut(8 + i * 4..12 + i * 4) {
            d.copy_from_slice(&v.to_ne_bytes());
        }
    }
    b
}

/// Decodes the master's ioctls in NetBSD's numbering (st.c's stioctl),
/// the argument (already copied in by the kernel) read from `arg`.
pub fn decode_ioctl(cmd: u32, arg: &mut dyn UserIn) -> Result<Ioctl> {
    match cmd {
        MTIOCTOP => {
            let op = i16::from_ne_bytes(super::read_arg::<2>(arg, 0)?);
            let count = i32::from_ne_bytes(super::read_arg::<4>(arg, 4)?);
            let op = decode_op(op).ok_or(Errno::Inval)?;
            Ok(Ioctl::Op(op, count))
        }
        MTIOCGET => Ok(Ioctl::Status),
        MTIOCRDSPOS | MTIOCRDHPOS => Ok(Ioctl::Tell),
        MTIOCSLOCATE | MTIOCHLOCATE => {
            let blk = u32::from_ne_bytes(super::read_arg::<4>(arg, 0)?);
            // The engine's SEEK takes st's int, as MTIOCTOP's count.
            Ok(Ioctl::Op(MtOp::Seek, blk as i32))
        }
        // st(4) accepts these and keeps its EOT reporting as set by MTEWARN.
        MTIOCIEOT | MTIOCEEOT => Ok(Ioctl::Nothing),
        _ => Err(Errno::NoTty),
    }
}

/// Lays an answer out as NetBSD's st does.
pub fn encode_answer(answer: Answer, arg: &mut dyn UserOut) -> Result<()> {
    match answer {
        Answer::Done => Ok(()),
        Answer::Status(s) => arg.write(0, &mtget(&s)),
        Answer::Block(blk) => arg.write(0, &blk.to_ne_bytes()),
        // NetBSD's st has no sg ioctls: its table never decodes one.
        Answer::Sg(_) => Err(Errno::NoTty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let ioc = |dir: u32, nr: u32, size: u32| dir << 29 | size << 16 | u32::from(b'm') << 8 | nr;
        // NetBSD: IOC_VOID 0x20000000, IOC_OUT 0x40000000, IOC_IN 0x80000000.
        assert_eq!(MTIOCTOP, ioc(4, 1, 8));
        assert_eq!(MTIOCGET, ioc(2, 2, 56));
        assert_eq!(MTIOCIEOT, ioc(1, 3, 0));
        assert_eq!(MTIOCRDSPOS, ioc(2, 5, 4));
        assert_eq!(MTIOCSLOCATE, ioc(4, 5, 4));
        assert_eq!(decode_op(0), Some(MtOp::Weof));
        assert_eq!(decode_op(5), Some(MtOp::Rew));
        assert_eq!(decode_op(17), Some(MtOp::Ewarn));
        assert_eq!(decode_op(18), None);
    }

    #[test]
    fn mtget_layout() {
        let s = TapeStatus { fileno: 2, blkno: 7, blksize: 1024, density: 0x13, online: true, wr_prot: true, ..Default::default() };
        let b = mtget(&s);
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), MT_DS_MOUNTED | MT_DS_RDONLY);
        assert_eq!(i32::from_ne_bytes(b[8..12].try_into().unwrap()), 2);
        assert_eq!(i32::from_ne_bytes(b[12..16].try_into().unwrap()), 7);
        assert_eq!(i32::from_ne_bytes(b[16..20].try_into().unwrap()), 1024);
        assert_eq!(i32::from_ne_bytes(b[20..24].try_into().unwrap()), 0x13);
    }
}
