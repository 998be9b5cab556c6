//! The library (its SMC engine, its mechanics, its inventory file and its
//! drives with image media) against a reference model: random moves,
//! exchanges, imports, exports, drive commands (open, close, lock, offline,
//! load) and restarts. No cartridge is ever lost or duplicated, every
//! answer is the model's, the drives always hold what the inventory says,
//! and the file always says what memory says.

mod rack;

use std::collections::BTreeMap;

use pmt::chg::ch::parse_element_status;
use pmtd::library::element::ElemType;
use pmtd::library::{Element, Layout, Library, LibraryConfig};
use pmtd::scsi::Check;
use rack::{check_agreement, config, exchange_cdb, move_cdb, smc, status_cdb};

#[derive(Clone, Copy, Debug, Default)]
struct MDrive {
    loaded: bool,
    in_use: bool,
    locked: bool,
}

/// What the library should be: written from SMC's rules and the
/// documented policy, not from the code.
struct Model {
    at: BTreeMap<Element, String>,
    drives: Vec<MDrive>,
    prevented: bool,
    outside: Vec<String>,
    fresh: u32,
    /// Every barcode the library ever had.
    known: std::collections::BTreeSet<String>,
}

impl Model {
    fn new(cfg: &LibraryConfig) -> Model {
        let at = cfg.cartridges.iter().map(|(e, c)| (*e, c.barcode.clone())).collect();
        let known = cfg.cartridges.iter().map(|(_, c)| c.barcode.clone()).collect();
        Model { at, drives: vec![MDrive::default(); cfg.drives.len()], prevented: false, outside: Vec::new(), fresh: 0, known }
    }

