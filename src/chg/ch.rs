//! The CHIO ioctls as ch(4) turns them into SMC commands (Linux's
//! drivers/scsi/ch.c; NetBSD's sys/dev/scsipi/ch.c takes the same
//! requests in its own layouts): the element layout read from MODE SENSE
//! page 0x1D (and NetBSD's device capabilities, page 0x1F), MOVE MEDIUM,
//! EXCHANGE MEDIUM, POSITION TO ELEMENT, READ ELEMENT STATUS (with volume
//! tags), INITIALIZE ELEMENT STATUS, SEND VOLUME TAG; and each ch's
//! argument checks and sense-to-errno mapping ([`Rules`], in rules.rs).

use alloc::vec::Vec;

use super::{ChAnswer, ChLink, Engine, INIT_TIMEOUT};
pub use super::rules::{scsipi_errno, sense_errno, Capabilities, Rules, SenseRule};
use super::rules::result_by;
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
    /// Where its descriptor lies in the reply, and its length (for the
    /// vendor-specific bytes after the volume tags).
    pub desc: (usize, usize),
}

/// Element status as a CHIO call asked for it.
#[derive(Debug, PartialEq, Eq)]
pub struct StatusAnswer {
    /// The descriptors the library reported.
    pub list: Vec<ElemStatus>,
    /// The layout, to name source elements by type and unit.
    pub elements: Elements,
    /// The address of the first element asked for.
    pub first: u16,
    /// The entries the caller's array holds.
    pub count: usize,
    /// The library's reply (vendor-specific bytes are read from it).
    pub raw: Vec<u8>,
}

impl StatusAnswer {
    /// The vendor-specific bytes of `s`'s descriptor, after the standard
    /// part and its volume tags and the four reserved bytes that follow
    /// (NetBSD's ch_usergetelemstatus).
    pub fn vendor(&self, s: &ElemStatus) -> &[u8] {
        let tags = usize::from(s.pvoltag.is_some()) + usize::from(s.avoltag.is_some());
        let std = 12 + 36 * tags + 4;
        let (at, len) = s.desc;
        if len <= std {
            return &[];
        }
        self.raw.get(at.saturating_add(std)..at.saturating_add(len)).unwrap_or_default()
    }
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
    // Offsets into `b` of what is left, for each descriptor's place.
    let mut base = 8usize;
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
        for (i, d) in page.chunks(dlen).enumerate() {
            if d.len() < dlen || out.len() >= want {
                break;
            }
            let place = base.saturating_add(8).saturating_add(i.saturating_mul(dlen));
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
                desc: (place, dlen),
            });
        }
        base = base.saturating_add(8).saturating_add(plen);
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
    /// Every element of a type, for their flags (Linux's CHIOGSTATUS,
    /// NetBSD's OCHIOGSTATUS).
    StatusAll {
        /// CHIO type.
        ty: i32,
    },
    /// CHIOINITELEM.
    InitElem,
    /// CHIOSVOLTAG: SEND VOLUME TAG with action code `action` (0x08 and
    /// 0x09 assert the primary or alternate tag, 0x0a and 0x0b replace it,
    /// 0x0c and 0x0d clear it).
    SetVoltag {
        /// The element.
        elem: (i32, i32),
        /// The action code.
        action: u8,
        /// The tag, NUL-padded.
        tag: [u8; 32],
        /// Its sequence number (NetBSD's `cv_serial`).
        serial: u16,
    },
    /// CHIOGPICKER.
    GetPicker,
    /// CHIOSPICKER.
    SetPicker(i32),
}

impl Engine {
    /// 0 or the errno of a completed command, by the host's ch.
    pub(super) fn result(&self, d: &Done) -> Result<()> {
        result_by(self.rules.sense, d)
    }

