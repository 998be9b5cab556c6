//! A mirrored library over sides in memory (pmtd's SMC engine behind a
//! port, [`pmtd::changer::memory`]), in the seed's geometry made small: the
//! pseudo library of 4 drives and 108 slots; side A one library of 4
//! drives and 120 slots (its first 108), side B two libraries of 2 drives
//! and 54 slots. A move is made on every side or on none; a side that
//! cannot make it refuses it before anything moves; a side that fails half
//! way (a dropped connection, before or after its library moved) is
//! brought back, and so are the sides that had moved; a library that
//! restarts after a crash in the middle of a move brings every side back
//! to its inventory. The pseudo drives' media are the sides' drives
//! (image files here), mirrored. With `degraded`, a side that fails is
//! dropped and the others go on; it is brought back at the restart.

mod rack;

use std::path::Path;
use std::sync::Arc;

use pmtd::changer::memory::MemoryLibrary;
use pmtd::library::element::Element;
use pmtd::library::mirror::config::PortOpener;
use pmtd::library::{Library, LibraryConfig};
use pmtd::scsi::Check;
use rack::{lock, move_cdb, smc, write};

/// Barcodes ABC<n>L6 for slots given, "" for the others, `len` slots.
fn barcodes(len: usize, filled: impl Fn(usize) -> Option<usize>) -> Vec<String> {
    (0..len).map(|i| filled(i).map_or(String::new(), |n| format!("ABC{n:03}L6"))).collect()
}

struct Seed {
    dir: tempfile::TempDir,
    a: MemoryLibrary,
    b1: MemoryLibrary,
    b2: MemoryLibrary,
    cfg: LibraryConfig,
}

/// Virtual slots 1-20 and 55-60 hold ABC001L6.. (by slot number): on side A
/// slots 1-20 and 55-60; on side B slots 1-20 of its first library and 1-6
/// of its second.
fn seed() -> Seed {
    seed_with("")
}

/// The same, with `top` added to the library's own settings.
fn seed_with(top: &str) -> Seed {
    let dir = tempfile::tempdir().unwrap();
    let filled = |n: usize| (n < 20 || (54..60).contains(&n)).then_some(n + 1);
    let a = MemoryLibrary::new("A", 120, 0, 4, &barcodes(120, filled));
    let b1 = MemoryLibrary::new("B1", 54, 0, 2, &barcodes(54, |n| (n < 20).then_some(n + 1)));
    let b2 = MemoryLibrary::new("B2", 54, 0, 2, &barcodes(54, |n| (n < 6).then_some(n + 55)));
    let d = dir.path().display();
    let mut t = format!("changer = \"/dev/pmcs0\"\nslots = 108\ninventory = \"mirror.inventory\"\n{top}");
    for n in 0..4 {
        t.push_str(&format!("[[drive]]\ndevice = \"/dev/pmts{n}\"\n"));
    }
    t.push_str(&format!(
        "[[side]]\nname = \"A\"\n[[side.library]]\nchanger = \"/dev/sgA\"\nslots = \"1-108\"\n\
         drives = [\"tap:{d}/A0.tap\", \"tap:{d}/A1.tap\", \"tap:{d}/A2.tap\", \"tap:{d}/A3.tap\"]\n\
         [[side]]\nname = \"B\"\n[[side.library]]\nchanger = \"/dev/sgB1\"\ndrives = [\"tap:{d}/B10.tap\", \"tap:{d}/B11.tap\"]\n\
         [[side.library]]\nchanger = \"/dev/sgB2\"\ndrives = [\"tap:{d}/B20.tap\", \"tap:{d}/B21.tap\"]\n"
    ));
    let mut cfg = LibraryConfig::from_toml(&t, dir.path(), "mirror").expect("config");
    let openers: [Arc<dyn PortOpener>; 3] = [Arc::new(a.clone()), Arc::new(b1.clone()), Arc::new(b2.clone())];
    let mut o = openers.into_iter();
    for side in &mut cfg.sides {
        for l in &mut side.libraries {
            l.changer = o.next().unwrap();
        }
    }
    Seed { dir, a, b1, b2, cfg }
}