    /// What moves made at once give: lift every source, then fill every
    /// destination; then the door; then the drives that give up a tape.
    fn predict(&self, moves: &[(Element, Element)]) -> Result<(), Check> {
        let mut at = self.at.clone();
        let mut lifted = Vec::new();
        for (from, _) in moves {
            lifted.push(at.remove(from).ok_or(Check::SOURCE_EMPTY)?);
        }
        for ((_, to), b) in moves.iter().zip(lifted) {
            if at.insert(*to, b).is_some() {
                return Err(Check::DESTINATION_FULL);
            }
        }
        if self.prevented && moves.iter().any(|(a, b)| a.is_portal() || b.is_portal()) {
            return Err(Check::REMOVAL_PREVENTED);
        }
        for (from, _) in moves {
            if let Some(d) = from.drive().map(|n| self.drives[usize::from(n)]) {
                if d.locked {
                    return Err(Check::REMOVAL_PREVENTED);
                }
                if d.loaded && d.in_use {
                    return Err(Check::IN_USE);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, moves: &[(Element, Element)]) {
        let lifted: Vec<String> = moves.iter().map(|(f, _)| self.at.remove(f).unwrap()).collect();
        for (from, _) in moves {
            if let Some(n) = from.drive() {
                self.drives[usize::from(n)].loaded = false;
            }
        }
        for ((_, to), b) in moves.iter().zip(lifted) {
            self.at.insert(*to, b);
            if let Some(n) = to.drive() {
                self.drives[usize::from(n)].loaded = true;
            }
        }
    }

    fn restarted(&mut self) {
        self.prevented = false;
        for (n, d) in self.drives.iter_mut().enumerate() {
            *d = MDrive { loaded: self.at.contains_key(&Element::Drive(n as u16)), ..MDrive::default() };
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// An address: mostly one of an element, sometimes the transport's or none.
fn address(rng: &mut Rng, layout: &Layout) -> u16 {
    match rng.below(20) {
        0 => 999,
        1 => layout.address(Element::Transport),
        _ => {
            let all = layout.all(None);
            layout.address(all[rng.below(all.len())])
        }
    }
}

/// The element status the engine reports agrees with the model.
fn check_status(lib: &mut Library, m: &Model) {
    let d = smc(lib, &status_cdb()).expect("READ ELEMENT STATUS");
    let layout = *lib.robot.layout();
    for s in parse_element_status(&d, 10_000) {
        let e = layout.at(s.addr).expect("an element");
        if e == Element::Transport {
            continue;
        }
        let want = m.at.get(&e);
        assert_eq!(s.flags & 1 == 1, want.is_some(), "{e} full");
        if let Some(b) = want {
            let tag = s.pvoltag.unwrap();
            assert_eq!(String::from_utf8_lossy(&tag[..32]).trim_end(), b, "{e}'s tag");
        }
        if let Some(n) = e.drive() {
            let md = m.drives[usize::from(n)];
            assert_eq!(s.flags & 0x08 != 0, !(md.locked || md.loaded && md.in_use), "drive {n} access");
        }
    }
}

/// What a run did, so the test can insist every path was taken.
#[derive(Debug, Default)]
struct Seen {
    moves: usize,
    into_drives: usize,
    out_of_drives: usize,
    exchanges: usize,
    errors: BTreeMap<(u8, u8, u8), usize>,
    imports: usize,
    exports: usize,
    restarts: usize,
}

fn run_seed(seed: u64, steps: usize, seen: &mut Seen) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 10, 2, 3, 7);
    let mut lib = Library::open(&cfg, None).unwrap();
    let layout = cfg.layout;
    let mut m = Model::new(&cfg);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    for step in 0..steps {
        let what = rng.below(100);
        let ctx = format!("seed {seed} step {step}");
        match what {
            0..=29 => {
                let (a, b) = (address(&mut rng, &layout), address(&mut rng, &layout));
                let r = smc(&mut lib, &move_cdb(a, b));
                let (ea, eb) = (layout.at(a).filter(|e| e.holds()), layout.at(b).filter(|e| e.holds()));
                let want = match (ea, eb) {
                    (Some(x), Some(y)) if x == y => Err(if m.at.contains_key(&x) { Check::DESTINATION_FULL } else { Check::SOURCE_EMPTY }),
                    (Some(x), Some(y)) => m.predict(&[(x, y)]),
                    _ => Err(Check::INVALID_ELEMENT),
                };
                assert_eq!(r.clone().map(|_| ()), want, "{ctx}: move {a} -> {b}");
                match r {
                    Ok(_) => {
                        let (x, y) = (ea.unwrap(), eb.unwrap());
                        m.apply(&[(x, y)]);
                        seen.moves += 1;
                        seen.into_drives += usize::from(y.drive().is_some());
                        seen.out_of_drives += usize::from(x.drive().is_some());
                    }
                    Err(c) => *seen.errors.entry((c.key, c.asc, c.ascq)).or_default() += 1,
                }
            }
            30..=39 => {
                let (a, b, c) = (address(&mut rng, &layout), address(&mut rng, &layout), address(&mut rng, &layout));
                let r = smc(&mut lib, &exchange_cdb(a, b, c));
                let es = [a, b, c].map(|x| layout.at(x).filter(|e| e.holds()));
                let want = match es {
                    [Some(x), Some(y), Some(_)] if x == y => Err(Check::INVALID_FIELD),
                    [Some(x), Some(y), Some(z)] => m.predict(&[(x, y), (y, z)]),
                    _ => Err(Check::INVALID_ELEMENT),
                };
                assert_eq!(r.clone().map(|_| ()), want, "{ctx}: exchange {a} {b} {c}");
                match r {
                    Ok(_) => {
                        m.apply(&[(es[0].unwrap(), es[1].unwrap()), (es[1].unwrap(), es[2].unwrap())]);
                        seen.exchanges += 1;
                    }
                    Err(c) => *seen.errors.entry((c.key, c.asc, c.ascq)).or_default() += 1,
                }
            }
            40..=47 => {
                let barcode = match rng.below(4) {
                    0 if !m.outside.is_empty() => m.outside[rng.below(m.outside.len())].clone(),
                    1 if !m.at.is_empty() => m.at.values().nth(rng.below(m.at.len())).unwrap().clone(),
                    _ => {
                        m.fresh += 1;
                        format!("NEW{:03}L6", m.fresh)
                    }
                };
                let portal = if rng.below(2) == 0 { Some(rng.below(3) as u16) } else { None };
                let r = lib.robot.import(&barcode, None, portal);
                let free = (0..2).map(Element::Portal).find(|e| !m.at.contains_key(e));
                let target = match portal {
                    Some(p) if p < 2 && !m.at.contains_key(&Element::Portal(p)) => Some(Element::Portal(p)),
                    Some(_) => None,
                    None => free,
                };
                let ok = !m.prevented && !m.at.values().any(|b| *b == barcode) && target.is_some();
                assert_eq!(r.is_ok(), ok, "{ctx}: import {barcode} {portal:?}: {r:?}");
                if let Ok(e) = r {
                    assert_eq!(Some(e), target);
                    m.at.insert(e, barcode.clone());
                    m.outside.retain(|b| *b != barcode);
                    m.known.insert(barcode);
                    seen.imports += 1;
                }
            }
            48..=55 => {
                let all: Vec<String> = m.at.values().cloned().collect();
                let barcode = all[rng.below(all.len())].clone();
                let r = lib.robot.export(Some(&barcode), None);
                let e = m.at.iter().find(|(_, b)| **b == barcode).map(|(e, _)| *e).unwrap();
                assert_eq!(r.is_ok(), !m.prevented && e.is_portal(), "{ctx}: export {barcode} from {e}: {r:?}");
                if r.is_ok() {
                    m.at.remove(&e);
                    m.outside.push(barcode);
                    seen.exports += 1;
                }
            }
            56..=59 => {
                let on = rng.below(2) == 0;
                smc(&mut lib, &[0x1e, 0, 0, 0, u8::from(on), 0]).unwrap();
                m.prevented = on;
            }
            60..=89 => {
                let n = rng.below(m.drives.len());
                let d = lib.robot.drives()[n].clone();
                let md = &mut m.drives[n];
                let held = m.at.contains_key(&Element::Drive(n as u16));
                match rng.below(6) {
                    0 => {
                        let s = rack::open(&d);
                        md.in_use = true;
                        if !md.loaded {
                            assert_eq!(s, (2, 0x3a, 0), "{ctx}: open of an empty drive");
                        }
                    }
                    1 => {
                        rack::close(&d);
                        md.in_use = false;
                    }
                    2 | 3 => {
                        let on = rng.below(2) == 0;
                        rack::lock_medium(&d, on);
                        md.locked = on;
                    }
                    4 => {
                        let s = rack::offline(&d);
                        let want = if md.locked {
                            (5, 0x53, 2)
                        } else if md.loaded {
                            md.loaded = false;
                            (0, 0, 0)
                        } else {
                            (2, 0x3a, 0)
                        };
                        assert_eq!(s, want, "{ctx}: offline of drive {n}");
                    }
                    _ => {
                        let s = rack::mtload(&d);
                        if !md.loaded && held {
                            md.loaded = true;
                        }
                        assert_eq!(s == (0, 0, 0), md.loaded, "{ctx}: load of drive {n}: {s:?}");
                    }
                }
                assert_eq!(rack::lock(&d).loaded(), m.drives[n].loaded, "{ctx}: drive {n} loaded");
            }
            90..=96 => check_status(&mut lib, &m),
            _ => {
                // A crash: nothing shut down, nothing synced beyond what
                // each command did.
                drop(lib);
                lib = Library::open(&cfg, None).unwrap();
                m.restarted();
                seen.restarts += 1;
            }
        }
        check_agreement(&lib, &cfg);
        let have: BTreeMap<Element, String> = lib.robot.inventory().iter().map(|(e, c)| (e, c.barcode.clone())).collect();
        assert_eq!(have, m.at, "{ctx}: the inventory is the model's");
        for (n, md) in m.drives.iter().enumerate() {
            assert_eq!(rack::lock(&lib.robot.drives()[n]).loaded(), md.loaded, "{ctx}: drive {n} loaded");
        }
        // Never lost, never duplicated: in the library or outside, once.
        let mut all: Vec<&String> = lib.robot.inventory().iter().map(|(_, c)| &c.barcode).chain(m.outside.iter()).collect();
        all.sort();
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n, "{ctx}: a cartridge in two places");
        assert_eq!(all.into_iter().cloned().collect::<std::collections::BTreeSet<_>>(), m.known, "{ctx}: a cartridge lost");
    }
}

#[test]
fn random_operations_agree_with_the_model() {
    let mut seen = Seen::default();
    for seed in 1..=12 {
        run_seed(seed, 400, &mut seen);
    }
    eprintln!("{seen:?}");
    assert!(seen.moves > 100 && seen.into_drives > 20 && seen.out_of_drives > 20, "{seen:?}");
    assert!(seen.exchanges > 5 && seen.imports > 10 && seen.exports > 10 && seen.restarts > 20, "{seen:?}");
    for c in [Check::SOURCE_EMPTY, Check::DESTINATION_FULL, Check::INVALID_ELEMENT, Check::REMOVAL_PREVENTED, Check::IN_USE] {
        assert!(seen.errors.contains_key(&(c.key, c.asc, c.ascq)), "never {c}: {seen:?}");
    }
}

#[test]
fn every_cartridge_once_after_many_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 6, 1, 2, 5);
    let mut lib = Library::open(&cfg, None).unwrap();
    let l = cfg.layout;
    smc(&mut lib, &move_cdb(l.address(Element::Slot(0)), l.address(Element::Drive(0)))).unwrap();
    smc(&mut lib, &move_cdb(l.address(Element::Slot(1)), l.address(Element::Drive(1)))).unwrap();
    for _ in 0..3 {
        drop(lib);
        lib = Library::open(&cfg, None).unwrap();
        check_agreement(&lib, &cfg);
        for n in 0..2 {
            assert!(rack::lock(&lib.robot.drives()[n]).loaded(), "a drive whose element holds a cartridge loads it at start");
        }
    }
    assert_eq!(lib.robot.inventory().len(), 5);
    assert_eq!(lib.robot.layout().count(ElemType::Slot), 6);
}

#[test]
fn a_move_that_fails_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 6, 2, 2, 3);
    let mut lib = Library::open(&cfg, None).unwrap();
    let a = |e| cfg.layout.address(e);
    let loaded = |lib: &Library, n: usize| rack::lock(&lib.robot.drives()[n]).loaded();
    // A cartridge whose medium cannot be built.
    lib.robot.import("BAD001L6", Some(vec!["floppy:/dev/fd0".into()]), None).unwrap();
    let before = lib.robot.inventory().clone();
    assert_eq!(smc(&mut lib, &move_cdb(a(Element::Portal(0)), a(Element::Drive(0)))), Err(Check::CANNOT_LOAD));
    assert_eq!(lib.robot.inventory(), &before);
    assert!(!loaded(&lib, 0));
    check_agreement(&lib, &cfg);
    // Swapped with a good tape in a drive: the good tape goes back in,
    // loaded as it was.
    smc(&mut lib, &move_cdb(a(Element::Slot(0)), a(Element::Drive(0)))).unwrap();
    let before = lib.robot.inventory().clone();
    let x = exchange_cdb(a(Element::Portal(0)), a(Element::Drive(0)), a(Element::Portal(0)));
    assert_eq!(smc(&mut lib, &x), Err(Check::CANNOT_LOAD));
    assert_eq!(lib.robot.inventory(), &before);
    assert!(loaded(&lib, 0), "the drive's own tape is loaded again");
    check_agreement(&lib, &cfg);
    // The inventory cannot be written: nothing moves.
    let blocker = dir.path().join("lib.inventory.new");
    std::fs::create_dir(&blocker).unwrap();
    assert_eq!(smc(&mut lib, &move_cdb(a(Element::Drive(0)), a(Element::Drive(1)))), Err(Check::INTERNAL));
    assert!(loaded(&lib, 0) && !loaded(&lib, 1), "both drives as they were");
    assert!(lib.robot.import("NEW001L6", None, None).is_err());
    assert!(lib.robot.export(Some("BAD001L6"), None).is_err());
    assert_eq!(lib.robot.inventory(), &before);
    check_agreement(&lib, &cfg);
    std::fs::remove_dir(&blocker).unwrap();
    smc(&mut lib, &move_cdb(a(Element::Drive(0)), a(Element::Drive(1)))).unwrap();
    assert!(!loaded(&lib, 0) && loaded(&lib, 1));
    check_agreement(&lib, &cfg);
}
