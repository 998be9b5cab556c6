//! A library's configuration (TOML): its changer and drives (pmt slaves),
//! its elements and their addresses, who it and its drives say they are,
//! and the cartridges it starts with.
//!
//! ```toml
//! changer = "/dev/pmcs0"          # the changer pair's slave
//! slots = 120                     # storage slots
//! import-export = 4               # import/export slots (default 0)
//! # inventory = "lib.inventory"   # default: next to this file, NAME.inventory
//! # tapes = "/var/tapes"          # default images: TAPES/BARCODE.tap
//! # serial = "PMTL0000"           # also vendor, product, revision
//! # slot-address = 1000           # also transport-, import-export-, drive-address
//! capacity = "400G"               # defaults of tap volumes, as pmtd's own
//!
//! [[drive]]
//! device = "/dev/pmts0"
//! # serial = "PMTD0000"           # also vendor, product, revision
//!
//! [[cartridges]]                  # a series: ABC001L6 .. ABC100L6 in slots 1..100
//! barcodes = "ABC%03dL6"
//! count = 100
//! # first = 1, slot = 1, medium = "tap:/var/tapes/{barcode}.tap,compress"
//!
//! [[cartridges]]                  # one cartridge, a mirror of two images
//! barcode = "CLN001L1"
//! slot = 120
//! mirror = ["tap:/a/{barcode}.tap", "tap:/b/{barcode}.tap"]
//! ```
//!
//! Relative paths of the file (inventory, socket, tapes) are taken from its
//! directory; media specs are used as written. The cartridges are placed
//! only when the library has no inventory yet: from then on the inventory is
//! the truth, and operators import and export cartridges.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::element::{ElemType, Element, Layout};
use super::inventory::{check_barcode, Cartridge};
use super::mirror::config::{SideFile, SideSetup};
use crate::media::image::ImageOptions;
use crate::media::magazine::VolumePattern;
use crate::media::record::MAX_OVERHEAD;
use crate::scsi::{unit_number, Identity};
use crate::setup::{toml_error, Ident, SizeValue};

/// A drive of the library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriveSetup {
    /// Its slave device (`/dev/pmts<N>`).
    pub device: PathBuf,
    /// Who it says it is.
    pub identity: Identity,
    /// The SCSI id of its tape master (the unit number), reported in the
    /// drive's element descriptor.
    pub scsi_id: Option<u8>,
}

/// A whole library.
#[derive(Clone, Debug)]
pub struct LibraryConfig {
    /// The changer's slave device (`/dev/pmcs<N>`).
    pub changer: PathBuf,
    /// The inventory file.
    pub inventory: PathBuf,
    /// The operators' socket.
    pub socket: PathBuf,
    /// The elements and their addresses.
    pub layout: Layout,
    /// Who the library says it is.
    pub identity: Identity,
    /// Its drives, in element order.
    pub drives: Vec<DriveSetup>,
    /// The cartridges of a library without an inventory yet.
    pub cartridges: Vec<(Element, Cartridge)>,
    /// The default options of tap volumes.
    pub image: ImageOptions,
    /// A mirror member that fails is dropped instead of failing.
    pub degraded: bool,
    /// The medium of a cartridge given none (`{barcode}` is its barcode).
    pub default_medium: String,
    /// The largest record the drives take (room for the largest filter).
    pub max_block: u32,
    /// A mirrored library's sides (none: the cartridges are pmtd's media).
    pub sides: Vec<SideSetup>,
    /// The drives take records written after the program was told of the
    /// end of a volume, as real drives do (by default they are refused
    /// whole, as by pmtd: see DriveConfig::refuse_after_enospc).
    pub write_after_enospc: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    changer: PathBuf,
    inventory: Option<PathBuf>,
    socket: Option<PathBuf>,
    slots: u16,
    #[serde(default, alias = "portals")]
    import_export: u16,
    transport_address: Option<u16>,
    slot_address: Option<u16>,
    import_export_address: Option<u16>,
    drive_address: Option<u16>,
    vendor: Option<String>,
    product: Option<String>,
    revision: Option<String>,
    serial: Option<String>,
    tapes: Option<PathBuf>,
    capacity: Option<SizeValue>,
    early_warning: Option<SizeValue>,
    max_block: Option<SizeValue>,
    #[serde(default)]
    degraded: bool,
    #[serde(default)]
    write_after_enospc: bool,
    #[serde(default, rename = "drive")]
    drives: Vec<DriveFile>,
    #[serde(default)]
    cartridges: Vec<Series>,
    #[serde(default, rename = "side")]
    sides: Vec<SideFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DriveFile {
    device: PathBuf,
    vendor: Option<String>,
    product: Option<String>,
    revision: Option<String>,
    serial: Option<String>,
}

/// One cartridge (`barcode`) or a series (`barcodes`, a `%d` pattern, with
/// `count` from `first`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Series {
    barcode: Option<String>,
    barcodes: Option<String>,
    first: Option<usize>,
    count: Option<usize>,
    slot: Option<u32>,
    medium: Option<String>,
    #[serde(default)]
    mirror: Vec<String>,
}