/// Where a memory library holds `barcode`.
fn at(l: &MemoryLibrary, barcode: &str) -> Option<Element> {
    l.state().inventory.find(barcode)
}

fn slot(n: u16) -> u16 {
    1000 + n - 1
}

fn drive(n: u16) -> u16 {
    500 + n
}

/// Every side holds what the pseudo library's inventory says, at the
/// place the mapping gives.
fn agree(s: &Seed, lib: &Library) {
    for (e, c) in lib.robot.inventory().iter() {
        let b = &c.barcode;
        match e {
            Element::Slot(n) => {
                let n = usize::from(n) + 1;
                assert_eq!(at(&s.a, b), Some(Element::Slot(n as u16 - 1)), "{b} on side A");
                let (lib_b, k) = if n <= 54 { (&s.b1, n) } else { (&s.b2, n - 54) };
                assert_eq!(at(lib_b, b), Some(Element::Slot(k as u16 - 1)), "{b} on side B");
            }
            Element::Drive(_) => {
                assert!(matches!(at(&s.a, b), Some(Element::Drive(_))), "{b} in a drive of side A");
                let on_b = at(&s.b1, b).or_else(|| at(&s.b2, b));
                assert!(matches!(on_b, Some(Element::Drive(_))), "{b} in a drive of side B");
                assert_eq!(c.medium.len(), 2, "one drive per side");
            }
            _ => panic!("{e}"),
        }
    }
    for (n, d) in lib.robot.drives().iter().enumerate() {
        let held = lock(d).volumes().barcode().map(str::to_string);
        assert_eq!(held, lib.robot.inventory().at(Element::Drive(n as u16)).map(|c| c.barcode.clone()), "drive {n}");
        assert_eq!(lock(d).loaded(), held.is_some(), "drive {n} loaded");
    }
}

fn moves(l: &MemoryLibrary) -> usize {
    l.state().moves
}

#[test]
fn a_move_is_made_on_every_side_or_none() {
    let s = seed();
    let mut lib = Library::open(&s.cfg, None).expect("open");
    assert_eq!(lib.robot.inventory().len(), 26, "what the sides agree on");
    agree(&s, &lib);

    // Slot 1 into drive 0: side A's first free drive, side B's first of its
    // first library.
    smc(&mut lib, &move_cdb(slot(1), drive(0))).expect("load");
    assert_eq!(at(&s.a, "ABC001L6"), Some(Element::Drive(0)));
    assert_eq!(at(&s.b1, "ABC001L6"), Some(Element::Drive(0)));
    agree(&s, &lib);
    let d0 = lib.robot.drives()[0].clone();
    assert!(write(&d0, &[7u8; 4096]).0 == 0, "the drive writes to both sides' drives");
    smc(&mut lib, &move_cdb(slot(2), drive(1))).expect("load");
    agree(&s, &lib);

    // A third cartridge of side B's first library: both its drives are
    // full. Refused before anything moved anywhere.
    let before = (moves(&s.a), moves(&s.b1), moves(&s.b2));
    assert_eq!(smc(&mut lib, &move_cdb(slot(3), drive(2))), Err(Check::DESTINATION_FULL));
    assert_eq!((moves(&s.a), moves(&s.b1), moves(&s.b2)), before, "no side moved");
    agree(&s, &lib);
    // One of its second library goes in.
    smc(&mut lib, &move_cdb(slot(55), drive(2))).expect("load from B's second library");
    assert_eq!(at(&s.b2, "ABC055L6"), Some(Element::Drive(0)));
    agree(&s, &lib);

    // A slot to a slot of the other library of side B: impossible there.
    assert_eq!(smc(&mut lib, &move_cdb(slot(4), slot(70))), Err(Check::INVALID_ELEMENT));
    // Within one: everywhere.
    smc(&mut lib, &move_cdb(slot(4), slot(30))).expect("transfer");
    agree(&s, &lib);

    // Unloads go back where the inventory says on each side.
    smc(&mut lib, &move_cdb(drive(0), slot(1))).expect("unload");
    agree(&s, &lib);
    assert_eq!(std::fs::metadata(s.dir.path().join("A0.tap")).unwrap().len(), std::fs::metadata(s.dir.path().join("B10.tap")).unwrap().len());
}

