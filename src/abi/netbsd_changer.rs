//! NetBSD's changer ABI: ch(4)'s CHIO ioctls (sys/sys/chio.h) in their
//! LP64 layouts, decoded and answered as NetBSD's sys/dev/scsipi/ch.c does
//! (its argument checks are [`crate::chg::Rules::NETBSD`] and here).
//! `scripts/netbsd-check` compiles a C file that pins every number and
//! offset below against NetBSD's own header.

use crate::chg::ch::Op;
use crate::chg::{ChAnswer, ChIoctl, ChangerIoctl, ElemStatus, ElemType, Elements, StatusAnswer};
use crate::errno::{Errno, Result};
use crate::host::{Host, UserIn, UserOut};

/// `CHIOMOVE`: `_IOW('c', 0x01, struct changer_move_request)`.
pub const CHIOMOVE: u32 = 0x8014_6301;
/// `CHIOEXCHANGE`: `_IOW('c', 0x02, struct changer_exchange_request)`.
pub const CHIOEXCHANGE: u32 = 0x801c_6302;
/// `CHIOPOSITION`: `_IOW('c', 0x03, struct changer_position_request)`.
pub const CHIOPOSITION: u32 = 0x800c_6303;
/// `CHIOGPICKER`: `_IOR('c', 0x04, int)`.
pub const CHIOGPICKER: u32 = 0x4004_6304;
/// `CHIOSPICKER`: `_IOW('c', 0x05, int)`.
pub const CHIOSPICKER: u32 = 0x8004_6305;
/// `CHIOGPARAMS`: `_IOR('c', 0x06, struct changer_params)`.
pub const CHIOGPARAMS: u32 = 0x4014_6306;
/// `CHIOIELEM`: `_IO('c', 0x07)`.
pub const CHIOIELEM: u32 = 0x2000_6307;
/// `OCHIOGSTATUS`: `_IOW('c', 0x08, struct ochanger_element_status_request)`.
pub const OCHIOGSTATUS: u32 = 0x8010_6308;
/// `CHIOGSTATUS`: `_IOW('c', 0x09, struct changer_element_status_request)`.
pub const CHIOGSTATUS: u32 = 0x8020_6309;
/// `CHIOSVOLTAG`: `_IOW('c', 0x0a, struct changer_set_voltag_request)`.
pub const CHIOSVOLTAG: u32 = 0x8030_630a;

/// `sizeof(struct changer_element_status)` on LP64.
pub const CES_SIZE: usize = 120;

/// Offsets of `struct changer_element_status` (LP64).
pub mod ces_off {
    /// `ces_flags`.
    pub const FLAGS: usize = 0;
    /// `ces_xname[16]`.
    pub const XNAME: usize = 4;
    /// `ces_from_type`.
    pub const FROM_TYPE: usize = 20;
    /// `ces_from_unit`.
    pub const FROM_UNIT: usize = 24;
    /// `ces_pvoltag` (`struct changer_voltag`: `cv_tag[33]`, `cv_serial`).
    pub const PVOLTAG: usize = 28;
    /// `ces_avoltag`.
    pub const AVOLTAG: usize = 64;
    /// `cv_serial` within `struct changer_voltag`.
    pub const CV_SERIAL: usize = 34;
    /// `sizeof(struct changer_voltag)`.
    pub const VOLTAG_SIZE: usize = 36;
    /// `ces_vendor_len` (a size_t).
    pub const VENDOR_LEN: usize = 104;
    /// `ces_asc`.
    pub const ASC: usize = 112;
    /// `ces_ascq`.
    pub const ASCQ: usize = 113;
    /// `ces_target`.
    pub const TARGET: usize = 114;
    /// `ces_lun`.
    pub const LUN: usize = 115;
}

