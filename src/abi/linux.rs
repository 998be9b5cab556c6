//! The Linux mtio ABI (include/uapi/linux/mtio.h) and st's ioctl dispatch.

use crate::drv::{Answer, Ioctl, MtOp, TapeStatus};
use crate::errno::{Errno, Result};
use crate::host::{UserIn, UserOut};

/// `_IOW('m', 1, struct mtop)`.
pub const MTIOCTOP: u32 = 0x4008_6d01;
/// `_IOR('m', 2, struct mtget)`.
pub const MTIOCGET: u32 = 0x8030_6d02;
/// `_IOR('m', 3, struct mtpos)`.
pub const MTIOCPOS: u32 = 0x8008_6d03;
/// MTIOCGET from a 32-bit process (28-byte `struct mtget`).
pub const MTIOCGET32: u32 = 0x801c_6d02;
/// MTIOCPOS from a 32-bit process (4-byte `struct mtpos`).
pub const MTIOCPOS32: u32 = 0x8004_6d03;

/// `sizeof(struct mtget)` on x86_64.
pub const MTGET_SIZE: usize = 48;
/// `sizeof(struct mtget)` for 32-bit processes.
pub const MTGET32_SIZE: usize = 28;

/// `mt_type` of a generic SCSI-2 tape.
pub const MT_ISSCSI2: i64 = 0x72;

/// `mt_gstat` bits.
pub mod gmt {
    /// Just after a filemark.
    pub const EOF: u32 = 0x8000_0000;
    /// Beginning of tape.
    pub const BOT: u32 = 0x4000_0000;
    /// End of tape (early warning or end of medium).
    pub const EOT: u32 = 0x2000_0000;
    /// At a setmark.
    pub const SM: u32 = 0x1000_0000;
    /// End of data.
    pub const EOD: u32 = 0x0800_0000;
    /// Write protected.
    pub const WR_PROT: u32 = 0x0400_0000;
    /// Online.
    pub const ONLINE: u32 = 0x0100_0000;
    /// Density 6250 bpi.
    pub const D_6250: u32 = 0x0080_0000;
    /// Density 1600 bpi.
    pub const D_1600: u32 = 0x0040_0000;
    /// Density 800 bpi.
    pub const D_800: u32 = 0x0020_0000;
    /// Door open: no medium.
    pub const DR_OPEN: u32 = 0x0004_0000;
    /// Immediate report mode.
    pub const IM_REP_EN: u32 = 0x0001_0000;
    /// Cleaning requested.
    pub const CLN: u32 = 0x0000_8000;
}

/// MTIOCTOP operation numbers (`mt_op`, include/uapi/linux/mtio.h): `MT` + the name.
pub mod op {
    /// `MTRESET`.
    pub const RESET: i16 = 0;
    /// `MTFSF`.
    pub const FSF: i16 = 1;
    /// `MTBSF`.
    pub const BSF: i16 = 2;
    /// `MTFSR`.
    pub const FSR: i16 = 3;
    /// `MTBSR`.
    pub const BSR: i16 = 4;
    /// `MTWEOF`.
    pub const WEOF: i16 = 5;
    /// `MTREW`.
    pub const REW: i16 = 6;
    /// `MTOFFL`.
    pub const OFFL: i16 = 7;
    /// `MTNOP`.
    pub const NOP: i16 = 8;
    /// `MTRETEN`.
    pub const RETEN: i16 = 9;
    /// `MTBSFM`.
    pub const BSFM: i16 = 10;
    /// `MTFSFM`.
    pub const FSFM: i16 = 11;
    /// `MTEOM`.
    pub const EOM: i16 = 12;
    /// `MTERASE`.
    pub const ERASE: i16 = 13;
    /// `MTRAS1`.
    pub const RAS1: i16 = 14;
    /// `MTRAS2`.
    pub const RAS2: i16 = 15;
    /// `MTRAS3`.
    pub const RAS3: i16 = 16;
    /// `MTSETBLK`.
    pub const SETBLK: i16 = 20;
    /// `MTSETDENSITY`.
    pub const SETDENSITY: i16 = 21;
    /// `MTSEEK`.
    pub const SEEK: i16 = 22;
    /// `MTTELL`.
    pub const TELL: i16 = 23;
    /// `MTSETDRVBUFFER`.
    pub const SETDRVBUFFER: i16 = 24;
    /// `MTFSS`.
    pub const FSS: i16 = 25;
    /// `MTBSS`.
    pub const BSS: i16 = 26;
    /// `MTWSM`.
    pub const WSM: i16 = 27;
    /// `MTLOCK`.
    pub const LOCK: i16 = 28;
    /// `MTUNLOCK`.
    pub const UNLOCK: i16 = 29;
    /// `MTLOAD`.
    pub const LOAD: i16 = 30;
    /// `MTUNLOAD`.
    pub const UNLOAD: i16 = 31;
    /// `MTCOMPRESSION`.
    pub const COMPRESSION: i16 = 32;
    /// `MTSETPART`.
    pub const SETPART: i16 = 33;
    /// `MTMKPART`.
    pub const MKPART: i16 = 34;
    /// `MTWEOFI`.
    pub const WEOFI: i16 = 35;
}