#[test]
fn a_side_that_fails_half_way_leaves_every_side_as_it_was() {
    let s = seed();
    let mut lib = Library::open(&s.cfg, None).expect("open");
    smc(&mut lib, &move_cdb(slot(1), drive(0))).expect("load");

    // Side B's connection drops on its move, before its library moved:
    // side A, which had moved, is brought back; B is reached again.
    s.b1.state().drop_next = 1;
    let r = smc(&mut lib, &move_cdb(drive(0), slot(1)));
    assert_eq!(r, Err(Check::CHANGER_FAILED));
    assert_eq!(at(&s.a, "ABC001L6"), Some(Element::Drive(0)), "side A brought back");
    assert_eq!(at(&s.b1, "ABC001L6"), Some(Element::Drive(0)));
    agree(&s, &lib);
    assert!(lock(&lib.robot.drives()[0]).loaded(), "the pseudo drive holds its tape again");
    // Side B is reached again at the next move.
    smc(&mut lib, &move_cdb(slot(7), slot(41))).expect("a move once B answers again");
    agree(&s, &lib);

    // The same, but side B's library moved before the connection dropped.
    // The move fails at once, side A is brought back; side B, which did not
    // answer, is not waited for: it is brought back before the next move.
    {
        let mut st = s.b1.state();
        st.drop_next = 1;
        st.done_anyway = true;
    }
    assert_eq!(smc(&mut lib, &move_cdb(slot(5), drive(1))), Err(Check::CHANGER_FAILED));
    assert_eq!(at(&s.a, "ABC005L6"), Some(Element::Slot(4)), "side A's move undone");
    assert_eq!(at(&s.b1, "ABC005L6"), Some(Element::Drive(1)), "side B did it before its connection dropped");
    s.b1.state().done_anyway = false;
    smc(&mut lib, &move_cdb(slot(6), slot(40))).expect("the next move");
    assert_eq!(at(&s.b1, "ABC005L6"), Some(Element::Slot(4)), "side B brought back first");
    agree(&s, &lib);
    smc(&mut lib, &move_cdb(slot(5), drive(1))).expect("load");
    agree(&s, &lib);
}

#[test]
fn a_restart_after_a_crash_mid_move_brings_the_sides_back() {
    let s = seed();
    {
        let mut lib = Library::open(&s.cfg, None).expect("open");
        smc(&mut lib, &move_cdb(slot(1), drive(0))).expect("load");
        lib.robot.shut_down();
    }
    // A daemon killed in a move from slot 2 to drive 1 after side A moved,
    // before side B did and before the inventory was written.
    {
        let mut st = s.a.state();
        st.inventory = st.inventory.apply(&[(Element::Slot(1), Element::Drive(1))]).unwrap();
    }
    let lib = Library::open(&s.cfg, None).expect("restart");
    assert_eq!(at(&s.a, "ABC002L6"), Some(Element::Slot(1)), "side A's half of the move undone");
    assert_eq!(lib.robot.inventory().at(Element::Drive(0)).map(|c| c.barcode.as_str()), Some("ABC001L6"));
    agree(&s, &lib);
    drop(lib);

    // A side that cannot be brought back (its cartridge is gone) refuses
    // the start, naming it.
    s.b1.state().inventory.remove(Element::Slot(2));
    let e = Library::open(&s.cfg, None).unwrap_err().to_string();
    assert!(e.contains("ABC003L6") && e.contains("side B"), "{e}");
}