/// `CESTATUS_*` bits.
pub mod ces {
    /// `CESTATUS_INVERTED`.
    pub const INVERTED: i32 = 0x0040;
    /// `CESTATUS_NOTBUS`.
    pub const NOTBUS: i32 = 0x0080;
    /// `CESTATUS_STATUS_VALID`.
    pub const STATUS_VALID: i32 = 0x0100;
    /// `CESTATUS_FROM_VALID`.
    pub const FROM_VALID: i32 = 0x0400;
    /// `CESTATUS_PVOL_VALID`.
    pub const PVOL_VALID: i32 = 0x0800;
    /// `CESTATUS_AVOL_VALID`.
    pub const AVOL_VALID: i32 = 0x1000;
    /// `CESTATUS_TARGET_VALID`.
    pub const TARGET_VALID: i32 = 0x2000;
    /// `CESTATUS_LUN_VALID`.
    pub const LUN_VALID: i32 = 0x4000;
}

/// `CESR_VOLTAGS`.
pub const CESR_VOLTAGS: i32 = 0x01;
/// `CSVR_MODE_SET`, `CSVR_MODE_REPLACE`, `CSVR_MODE_CLEAR`, their mask and
/// `CSVR_ALTERNATE`.
pub mod csvr {
    /// Set the tag if none is set (SEND VOLUME TAG's assert).
    pub const MODE_SET: i32 = 0x00;
    /// Replace it.
    pub const MODE_REPLACE: i32 = 0x01;
    /// Clear it.
    pub const MODE_CLEAR: i32 = 0x02;
    /// The mode bits.
    pub const MODE_MASK: i32 = 0x0f;
    /// The alternate tag.
    pub const ALTERNATE: i32 = 0x10;
}

fn int(arg: &mut dyn UserIn, at: usize) -> Result<i32> {
    Ok(i32::from_ne_bytes(super::read_arg::<4>(arg, at)?))
}

fn ptr(arg: &mut dyn UserIn, at: usize) -> Result<u64> {
    Ok(u64::from_ne_bytes(super::read_arg::<8>(arg, at)?))
}

/// An element named by the caller: a type NetBSD's ch knows (EINVAL for
/// one beyond CHET_DT; ch.c compares signed, we refuse negative ones too)
/// and a unit, checked against the changer's counts by the engine.
fn elem(arg: &mut dyn UserIn, at: usize) -> Result<(i32, i32)> {
    let ty = int(arg, at)?;
    if ElemType::from_chet(ty).is_none() {
        return Err(Errno::Inval);
    }
    Ok((ty, int(arg, at + 4)?))
}

/// Decodes a changer ioctl in NetBSD's numbering.
pub fn decode(cmd: u32, arg: &mut dyn UserIn) -> Result<ChangerIoctl> {
    let (mut addr, mut vendor) = (None, None);
    // chioctl: everything but these needs a file open for writing.
    let changes = !matches!(cmd, CHIOGPICKER | CHIOGPARAMS | OCHIOGSTATUS);
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
        OCHIOGSTATUS => {
            let ty = int(arg, 0)?;
            if ElemType::from_chet(ty).is_none() {
                return Err(Errno::Inval);
            }
            addr = Some(ptr(arg, 8)?);
            ChIoctl::Ch(Op::StatusAll { ty })
        }
        CHIOGSTATUS => {
            let (ty, unit) = elem(arg, 0)?;
            let count = int(arg, 8)?;
            let flags = int(arg, 12)?;
            addr = Some(ptr(arg, 16)?);
            vendor = Some(ptr(arg, 24)?).filter(|p| *p != 0);
            ChIoctl::Ch(Op::Status { ty, unit, count, voltags: flags & CESR_VOLTAGS != 0 })
        }
        CHIOSVOLTAG => {
            let (ty, unit) = elem(arg, 0)?;
            let flags = int(arg, 8)?;
            let alt = u8::from(flags & csvr::ALTERNATE != 0);
            // ch_setvoltag: SEND VOLUME TAG's assert, replace, undefined.
            let action = match flags & csvr::MODE_MASK {
                csvr::MODE_SET => 0x08,
                csvr::MODE_REPLACE => 0x0a,
                csvr::MODE_CLEAR => 0x0c,
                _ => return Err(Errno::Inval),
            } + alt;
            // struct changer_voltag: the label up to its NUL (at most 32
            // characters), then the sequence number.
            let raw: [u8; 33] = super::read_arg::<33>(arg, 12)?;
            let mut tag = [0u8; 32];
            for (d, s) in tag.iter_mut().zip(raw.iter().take_while(|b| **b != 0)) {
                *d = *s;
            }
            let serial = u16::from_ne_bytes(super::read_arg::<2>(arg, 12 + ces_off::CV_SERIAL)?);
            ChIoctl::Ch(Op::SetVoltag { elem: (ty, unit), action, tag, serial })
        }
        _ => return Err(Errno::NoTty),
    };
    Ok(ChangerIoctl { what, compat32: false, cmd, addr, vendor, changes })
}

