//! The engine against a small in-memory library: what mtx and ch(4) send,
//! and what they must get back; element status read back with the core's
//! own parser (the one its CHIO translation uses).

use pmt::chg::ch::parse_element_status;
use pmt::chg::Elements;

use super::*;
use crate::library::element::ElemType;
use crate::library::inventory::Cartridge;

/// A library in memory: an inventory, drive states, the door.
struct Fake {
    inv: Inventory,
    drives: Vec<DriveState>,
    prevented: bool,
}

impl Mechanics for Fake {
    fn inventory(&self) -> &Inventory {
        &self.inv
    }
    fn drive_state(&self, n: u16) -> Option<DriveState> {
        self.drives.get(usize::from(n)).cloned()
    }
    fn prevented(&self) -> bool {
        self.prevented
    }
    fn set_prevented(&mut self, on: bool) {
        self.prevented = on;
    }
    fn transfer(&mut self, moves: &[(Element, Element)]) -> Result<(), Check> {
        let next = self.inv.apply(moves)?;
        if self.prevented && moves.iter().any(|(a, b)| a.is_portal() || b.is_portal()) {
            return Err(Check::REMOVAL_PREVENTED);
        }
        for (from, _) in moves {
            if let Some(s) = from.drive().and_then(|n| self.drives.get(usize::from(n))) {
                if s.locked {
                    return Err(Check::REMOVAL_PREVENTED);
                }
                if s.loaded && s.in_use {
                    return Err(Check::IN_USE);
                }
            }
        }
        self.inv = next;
        Ok(())
    }
}

fn cart(b: &str) -> Cartridge {
    Cartridge { barcode: b.into(), medium: vec![format!("tap:/t/{b}.tap")], from: None, imported: false }
}

/// 10 slots (1000..), 2 portals (10..), 2 drives (500..): slots 1-3 full.
fn library() -> (Smc, Fake) {
    let layout = Layout::new(10, 2, 2, [None; 4]).unwrap();
    let id = Identity::new("PMT", "VIRTUAL LIBRARY", "0100", "PMTL0000").unwrap();
    let drives = vec![
        DriveInfo { serial: "PMTD0000".into(), scsi_id: Some(0) },
        DriveInfo { serial: "SERIAL-1".into(), scsi_id: Some(1) },
    ];
    let mut inv = Inventory::default();
    for i in 0..3u16 {
        inv.place(Element::Slot(i), cart(&format!("ABC00{}L6", i + 1))).unwrap();
    }
    let idle = DriveState { loaded: false, in_use: false, locked: false };
    (Smc::new(id, layout, drives), Fake { inv, drives: vec![idle.clone(), idle], prevented: false })
}

fn run(s: &Smc, m: &mut Fake, cdb: &[u8]) -> Result<Vec<u8>, Check> {
    let r = s.execute(m, cdb, &[]);
    match r.sense {
        None => Ok(r.data),
        Some(c) => {
            assert!(r.data.is_empty(), "no data with CHECK CONDITION");
            assert_eq!(r.status(), 2);
            Err(c)
        }
    }
}

fn res(ty: u8, voltag: bool, start: u16, count: u16, alloc: u32, dvcid: bool) -> [u8; 12] {
    let (s, c, a) = (start.to_be_bytes(), count.to_be_bytes(), alloc.to_be_bytes());
    [0xb8, ty | if voltag { 0x10 } else { 0 }, s[0], s[1], c[0], c[1], u8::from(dvcid), a[1], a[2], a[3], 0, 0]
}

fn mv(from: u16, to: u16) -> [u8; 12] {
    let (f, t) = (from.to_be_bytes(), to.to_be_bytes());
    [0xa5, 0, 0, 1, f[0], f[1], t[0], t[1], 0, 0, 0, 0]
}