#[test]
fn sides_that_disagree_are_refused_at_the_first_start() {
    let s = seed();
    s.b2.state().inventory.remove(Element::Slot(0));
    let e = Library::open(&s.cfg, None).unwrap_err().to_string();
    assert!(e.contains("slot 55") && e.contains("do not agree"), "{e}");
    assert!(!Path::new(&s.cfg.inventory).exists(), "no inventory written");
}

#[test]
fn degraded_drops_a_side_that_fails_and_brings_it_back_at_the_restart() {
    let s = seed_with("degraded = true\n");
    {
        let mut lib = Library::open(&s.cfg, None).expect("open");
        smc(&mut lib, &move_cdb(slot(1), drive(0))).expect("load");

        // Side B's first library stops answering: a load is made on side A
        // alone, B is dropped (and said so), the pseudo drive mirrors A's
        // drive only.
        s.b1.state().drop_next = usize::MAX;
        smc(&mut lib, &move_cdb(slot(2), drive(1))).expect("made on side A, side B dropped");
        assert_eq!(at(&s.a, "ABC002L6"), Some(Element::Drive(1)));
        assert_eq!(at(&s.b1, "ABC002L6"), Some(Element::Slot(1)), "not moved on side B");
        let c = lib.robot.inventory().at(Element::Drive(1)).cloned().expect("drive 1 holds it");
        assert_eq!(c.medium[1], "side:B", "no drive on side B");
        let status = lib.robot.sides().expect("sides");
        assert!(status.contains("side B: dropped"), "{status}");
        let d1 = lib.robot.drives()[1].clone();
        assert!(lock(&d1).loaded(), "the pseudo drive loaded side A's drive");
        assert_eq!(write(&d1, &[5u8; 4096]).0, 0, "it writes");

        // Moves go on without side B, whatever its library does.
        let b1_moves = moves(&s.b1);
        smc(&mut lib, &move_cdb(slot(3), slot(40))).expect("a transfer on side A alone");
        smc(&mut lib, &move_cdb(drive(0), slot(1))).expect("an unload on side A alone");
        assert_eq!(moves(&s.b1), b1_moves, "side B left alone");
        assert_eq!(at(&s.a, "ABC003L6"), Some(Element::Slot(39)));
        assert_eq!(at(&s.b1, "ABC001L6"), Some(Element::Drive(0)), "side B's drive still holds it");
        lib.robot.shut_down();
    }
    // Side B answers again; at the restart it is brought to the inventory:
    // ABC001L6 back to slot 1, ABC003L6 to slot 40; ABC002L6, loaded
    // while it was dropped, stays in its slot there.
    s.b1.state().drop_next = 0;
    let mut lib = Library::open(&s.cfg, None).expect("restart");
    assert_eq!(at(&s.b1, "ABC001L6"), Some(Element::Slot(0)));
    assert_eq!(at(&s.b1, "ABC003L6"), Some(Element::Slot(39)));
    assert_eq!(at(&s.b1, "ABC002L6"), Some(Element::Slot(1)));
    assert!(lib.robot.sides().expect("sides").contains("side B: in agreement"));
    assert!(lock(&lib.robot.drives()[1]).loaded(), "drive 1 loads side A's drive again");
    // Its unload is made on both sides (on B the cartridge is already home).
    smc(&mut lib, &move_cdb(drive(1), slot(2))).expect("unload");
    agree(&s, &lib);
    smc(&mut lib, &move_cdb(slot(2), drive(1))).expect("a load on both sides again");
    agree(&s, &lib);

    // Without degraded (the other tests), the same failure fails the move.
}

#[test]
fn degraded_fails_a_move_no_side_can_make() {
    let s = seed_with("degraded = true\n");
    let mut lib = Library::open(&s.cfg, None).expect("open");
    s.a.state().drop_next = usize::MAX;
    s.b1.state().drop_next = usize::MAX;
    assert_eq!(smc(&mut lib, &move_cdb(slot(1), drive(0))), Err(Check::CHANGER_FAILED));
    assert!(lib.robot.inventory().at(Element::Drive(0)).is_none(), "nothing moved");
    assert_eq!(at(&s.a, "ABC001L6"), Some(Element::Slot(0)));
}