/// Lays an answer out as NetBSD's ch does.
pub fn encode(io: &ChangerIoctl, answer: ChAnswer, arg: &mut dyn UserOut, host: &mut dyn Host) -> Result<()> {
    match answer {
        ChAnswer::Done | ChAnswer::Sg(_) => Ok(()),
        ChAnswer::Int(v) => arg.write(0, &v.to_ne_bytes()),
        ChAnswer::Params(e, picker) => {
            let v = [
                picker,
                i32::from(e.count_of(ElemType::Transport)),
                i32::from(e.count_of(ElemType::Slot)),
                i32::from(e.count_of(ElemType::Portal)),
                i32::from(e.count_of(ElemType::Drive)),
            ];
            let mut b = [0u8; 20];
            for (d, c) in b.chunks_exact_mut(4).zip(v) {
                d.copy_from_slice(&c.to_ne_bytes());
            }
            arg.write(0, &b)
        }
        ChAnswer::Status(st) if io.cmd == OCHIOGSTATUS => {
            // ch_ousergetelemstatus: one status byte per element.
            let addr = io.addr.ok_or(Errno::Inval)?;
            for (i, s) in st.list.iter().enumerate() {
                let at = addr.checked_add(i as u64).ok_or(Errno::Fault)?;
                host.copyout_addr(at, &[s.flags])?;
            }
            Ok(())
        }
        ChAnswer::Status(st) => user_element_status(io, &st, host),
    }
}

/// ch_usergetelemstatus's copies: `count` entries at `cesr_data`, each
/// element the library reported at its place (by address), the others
/// zero; the vendor-specific bytes of each to the buffer the caller's
/// `cesr_vendor_data[i]` names, if it gave that array.
fn user_element_status(io: &ChangerIoctl, st: &StatusAnswer, host: &mut dyn Host) -> Result<()> {
    let addr = io.addr.ok_or(Errno::Inval)?;
    for i in 0..st.count {
        let s = u16::try_from(i).ok().and_then(|i| st.first.checked_add(i)).and_then(|a| st.list.iter().find(|s| s.addr == a));
        let vendor = s.map(|s| st.vendor(s)).unwrap_or_default();
        let b = match s {
            Some(s) => element_status(s, &st.elements, vendor.len()),
            None => [0u8; CES_SIZE],
        };
        let at = (i as u64).checked_mul(CES_SIZE as u64).and_then(|o| addr.checked_add(o)).ok_or(Errno::Fault)?;
        if let (Some(v), false) = (io.vendor, vendor.is_empty()) {
            let slot = (i as u64).checked_mul(8).and_then(|o| v.checked_add(o)).ok_or(Errno::Fault)?;
            let mut p = [0u8; 8];
            host.copyin_addr(slot, &mut p)?;
            host.copyout_addr(u64::from_ne_bytes(p), vendor)?;
        }
        host.copyout_addr(at, &b)?;
    }
    Ok(())
}

/// ch_voltag_convert_in: the label up to its first blank ("per the
/// SCSI-2 spec"), NUL-terminated, and the sequence number.
fn voltag(t: &[u8; 36], out: &mut [u8]) {
    for (d, s) in out.iter_mut().zip(t.iter().take(32).take_while(|b| **b != b' ')) {
        *d = *s;
    }
    let serial = u16::from_be_bytes([t[34], t[35]]);
    if let Some(d) = out.get_mut(ces_off::CV_SERIAL..ces_off::CV_SERIAL + 2) {
        d.copy_from_slice(&serial.to_ne_bytes());
    }
}

