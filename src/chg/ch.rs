//! The CHIO ioctls as ch(4) turns them into SMC commands (Linux's
//! drivers/scsi/ch.c; NetBSD's sys/dev/scsipi/ch.c takes the same
//! requests in its own layouts): the element layout read from MODE SENSE
//! page 0x1D, MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT, READ
//! ELEMENT STATUS (with volume tags, without if the library refuses them),
//! INITIALIZE ELEMENT STATUS, SEND VOLUME TAG; and ch's sense-to-errno
//! mapping.

use alloc::vec::Vec;

use super::{ChAnswer, ChLink, Engine, INIT_TIMEOUT};
use crate::sgio::Done;
use crate::errno::{Errno, Result};
use crate::proto::scsi::{self, Dir};

/// Element types as CHIO numbers them (`CHET_*`); SMC's element type codes
/// are one more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    /// A medium transport (picker).
    Transport = 0,
    /// A storage slot.
    Slot = 1,
    /// An import/export element (portal).
    Portal = 2,
    /// A data transfer element (drive).
    Drive = 3,
}

impl ElemType {
    /// The type of a CHIO number, if it is one.
    pub const fn from_chet(v: i32) -> Option<ElemType> {
        Some(match v {
            0 => ElemType::Transport,
            1 => ElemType::Slot,
            2 => ElemType::Portal,
            3 => ElemType::Drive,
            _ => return None,
        })
    }

    /// SMC's element type code.
    pub const fn smc(self) -> u8 {
        self as u8 + 1
    }

    /// Every type, in CHIO's order.
    pub const ALL: [ElemType; 4] = [ElemType::Transport, ElemType::Slot, ElemType::Portal, ElemType::Drive];
}

/// The element layout: the first address and the count of each type
/// (MODE SENSE page 0x1D), indexed by CHIO type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Elements {
    /// First element address of each type.
    pub first: [u16; 4],
    /// Elements of each type.
    pub count: [u16; 4],
}

impl Elements {
    /// Decodes a MODE SENSE(6) reply holding page 0x1D (after the 4-byte
    /// header and the block descriptors its byte 3 counts).
    pub fn from_mode_sense(b: &[u8]) -> Option<Elements> {
        let page = b.get(4usize.checked_add(usize::from(*b.get(3)?))?..)?;
        if page.first()? & 0x3f != 0x1d {
            return None;
        }
        let word = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*page.get(i)?, *page.get(i + 1)?])) };
        Some(Elements {
            first: [word(2)?, word(6)?, word(10)?, word(14)?],
            count: [word(4)?, word(8)?, word(12)?, word(16)?],
        })
    }

    /// The first address of type `t`.
    pub fn first_of(&self, t: ElemType) -> u16 {
        let [m, s, i, d] = self.first;
        match t {
            ElemType::Transport => m,
            ElemType::Slot => s,
            ElemType::Portal => i,
            ElemType::Drive => d,
        }
    }

    /// Elements of type `t`.
    pub fn count_of(&self, t: ElemType) -> u16 {
        let [m, s, i, d] = self.count;
        match t {
            ElemType::Transport => m,
            ElemType::Slot => s,
            ElemType::Portal => i,
            ElemType::Drive => d,
        }
    }

    /// The address of unit `unit` of CHIO type `ty`; EBADSLT beyond the
    /// changer's elements (ch_checkrange).
    pub fn address(&self, ty: i32, unit: i32) -> Result<u16> {
        let t = ElemType::from_chet(ty).ok_or(Errno::BadSlt)?;
        let unit = u16::try_from(unit).map_err(|_| Errno::BadSlt)?;
        if unit >= self.count_of(t) {
            return Err(Errno::BadSlt);
        }
        self.first_of(t).checked_add(unit).ok_or(Errno::BadSlt)
    }

    /// The CHIO type and unit of element address `addr`, if it is one.
    pub fn locate(&self, addr: u16) -> Option<(ElemType, u16)> {
        ElemType::ALL.into_iter().find_map(|t| {
            let off = addr.checked_sub(self.first_of(t))?;
            (off < self.count_of(t)).then_some((t, off))
        })
    }
}

