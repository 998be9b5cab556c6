//! READ ELEMENT STATUS: the element status header, then one page per run
//! of elements of one type, each element a descriptor of the page's length.
//!
//! ```text
//! header      [0-1] first address reported, [2-3] elements, [5-7] bytes of
//!             pages that follow (the whole report, whatever the allocation)
//! page        [0] type code, [1] 0x80 primary volume tags, [2-3] descriptor
//!             length, [5-7] bytes of descriptors
//! descriptor  [0-1] address, [2] flags (FULL 0x01, IMPEXP 0x02, ACCESS 0x08,
//!             EXENAB 0x10, INENAB 0x20), [6] a drive's ID VALID 0x20 and
//!             LU VALID 0x10, [7] its SCSI id, [9] SVALID 0x80, [10-11] the
//!             source; then the 36-byte volume tag (the barcode blank-padded
//!             to 32, a sequence number of 0) if asked; then, for a drive
//!             with DVCID, its identifier: code set 2 (ASCII), type 0, its
//!             length, the drive's serial number
//! ```
//!
//! Elements are reported from the starting address on (an address between
//! elements starts at the next one), at most the number asked; with type 0
//! every type, in address order. A start beyond every element of the type
//! is INVALID ELEMENT ADDRESS (mtx's "all elements" loop ends on it).

use super::{Mechanics, Smc};
use crate::library::element::{ElemType, Element};
use crate::scsi::{be16, be24, byte, pad, Check};

/// Bytes of a volume tag.
const TAG: usize = 36;

impl Smc {
    pub(super) fn read_element_status(&self, m: &dyn Mechanics, cdb: &[u8]) -> Result<Vec<u8>, Check> {
        let voltag = byte(cdb, 1) & 0x10 != 0;
        let ty = match byte(cdb, 1) & 0x0f {
            0 => None,
            c @ 1..=4 => ElemType::from_chet(i32::from(c) - 1),
            _ => return Err(Check::INVALID_FIELD),
        };
        let start = be16(cdb, 2);
        let count = usize::from(be16(cdb, 4));
        let dvcid = byte(cdb, 6) & 0x01 != 0;
        let alloc = be24(cdb, 7) as usize;
        let list: Vec<Element> =
            self.layout.all(ty).into_iter().filter(|e| self.layout.address(*e) >= start).take(count).collect();
        if list.is_empty() && count > 0 {
            return Err(Check::INVALID_ELEMENT);
        }
        let mut pages = Vec::new();
        let mut i = 0;
        while let Some(first) = list.get(i) {
            let run: Vec<Element> = list[i..].iter().take_while(|e| e.ty() == first.ty()).copied().collect();
            i += run.len();
            let dlen = self.descriptor_length(first.ty(), voltag, dvcid);
            let mut body = Vec::new();
            for e in &run {
                let mut d = self.descriptor(m, *e, voltag, dvcid);
                d.resize(dlen, 0);
                body.extend_from_slice(&d);
            }
            pages.push(first.ty().smc());
            pages.push(if voltag { 0x80 } else { 0 });
            pages.extend_from_slice(&(dlen as u16).to_be_bytes());
            pages.push(0);
            pages.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            pages.extend_from_slice(&body);
        }
        let first = list.first().map_or(start, |e| self.layout.address(*e));
        let mut d = Vec::with_capacity(8 + pages.len());
        d.extend_from_slice(&first.to_be_bytes());
        d.extend_from_slice(&(list.len() as u16).to_be_bytes());
        d.push(0);
        d.extend_from_slice(&(pages.len() as u32).min(0xff_ffff).to_be_bytes()[1..]);
        d.extend_from_slice(&pages);
        d.truncate(alloc);
        Ok(d)
    }

    /// The bytes of an identifier (the longest drive serial).
    fn identifier_room(&self) -> usize {
        self.drives.iter().map(|d| d.serial.len()).max().unwrap_or(0)
    }

    fn descriptor_length(&self, t: ElemType, voltag: bool, dvcid: bool) -> usize {
        let mut n = 12;
        if voltag {
            n += TAG;
        }
        if dvcid && t == ElemType::Drive {
            n += 4 + self.identifier_room();
        }
        n
    }

    fn descriptor(&self, m: &dyn Mechanics, e: Element, voltag: bool, dvcid: bool) -> Vec<u8> {
        let mut d = vec![0u8; 12];
        d[0..2].copy_from_slice(&self.layout.address(e).to_be_bytes());
        let c = m.inventory().at(e);
        let full = u8::from(c.is_some());
        d[2] = match e {
            Element::Transport => 0,
            Element::Slot(_) => 0x08 | full,
            Element::Portal(_) => 0x38 | full | if c.is_some_and(|c| c.imported) { 0x02 } else { 0 },
            Element::Drive(n) => {
                let access = m.drive_state(n).is_none_or(|s| s.accessible());
                (if access { 0x08 } else { 0 }) | full
            }
        };
        if let Some(id) = e.drive().and_then(|n| self.drives.get(usize::from(n))).and_then(|i| i.scsi_id) {
            d[6] = 0x30;
            d[7] = id;
        }
        if let Some(from) = c.and_then(|c| c.from) {
            d[9] = 0x80;
            d[10..12].copy_from_slice(&self.layout.address(from).to_be_bytes());
        }
        if voltag {
            let mut tag = [0u8; TAG];
            if let Some(c) = c {
                pad(&mut tag[..32], &c.barcode);
            }
            d.extend_from_slice(&tag);
        }
        if dvcid {
            if let Some(info) = e.drive().and_then(|n| self.drives.get(usize::from(n))) {
                d.extend_from_slice(&[0x02, 0x00, 0x00, info.serial.len() as u8]);
                d.extend_from_slice(info.serial.as_bytes());
            }
        }
        d
    }
}