#[test]
fn inquiry_as_mtx_reads_it() {
    let (s, mut m) = library();
    let d = run(&s, &mut m, &[0x12, 0, 0, 0, 0x38, 0]).unwrap();
    assert_eq!(d.len(), 56);
    assert_eq!(d[0], 0x08, "medium changer");
    assert_eq!(d[6] & 0x08, 0, "MChngr clear: not an attached changer");
    assert_eq!(&d[8..32], b"PMT     VIRTUAL LIBRARY ");
    let p = run(&s, &mut m, &[0x12, 1, 0x80, 0, 0xff, 0]).unwrap();
    assert_eq!(&p[4..], b"PMTL0000");
    assert!(run(&s, &mut m, &[0x00, 0, 0, 0, 0, 0]).unwrap().is_empty(), "TEST UNIT READY");
    let sense = run(&s, &mut m, &[0x03, 0, 0, 0, 18, 0]).unwrap();
    assert_eq!((sense[0], sense[2]), (0x70, 0), "NO SENSE");
    assert_eq!(run(&s, &mut m, &[0xe2, 0, 0, 0, 0, 0]), Err(Check::INVALID_OPCODE));
    assert_eq!(run(&s, &mut m, &[0x15, 0x10, 0, 0, 20, 0]), Err(Check::INVALID_OPCODE), "MODE SELECT");
}

