//! The library's elements (its transport, storage slots, import/export
//! slots and drives) and their SCSI element addresses.
//!
//! Inside pmtd every element is numbered from 0 within its type. Operators
//! and the inventory file name them as mtx shows them: `slot 1` is the first
//! storage slot, `portal 1` the first import/export slot, `drive 0` the
//! first drive.
//!
//! Each type's addresses form one contiguous range. The defaults are those
//! of a real mid-size library (the Element Address Assignment page of
//! mhVTL's issue 106): the transport at 1, import/export slots from 10,
//! drives from 500, storage slots from 1000.

use std::fmt;
use std::str::FromStr;

pub use pmt::chg::{ElemType, Elements};

/// The default address of the transport.
pub const TRANSPORT_ADDRESS: u16 = 1;
/// The default first address of the import/export slots.
pub const PORTAL_ADDRESS: u16 = 10;
/// The default first address of the drives.
pub const DRIVE_ADDRESS: u16 = 500;
/// The default first address of the storage slots.
pub const SLOT_ADDRESS: u16 = 1000;

/// An element of the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Element {
    /// The transport (the picker): it never keeps a cartridge.
    Transport,
    /// Storage slot `n` (from 0).
    Slot(u16),
    /// Import/export slot `n` (from 0).
    Portal(u16),
    /// Drive `n` (from 0).
    Drive(u16),
}

impl Element {
    /// Its type.
    pub fn ty(self) -> ElemType {
        match self {
            Element::Transport => ElemType::Transport,
            Element::Slot(_) => ElemType::Slot,
            Element::Portal(_) => ElemType::Portal,
            Element::Drive(_) => ElemType::Drive,
        }
    }

    /// Its number within its type (from 0).
    pub fn index(self) -> u16 {
        match self {
            Element::Transport => 0,
            Element::Slot(n) | Element::Portal(n) | Element::Drive(n) => n,
        }
    }

    /// Element `n` of type `t`.
    pub fn of(t: ElemType, n: u16) -> Element {
        match t {
            ElemType::Transport => Element::Transport,
            ElemType::Slot => Element::Slot(n),
            ElemType::Portal => Element::Portal(n),
            ElemType::Drive => Element::Drive(n),
        }
    }

    /// True for the elements a cartridge can stay in.
    pub fn holds(self) -> bool {
        self != Element::Transport
    }

    /// True for an import/export slot.
    pub fn is_portal(self) -> bool {
        matches!(self, Element::Portal(_))
    }

