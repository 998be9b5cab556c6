//! Helpers of the library tests: a library in a temporary directory, drive
//! commands sent to its drives as their slaves would send them, SMC
//! commands, and the check that the drives and the inventory agree.
#![allow(dead_code)]

use std::path::Path;

use pmt::proto::{Op, Rep, Req, ReqFlags};
pub use pmtd::library::robot::{lock, SharedDrive};
use pmtd::library::{Element, Library, LibraryConfig};
use pmtd::scsi::Check;

/// A library of `slots` slots, `portals` import/export slots and `drives`
/// drives (units 0..), its cartridges `ABC001L6`.. in the first slots, its
/// images and inventory in `dir`.
pub fn config(dir: &Path, slots: u16, portals: u16, drives: u16, cartridges: usize) -> LibraryConfig {
    let mut t = format!("changer = \"/dev/pmcs0\"\nslots = {slots}\nimport-export = {portals}\ninventory = \"lib.inventory\"\n");
    for n in 0..drives {
        t.push_str(&format!("[[drive]]\ndevice = \"/dev/pmts{n}\"\n"));
    }
    if cartridges > 0 {
        t.push_str(&format!("[[cartridges]]\nbarcodes = \"ABC%03dL6\"\ncount = {cartridges}\n"));
    }
    LibraryConfig::from_toml(&t, dir, "lib").expect("config")
}

/// Runs one drive command on drive `d`; its reply.
pub fn drive_cmd(d: &SharedDrive, op: Op, flags: ReqFlags, count: i32, data: &[u8]) -> Rep {
    let mut req = Req::new(op);
    req.flags = flags.bits();
    req.count = count;
    req.length = data.len() as u64;
    let mut out = Vec::new();
    lock(d).execute(&req, data, &mut out);
    Rep::from_bytes(&out)
}

/// The sense of a reply: (key, asc, ascq).
pub fn sense(r: &Rep) -> (u8, u8, u8) {
    (r.sense, r.asc, r.ascq)
}

/// A program opens drive `d` (st's open: OPEN); its sense.
pub fn open(d: &SharedDrive) -> (u8, u8, u8) {
    sense(&drive_cmd(d, Op::Open, ReqFlags::OPEN_READ | ReqFlags::OPEN_WRITE, 0, &[]))
}

/// The program closes it.
pub fn close(d: &SharedDrive) -> (u8, u8, u8) {
    sense(&drive_cmd(d, Op::Close, ReqFlags::empty(), 0, &[]))
}

/// MTLOCK (1) or MTUNLOCK (0).
pub fn lock_medium(d: &SharedDrive, on: bool) {
    drive_cmd(d, Op::Lock, ReqFlags::empty(), i32::from(on), &[]);
}

/// `mt offline`; its sense.
pub fn offline(d: &SharedDrive) -> (u8, u8, u8) {
    sense(&drive_cmd(d, Op::Load, ReqFlags::empty(), 0, &[]))
}

/// `mt load`; its sense.
pub fn mtload(d: &SharedDrive) -> (u8, u8, u8) {
    sense(&drive_cmd(d, Op::Load, ReqFlags::LOAD, 0, &[]))
}

/// Writes one record; its sense.
pub fn write(d: &SharedDrive, data: &[u8]) -> (u8, u8, u8) {
    sense(&drive_cmd(d, Op::Write, ReqFlags::empty(), 0, data))
}

/// Runs an SMC command on the library: its data, or its sense.
pub fn smc(lib: &mut Library, cdb: &[u8]) -> Result<Vec<u8>, Check> {
    let l = &mut *lib;
    let r = l.smc.execute(&mut l.robot, cdb, &[]);
    match r.sense {
        None => Ok(r.data),
        Some(c) => Err(c),
    }
}

/// MOVE MEDIUM from address `from` to `to`.
pub fn move_cdb(from: u16, to: u16) -> [u8; 12] {
    let (f, t) = (from.to_be_bytes(), to.to_be_bytes());
    [0xa5, 0, 0, 0, f[0], f[1], t[0], t[1], 0, 0, 0, 0]
}

/// EXCHANGE MEDIUM.
pub fn exchange_cdb(src: u16, first: u16, second: u16) -> [u8; 12] {
    let (s, f, t) = (src.to_be_bytes(), first.to_be_bytes(), second.to_be_bytes());
    [0xa6, 0, 0, 0, s[0], s[1], f[0], f[1], t[0], t[1], 0, 0]
}

/// READ ELEMENT STATUS of every element, with volume tags.
pub fn status_cdb() -> [u8; 12] {
    [0xb8, 0x10, 0, 0, 0xff, 0xff, 0, 0x01, 0, 0, 0, 0]
}

/// The drives and the inventory agree: each drive holds exactly the
/// cartridge its element holds, every barcode is in one place, and the
/// file says what memory says.
pub fn check_agreement(lib: &Library, cfg: &LibraryConfig) {
    let inv = lib.robot.inventory();
    for (n, d) in lib.robot.drives().iter().enumerate() {
        let held = lock(d).volumes().barcode().map(str::to_string);
        let want = inv.at(Element::Drive(n as u16)).map(|c| c.barcode.clone());
        assert_eq!(held, want, "drive {n} and its element");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, c) in inv.iter() {
        assert!(seen.insert(c.barcode.clone()), "{} twice", c.barcode);
    }
    let file = pmtd::library::inventory::InventoryFile::new(&cfg.inventory).load().expect("load").expect("a file");
    assert_eq!(&file, inv, "the file is the inventory");
}
