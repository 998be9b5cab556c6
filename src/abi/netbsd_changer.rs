//! NetBSD's changer ABI: ch(4)'s CHIO ioctls (sys/sys/chio.h), with
//! `struct changer_element_status` as NetBSD's ch.c fills it.

use alloc::vec::Vec;

use crate::chg::ch::Op;
use crate::chg::{ChAnswer, ChIoctl, ChangerIoctl, ElemStatus, ElemType, Elements};
use crate::errno::{Errno, Result};
use crate::host::{Host, UserIn, UserOut};

/// `CHIOMOVE`.
pub const CHIOMOVE: u32 = 0x8014_6301;
/// `CHIOEXCHANGE`.
pub const CHIOEXCHANGE: u32 = 0x801c_6302;
/// `CHIOPOSITION`.
pub const CHIOPOSITION: u32 = 0x800c_6303;
/// `CHIOGPICKER`.
pub const CHIOGPICKER: u32 = 0x4004_6304;
/// `CHIOSPICKER`.
pub const CHIOSPICKER: u32 = 0x8004_6305;
/// `CHIOGPARAMS`.
pub const CHIOGPARAMS: u32 = 0x4014_6306;
/// `CHIOIELEM`.
pub const CHIOIELEM: u32 = 0x2000_6307;
/// `CHIOGSTATUS` (`struct changer_element_status_request`, LP64).
pub const CHIOGSTATUS: u32 = 0x8020_6309;
/// `CHIOSVOLTAG`.
pub const CHIOSVOLTAG: u32 = 0x8030_630a;

/// `sizeof(struct changer_element_status)` on LP64.
pub const CES_SIZE: usize = 120;

/// `CESTATUS_*` validity bits.
mod ces {
    pub const STATUS_VALID: i32 = 0x0100;
    pub const FROM_VALID: i32 = 0x0400;
    pub const PVOL_VALID: i32 = 0x0800;
    pub const AVOL_VALID: i32 = 0x1000;
    pub const TARGET_VALID: i32 = 0x2000;
    pub const LUN_VALID: i32 = 0x4000;
    pub const INVERTED: i32 = 0x0040;
    pub const NOTBUS: i32 = 0x0080;
}

fn int(arg: &mut dyn UserIn, at: usize) -> Result<i32> {
    Ok(i32::from_ne_bytes(super::read_arg::<4>(arg, at)?))
}

/// An element named by the caller: a type NetBSD's ch knows (EINVAL
/// otherwise) and a unit.
fn elem(arg: &mut dyn UserIn, at: usize) -> Result<(i32, i32)> {
    let ty = int(arg, at)?;
    if !(0..=3).contains(&ty) {
        return Err(Errno::Inval);
    }
    Ok((ty, int(arg, at + 4)?))
}

/// Decodes a changer ioctl in NetBSD's numbering.
pub fn decode(cmd: u32, arg: &mut dyn UserIn) -> Result<ChangerIoctl> {
    let mut addr = None;
    let what = match cmd {
        CHIOMOVE => ChIoctl::Ch(Op::Move { from: elem(arg, 0)?, to: elem(arg, 8)?, invert: int(arg, 16)? & 1 != 0 }),
        CHIOEXCHANGE => {
            let f = int(arg, 24)?;
            ChIoctl::Ch(Op::Exchange {
                src: elem(arg, 0)?,
                dst1: elem(arg, 8)?,
                dst2: elem(arg, 16)?,
                invert1: f & 1 != 0,
                invert2: f & 2 != 0,
            })
        }
        CHIOPOSITION => ChIoctl::Ch(Op::Position { to: elem(arg, 0)?, invert: int(arg, 8)? & 1 != 0 }),
        CHIOGPICKER => ChIoctl::Ch(Op::GetPicker),
        CHIOSPICKER => ChIoctl::Ch(Op::SetPicker(int(arg, 0)?)),
        CHIOGPARAMS => ChIoctl::Ch(Op::Params),
        CHIOIELEM => ChIoctl::Ch(Op::InitElem),
        CHIOGSTATUS => {
            let (ty, unit) = elem(arg, 0)?;
            let count = int(arg, 8)?;
            let flags = int(arg, 12)?;
            if count < 0 {
                return Err(Errno::Inval);
            }
            addr = Some(u64::from_ne_bytes(super::read_arg::<8>(arg, 16)?));
            ChIoctl::Ch(Op::Status { ty, unit, count, voltags: flags & 1 != 0 })
        }
        CHIOSVOLTAG => {
            let (ty, unit) = elem(arg, 0)?;
            let flags = int(arg, 8)?;
            let alt = flags & 0x10 != 0;
            let action = match (flags & 0x0f, alt) {
                (0, false) => 0x0a,
                (0, true) => 0x0b,
                (1, false) => 0x08,
                (1, true) => 0x09,
                (2, false) => 0x0c,
                (2, true) => 0x0d,
                _ => return Err(Errno::Inval),
            };
            // struct changer_voltag: a NUL-terminated label of at most 32.
            let raw: [u8; 33] = super::read_arg::<33>(arg, 12)?;
            let mut tag = [b' '; 32];
            for (d, s) in tag.iter_mut().zip(raw.iter().take_while(|b| **b != 0)) {
                *d = *s;
            }
            ChIoctl::Ch(Op::SetVoltag { elem: (ty, unit), action, tag })
        }
        _ => return Err(Errno::NoTty),
    };
    Ok(ChangerIoctl { what, compat32: false, cmd, addr })
}

