//! Linux's changer ABI: the CHIO ioctls (include/uapi/linux/chio.h), and
//! the sg ioctls every SCSI node takes ([`linux_sg`]).

use alloc::vec::Vec;

use super::linux_sg;
use crate::chg::ch::Op;
use crate::chg::{ChAnswer, ChIoctl, ChangerIoctl, ElemStatus, ElemType, Elements};
use crate::errno::{Errno, Result};
use crate::host::{Host, UserIn, UserOut};

/// `CHIOMOVE`.
pub const CHIOMOVE: u32 = 0x4014_6301;
/// `CHIOEXCHANGE`.
pub const CHIOEXCHANGE: u32 = 0x401c_6302;
/// `CHIOPOSITION`.
pub const CHIOPOSITION: u32 = 0x400c_6303;
/// `CHIOGPICKER` (ch: not implemented).
pub const CHIOGPICKER: u32 = 0x8004_6304;
/// `CHIOSPICKER` (ch: not implemented).
pub const CHIOSPICKER: u32 = 0x4004_6305;
/// `CHIOGPARAMS`.
pub const CHIOGPARAMS: u32 = 0x8014_6306;
/// `CHIOGSTATUS`.
pub const CHIOGSTATUS: u32 = 0x4010_6308;
/// `CHIOGSTATUS` from a 32-bit process (`struct changer_element_status32`).
pub const CHIOGSTATUS32: u32 = 0x4008_6308;
/// `CHIOGELEM`.
pub const CHIOGELEM: u32 = 0x406c_6310;
/// `CHIOINITELEM`.
pub const CHIOINITELEM: u32 = 0x0000_6311;
/// `CHIOSVOLTAG`.
pub const CHIOSVOLTAG: u32 = 0x4030_6312;
/// `CHIOGVPARAMS`.
pub const CHIOGVPARAMS: u32 = 0x8070_6313;

/// `CGE_*` flags of `struct changer_get_element`.
mod cge {
    pub const SRC: i32 = 0x04;
    pub const INVERT: i32 = 0x02;
    pub const IDLUN: i32 = 0x08;
    pub const PVOLTAG: i32 = 0x10;
    pub const AVOLTAG: i32 = 0x20;
}

fn int(arg: &mut dyn UserIn, at: usize) -> Result<i32> {
    Ok(i32::from_ne_bytes(super::read_arg::<4>(arg, at)?))
}

fn pair(arg: &mut dyn UserIn, at: usize) -> Result<(i32, i32)> {
    Ok((int(arg, at)?, int(arg, at + 4)?))
}

/// Decodes a changer ioctl in Linux's numbering.
pub fn decode(cmd: u32, arg: &mut dyn UserIn, compat32: bool) -> Result<ChangerIoctl> {
    if let Some(sg) = linux_sg::decode(cmd, arg, compat32)? {
        return Ok(ChangerIoctl { what: ChIoctl::Sg(sg), compat32, cmd, addr: None, vendor: None, changes: false });
    }
    let what = match cmd {
        CHIOGPARAMS | CHIOGVPARAMS => ChIoctl::Ch(Op::Params),
        CHIOMOVE => {
            let f = int(arg, 16)?;
            ChIoctl::Ch(Op::Move { from: pair(arg, 0)?, to: pair(arg, 8)?, invert: f & 1 != 0 })
        }
        CHIOEXCHANGE => {
            let f = int(arg, 24)?;
            ChIoctl::Ch(Op::Exchange {
                src: pair(arg, 0)?,
                dst1: pair(arg, 8)?,
                dst2: pair(arg, 16)?,
                invert1: f & 1 != 0,
                invert2: f & 2 != 0,
            })
        }
        CHIOPOSITION => ChIoctl::Ch(Op::Position { to: pair(arg, 0)?, invert: int(arg, 8)? & 1 != 0 }),
        CHIOGSTATUS | CHIOGSTATUS32 => {
            if (cmd == CHIOGSTATUS32) != compat32 {
                return Err(Errno::NoTty);
            }
            let ty = int(arg, 0)?;
            if !(0..8).contains(&ty) {
                return Err(Errno::Inval);
            }
            // ces_data: a pointer after the int, 32 or 64 bits wide.
            let addr = if compat32 {
                u64::from(u32::from_ne_bytes(super::read_arg::<4>(arg, 4)?))
            } else {
                u64::from_ne_bytes(super::read_arg::<8>(arg, 8)?)
            };
            return Ok(ChangerIoctl { what: ChIoctl::Ch(Op::StatusAll { ty }), compat32, cmd, addr: Some(addr), vendor: None, changes: false });
        }
        CHIOGELEM => {
            let (ty, unit) = pair(arg, 0)?;
            ChIoctl::Ch(Op::Status { ty, unit, count: 1, voltags: true })
        }
        CHIOINITELEM => ChIoctl::Ch(Op::InitElem),
        CHIOSVOLTAG => {
            let (ty, unit) = pair(arg, 0)?;
            let tag: [u8; 32] = super::read_arg::<32>(arg, 8)?;
            let f = int(arg, 44)?;
            let action = match (f & 0x04 != 0, f & 0x02 != 0) {
                (true, true) => 0x0d,
                (true, false) => 0x0c,
                (false, true) => 0x0b,
                (false, false) => 0x0a,
            };
            ChIoctl::Ch(Op::SetVoltag { elem: (ty, unit), action, tag, serial: 0 })
        }
        _ => return Err(Errno::NoTty),
    };
    Ok(ChangerIoctl { what, compat32, cmd, addr: None, vendor: None, changes: false })
}