    /// The element layout, read once per daemon instance (ch_readconfig,
    /// ch_get_params): MODE SENSE page 0x1D, asked again without block
    /// descriptors if the library refuses; with [`Rules::capabilities`]
    /// page 0x1F too.
    pub(super) fn elements(&mut self, l: &mut ChLink<'_>, timeout: u32) -> Result<Elements> {
        let gen = self.generation(l).ok_or(Errno::Io)?;
        if let Some((g, e)) = self.elements {
            if g == gen {
                return Ok(e);
            }
        }
        let mut cdb = [0x1a, 0x00, 0x1d, 0x00, 0xff, 0x00];
        let mut d = self.command(l, &cdb, Dir::FromDev, &[], 255, timeout)?;
        if self.result(&d).is_err() {
            cdb[1] |= 0x08;
            d = self.command(l, &cdb, Dir::FromDev, &[], 255, timeout)?;
        }
        self.result(&d)?;
        let e = Elements::from_mode_sense(&d.data).ok_or(Errno::Io)?;
        if self.rules.capabilities {
            // NetBSD's ch_get_params: with block descriptors disabled.
            let cdb = [0x1a, 0x08, 0x1f, 0x00, 0xff, 0x00];
            let d = self.command(l, &cdb, Dir::FromDev, &[], 255, timeout)?;
            self.result(&d)?;
            self.caps = Capabilities::from_mode_sense(&d.data).ok_or(Errno::Io)?;
        }
        // A new library: ch's picker is its first again.
        if self.elements.is_none_or(|(g, _)| g != gen) {
            self.picker = 0;
        }
        self.elements = Some((gen, e));
        self.voltags = true;
        Ok(e)
    }

    /// The address of `(type, unit)`: EINVAL for a type CHIO does not
    /// have, the rules' errno for a unit beyond the changer's.
    fn address(&self, e: &Elements, elem: (i32, i32)) -> Result<u16> {
        if ElemType::from_chet(elem.0).is_none() {
            return Err(if self.rules.range == Errno::BadSlt { Errno::BadSlt } else { Errno::Inval });
        }
        e.address(elem.0, elem.1).map_err(|_| self.rules.range)
    }

    /// The transport moves go through: ch's current picker.
    fn transport(&self, e: &Elements) -> [u8; 2] {
        e.first_of(ElemType::Transport).saturating_add(self.picker).to_be_bytes()
    }

    /// With [`Rules::capabilities`]: ENODEV unless the changer can move
    /// (or exchange) from type `from` to type `to`.
    fn capable(&self, exchange: bool, from: i32, to: i32) -> Result<()> {
        if self.rules.capabilities && !self.caps.allows(exchange, from, to) {
            return Err(Errno::NoDev);
        }
        Ok(())
    }

