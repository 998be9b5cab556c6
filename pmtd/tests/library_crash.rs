//! The crash rule: a library daemon SIGKILLed at any step of any move,
//! import or export leaves every cartridge in exactly one place, the old
//! one or the new one, and the restarted library agrees with it and with
//! its drives (a drive whose element holds a cartridge loads it again), and
//! what was written on a tape before the move is on it.
//!
//! Each case runs in a child process (this test binary again, running
//! `crash_child`), which kills itself with SIGKILL at the Nth step the
//! library reports; N goes up until the child finishes without reaching
//! it, so every step of every case is a crash point.

mod rack;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::{raise, Signal};
use pmtd::library::robot::{Hook, Step};
use pmtd::library::{Element, Library, LibraryConfig};
use rack::{check_agreement, config, exchange_cdb, move_cdb, smc};

const CASE: &str = "PMTD_CRASH_CASE";
const DIR: &str = "PMTD_CRASH_DIR";
const AT: &str = "PMTD_CRASH_AT";

fn cfg(dir: &Path) -> LibraryConfig {
    config(dir, 6, 2, 2, 4)
}

fn addr(cfg: &LibraryConfig, e: Element) -> u16 {
    cfg.layout.address(e)
}

/// The cases: what the library holds before, what it does.
const CASES: [&str; 6] = ["load", "unload", "drive-to-drive", "exchange", "import", "export"];

/// Brings the library to the state before `case`: ABC001L6 in drive 0
/// with three records written on it; for an export, a cartridge in a
/// portal.
fn prepare(dir: &Path, case: &str) {
    let c = cfg(dir);
    let mut lib = Library::open(&c, None).unwrap();
    smc(&mut lib, &move_cdb(addr(&c, Element::Slot(0)), addr(&c, Element::Drive(0)))).unwrap();
    let d = lib.robot.drives()[0].clone();
    rack::open(&d);
    for i in 0..3u8 {
        assert_eq!(rack::write(&d, &[i; 1000]), (0, 0, 0));
    }
    rack::close(&d);
    if case == "export" {
        lib.robot.import("OUT001L6", None, Some(1)).unwrap();
    }
    // No shut down: as if the previous daemon had died too.
}

/// Runs `case` on the library (in the child).
fn act(lib: &mut Library, c: &LibraryConfig, case: &str) {
    let a = |e| addr(c, e);
    match case {
        "load" => smc(lib, &move_cdb(a(Element::Slot(1)), a(Element::Drive(1)))).map(|_| ()),
        "unload" => smc(lib, &move_cdb(a(Element::Drive(0)), a(Element::Slot(0)))).map(|_| ()),
        "drive-to-drive" => smc(lib, &move_cdb(a(Element::Drive(0)), a(Element::Drive(1)))).map(|_| ()),
        "exchange" => smc(lib, &exchange_cdb(a(Element::Slot(2)), a(Element::Drive(0)), a(Element::Slot(2)))).map(|_| ()),
        "import" => lib.robot.import("NEW001L6", None, None).map(|_| ()).map_err(|_| pmtd::scsi::Check::INTERNAL),
        "export" => lib.robot.export(Some("OUT001L6"), None).map(|_| ()).map_err(|_| pmtd::scsi::Check::INTERNAL),
        _ => unreachable!(),
    }
    .unwrap_or_else(|e| panic!("{case}: {e}"));
}

/// Where the cartridges are before and after `case`.
fn states(case: &str) -> (BTreeMap<Element, &'static str>, BTreeMap<Element, &'static str>) {
    let mut before = BTreeMap::from([
        (Element::Drive(0), "ABC001L6"),
        (Element::Slot(1), "ABC002L6"),
        (Element::Slot(2), "ABC003L6"),
        (Element::Slot(3), "ABC004L6"),
    ]);
    if case == "export" {
        before.insert(Element::Portal(1), "OUT001L6");
    }
    let mut after = before.clone();
    let mut mv = |from, to| {
        let b = after.remove(&from).unwrap();
        after.insert(to, b);
    };
    match case {
        "load" => mv(Element::Slot(1), Element::Drive(1)),
        "unload" => mv(Element::Drive(0), Element::Slot(0)),
        "drive-to-drive" => mv(Element::Drive(0), Element::Drive(1)),
        "exchange" => {
            after.insert(Element::Drive(0), "ABC003L6");
            after.insert(Element::Slot(2), "ABC001L6");
        }
        "import" => {
            after.insert(Element::Portal(0), "NEW001L6");
        }
        "export" => {
            after.remove(&Element::Portal(1));
        }
        _ => unreachable!(),
    }
    (before, after)
}

/// The child: runs its case, killing itself at the Nth step.
#[test]
fn crash_child() {
    let (Ok(case), Ok(dir), Ok(at)) = (std::env::var(CASE), std::env::var(DIR), std::env::var(AT)) else {
        return;
    };
    let at: usize = at.parse().unwrap();
    let dir = PathBuf::from(dir);
    let c = cfg(&dir);
    let mut n = 0usize;
    let hook: Hook = Box::new(move |_step: Step| {
        if n == at {
            let _ = raise(Signal::SIGKILL);
        }
        n += 1;
    });
    let mut lib = Library::open(&c, Some(hook)).unwrap();
    act(&mut lib, &c, &case);
}

/// The library after the crash: one of the two states, agreeing with its
/// drives, the tape's records all there. True if it is the new state.
fn check_restart(dir: &Path, case: &str, at: usize) -> bool {
    let c = cfg(dir);
    let lib = Library::open(&c, None).unwrap();
    check_agreement(&lib, &c);
    let have: BTreeMap<Element, String> = lib.robot.inventory().iter().map(|(e, c)| (e, c.barcode.clone())).collect();
    let (before, after) = states(case);
    let as_owned = |m: &BTreeMap<Element, &str>| m.iter().map(|(e, b)| (*e, b.to_string())).collect::<BTreeMap<_, _>>();
    let new = have == as_owned(&after);
    assert!(new || have == as_owned(&before), "{case}, killed at step {at}: {have:?}");
    for n in 0..2u16 {
        let full = lib.robot.inventory().at(Element::Drive(n)).is_some();
        assert_eq!(rack::lock(&lib.robot.drives()[usize::from(n)]).loaded(), full, "{case} at {at}: drive {n} loads its cartridge");
    }
    let scan = pmtd::inspect::scan_file(&dir.join("ABC001L6.tap"), true).unwrap();
    assert_eq!(scan.objs.iter().filter(|o| o.len == 1000).count(), 3, "{case} at {at}: the records written before");
    new
}

#[test]
fn a_daemon_killed_at_any_step_loses_nothing() {
    let exe = std::env::current_exe().unwrap();
    let mut kills = 0;
    for case in CASES {
        let mut at = 0;
        loop {
            let dir = tempfile::tempdir().unwrap();
            prepare(dir.path(), case);
            let out = Command::new(&exe)
                .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
                .env(CASE, case)
                .env(DIR, dir.path())
                .env(AT, at.to_string())
                .output()
                .unwrap();
            let killed = out.status.signal() == Some(Signal::SIGKILL as i32);
            assert!(killed || out.status.success(), "{case} at {at}: {}", String::from_utf8_lossy(&out.stderr));
            let new = check_restart(dir.path(), case, at);
            if !killed {
                assert!(new, "{case}: done, so in the new state");
                assert!(at >= 2, "{case}: {at} steps: the hook was not reached");
                break;
            }
            kills += 1;
            at += 1;
        }
    }
    assert!(kills >= 20, "{kills} crash points");
}