/// One element's status (a READ ELEMENT STATUS descriptor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElemStatus {
    /// Its address.
    pub addr: u16,
    /// Its type.
    pub ty: ElemType,
    /// The flags byte (FULL 0x01, IMPEXP 0x02, EXCEPT 0x04, ACCESS 0x08,
    /// EXENAB 0x10, INENAB 0x20): CHIO's `CESTATUS_*` bits are SMC's.
    pub flags: u8,
    /// Additional sense code and qualifier of an exception.
    pub asc: u8,
    /// See `asc`.
    pub ascq: u8,
    /// Byte 6 of a drive's descriptor: ID valid 0x20, LUN valid 0x10, LUN.
    pub idlun: u8,
    /// Byte 7: the SCSI id.
    pub id: u8,
    /// The element the medium came from (SVALID).
    pub source: Option<u16>,
    /// The medium was inverted.
    pub invert: bool,
    /// The primary volume tag (36 bytes: the label, then its sequence number).
    pub pvoltag: Option<[u8; 36]>,
    /// The alternate volume tag.
    pub avoltag: Option<[u8; 36]>,
}

/// Decodes a READ ELEMENT STATUS reply: every whole descriptor of every
/// page, at most `want`.
pub fn parse_element_status(b: &[u8], want: usize) -> Vec<ElemStatus> {
    let mut out = Vec::new();
    let be16 = |s: &[u8], i: usize| -> Option<u16> { Some(u16::from_be_bytes([*s.get(i)?, *s.get(i + 1)?])) };
    let be24 = |s: &[u8], i: usize| -> Option<usize> {
        Some(usize::from(*s.get(i)?) << 16 | usize::from(*s.get(i + 1)?) << 8 | usize::from(*s.get(i + 2)?))
    };
    let Some(total) = be24(b, 5) else { return out };
    let mut rest = b.get(8..8usize.saturating_add(total)).unwrap_or_else(|| b.get(8..).unwrap_or_default());
    while rest.len() >= 8 && out.len() < want {
        let (Some(&code), Some(&tags), Some(dlen), Some(plen)) = (rest.first(), rest.get(1), be16(rest, 2), be24(rest, 5)) else {
            break;
        };
        let Some(ty) = ElemType::from_chet(i32::from(code & 0x0f) - 1) else { break };
        let page = rest.get(8..8usize.saturating_add(plen)).unwrap_or_else(|| rest.get(8..).unwrap_or_default());
        let dlen = usize::from(dlen);
        if dlen < 12 {
            break;
        }
        for d in page.chunks(dlen) {
            if d.len() < dlen || out.len() >= want {
                break;
            }
            let tag = |at: usize| -> Option<[u8; 36]> { d.get(at..at + 36)?.try_into().ok() };
            let mut at = 12;
            let pvoltag = if tags & 0x80 != 0 {
                let t = tag(at);
                at += 36;
                t
            } else {
                None
            };
            let avoltag = if tags & 0x40 != 0 { tag(at) } else { None };
            let byte = |i: usize| d.get(i).copied().unwrap_or(0);
            out.push(ElemStatus {
                addr: be16(d, 0).unwrap_or(0),
                ty,
                flags: byte(2),
                asc: byte(4),
                ascq: byte(5),
                idlun: byte(6),
                id: byte(7),
                source: (byte(9) & 0x80 != 0).then(|| be16(d, 10).unwrap_or(0)),
                invert: byte(9) & 0x40 != 0,
                pvoltag,
                avoltag,
            });
        }
        rest = rest.get(8usize.saturating_add(plen)..).unwrap_or_default();
    }
    out
}

