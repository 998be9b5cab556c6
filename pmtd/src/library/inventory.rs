//! The inventory: which cartridge is in which element, where it came from
//! and what medium it is. It is the single source of truth of the library:
//! the drives load what it says they hold, the SMC engine reports it, and
//! every change is written to its file atomically (a new file written and
//! synced, renamed over the old one, the directory synced) before the
//! command that made it is answered. A daemon killed at any point leaves
//! the old inventory or the new one, never a mix: every cartridge is in
//! exactly one place.
//!
//! The file (TOML, written by pmtd):
//!
//! ```toml
//! version = 1
//!
//! [[cartridge]]
//! barcode = "ABC001L6"
//! medium = ["tap:/var/tapes/ABC001L6.tap"]   # one spec, or a mirror of several
//! at = "drive 0"
//! from = "slot 1"                             # where it came from, if it moved
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::element::{Element, Layout};
use crate::scsi::Check;

/// The version of the inventory file this pmtd writes.
pub const VERSION: u32 = 1;

/// A cartridge as the inventory keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cartridge {
    /// Its volume tag (barcode).
    pub barcode: String,
    /// Its medium: one medium spec, or the members of a mirror.
    pub medium: Vec<String>,
    /// Where it came from (SMC's source element): the last slot or portal
    /// it left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Element>,
    /// An operator put it in its import/export slot (SMC's ImpExp bit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

/// Why an inventory is refused.
#[derive(Debug, Error)]
pub enum InventoryError {
    /// The file cannot be read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: io::Error,
    },
    /// The file or the configuration says something impossible.
    #[error("{0}")]
    Invalid(String),
}

/// Checks a volume tag: 1 to 32 printable ASCII characters, no blank and
/// no `*` or `?` (SMC's wildcards).
pub fn check_barcode(b: &str) -> Result<(), String> {
    let ok = !b.is_empty() && b.len() <= 32 && b.bytes().all(|c| (0x21..0x7f).contains(&c) && c != b'*' && c != b'?');
    if ok {
        Ok(())
    } else {
        Err(format!("barcode {b:?}: 1 to 32 printable ASCII characters, without blanks, * or ?"))
    }
}

/// Where every cartridge is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    map: BTreeMap<Element, Cartridge>,
}

/// The file's form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Form {
    version: u32,
    #[serde(default, rename = "cartridge")]
    cartridges: Vec<Placed>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Placed {
    barcode: String,
    medium: Vec<String>,
    at: Element,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<Element>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    imported: bool,
}

impl Inventory {
    /// The cartridge in `e`.
    pub fn at(&self, e: Element) -> Option<&Cartridge> {
        self.map.get(&e)
    }

    /// Where the cartridge with `barcode` is.
    pub fn find(&self, barcode: &str) -> Option<Element> {
        self.map.iter().find(|(_, c)| c.barcode == barcode).map(|(e, _)| *e)
    }

    /// Every cartridge with its element, in element order.
    pub fn iter(&self) -> impl Iterator<Item = (Element, &Cartridge)> {
        self.map.iter().map(|(e, c)| (*e, c))
    }

    /// How many cartridges there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True without cartridges.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Puts `c` in `e`, which must be an empty element that holds
    /// cartridges, and `c`'s barcode new to the library.
    pub fn place(&mut self, e: Element, c: Cartridge) -> Result<(), String> {
        check_barcode(&c.barcode)?;
        if !e.holds() {
            return Err(format!("the {e} keeps no cartridge"));
        }
        if c.medium.is_empty() {
            return Err(format!("{}: no medium", c.barcode));
        }
        if let Some(at) = self.find(&c.barcode) {
            return Err(format!("barcode {} is already in the library ({at})", c.barcode));
        }
        if let Some(other) = self.map.get(&e) {
            return Err(format!("{e} already holds {}", other.barcode));
        }
        self.map.insert(e, c);
        Ok(())
    }

    /// Takes the cartridge out of `e` (out of the library).
    pub fn remove(&mut self, e: Element) -> Option<Cartridge> {
        self.map.remove(&e)
    }