/// The operation of an `mt_op` value.
pub fn decode_op(v: i16) -> Option<MtOp> {
    Some(match v {
        op::RESET => MtOp::Reset,
        op::FSF => MtOp::Fsf,
        op::BSF => MtOp::Bsf,
        op::FSR => MtOp::Fsr,
        op::BSR => MtOp::Bsr,
        op::WEOF => MtOp::Weof,
        op::REW => MtOp::Rew,
        op::OFFL => MtOp::Offl,
        op::NOP => MtOp::Nop,
        op::RETEN => MtOp::Reten,
        op::BSFM => MtOp::Bsfm,
        op::FSFM => MtOp::Fsfm,
        op::EOM => MtOp::Eom,
        op::ERASE => MtOp::Erase,
        op::RAS1 => MtOp::Ras1,
        op::RAS2 => MtOp::Ras2,
        op::RAS3 => MtOp::Ras3,
        op::SETBLK => MtOp::SetBlk,
        op::SETDENSITY => MtOp::SetDensity,
        op::SEEK => MtOp::Seek,
        op::TELL => MtOp::Tell,
        op::SETDRVBUFFER => MtOp::SetDrvBuffer,
        op::FSS => MtOp::Fss,
        op::BSS => MtOp::Bss,
        op::WSM => MtOp::Wsm,
        op::LOCK => MtOp::Lock,
        op::UNLOCK => MtOp::Unlock,
        op::LOAD => MtOp::Load,
        op::UNLOAD => MtOp::Unload,
        op::COMPRESSION => MtOp::Compression,
        op::SETPART => MtOp::SetPart,
        op::MKPART => MtOp::MkPart,
        op::WEOFI => MtOp::Weofi,
        _ => return None,
    })
}

/// `mt_gstat` as st computes it.
pub fn gstat(s: &TapeStatus) -> u32 {
    let mut g = 0;
    let mut set = |cond: bool, bit: u32| {
        if cond {
            g |= bit;
        }
    };
    set(s.wr_prot, gmt::WR_PROT);
    set(s.bot, gmt::BOT);
    set(s.eof, gmt::EOF);
    set(s.eot, gmt::EOT);
    set(s.eod && !s.eot, gmt::EOD);
    set(s.density == 1, gmt::D_800);
    set(s.density == 2, gmt::D_1600);
    set(s.density == 3, gmt::D_6250);
    set(s.online, gmt::ONLINE);
    set(s.dr_open, gmt::DR_OPEN);
    set(s.sm, gmt::SM);
    set(s.im_rep_en, gmt::IM_REP_EN);
    set(s.cln, gmt::CLN);
    g
}

fn dsreg(s: &TapeStatus) -> u32 {
    (s.blksize & 0x00ff_ffff) | (u32::from(s.density) << 24)
}

/// `struct mtget` for a 64-bit process.
pub fn mtget(s: &TapeStatus) -> [u8; MTGET_SIZE] {
    let mut b = [0u8; MTGET_SIZE];
    let fields: [i64; 5] = [
        MT_ISSCSI2,
        i64::from(s.partition),
        i64::from(dsreg(s)),
        i64::from(gstat(s)),
        i64::from(s.soft_errors & 0xffff),
    ];
    for (i, v) in fields.iter().enumerate() {
        if let Some(d) = b.get_mut(i * 8..i * 8 + 8) {
            d.copy_from_slice(&v.to_ne_bytes());
        }
    }
    if let Some(d) = b.get_mut(40..44) {
        d.copy_from_slice(&s.fileno.to_ne_bytes());
    }
    if let Some(d) = b.get_mut(44..48) {
        d.copy_from_slice(&s.blkno.to_ne_bytes());
    }
    b
}

/// `struct mtget` for a 32-bit process (compat_ioctl).
pub fn mtget32(s: &TapeStatus) -> [u8; MTGET32_SIZE] {
    let mut b = [0u8; MTGET32_SIZE];
    let fields: [u32; 7] = [
        MT_ISSCSI2 as u32,
        s.partition,
        dsreg(s),
        gstat(s),
        s.soft_errors & 0xffff,
        s.fileno as u32,
        s.blkno as u32,
    ];
    for (i, v) in fields.iter().enumerate() {
        if let Some(d) = b.get_mut(i * 4..i * 4 + 4) {
            d.copy_from_slice(&v.to_ne_bytes());
        }
    }
    b
}