/// A CHIO operation, whatever the host's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// CHIOGPARAMS.
    Params,
    /// CHIOMOVE: from (type, unit) to (type, unit).
    Move {
        /// Source type and unit.
        from: (i32, i32),
        /// Destination type and unit.
        to: (i32, i32),
        /// Invert the medium.
        invert: bool,
    },
    /// CHIOEXCHANGE.
    Exchange {
        /// Source.
        src: (i32, i32),
        /// First destination.
        dst1: (i32, i32),
        /// Second destination.
        dst2: (i32, i32),
        /// Invert the first medium.
        invert1: bool,
        /// Invert the second.
        invert2: bool,
    },
    /// CHIOPOSITION.
    Position {
        /// The element.
        to: (i32, i32),
        /// Invert the picker.
        invert: bool,
    },
    /// CHIOGSTATUS and CHIOGELEM: `count` elements of type `ty` from
    /// `unit` (a negative count: every element of the type from `unit`).
    Status {
        /// CHIO type.
        ty: i32,
        /// First unit.
        unit: i32,
        /// How many.
        count: i32,
        /// Ask for volume tags.
        voltags: bool,
    },
    /// CHIOINITELEM.
    InitElem,
    /// CHIOSVOLTAG: SEND VOLUME TAG with action code `action` (0x0a set
    /// primary, 0x0b set alternate, 0x0c and 0x0d clear them, 0x08 and
    /// 0x09 replace).
    SetVoltag {
        /// The element.
        elem: (i32, i32),
        /// The action code.
        action: u8,
        /// The tag (ch restricts it to printable ASCII without wildcards).
        tag: [u8; 32],
    },
    /// CHIOGPICKER.
    GetPicker,
    /// CHIOSPICKER.
    SetPicker(i32),
}

/// ch_find_errno: the errno of a CHECK CONDITION's sense.
pub fn sense_errno(sense: Option<(u8, u8, u8)>) -> Errno {
    match sense {
        Some((0x5, 0x21, 0x01)) => Errno::BadSlt,
        Some((0x5, 0x28, 0x01)) | Some((0x5, 0x3b, 0x0e)) => Errno::BadE,
        Some((0x5, 0x3b, 0x0d)) => Errno::XFull,
        Some((0x5, 0x20, 0x00)) => Errno::BadRqc,
        _ => Errno::Io,
    }
}

/// 0 or the errno of a completed command.
fn result(d: &Done) -> Result<()> {
    if d.rep.status == scsi::status::GOOD {
        Ok(())
    } else {
        Err(sense_errno(d.sense()))
    }
}

impl Engine {
    /// The element layout, read once per daemon instance (ch_readconfig):
    /// MODE SENSE page 0x1D, asked again without block descriptors if the
    /// library refuses.
    fn elements(&mut self, l: &mut ChLink<'_>, timeout: u32) -> Result<Elements> {
        let gen = self.generation(l).ok_or(Errno::Io)?;
        if let Some((g, e)) = self.elements {
            if g == gen {
                return Ok(e);
            }
        }
        let mut cdb = [0x1a, 0x00, 0x1d, 0x00, 0xff, 0x00];
        let mut d = self.command(l, &cdb, Dir::FromDev, &[], 255, timeout)?;
        if result(&d).is_err() {
            cdb[1] |= 0x08;
            d = self.command(l, &cdb, Dir::FromDev, &[], 255, timeout)?;
        }
        result(&d)?;
        let e = Elements::from_mode_sense(&d.data).ok_or(Errno::Io)?;
        self.elements = Some((gen, e));
        self.voltags = true;
        Ok(e)
    }