    /// The inventory after `moves`, made at once (every source is emptied
    /// before any destination is filled, so an exchange may put the second
    /// cartridge where the first came from). A source must hold a
    /// cartridge (SOURCE EMPTY), a destination must be empty then
    /// (DESTINATION FULL).
    pub fn apply(&self, moves: &[(Element, Element)]) -> Result<Inventory, Check> {
        let mut next = self.clone();
        let mut lifted = Vec::new();
        for (from, _) in moves {
            lifted.push(next.map.remove(from).ok_or(Check::SOURCE_EMPTY)?);
        }
        for ((from, to), mut c) in moves.iter().zip(lifted) {
            if !to.holds() || next.map.contains_key(to) {
                return Err(Check::DESTINATION_FULL);
            }
            // A drive is not a home: what left a drive keeps the slot it
            // came from before.
            if from.drive().is_none() || c.from.is_none() {
                c.from = Some(*from);
            }
            c.imported = false;
            next.map.insert(*to, c);
        }
        Ok(next)
    }

    /// Checks the inventory against the library's layout: every element
    /// exists and holds at most one cartridge (the map's keys), every
    /// barcode is valid and appears once, every cartridge has a medium.
    pub fn check(&self, layout: &Layout) -> Result<(), InventoryError> {
        let bad = |s: String| Err(InventoryError::Invalid(s));
        let mut seen = BTreeMap::new();
        for (e, c) in &self.map {
            if !e.holds() || !layout.has(*e) {
                return bad(format!("{}: {e} is not an element of this library that holds cartridges", c.barcode));
            }
            check_barcode(&c.barcode).or_else(bad)?;
            if c.medium.is_empty() {
                return bad(format!("{}: no medium", c.barcode));
            }
            if let Some(other) = seen.insert(c.barcode.clone(), *e) {
                return bad(format!("barcode {} is in {other} and in {e}", c.barcode));
            }
            if let Some(f) = c.from {
                if !f.holds() || !layout.has(f) {
                    return bad(format!("{}: it came from {f}, not an element of this library", c.barcode));
                }
            }
        }
        Ok(())
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let form = Form {
            version: VERSION,
            cartridges: self
                .map
                .iter()
                .map(|(e, c)| Placed { barcode: c.barcode.clone(), medium: c.medium.clone(), at: *e, from: c.from, imported: c.imported })
                .collect(),
        };
        let body = toml::to_string(&form).unwrap_or_default();
        format!("# The inventory of a pmtd library: where each cartridge is. pmtd rewrites it\n# at every move; edit it only while pmtd is stopped.\n{body}")
    }

    /// Parses the file's text.
    pub fn from_toml(text: &str) -> Result<Inventory, String> {
        let form: Form = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if form.version != VERSION {
            return Err(format!("inventory version {}, this pmtd reads {VERSION}", form.version));
        }
        let mut inv = Inventory::default();
        for p in form.cartridges {
            let c = Cartridge { barcode: p.barcode, medium: p.medium, from: p.from, imported: p.imported };
            inv.place(p.at, c)?;
        }
        Ok(inv)
    }
}

/// Where the crash tests stop a daemon while it saves an inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveStep {
    /// The new file is written and synced, not yet renamed.
    Written,
    /// Renamed over the old one; the directory not yet synced.
    Renamed,
}

/// The inventory's file.
#[derive(Debug)]
pub struct InventoryFile {
    path: PathBuf,
}

impl InventoryFile {
    /// The inventory at `path`.
    pub fn new(path: &Path) -> InventoryFile {
        InventoryFile { path: path.to_path_buf() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp(&self) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(".new");
        PathBuf::from(s)
    }

    fn err(&self, cause: io::Error) -> InventoryError {
        InventoryError::Io { path: self.path.clone(), cause }
    }

    /// Reads the inventory; `None` if there is no file yet. A new file
    /// left by a save that did not finish is ignored (the old file is the
    /// truth until the rename; the next save writes the new file again).
    pub fn load(&self) -> Result<Option<Inventory>, InventoryError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        Inventory::from_toml(&text)
            .map(Some)
            .map_err(|why| InventoryError::Invalid(format!("{}: {why}", self.path.display())))
    }