/// Decodes st_ioctl's commands (st_compat_ioctl's when `compat`), the
/// argument of MTIOCTOP read from `arg`.
pub fn decode_ioctl(cmd: u32, arg: &mut dyn UserIn, compat: bool) -> Result<Ioctl> {
    let cmd = match (compat, cmd) {
        (true, MTIOCGET32) => MTIOCGET,
        (true, MTIOCPOS32) => MTIOCPOS,
        _ => cmd,
    };
    if let Some(sg) = super::linux_sg::decode(cmd, arg, compat)? {
        return Ok(Ioctl::Sg(sg));
    }
    let ty = (cmd >> 8) & 0xff;
    let nr = cmd & 0xff;
    let size = ((cmd >> 16) & 0x3fff) as usize;
    if ty != u32::from(b'm') {
        return Err(Errno::NoTty);
    }
    match nr {
        1 => {
            if size != 8 {
                return Err(Errno::Inval);
            }
            let op = i16::from_ne_bytes(super::read_arg::<2>(arg, 0)?);
            let count = i32::from_ne_bytes(super::read_arg::<4>(arg, 4)?);
            let op = decode_op(op).ok_or(Errno::NoSys)?;
            Ok(Ioctl::Op(op, count))
        }
        2 if size == MTGET_SIZE => Ok(Ioctl::Status),
        3 if size == 8 => Ok(Ioctl::Tell),
        // st flushes before it looks at any other command of its own.
        2 | 3 => Ok(Ioctl::Refuse(Errno::Inval)),
        _ => Ok(Ioctl::Refuse(Errno::NoTty)),
    }
}

/// Lays an answer out as st does: `struct mtget` and `struct mtpos`, in
/// their 32-bit layouts for a 32-bit caller; the sg ioctls as Linux's SCSI
/// layer does.
pub fn encode_answer(cmd: u32, answer: Answer, compat: bool, arg: &mut dyn UserOut) -> Result<()> {
    match answer {
        Answer::Sg(a) => super::linux_sg::encode(cmd, a, compat, arg),
        Answer::Done => Ok(()),
        Answer::Status(s) if compat => arg.write(0, &mtget32(&s)),
        Answer::Status(s) => arg.write(0, &mtget(&s)),
        Answer::Block(blk) if compat => arg.write(0, &blk.to_ne_bytes()),
        Answer::Block(blk) => arg.write(0, &i64::from(blk).to_ne_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_header_encoding() {
        // _IOC(dir, 'm', nr, size): dir << 30 | size << 16 | 'm' << 8 | nr.
        let ioc = |dir: u32, nr: u32, size: u32| dir << 30 | size << 16 | u32::from(b'm') << 8 | nr;
        assert_eq!(MTIOCTOP, ioc(1, 1, 8));
        assert_eq!(MTIOCGET, ioc(2, 2, 48));
        assert_eq!(MTIOCPOS, ioc(2, 3, 8));
        assert_eq!(MTIOCGET32, ioc(2, 2, 28));
        assert_eq!(MTIOCPOS32, ioc(2, 3, 4));
    }

    #[test]
    fn mtget_layout() {
        let s = TapeStatus {
            blksize: 512,
            density: 0x44,
            fileno: 3,
            blkno: -1,
            online: true,
            wr_prot: true,
            im_rep_en: true,
            ..TapeStatus::default()
        };
        let b = mtget(&s);
        assert_eq!(i64::from_ne_bytes(b[0..8].try_into().unwrap()), 0x72);
        assert_eq!(i64::from_ne_bytes(b[16..24].try_into().unwrap()), 0x4400_0200);
        assert_eq!(
            i64::from_ne_bytes(b[24..32].try_into().unwrap()),
            i64::from(gmt::ONLINE | gmt::WR_PROT | gmt::IM_REP_EN)
        );
        assert_eq!(i32::from_ne_bytes(b[40..44].try_into().unwrap()), 3);
        assert_eq!(i32::from_ne_bytes(b[44..48].try_into().unwrap()), -1);
        let c = mtget32(&s);
        assert_eq!(u32::from_ne_bytes(c[0..4].try_into().unwrap()), 0x72);
        assert_eq!(i32::from_ne_bytes(c[24..28].try_into().unwrap()), -1);
    }

    #[test]
    fn every_linux_op_has_a_meaning() {
        for op in 0..=35i16 {
            assert_eq!(decode_op(op).is_some(), !(17..=19).contains(&op), "op {op}");
        }
        assert!(decode_op(36).is_none() && decode_op(-1).is_none());
    }
}