    /// Runs a CHIO operation.
    pub(super) fn chio(&mut self, l: &mut ChLink<'_>, op: Op, timeout: u32) -> Result<ChAnswer> {
        let e = self.elements(l, timeout)?;
        let transport = e.first_of(ElemType::Transport).to_be_bytes();
        let done = |d: Done| result(&d).map(|()| ChAnswer::Done);
        match op {
            Op::Params => Ok(ChAnswer::Params(e)),
            Op::Move { from, to, invert } => {
                let (s, t) = (e.address(from.0, from.1)?.to_be_bytes(), e.address(to.0, to.1)?.to_be_bytes());
                let cdb = [0xa5, 0, transport[0], transport[1], s[0], s[1], t[0], t[1], 0, 0, u8::from(invert), 0];
                done(self.command(l, &cdb, Dir::None, &[], 0, timeout)?)
            }
            Op::Exchange { src, dst1, dst2, invert1, invert2 } => {
                let s = e.address(src.0, src.1)?.to_be_bytes();
                let f = e.address(dst1.0, dst1.1)?.to_be_bytes();
                let t = e.address(dst2.0, dst2.1)?.to_be_bytes();
                let inv = u8::from(invert1) | u8::from(invert2) << 1;
                let cdb = [0xa6, 0, transport[0], transport[1], s[0], s[1], f[0], f[1], t[0], t[1], inv, 0];
                done(self.command(l, &cdb, Dir::None, &[], 0, timeout)?)
            }
            Op::Position { to, invert } => {
                let a = e.address(to.0, to.1)?.to_be_bytes();
                let cdb = [0x2b, 0, transport[0], transport[1], a[0], a[1], 0, 0, u8::from(invert), 0];
                done(self.command(l, &cdb, Dir::None, &[], 0, timeout)?)
            }
            Op::Status { ty, unit, count, voltags } => self.status(l, e, ty, unit, count, voltags, timeout),
            Op::InitElem => done(self.command(l, &[0x07, 0, 0, 0, 0, 0], Dir::None, &[], 0, INIT_TIMEOUT.max(timeout))?),
            Op::SetVoltag { elem, action, mut tag } => {
                let a = e.address(elem.0, elem.1)?;
                let code = ElemType::from_chet(elem.0).map_or(0, ElemType::smc);
                for b in tag.iter_mut() {
                    if !(0x20..0x7f).contains(b) || *b == b'?' || *b == b'*' {
                        *b = b' ';
                    }
                }
                let mut data = [0u8; 40];
                data.get_mut(..32).ok_or(Errno::Inval)?.copy_from_slice(&tag);
                let ab = a.to_be_bytes();
                let cdb = [0xb6, code, ab[0], ab[1], 0, action, 0, 0, 0, data.len() as u8, 0, 0];
                done(self.command(l, &cdb, Dir::ToDev, &data, 0, timeout)?)
            }
            // One picker: ch's "current picker" is always the first.
            Op::GetPicker => Ok(ChAnswer::Int(0)),
            Op::SetPicker(p) if p == 0 && e.count_of(ElemType::Transport) > 0 => Ok(ChAnswer::Done),
            Op::SetPicker(_) => Err(Errno::Inval),
        }
    }

    /// READ ELEMENT STATUS of a range of one type, with volume tags if the
    /// library gives them (asked again without if it refuses, as ch does).
    #[allow(clippy::too_many_arguments)]
    fn status(&mut self, l: &mut ChLink<'_>, e: Elements, ty: i32, unit: i32, count: i32, voltags: bool, timeout: u32) -> Result<ChAnswer> {
        let t = ElemType::from_chet(ty).ok_or(Errno::Inval)?;
        let all = e.count_of(t);
        let first = u16::try_from(unit).ok().filter(|u| *u < all || (all == 0 && *u == 0)).ok_or(Errno::Inval)?;
        let left = all.saturating_sub(first);
        let n = if count < 0 { left } else { u16::try_from(count).map_err(|_| Errno::Inval)?.min(left) };
        if n == 0 {
            return Ok(ChAnswer::Status(Vec::new(), e));
        }
        let addr = e.address(ty, i32::from(first)).map_err(|_| Errno::Inval)?.to_be_bytes();
        // A descriptor with both volume tags takes 12 + 72 bytes; allow for
        // vendor bytes too.
        let alloc = (16u32 + u32::from(n) * 128).min(scsi::XFER_MAX);
        let al = alloc.to_be_bytes();
        let cnt = n.to_be_bytes();
        let mut tags = voltags && self.voltags;
        loop {
            let cdb = [0xb8, t.smc() | if tags { 0x10 } else { 0 }, addr[0], addr[1], cnt[0], cnt[1], 0, al[1], al[2], al[3], 0, 0];
            let d = self.command(l, &cdb, Dir::FromDev, &[], alloc, timeout)?;
            if result(&d).is_err() && tags {
                self.voltags = false;
                tags = false;
                continue;
            }
            result(&d)?;
            let list = parse_element_status(&d.data, usize::from(n));
            if list.len() != usize::from(n) {
                return Err(Errno::Io);
            }
            return Ok(ChAnswer::Status(list, e));
        }
    }
}