/// The medium specs of cartridge `barcode` from `templates` (`{barcode}`
/// replaced).
pub fn media_of(templates: &[String], barcode: &str) -> Vec<String> {
    templates.iter().map(|t| t.replace("{barcode}", barcode)).collect()
}

impl LibraryConfig {
    /// Whether a configuration describes a library rather than a drive: it
    /// names a changer (a drive's setup has no such key), so one systemd
    /// unit, `pmtd --config FILE`, serves either.
    pub fn describes_library(text: &str) -> bool {
        toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("changer"))
    }

    /// Reads a library configuration file.
    pub fn from_file(path: &Path) -> Result<LibraryConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("library");
        LibraryConfig::from_toml(&text, path.parent().unwrap_or(Path::new("")), stem).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a configuration; relative paths are taken from `base`, and
    /// the inventory defaults to `base/STEM.inventory`.
    pub fn from_toml(text: &str, base: &Path, stem: &str) -> Result<LibraryConfig, String> {
        let f: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let at = |p: PathBuf| if p.is_relative() && !base.as_os_str().is_empty() { base.join(p) } else { p };
        if f.drives.is_empty() {
            return Err("a library needs at least one [[drive]]".into());
        }
        let ndrives = u16::try_from(f.drives.len()).map_err(|_| "too many drives")?;
        let layout = Layout::new(
            f.slots,
            f.import_export,
            ndrives,
            [f.transport_address, f.slot_address, f.import_export_address, f.drive_address],
        )?;
        let lib_ident = Ident { vendor: f.vendor, product: f.product, revision: f.revision, serial: f.serial };
        let identity = lib_ident.over(&Identity::library_default(Some(&f.changer))).map_err(|e| e.to_string())?;
        let mut drives = Vec::new();
        let mut serials = BTreeSet::from([identity.serial().to_string()]);
        let mut devices = BTreeSet::from([f.changer.clone()]);
        for d in f.drives {
            if !devices.insert(d.device.clone()) {
                return Err(format!("{} is named twice", d.device.display()));
            }
            let ident = Ident { vendor: d.vendor, product: d.product, revision: d.revision, serial: d.serial };
            let identity = ident.over(&Identity::drive_default(Some(&d.device))).map_err(|e| format!("{}: {e}", d.device.display()))?;
            if !serials.insert(identity.serial().to_string()) {
                return Err(format!("serial {} is given twice: give each drive its own serial", identity.serial()));
            }
            let scsi_id = unit_number(&d.device).and_then(|n| u8::try_from(n).ok());
            drives.push(DriveSetup { device: d.device, identity, scsi_id });
        }
        let inventory = at(f.inventory.unwrap_or_else(|| PathBuf::from(format!("{stem}.inventory"))));
        let socket = match f.socket {
            Some(s) => at(s),
            None => {
                let mut s = inventory.clone().into_os_string();
                s.push(".sock");
                PathBuf::from(s)
            }
        };
        let tapes = match f.tapes {
            Some(t) => at(t),
            None => inventory.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let tapes = tapes.to_str().ok_or("the tapes directory must be UTF-8")?.to_string();
        if tapes.contains(',') {
            return Err(format!("tapes {tapes:?}: a path in a medium spec cannot hold a comma"));
        }
        let default_medium = format!("tap:{}/{{barcode}}.tap", if tapes.is_empty() { "." } else { tapes.trim_end_matches('/') });
        let size = |name: &str, v: Option<SizeValue>| v.map(|v| v.bytes(name)).transpose();
        let image = ImageOptions {
            capacity: size("capacity", f.capacity)?,
            early_warning: size("early-warning", f.early_warning)?.unwrap_or(0),
            read_only: false,
        };
        image.check()?;
        let limit = u64::from(pmt::proto::MAX_RECORD) - MAX_OVERHEAD as u64;
        let max_block = match size("max-block", f.max_block)? {
            None => limit,
            Some(b) if (1..=limit).contains(&b) => b,
            Some(_) => return Err(format!("max-block must be between 1 and {limit}")),
        };
        let cartridges = place(&f.cartridges, &layout, &default_medium)?;
        if !f.sides.is_empty() && !cartridges.is_empty() {
            return Err("a mirrored library ([[side]]) takes its cartridges from its sides: no [[cartridges]]".into());
        }
        let sides = f.sides.into_iter().map(SideFile::setup).collect::<Result<Vec<_>, _>>()?;
        if sides.iter().map(|s| &s.name).collect::<BTreeSet<_>>().len() != sides.len() {
            return Err("two sides have one name".into());
        }
        Ok(LibraryConfig {
            changer: f.changer,
            inventory,
            socket,
            layout,
            identity,
            drives,
            cartridges,
            image,
            degraded: f.degraded,
            default_medium,
            max_block: max_block as u32,
            sides,
            write_after_enospc: f.write_after_enospc,
        })
    }
}