    /// Runs a CHIO operation.
    pub(super) fn chio(&mut self, l: &mut ChLink<'_>, op: Op, timeout: u32) -> Result<ChAnswer> {
        let e = self.elements(l, timeout)?;
        let transport = self.transport(&e);
        let rule = self.rules.sense;
        let done = |d: Done| result_by(rule, &d).map(|()| ChAnswer::Done);
        match op {
            Op::Params => Ok(ChAnswer::Params(e, i32::from(self.picker))),
            Op::Move { from, to, invert } => {
                let (s, t) = (self.address(&e, from)?.to_be_bytes(), self.address(&e, to)?.to_be_bytes());
                self.capable(false, from.0, to.0)?;
                let cdb = [0xa5, 0, transport[0], transport[1], s[0], s[1], t[0], t[1], 0, 0, u8::from(invert), 0];
                done(self.command(l, &cdb, Dir::None, &[], 0, timeout)?)
            }
            Op::Exchange { src, dst1, dst2, invert1, invert2 } => {
                let s = self.address(&e, src)?.to_be_bytes();
                let f = self.address(&e, dst1)?.to_be_bytes();
                let t = self.address(&e, dst2)?.to_be_bytes();
                self.capable(true, src.0, dst1.0)?;
                self.capable(true, dst1.0, dst2.0)?;
                let inv = u8::from(invert1) | u8::from(invert2) << 1;
                let cdb = [0xa6, 0, transport[0], transport[1], s[0], s[1], f[0], f[1], t[0], t[1], inv, 0];
                done(self.command(l, &cdb, Dir::None, &[], 0, timeout)?)
            }
            Op::Position { to, invert } => {
                let a = self.address(&e, to)?.to_be_bytes();
                let cdb = [0x2b, 0, transport[0], transport[1], a[0], a[1], 0, 0, u8::from(invert), 0];
                done(self.command(l, &cdb, Dir::None, &[], 0, timeout)?)
            }
            Op::Status { ty, unit, count, voltags } => self.status(l, e, ty, unit, count, voltags, timeout),
            Op::StatusAll { ty } => {
                let t = ElemType::from_chet(ty).ok_or(Errno::Inval)?;
                let all = e.count_of(t);
                // NetBSD's ch_ousergetelemstatus: no such element, EINVAL.
                if all == 0 && self.rules.status_by_address {
                    return Err(Errno::Inval);
                }
                self.read_status(l, e, t, 0, all, usize::from(all), false, timeout)
            }
            Op::InitElem if self.rules.ielem_per_element => {
                // Five minutes per element and ten more, in seconds.
                let n: u32 = e.count.iter().map(|c| u32::from(*c)).sum();
                let tmo = n.saturating_mul(300).saturating_add(600);
                let d = self.command(l, &[0x07, 0, 0, 0, 0, 0], Dir::None, &[], 0, tmo)?;
                match d.sense() {
                    Some((0x5, _, _)) => Ok(ChAnswer::Done),
                    _ => done(d),
                }
            }
            Op::InitElem => done(self.command(l, &[0x07, 0, 0, 0, 0, 0], Dir::None, &[], 0, INIT_TIMEOUT.max(timeout))?),
            Op::SetVoltag { elem, action, tag, serial } => {
                let a = self.address(&e, elem)?.to_be_bytes();
                if self.rules.voltag_strict {
                    return self.set_voltag_strict(l, a, action, &tag, serial, timeout);
                }
                let code = ElemType::from_chet(elem.0).map_or(0, ElemType::smc);
                let mut tag = tag;
                for b in tag.iter_mut() {
                    if !(0x20..0x7f).contains(b) || *b == b'?' || *b == b'*' {
                        *b = b' ';
                    }
                }
                let mut data = [0u8; 40];
                data.get_mut(..32).ok_or(Errno::Inval)?.copy_from_slice(&tag);
                let cdb = [0xb6, code, a[0], a[1], 0, action, 0, 0, 0, data.len() as u8, 0, 0];
                done(self.command(l, &cdb, Dir::ToDev, &data, 0, timeout)?)
            }
            Op::GetPicker => Ok(ChAnswer::Int(i32::from(self.picker))),
            Op::SetPicker(p) => {
                let p = u16::try_from(p).ok().filter(|p| *p < e.count_of(ElemType::Transport)).ok_or(Errno::Inval)?;
                self.picker = p;
                Ok(ChAnswer::Done)
            }
        }
    }

    /// SEND VOLUME TAG as NetBSD's ch_setvoltag sends it: the tag checked
    /// and blank-padded, its sequence number after two blanks; no data to
    /// clear one.
    fn set_voltag_strict(&mut self, l: &mut ChLink<'_>, a: [u8; 2], action: u8, tag: &[u8; 32], serial: u16, timeout: u32) -> Result<ChAnswer> {
        if action >= 0x0c {
            let cdb = [0xb6, 0, a[0], a[1], 0, action, 0, 0, 0, 0, 0, 0];
            let d = self.command(l, &cdb, Dir::None, &[], 0, timeout)?;
            return self.result(&d).map(|()| ChAnswer::Done);
        }
        let mut data = [b' '; 36];
        for (d, c) in data.iter_mut().zip(tag.iter().take_while(|c| **c != 0)) {
            if !(c.is_ascii_digit() || c.is_ascii_uppercase() || *c == b'_') {
                return Err(Errno::Inval);
            }
            *d = *c;
        }
        if let Some(d) = data.get_mut(34..36) {
            d.copy_from_slice(&serial.to_be_bytes());
        }
        let cdb = [0xb6, 0, a[0], a[1], 0, action, 0, 0, 0, data.len() as u8, 0, 0];
        let d = self.command(l, &cdb, Dir::ToDev, &data, 0, timeout)?;
        self.result(&d).map(|()| ChAnswer::Done)
    }