    /// The drive's number, if it is one.
    pub fn drive(self) -> Option<u16> {
        match self {
            Element::Drive(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Element {
    /// As mtx counts: slots and portals from 1, drives from 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Element::Transport => write!(f, "transport"),
            Element::Slot(n) => write!(f, "slot {}", u32::from(n) + 1),
            Element::Portal(n) => write!(f, "portal {}", u32::from(n) + 1),
            Element::Drive(n) => write!(f, "drive {n}"),
        }
    }
}

impl FromStr for Element {
    type Err = String;

    /// `slot N`, `portal N` (from 1), `drive N` (from 0), `transport`.
    fn from_str(s: &str) -> Result<Element, String> {
        let bad = || format!("{s:?}: an element is \"slot N\", \"portal N\" (from 1) or \"drive N\" (from 0)");
        let mut words = s.split_whitespace();
        let (kind, n) = (words.next().unwrap_or_default(), words.next());
        if words.next().is_some() {
            return Err(bad());
        }
        if kind == "transport" && n.is_none() {
            return Ok(Element::Transport);
        }
        let n: u32 = n.and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let from1 = |n: u32| n.checked_sub(1).and_then(|n| u16::try_from(n).ok()).ok_or_else(bad);
        match kind {
            "slot" => Ok(Element::Slot(from1(n)?)),
            "portal" => Ok(Element::Portal(from1(n)?)),
            "drive" => Ok(Element::Drive(u16::try_from(n).map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }
}

impl serde::Serialize for Element {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Element {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Element, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The library's geometry: how many elements of each type, and their
/// addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    elements: Elements,
}

impl Layout {
    /// `slots` storage slots, `portals` import/export slots, `drives`
    /// drives and one transport; `first` gives the first address of each
    /// type in CHIO's order (transport, slot, portal, drive), the defaults
    /// where `None`. Every range must fit and none may overlap.
    pub fn new(slots: u16, portals: u16, drives: u16, first: [Option<u16>; 4]) -> Result<Layout, String> {
        if slots == 0 || drives == 0 {
            return Err("a library has at least one storage slot and one drive".into());
        }
        let defaults = [TRANSPORT_ADDRESS, SLOT_ADDRESS, PORTAL_ADDRESS, DRIVE_ADDRESS];
        let mut f = [0u16; 4];
        for (i, d) in defaults.into_iter().enumerate() {
            f[i] = first[i].unwrap_or(d);
        }
        let count = [1, slots, portals, drives];
        let names = ["transport", "slot", "import/export", "drive"];
        let mut ranges = Vec::new();
        for i in 0..4 {
            if count[i] == 0 {
                continue;
            }
            let end = u32::from(f[i]) + u32::from(count[i]);
            if end > 0x1_0000 {
                return Err(format!("{} addresses {}..{} pass 65535", names[i], f[i], end - 1));
            }
            ranges.push((u32::from(f[i]), end, names[i]));
        }
        ranges.sort();
        for w in ranges.windows(2) {
            if let [(a0, a1, an), (b0, b1, bn)] = w {
                if b0 < a1 {
                    return Err(format!("{an} addresses {a0}..{} overlap {bn} addresses {b0}..{}", a1 - 1, b1 - 1));
                }
            }
        }
        Ok(Layout { elements: Elements { first: f, count } })
    }

    /// The first address and count of each type, as MODE SENSE page 0x1D
    /// gives them.
    pub fn elements(&self) -> Elements {
        self.elements
    }

    /// Elements of type `t`.
    pub fn count(&self, t: ElemType) -> u16 {
        self.elements.count_of(t)
    }

    /// The address of `e`.
    pub fn address(&self, e: Element) -> u16 {
        self.elements.first_of(e.ty()).wrapping_add(e.index())
    }

    /// The element at address `a`, if there is one.
    pub fn at(&self, a: u16) -> Option<Element> {
        self.elements.locate(a).map(|(t, n)| Element::of(t, n))
    }

    /// True if `e` is one of this library's elements.
    pub fn has(&self, e: Element) -> bool {
        e.index() < self.count(e.ty())
    }

    /// Every element of type `t` (all types if `None`), in address order.
    pub fn all(&self, t: Option<ElemType>) -> Vec<Element> {
        let mut v: Vec<Element> = ElemType::ALL
            .into_iter()
            .filter(|x| t.is_none_or(|t| t == *x))
            .flat_map(|x| (0..self.count(x)).map(move |n| Element::of(x, n)))
            .collect();
        v.sort_by_key(|e| self.address(*e));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in [Element::Slot(0), Element::Slot(119), Element::Portal(3), Element::Drive(0), Element::Transport] {
            assert_eq!(e.to_string().parse::<Element>(), Ok(e));
        }
        assert_eq!(Element::Slot(0).to_string(), "slot 1");
        assert_eq!("drive 2".parse::<Element>(), Ok(Element::Drive(2)));
        assert!("slot 0".parse::<Element>().is_err(), "slots count from 1");
        assert!("shelf 3".parse::<Element>().is_err());
        assert!("slot".parse::<Element>().is_err());
    }

    #[test]
    fn addresses_and_ranges() {
        let l = Layout::new(120, 4, 4, [None; 4]).unwrap();
        let e = l.elements();
        assert_eq!((e.first, e.count), ([1, 1000, 10, 500], [1, 120, 4, 4]));
        assert_eq!(l.address(Element::Slot(5)), 1005);
        assert_eq!(l.at(503), Some(Element::Drive(3)));
        assert_eq!(l.at(504), None);
        assert_eq!(l.at(2), None);
        let all = l.all(None);
        assert_eq!(all.len(), 129);
        assert_eq!(all[0], Element::Transport);
        assert_eq!(all[1], Element::Portal(0));
        assert_eq!(all[5], Element::Drive(0));
        assert_eq!(all[9], Element::Slot(0));
        assert!(Layout::new(600, 4, 4, [None; 4]).is_ok());
        let err = Layout::new(10, 600, 4, [None; 4]).unwrap_err();
        assert!(err.contains("overlap"), "{err}");
        assert!(Layout::new(10, 0, 1, [None, Some(65530), None, None]).unwrap_err().contains("65535"));
        assert!(Layout::new(0, 0, 1, [None; 4]).is_err());
    }
}