/// Places the cartridges of the series in slots: from a series' `slot`
/// on, or in the first free slots.
fn place(series: &[Series], layout: &Layout, default_medium: &str) -> Result<Vec<(Element, Cartridge)>, String> {
    let nslots = layout.count(ElemType::Slot);
    let mut used = BTreeSet::new();
    let mut barcodes = BTreeSet::new();
    let mut out = Vec::new();
    for s in series {
        let names: Vec<String> = match (&s.barcode, &s.barcodes) {
            (Some(b), None) if s.count.is_none() && s.first.is_none() => vec![b.clone()],
            (None, Some(p)) => {
                let pat = VolumePattern::parse(p).map_err(|e| format!("barcodes {p:?}: {e}"))?;
                if !pat.is_numbered() {
                    return Err(format!("barcodes {p:?}: no %d for the number"));
                }
                let count = s.count.ok_or_else(|| format!("barcodes {p:?}: how many (count = N)?"))?;
                let first = s.first.unwrap_or(1);
                (first..first.saturating_add(count)).map(|n| pat.name(n)).collect()
            }
            _ => return Err("each [[cartridges]] has barcode = \"...\" (one), or barcodes = \"...%d...\" with count (a series)".into()),
        };
        let templates = match (&s.medium, s.mirror.is_empty()) {
            (Some(m), true) => vec![m.clone()],
            (None, false) => s.mirror.clone(),
            (None, true) => vec![default_medium.to_string()],
            (Some(_), false) => return Err("a cartridge has medium = \"...\" or mirror = [...], not both".into()),
        };
        let mut next = match s.slot {
            Some(0) => return Err("slots count from 1".into()),
            Some(n) => Some(u16::try_from(n - 1).map_err(|_| format!("slot {n} is beyond the library's {nslots}"))?),
            None => None,
        };
        for b in names {
            check_barcode(&b)?;
            if !barcodes.insert(b.clone()) {
                return Err(format!("barcode {b} is given twice"));
            }
            let slot = match next {
                Some(n) => n,
                None => (0..nslots).find(|n| !used.contains(n)).ok_or_else(|| format!("no free slot left for {b}"))?,
            };
            if slot >= nslots {
                return Err(format!("{b}: slot {} is beyond the library's {nslots}", u32::from(slot) + 1));
            }
            if !used.insert(slot) {
                return Err(format!("{b}: slot {} is taken twice", u32::from(slot) + 1));
            }
            next = next.map(|n| n.saturating_add(1));
            let medium = media_of(&templates, &b);
            out.push((Element::Slot(slot), Cartridge { barcode: b, medium, from: None, imported: false }));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUR_BY_120: &str = r#"
        changer = "/dev/pmcs0"
        slots = 120
        import-export = 4
        tapes = "tapes"
        capacity = "400G"

        [[drive]]
        device = "/dev/pmts0"
        [[drive]]
        device = "/dev/pmts1"
        [[drive]]
        device = "/dev/pmts2"
        serial = "XYZ0002"
        [[drive]]
        device = "/dev/pmts3"

        [[cartridges]]
        barcodes = "ABC%03dL6"
        count = 100

        [[cartridges]]
        barcode = "CLN001L1"
        slot = 120
        mirror = ["tap:/a/{barcode}.tap", "tap:/b/{barcode}.tap"]
    "#;

    #[test]
    fn a_library_names_a_changer_and_a_drive_does_not() {
        assert!(LibraryConfig::describes_library(FOUR_BY_120));
        assert!(!LibraryConfig::describes_library("device = \"/dev/pmts0\"\nimage = [\"/var/lib/pmt/tape0.tap\"]\n"));
        assert!(!LibraryConfig::describes_library("changer = "));
    }

    #[test]
    fn a_library_of_four_drives_and_120_slots() {
        let c = LibraryConfig::from_toml(FOUR_BY_120, Path::new("/etc/pmt"), "lib").unwrap();
        assert_eq!(c.inventory, PathBuf::from("/etc/pmt/lib.inventory"));
        assert_eq!(c.socket, PathBuf::from("/etc/pmt/lib.inventory.sock"));
        let e = c.layout.elements();
        assert_eq!((e.first, e.count), ([1, 1000, 10, 500], [1, 120, 4, 4]));
        assert_eq!(c.identity.serial(), "PMTL0000");
        let serials: Vec<_> = c.drives.iter().map(|d| d.identity.serial()).collect();
        assert_eq!(serials, ["PMTD0000", "PMTD0001", "XYZ0002", "PMTD0003"]);
        assert_eq!(c.drives[3].scsi_id, Some(3));
        assert_eq!(c.cartridges.len(), 101);
        assert_eq!(c.cartridges[0].0, Element::Slot(0));
        assert_eq!(c.cartridges[0].1.barcode, "ABC001L6");
        assert_eq!(c.cartridges[0].1.medium, ["tap:/etc/pmt/tapes/ABC001L6.tap"]);
        assert_eq!(c.cartridges[99].1.barcode, "ABC100L6");
        assert_eq!(c.cartridges[100].0, Element::Slot(119));
        assert_eq!(c.cartridges[100].1.medium, ["tap:/a/CLN001L1.tap", "tap:/b/CLN001L1.tap"]);
        assert_eq!(c.image.capacity, Some(400 << 30));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |t: &str| LibraryConfig::from_toml(t, Path::new(""), "x").unwrap_err();
        let base = "changer = \"/dev/pmcs0\"\nslots = 4\n[[drive]]\ndevice = \"/dev/pmts0\"\n";
        assert!(err("changer = \"/dev/pmcs0\"\nslots = 4\n").contains("[[drive]]"));
        assert!(err(&format!("{base}[[drive]]\ndevice = \"/dev/pmts0\"\n")).contains("named twice"));
        assert!(err(&format!("{base}[[drive]]\ndevice = \"/dev/x\"\nserial = \"PMTD0000\"\n")).contains("serial PMTD0000"));
        assert!(err(&format!("{base}[[cartridges]]\nbarcodes = \"A%dL6\"\ncount = 5\n")).contains("no free slot"));
        assert!(err(&format!("{base}[[cartridges]]\nbarcode = \"A B\"\n")).contains("barcode"));
        assert!(err(&format!("{base}[[cartridges]]\nbarcode = \"A\"\nslot = 9\n")).contains("beyond"));
        assert!(err(&format!("{base}[[cartridges]]\nbarcode = \"A\"\n[[cartridges]]\nbarcode = \"A\"\n")).contains("twice"));
        assert!(err(&format!("colour = 1\n{base}")).contains("unknown field"));
        assert!(err(&format!("slot-address = 500\ndrive-address = 501\n{base}")).contains("overlap"));
    }
}