/// `struct changer_element_status` for one element (ch_usergetelemstatus).
fn element_status(s: &ElemStatus, e: &Elements, vendor_len: usize) -> [u8; CES_SIZE] {
    let mut b = [0u8; CES_SIZE];
    let mut flags = ces::STATUS_VALID | i32::from(s.flags & 0x3f);
    b[ces_off::ASC] = s.asc;
    b[ces_off::ASCQ] = s.ascq;
    if s.idlun & 0x20 != 0 {
        b[ces_off::TARGET] = s.id;
        flags |= ces::TARGET_VALID;
    }
    if s.idlun & 0x10 != 0 {
        b[ces_off::LUN] = s.idlun & 0x07;
        flags |= ces::LUN_VALID;
    }
    // No device name: a pmt drive is never on the changer's SCSI bus.
    if s.idlun & 0x80 != 0 {
        flags |= ces::NOTBUS;
    }
    if s.invert {
        flags |= ces::INVERTED;
    }
    if let Some((t, u)) = s.source.and_then(|a| e.locate(a)) {
        flags |= ces::FROM_VALID;
        b[ces_off::FROM_TYPE..ces_off::FROM_TYPE + 4].copy_from_slice(&(t as i32).to_ne_bytes());
        b[ces_off::FROM_UNIT..ces_off::FROM_UNIT + 4].copy_from_slice(&i32::from(u).to_ne_bytes());
    }
    if let Some(t) = &s.pvoltag {
        flags |= ces::PVOL_VALID;
        voltag(t, &mut b[ces_off::PVOLTAG..ces_off::PVOLTAG + ces_off::VOLTAG_SIZE]);
    }
    if let Some(t) = &s.avoltag {
        flags |= ces::AVOL_VALID;
        voltag(t, &mut b[ces_off::AVOLTAG..ces_off::AVOLTAG + ces_off::VOLTAG_SIZE]);
    }
    b[ces_off::VENDOR_LEN..ces_off::VENDOR_LEN + 8].copy_from_slice(&(vendor_len as u64).to_ne_bytes());
    b[ces_off::FLAGS..ces_off::FLAGS + 4].copy_from_slice(&flags.to_ne_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_netbsds_encoding() {
        // NetBSD: IOC_VOID 0x20000000, IOC_OUT 0x40000000, IOC_IN 0x80000000.
        let ioc = |dir: u32, nr: u32, size: u32| dir << 29 | size << 16 | u32::from(b'c') << 8 | nr;
        assert_eq!(CHIOMOVE, ioc(4, 1, 20));
        assert_eq!(CHIOEXCHANGE, ioc(4, 2, 28));
        assert_eq!(CHIOPOSITION, ioc(4, 3, 12));
        assert_eq!(CHIOGPICKER, ioc(2, 4, 4));
        assert_eq!(CHIOSPICKER, ioc(4, 5, 4));
        assert_eq!(CHIOGPARAMS, ioc(2, 6, 20));
        assert_eq!(CHIOIELEM, ioc(1, 7, 0));
        assert_eq!(OCHIOGSTATUS, ioc(4, 8, 16));
        assert_eq!(CHIOGSTATUS, ioc(4, 9, 32));
        assert_eq!(CHIOSVOLTAG, ioc(4, 10, 48));
    }

    /// Every `PMT_NB_*` number of tests/c/netbsd_abi.c (compiled against
    /// NetBSD's headers by scripts/netbsd-check) is the core's.
    #[test]
    fn the_c_pins_are_the_cores_numbers() {
        extern crate std;
        use crate::abi::netbsd as mt;
        let c = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/netbsd_abi.c")).unwrap();
        let core: &[(&str, u64)] = &[
            ("MTIOCTOP", mt::MTIOCTOP.into()),
            ("MTIOCGET", mt::MTIOCGET.into()),
            ("MTIOCIEOT", mt::MTIOCIEOT.into()),
            ("MTIOCEEOT", mt::MTIOCEEOT.into()),
            ("MTIOCRDSPOS", mt::MTIOCRDSPOS.into()),
            ("MTIOCRDHPOS", mt::MTIOCRDHPOS.into()),
            ("MTIOCSLOCATE", mt::MTIOCSLOCATE.into()),
            ("MTIOCHLOCATE", mt::MTIOCHLOCATE.into()),
            ("MTGET_SIZE", mt::MTGET_SIZE as u64),
            ("CHIOMOVE", CHIOMOVE.into()),
            ("CHIOEXCHANGE", CHIOEXCHANGE.into()),
            ("CHIOPOSITION", CHIOPOSITION.into()),
            ("CHIOGPICKER", CHIOGPICKER.into()),
            ("CHIOSPICKER", CHIOSPICKER.into()),
            ("CHIOGPARAMS", CHIOGPARAMS.into()),
            ("CHIOIELEM", CHIOIELEM.into()),
            ("OCHIOGSTATUS", OCHIOGSTATUS.into()),
            ("CHIOGSTATUS", CHIOGSTATUS.into()),
            ("CHIOSVOLTAG", CHIOSVOLTAG.into()),
            ("CES_SIZE", CES_SIZE as u64),
            ("FLAGS", ces_off::FLAGS as u64),
            ("XNAME", ces_off::XNAME as u64),
            ("FROM_TYPE", ces_off::FROM_TYPE as u64),
            ("FROM_UNIT", ces_off::FROM_UNIT as u64),
            ("PVOLTAG", ces_off::PVOLTAG as u64),
            ("AVOLTAG", ces_off::AVOLTAG as u64),
            ("CV_SERIAL", ces_off::CV_SERIAL as u64),
            ("VOLTAG_SIZE", ces_off::VOLTAG_SIZE as u64),
            ("VENDOR_LEN", ces_off::VENDOR_LEN as u64),
            ("ASC", ces_off::ASC as u64),
            ("ASCQ", ces_off::ASCQ as u64),
            ("TARGET", ces_off::TARGET as u64),
            ("LUN", ces_off::LUN as u64),
            ("INVERTED", ces::INVERTED as u64),
            ("NOTBUS", ces::NOTBUS as u64),
            ("STATUS_VALID", ces::STATUS_VALID as u64),
            ("FROM_VALID", ces::FROM_VALID as u64),
            ("PVOL_VALID", ces::PVOL_VALID as u64),
            ("AVOL_VALID", ces::AVOL_VALID as u64),
            ("TARGET_VALID", ces::TARGET_VALID as u64),
            ("LUN_VALID", ces::LUN_VALID as u64),
            ("CESR_VOLTAGS", CESR_VOLTAGS as u64),
            ("MODE_SET", csvr::MODE_SET as u64),
            ("MODE_REPLACE", csvr::MODE_REPLACE as u64),
            ("MODE_CLEAR", csvr::MODE_CLEAR as u64),
            ("MODE_MASK", csvr::MODE_MASK as u64),
            ("ALTERNATE", csvr::ALTERNATE as u64),
        ];
        let mut seen = 0;
        for l in c.lines() {
            let mut w = l.split_whitespace();
            if w.next() != Some("#define") {
                continue;
            }
            let Some(name) = w.next().and_then(|n| n.strip_prefix("PMT_NB_")) else { continue };
            let v = w.next().unwrap();
            let v = v.strip_prefix("0x").map_or_else(|| v.parse().unwrap(), |h| u64::from_str_radix(h, 16).unwrap());
            let want = core.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("{name} has no core number")).1;
            assert_eq!(v, want, "{name}");
            seen += 1;
        }
        assert_eq!(seen, core.len(), "every core number is pinned");
    }

    #[test]
    fn voltags_stop_at_the_first_blank() {
        let mut t = [b' '; 36];
        t[..8].copy_from_slice(b"AB 12345");
        t[34..36].copy_from_slice(&7u16.to_be_bytes());
        let mut out = [0u8; 36];
        voltag(&t, &mut out);
        assert_eq!(&out[..3], b"AB\0");
        assert_eq!(u16::from_ne_bytes([out[34], out[35]]), 7);
    }
}