    /// READ ELEMENT STATUS of a range of one type, with volume tags if
    /// asked (and, under Linux's rules, without them if the library
    /// refuses).
    #[allow(clippy::too_many_arguments)]
    fn status(&mut self, l: &mut ChLink<'_>, e: Elements, ty: i32, unit: i32, count: i32, voltags: bool, timeout: u32) -> Result<ChAnswer> {
        let t = ElemType::from_chet(ty).ok_or(Errno::Inval)?;
        let all = e.count_of(t);
        let (first, n, entries) = if self.rules.status_by_address {
            // NetBSD's ch_usergetelemstatus.
            let first = u16::try_from(unit).ok().filter(|u| *u < all).ok_or(Errno::NoDev)?;
            if i64::from(count) > i64::from(all) + i64::from(unit) {
                return Err(Errno::Inval);
            }
            // The library reports no element for no count: EIO, as ch.
            let entries = usize::try_from(count).ok().filter(|c| *c > 0).ok_or(Errno::Io)?;
            let n = all.saturating_sub(first).min(u16::try_from(entries).unwrap_or(u16::MAX));
            (first, n, entries)
        } else {
            let first = u16::try_from(unit).ok().filter(|u| *u < all || (all == 0 && *u == 0)).ok_or(Errno::Inval)?;
            let left = all.saturating_sub(first);
            let n = if count < 0 { left } else { u16::try_from(count).map_err(|_| Errno::Inval)?.min(left) };
            (first, n, usize::from(n))
        };
        self.read_status(l, e, t, first, n, entries, voltags, timeout)
    }

    /// READ ELEMENT STATUS of `n` elements of type `t` from unit `first`,
    /// for an answer of `entries` places.
    #[allow(clippy::too_many_arguments)]
    fn read_status(&mut self, l: &mut ChLink<'_>, e: Elements, t: ElemType, first: u16, n: u16, entries: usize, voltags: bool, timeout: u32) -> Result<ChAnswer> {
        let base = e.first_of(t).checked_add(first).ok_or(Errno::Inval)?;
        if n == 0 {
            return Ok(ChAnswer::Status(StatusAnswer { list: Vec::new(), elements: e, first: base, count: entries, raw: Vec::new() }));
        }
        let addr = base.to_be_bytes();
        // A descriptor with both volume tags takes 12 + 72 bytes; allow for
        // vendor bytes too.
        let alloc = (16u32 + u32::from(n) * 128).min(scsi::XFER_MAX);
        let al = alloc.to_be_bytes();
        let cnt = n.to_be_bytes();
        let mut tags = voltags && (self.voltags || !self.rules.retry_without_voltags);
        loop {
            let cdb = [0xb8, t.smc() | if tags { 0x10 } else { 0 }, addr[0], addr[1], cnt[0], cnt[1], 0, al[1], al[2], al[3], 0, 0];
            let d = self.command(l, &cdb, Dir::FromDev, &[], alloc, timeout)?;
            if self.result(&d).is_err() && tags && self.rules.retry_without_voltags {
                self.voltags = false;
                tags = false;
                continue;
            }
            self.result(&d)?;
            let list = parse_element_status(&d.data, usize::from(n));
            if self.rules.status_by_address {
                // Every descriptor must fall in the range asked for, and
                // there must be one.
                let inside = |s: &ElemStatus| s.addr.checked_sub(base).is_some_and(|i| usize::from(i) < entries);
                if list.is_empty() || !list.iter().all(inside) {
                    return Err(Errno::Io);
                }
            } else if list.len() != usize::from(n) {
                return Err(Errno::Io);
            }
            return Ok(ChAnswer::Status(StatusAnswer { list, elements: e, first: base, count: entries, raw: d.data }));
        }
    }
}