/// Lays an answer out as NetBSD's ch does.
pub fn encode(io: &ChangerIoctl, answer: ChAnswer, arg: &mut dyn UserOut, host: &mut dyn Host) -> Result<()> {
    match answer {
        ChAnswer::Done | ChAnswer::Sg(_) => Ok(()),
        ChAnswer::Int(v) => arg.write(0, &v.to_ne_bytes()),
        ChAnswer::Params(e) => {
            let v = [0, e.count_of(ElemType::Transport), e.count_of(ElemType::Slot), e.count_of(ElemType::Portal), e.count_of(ElemType::Drive)];
            let mut b = [0u8; 20];
            for (d, c) in b.chunks_exact_mut(4).zip(v) {
                d.copy_from_slice(&i32::from(c).to_ne_bytes());
            }
            arg.write(0, &b)
        }
        ChAnswer::Status(list, e) => {
            let addr = io.addr.ok_or(Errno::Inval)?;
            let mut out = Vec::new();
            out.try_reserve_exact(list.len().saturating_mul(CES_SIZE)).map_err(|_| Errno::NoMem)?;
            for s in &list {
                out.extend_from_slice(&element_status(s, &e));
            }
            if out.is_empty() {
                return Ok(());
            }
            host.copyout_addr(addr, &out)
        }
    }
}

/// A volume tag as NetBSD's `struct changer_voltag`: the label without its
/// trailing blanks, NUL-terminated, and the sequence number.
fn voltag(t: &[u8; 36], out: &mut [u8]) {
    let label = t.get(..32).unwrap_or_default();
    let end = label.iter().rposition(|b| *b != b' ' && *b != 0).map_or(0, |i| i + 1);
    if let (Some(d), Some(s)) = (out.get_mut(..end), label.get(..end)) {
        d.copy_from_slice(s);
    }
    let serial = u16::from_be_bytes([t[34], t[35]]);
    if let Some(d) = out.get_mut(34..36) {
        d.copy_from_slice(&serial.to_ne_bytes());
    }
}

/// `struct changer_element_status` for one element (ch_usergetelemstatus).
fn element_status(s: &ElemStatus, e: &Elements) -> [u8; CES_SIZE] {
    let mut b = [0u8; CES_SIZE];
    let mut flags = ces::STATUS_VALID | i32::from(s.flags & 0x3f);
    if s.idlun & 0x20 != 0 {
        b[114] = s.id;
        flags |= ces::TARGET_VALID;
    }
    if s.idlun & 0x10 != 0 {
        b[115] = s.idlun & 0x07;
        flags |= ces::LUN_VALID;
    }
    if s.idlun & 0x80 != 0 {
        flags |= ces::NOTBUS;
    }
    if s.invert {
        flags |= ces::INVERTED;
    }
    if let Some((t, u)) = s.source.and_then(|a| e.locate(a)) {
        flags |= ces::FROM_VALID;
        b[20..24].copy_from_slice(&(t as i32).to_ne_bytes());
        b[24..28].copy_from_slice(&i32::from(u).to_ne_bytes());
    }
    if let Some(t) = &s.pvoltag {
        flags |= ces::PVOL_VALID;
        voltag(t, &mut b[28..64]);
    }
    if let Some(t) = &s.avoltag {
        flags |= ces::AVOL_VALID;
        voltag(t, &mut b[64..100]);
    }
    b[112] = s.asc;
    b[113] = s.ascq;
    b[0..4].copy_from_slice(&flags.to_ne_bytes());
    b
}