#[test]
fn the_element_address_assignment_page() {
    let (s, mut m) = library();
    // mtx: DBD set, 136 bytes.
    let d = run(&s, &mut m, &[0x1a, 0x08, 0x1d, 0x00, 0x88, 0x00]).unwrap();
    assert_eq!(
        d,
        vec![0x17, 0, 0, 0, 0x1d, 0x12, 0, 1, 0, 1, 0x03, 0xe8, 0, 10, 0, 10, 0, 2, 0x01, 0xf4, 0, 2, 0, 0],
        "header, then transport 1, slots 1000+10, portals 10+2, drives 500+2"
    );
    // ch(4): DBD clear; no block descriptors all the same.
    let d = run(&s, &mut m, &[0x1a, 0x00, 0x1d, 0x00, 0xff, 0x00]).unwrap();
    assert_eq!(Elements::from_mode_sense(&d), Some(s.layout().elements()));
    let all = run(&s, &mut m, &[0x1a, 0x08, 0x3f, 0x00, 0xff, 0x00]).unwrap();
    assert_eq!(all[0] as usize + 1, all.len());
    assert_eq!((all[4], all[24], all[28]), (0x1d, 0x1e, 0x1f), "pages 1D, 1E, 1F in order");
    assert_eq!(all[30], 0x0e, "slots, portals and drives store media");
    let ten = run(&s, &mut m, &[0x5a, 0x08, 0x1d, 0, 0, 0, 0, 0, 0xff, 0]).unwrap();
    assert_eq!(&ten[..8], &[0, 26, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&ten[8..], &d[4..]);
    let short = run(&s, &mut m, &[0x1a, 0x08, 0x1d, 0x00, 10, 0x00]).unwrap();
    assert_eq!(short.len(), 10);
    assert_eq!(run(&s, &mut m, &[0x1a, 0x08, 0xdd, 0, 0xff, 0]), Err(Check::SAVING_NOT_SUPPORTED));
    assert_eq!(run(&s, &mut m, &[0x1a, 0x08, 0x02, 0, 0xff, 0]), Err(Check::INVALID_FIELD));
    let ch = run(&s, &mut m, &[0x1a, 0x08, 0x5d, 0, 0xff, 0]).unwrap();
    assert!(ch[6..].iter().all(|b| *b == 0), "nothing is changeable");
}

#[test]
fn element_status_as_mtx_asks_it() {
    let (s, mut m) = library();
    m.inv = m.inv.apply(&[(Element::Slot(2), Element::Drive(1))]).unwrap();
    m.inv.place(Element::Portal(1), Cartridge { imported: true, ..cart("NEW001L6") }).unwrap();
    // Storage slots with volume tags.
    let d = run(&s, &mut m, &res(2, true, 1000, 10, 0xffff, false)).unwrap();
    assert_eq!((u16::from_be_bytes([d[0], d[1]]), u16::from_be_bytes([d[2], d[3]])), (1000, 10));
    assert_eq!(u32::from_be_bytes([0, d[5], d[6], d[7]]) as usize + 8, d.len(), "the byte count");
    assert_eq!((d[8], d[9], u16::from_be_bytes([d[10], d[11]])), (2, 0x80, 48), "slots, primary tags, 12 + 36");
    let list = parse_element_status(&d, 100);
    assert_eq!(list.len(), 10);
    assert_eq!((list[0].flags, list[2].flags), (0x09, 0x08), "full and accessible; empty");
    assert_eq!(&list[1].pvoltag.unwrap()[..32], b"ABC002L6                        ");
    assert!(list[2].pvoltag.unwrap().iter().all(|b| *b == 0), "an empty slot has no tag");
    // Portals: the imported cartridge has ImpExp.
    let p = parse_element_status(&run(&s, &mut m, &res(3, true, 10, 2, 0xffff, false)).unwrap(), 100);
    assert_eq!((p[0].flags, p[1].flags), (0x38, 0x3b), "InEnab, ExEnab, Access; full and ImpExp");
    // Drives: the source, the SCSI id of the tape master.
    let dr = parse_element_status(&run(&s, &mut m, &res(4, true, 500, 2, 0xffff, false)).unwrap(), 100);
    assert_eq!((dr[0].flags & 1, dr[1].flags), (0, 0x09));
    assert_eq!(dr[1].source, Some(1002), "it came from slot 3");
    assert_eq!((dr[1].idlun, dr[1].id), (0x30, 1));
    assert_eq!(&dr[1].pvoltag.unwrap()[..8], b"ABC003L6");
    // The transport, one element.
    let t = parse_element_status(&run(&s, &mut m, &res(1, true, 1, 1, 0xffff, false)).unwrap(), 100);
    assert_eq!((t.len(), t[0].addr, t[0].flags), (1, 1, 0));
    // Without volume tags: 12-byte descriptors.
    let d = run(&s, &mut m, &res(2, false, 1000, 10, 0xffff, false)).unwrap();
    assert_eq!((d[9], u16::from_be_bytes([d[10], d[11]]), d.len()), (0, 12, 16 + 120));
}

#[test]
fn short_allocations_say_the_whole_size() {
    let (s, mut m) = library();
    let full = run(&s, &mut m, &res(2, true, 1000, 10, 0xffff, false)).unwrap();
    for alloc in [0u32, 7, 8, 16, 100] {
        let d = run(&s, &mut m, &res(2, true, 1000, 10, alloc, false)).unwrap();
        assert_eq!(d.len(), alloc as usize);
        assert_eq!(d[..], full[..alloc as usize], "the first bytes of the same report");
    }
    // mtx asks again with the size the header gave.
    let d = run(&s, &mut m, &res(2, true, 1000, 10, 100, false)).unwrap();
    let whole = u32::from_be_bytes([0, d[5], d[6], d[7]]) + 8;
    assert_eq!(run(&s, &mut m, &res(2, true, 1000, 10, whole, false)).unwrap(), full);
}

#[test]
fn ranges_starts_between_elements_and_all_types() {
    let (s, mut m) = library();
    let addrs = |d: &[u8]| parse_element_status(d, 1000).iter().map(|e| e.addr).collect::<Vec<_>>();
    assert_eq!(addrs(&run(&s, &mut m, &res(2, true, 1003, 2, 0xffff, false)).unwrap()), [1003, 1004], "a partial range");
    assert_eq!(addrs(&run(&s, &mut m, &res(2, true, 0, 2, 0xffff, false)).unwrap()), [1000, 1001], "from below the type");
    assert_eq!(run(&s, &mut m, &res(2, true, 1010, 1, 0xffff, false)), Err(Check::INVALID_ELEMENT), "beyond the slots");
    // Type 0: every type, in address order, one page per type.
    let d = run(&s, &mut m, &res(0, true, 0, 100, 0xffff, false)).unwrap();
    let all = parse_element_status(&d, 1000);
    assert_eq!(all.len(), 15);
    assert_eq!(all.iter().map(|e| e.ty).collect::<Vec<_>>()[..6], [ElemType::Transport, ElemType::Portal, ElemType::Portal, ElemType::Drive, ElemType::Drive, ElemType::Slot]);
    // A start between elements begins at the next one.
    assert_eq!(addrs(&run(&s, &mut m, &res(0, false, 2, 3, 0xffff, false)).unwrap()), [10, 11, 500]);
    // mtx's "all elements" loop: ask from the address after the last
    // one, 10 at a time, until INVALID ELEMENT ADDRESS.
    let (mut next, mut seen) = (0u16, Vec::new());
    loop {
        match run(&s, &mut m, &res(0, true, next, 10, 0xffff, false)) {
            Ok(d) => {
                let a = addrs(&d);
                next = a.last().unwrap() + 1;
                seen.extend(a);
            }
            Err(c) => {
                assert_eq!(c, Check::INVALID_ELEMENT);
                break;
            }
        }
    }
    assert_eq!(seen.len(), 15, "each element once");
    assert_eq!(run(&s, &mut m, &res(5, true, 0, 10, 0xffff, false)), Err(Check::INVALID_FIELD), "no type 5");
    let none = run(&s, &mut m, &res(2, true, 1000, 0, 0xffff, false)).unwrap();
    assert_eq!(none, vec![0x03, 0xe8, 0, 0, 0, 0, 0, 0], "no element asked, none given");
}

#[test]
fn device_identifiers_are_the_drive_serials() {
    let (s, mut m) = library();
    let d = run(&s, &mut m, &res(4, true, 500, 2, 0xffff, true)).unwrap();
    let dlen = usize::from(u16::from_be_bytes([d[10], d[11]]));
    assert_eq!(dlen, 12 + 36 + 4 + 8, "room for the longest serial");
    for (i, serial) in [&b"PMTD0000"[..], b"SERIAL-1"].iter().enumerate() {
        let desc = &d[16 + i * dlen..16 + (i + 1) * dlen];
        assert_eq!(&desc[48..52], &[0x02, 0x00, 0x00, serial.len() as u8], "ASCII, vendor specific");
        assert_eq!(&desc[52..52 + serial.len()], *serial);
    }
    // Other types have none.
    let d = run(&s, &mut m, &res(2, true, 1000, 1, 0xffff, true)).unwrap();
    assert_eq!(u16::from_be_bytes([d[10], d[11]]), 48);
}

#[test]
fn moves_and_their_errors() {
    let (s, mut m) = library();
    run(&s, &mut m, &mv(1000, 500)).unwrap();
    assert_eq!(m.inv.at(Element::Drive(0)).unwrap().barcode, "ABC001L6");
    assert_eq!(run(&s, &mut m, &mv(1000, 501)), Err(Check::SOURCE_EMPTY));
    assert_eq!(run(&s, &mut m, &mv(1001, 500)), Err(Check::DESTINATION_FULL));
    assert_eq!(run(&s, &mut m, &mv(1001, 1001)), Err(Check::DESTINATION_FULL), "to itself");
    assert_eq!(run(&s, &mut m, &mv(1001, 999)), Err(Check::INVALID_ELEMENT));
    assert_eq!(run(&s, &mut m, &mv(1, 1005)), Err(Check::INVALID_ELEMENT), "the transport keeps nothing");
    let mut bad = mv(1001, 1005);
    bad[3] = 7;
    assert_eq!(run(&s, &mut m, &bad), Err(Check::INVALID_ELEMENT), "another transport");
    bad = mv(1001, 1005);
    bad[2..4].copy_from_slice(&[0, 0]);
    run(&s, &mut m, &bad).unwrap();
    let mut inv = mv(1005, 1001);
    inv[10] = 1;
    assert_eq!(run(&s, &mut m, &inv), Err(Check::INVALID_FIELD), "no inversion");
    // A drive a program uses, one whose removal is prevented.
    m.drives[0] = DriveState { loaded: true, in_use: true, locked: false };
    assert_eq!(run(&s, &mut m, &mv(500, 1000)), Err(Check::IN_USE));
    m.drives[0] = DriveState { loaded: true, in_use: false, locked: true };
    assert_eq!(run(&s, &mut m, &mv(500, 1000)), Err(Check::REMOVAL_PREVENTED));
    let st = parse_element_status(&run(&s, &mut m, &res(4, false, 500, 1, 0xffff, false)).unwrap(), 1);
    assert_eq!(st[0].flags, 0x01, "full, not accessible");
}

#[test]
fn exchanges_positions_and_inventories() {
    let (s, mut m) = library();
    run(&s, &mut m, &mv(1000, 500)).unwrap();
    // Slot 2's cartridge into the drive, the drive's back to slot 1.
    run(&s, &mut m, &[0xa6, 0, 0, 1, 0x03, 0xe9, 0x01, 0xf4, 0x03, 0xe8, 0, 0]).unwrap();
    assert_eq!(m.inv.at(Element::Drive(0)).unwrap().barcode, "ABC002L6");
    assert_eq!(m.inv.at(Element::Slot(0)).unwrap().barcode, "ABC001L6");
    assert!(m.inv.at(Element::Slot(1)).is_none());
    // A swap: the second destination is the source.
    run(&s, &mut m, &[0xa6, 0, 0, 1, 0x03, 0xea, 0x01, 0xf4, 0x03, 0xea, 0, 0]).unwrap();
    assert_eq!(m.inv.at(Element::Drive(0)).unwrap().barcode, "ABC003L6");
    assert_eq!(m.inv.at(Element::Slot(2)).unwrap().barcode, "ABC002L6");
    assert_eq!(m.inv.len(), 3);
    assert_eq!(run(&s, &mut m, &[0xa6, 0, 0, 1, 0x03, 0xe8, 0x03, 0xe9, 0x03, 0xea, 0, 0]), Err(Check::SOURCE_EMPTY), "the first destination is empty");
    assert_eq!(run(&s, &mut m, &[0xa6, 0, 0, 1, 0x03, 0xe8, 0x03, 0xea, 0x01, 0xf4, 0, 0]), Err(Check::DESTINATION_FULL));
    assert_eq!(run(&s, &mut m, &[0xa6, 0, 0, 1, 0x03, 0xe8, 0x03, 0xe8, 0x03, 0xe9, 0, 0]), Err(Check::INVALID_FIELD));
    run(&s, &mut m, &[0x2b, 0, 0, 1, 0x01, 0xf5, 0, 0, 0, 0]).unwrap();
    assert_eq!(run(&s, &mut m, &[0x2b, 0, 0, 1, 0x01, 0xf6, 0, 0, 0, 0]), Err(Check::INVALID_ELEMENT));
    run(&s, &mut m, &[0x07, 0, 0, 0, 0, 0]).unwrap();
    run(&s, &mut m, &[0xe7, 0x01, 0x03, 0xe8, 0, 0, 0, 5, 0, 0]).unwrap();
    run(&s, &mut m, &[0x37, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(run(&s, &mut m, &[0x37, 0x01, 0x03, 0xff, 0, 0, 0, 5, 0, 0]), Err(Check::INVALID_ELEMENT));
}

#[test]
fn a_prevented_library_keeps_its_import_export_slots_shut() {
    let (s, mut m) = library();
    run(&s, &mut m, &[0x1e, 0, 0, 0, 1, 0]).unwrap();
    assert!(m.prevented);
    assert_eq!(run(&s, &mut m, &mv(1000, 10)), Err(Check::REMOVAL_PREVENTED));
    run(&s, &mut m, &mv(1000, 501)).unwrap();
    assert_eq!(run(&s, &mut m, &[0x1e, 0, 0, 0, 2, 0]), Err(Check::INVALID_FIELD));
    run(&s, &mut m, &[0x1e, 0, 0, 0, 0, 0]).unwrap();
    run(&s, &mut m, &mv(501, 10)).unwrap();
    assert_eq!(m.inv.at(Element::Portal(0)).unwrap().from, Some(Element::Slot(0)));
}