/// Lays an answer out as sg and ch do.
pub fn encode(io: &ChangerIoctl, answer: ChAnswer, arg: &mut dyn UserOut, host: &mut dyn Host) -> Result<()> {
    match answer {
        ChAnswer::Sg(a) => linux_sg::encode(io.cmd, a, io.compat32, arg),
        ChAnswer::Done => Ok(()),
        ChAnswer::Int(v) => arg.write(0, &v.to_ne_bytes()),
        ChAnswer::Params(e, _) if io.cmd == CHIOGVPARAMS => {
            // No vendor-specific element types.
            let _ = e;
            arg.write(0, &[0u8; 112])
        }
        ChAnswer::Params(e, _) => {
            let v = [0, e.count_of(ElemType::Transport), e.count_of(ElemType::Slot), e.count_of(ElemType::Portal), e.count_of(ElemType::Drive)];
            let mut b = [0u8; 20];
            for (d, c) in b.chunks_exact_mut(4).zip(v) {
                d.copy_from_slice(&i32::from(c).to_ne_bytes());
            }
            arg.write(0, &b)
        }
        ChAnswer::Status(st) if io.cmd == CHIOGELEM => get_element(st.list.first(), &st.elements, arg),
        ChAnswer::Status(st) => {
            let list = st.list;
            // CHIOGSTATUS: one status byte per element, at ces_data.
            let addr = io.addr.ok_or(Errno::Inval)?;
            let mut bytes = Vec::new();
            bytes.try_reserve_exact(list.len()).map_err(|_| Errno::NoMem)?;
            bytes.extend(list.iter().map(|s| s.flags));
            if bytes.is_empty() {
                return Ok(());
            }
            host.copyout_addr(addr, &bytes)
        }
    }
}

/// `struct changer_get_element` for one element.
fn get_element(s: Option<&ElemStatus>, e: &Elements, arg: &mut dyn UserOut) -> Result<()> {
    let s = s.ok_or(Errno::Io)?;
    let mut flags = 0;
    let (mut srctype, mut srcunit) = (0, 0);
    if let Some(src) = s.source {
        flags |= cge::SRC;
        if s.invert {
            flags |= cge::INVERT;
        }
        if let Some((t, u)) = e.locate(src) {
            srctype = t as i32;
            srcunit = i32::from(u);
        }
    }
    let (mut id, mut lun) = (0, 0);
    if s.idlun & 0x30 == 0x30 {
        flags |= cge::IDLUN;
        id = i32::from(s.id);
        lun = i32::from(s.idlun & 7);
    }
    let errno = if s.flags & 0x04 != 0 { 5 } else { 0 };
    let mut b = [0u8; 108];
    let ints = [i32::from(s.flags), errno, srctype, srcunit, id, lun];
    for (d, v) in b[8..32].chunks_exact_mut(4).zip(ints) {
        d.copy_from_slice(&v.to_ne_bytes());
    }
    if let Some(t) = s.pvoltag {
        flags |= cge::PVOLTAG;
        b[32..68].copy_from_slice(&t);
    }
    if let Some(t) = s.avoltag {
        flags |= cge::AVOLTAG;
        b[68..104].copy_from_slice(&t);
    }
    b[104..108].copy_from_slice(&flags.to_ne_bytes());
    // cge_type and cge_unit stay as the caller gave them.
    arg.write(8, &b[8..])
}

/// Bytes of the argument of changer ioctl `cmd`.
pub fn arg_size(cmd: u32, compat32: bool) -> usize {
    linux_sg::arg_size(cmd, compat32).unwrap_or(((cmd >> 16) & 0x3fff) as usize)
}