    /// Writes `inv` atomically: a new file written and synced, renamed over
    /// the old one, the directory synced. `at` is told each step (the
    /// crash tests stop there).
    pub fn save(&self, inv: &Inventory, at: &mut dyn FnMut(SaveStep)) -> Result<(), InventoryError> {
        let temp = self.temp();
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
            f.write_all(inv.to_toml().as_bytes())?;
            f.sync_all()
        };
        write().map_err(|e| self.err(e))?;
        at(SaveStep::Written);
        fs::rename(&temp, &self.path).map_err(|e| self.err(e))?;
        at(SaveStep::Renamed);
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cart(b: &str) -> Cartridge {
        Cartridge { barcode: b.into(), medium: vec![format!("tap:/t/{b}.tap")], from: None, imported: false }
    }

    #[test]
    fn moves_and_exchanges() {
        let mut inv = Inventory::default();
        inv.place(Element::Slot(0), cart("A00001L6")).unwrap();
        inv.place(Element::Slot(1), cart("A00002L6")).unwrap();
        assert!(inv.place(Element::Slot(2), cart("A00001L6")).is_err(), "a barcode twice");
        assert!(inv.place(Element::Slot(1), cart("A00003L6")).is_err(), "a full slot");
        assert!(inv.place(Element::Transport, cart("A00003L6")).is_err());
        let m = inv.apply(&[(Element::Slot(0), Element::Drive(0))]).unwrap();
        assert_eq!(m.at(Element::Drive(0)).unwrap().from, Some(Element::Slot(0)));
        let m2 = m.apply(&[(Element::Drive(0), Element::Drive(1))]).unwrap();
        assert_eq!(m2.at(Element::Drive(1)).unwrap().from, Some(Element::Slot(0)), "a drive is not a home");
        assert_eq!(inv.apply(&[(Element::Slot(5), Element::Drive(0))]), Err(Check::SOURCE_EMPTY));
        assert_eq!(inv.apply(&[(Element::Slot(0), Element::Slot(1))]), Err(Check::DESTINATION_FULL));
        // An exchange back into the source.
        let x = m.apply(&[(Element::Slot(1), Element::Drive(0)), (Element::Drive(0), Element::Slot(1))]).unwrap();
        assert_eq!(x.at(Element::Drive(0)).unwrap().barcode, "A00002L6");
        assert_eq!(x.at(Element::Slot(1)).unwrap().barcode, "A00001L6");
        assert_eq!(x.len(), 2);
    }

    #[test]
    fn the_file_round_trips_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = InventoryFile::new(&dir.path().join("lib.inventory"));
        assert!(f.load().unwrap().is_none());
        let mut inv = Inventory::default();
        inv.place(Element::Drive(1), Cartridge { from: Some(Element::Slot(4)), ..cart("B00001L6") }).unwrap();
        inv.place(Element::Portal(0), Cartridge { imported: true, ..cart("B00002L6") }).unwrap();
        let mut steps = Vec::new();
        f.save(&inv, &mut |s| steps.push(s)).unwrap();
        assert_eq!(steps, [SaveStep::Written, SaveStep::Renamed]);
        assert_eq!(f.load().unwrap(), Some(inv.clone()));
        let text = fs::read_to_string(f.path()).unwrap();
        assert!(text.contains("at = \"drive 1\"") && text.contains("from = \"slot 5\""), "{text}");
        let layout = Layout::new(10, 1, 2, [None; 4]).unwrap();
        inv.check(&layout).unwrap();
        let small = Layout::new(10, 1, 1, [None; 4]).unwrap();
        assert!(inv.check(&small).is_err(), "drive 1 is gone");
        assert!(Inventory::from_toml("version = 2").is_err());
        assert!(Inventory::from_toml("version = 1\n[[cartridge]]\nbarcode = \"X\"\nmedium = [\"a\"]\nat = \"slot 1\"\n[[cartridge]]\nbarcode = \"X\"\nmedium = [\"b\"]\nat = \"slot 2\"\n").is_err());
    }
}
