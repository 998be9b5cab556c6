//! NetBSD's st(4) rules through the glue (the core's Policy::NETBSD):
//! st_check_eod's filemarks before motions, a close with nothing written,
//! the latched sense key and residue, the eject and control nodes and the
//! mode's block size, and transfers in MAXPHYS pieces as physio(9) gives
//! st its transfers.

use pmtd::media::image::ImageOptions;

use crate::sys::{errno::*, mt, Fd, MT_DS_MOUNTED, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY};
use crate::tape::{norewind, objects, open, record, rewinding, served};
use crate::{ensure, eq, Ctx, Outcome, Scenario};

/// The scenarios of this file.
pub const SCENARIOS: &[Scenario] = &[
    ("rump-st-check-eod-before-motions", check_eod_before_motions),
    ("rump-close-with-nothing-written-writes-no-filemark", close_with_nothing_written),
    ("rump-latched-sense-key-and-residue", latched_sense),
    ("rump-eject-node-unloads-at-close", eject_node_unloads),
    ("rump-control-node-sets-a-mode-block-size-without-a-tape", control_node_sets_a_mode_block_size),
    ("rump-transfers-in-maxphys-pieces", transfers_in_maxphys_pieces),
];

/// `/dev/eNODE` for unit `u`: erpmtmN (eject), enrpmtmN (control).
fn node(prefix: &str, unit: u32) -> String {
    format!("/dev/{prefix}{unit}")
}

fn check_eod_before_motions() -> Outcome {
    let (dir, d) = served(0, &["e.tap"], ImageOptions::default())?;
    let img = dir.path().join("e.tap");
    let m = open(&norewind(0), O_RDWR)?;
    // MTFSF after writing: the two marks of the end of data, then FSF
    // 1 - 2, back over one: the start of the next file (spaced to
    // backwards, so the block number is unknown, as st_space counts it).
    m.write(&record(0, 100)).at("write")?;
    m.mt(mt::FSF, 1).at("MTFSF")?;
    eq!(objects(&img)?, vec![100, 0, 0]);
    eq!(m.pos(), Ok((1, -1)));
    m.write(&record(1, 50)).at("write")?;
    // MTREW after writing: two marks; after data and one MTWEOF, one.
    m.mt(mt::REW, 1).at("MTREW")?;
    eq!(objects(&img)?, vec![100, 0, 50, 0, 0]);
    m.mt(mt::FSF, 2).at("MTFSF")?;
    m.write(&record(2, 30)).at("write")?;
    m.mt(mt::WEOF, 1).at("MTWEOF")?;
    m.mt(mt::REW, 1).at("MTREW")?;
    eq!(objects(&img)?, vec![100, 0, 50, 0, 30, 0, 0]);
    // MTBSR after writing: the marks, and the head brought back over them.
    m.mt(mt::EOM, 1).at("MTEOM")?;
    m.write(&record(3, 10)).at("write")?;
    m.write(&record(4, 11)).at("write")?;
    m.mt(mt::BSR, 1).at("MTBSR")?;
    eq!(m.read(200), Ok(record(4, 11)));
    m.close().at("close")?;
    eq!(objects(&img)?, vec![100, 0, 50, 0, 30, 0, 0, 10, 11, 0, 0]);
    d.stop()
}

fn close_with_nothing_written() -> Outcome {
    // NetBSD's stclose calls st_check_eod for a write-only file that wrote
    // nothing ("for SUN compatibility"); st_check_eod writes marks only
    // after data (ST_WRITTEN): none, on either node.
    let (dir, d) = served(0, &["n.tap"], ImageOptions::default())?;
    for path in [rewinding(0), norewind(0)] {
        for flags in [O_WRONLY, O_RDWR] {
            let m = open(&path, flags)?;
            m.close().at("close")?;
        }
    }
    eq!(objects(&dir.path().join("n.tap"))?, Vec::<u32>::new());
    d.stop()
}

fn latched_sense() -> Outcome {
    let (_dir, d) = served(0, &["l.tap"], ImageOptions::default())?;
    let m = open(&rewinding(0), O_RDWR)?;
    m.write(&record(0, 100)).at("write")?;
    m.close().at("close")?;
    let m = open(&rewinding(0), O_RDONLY)?;
    let st = m.status().at("MTIOCGET")?;
    eq!((st.erreg, st.resid), (0, 0));
    eq!(m.read(100), Ok(record(0, 100)));
    // The filemark: NO SENSE with FMK, the whole read left; reported once.
    eq!(m.read(1000), Ok(vec![]));
    let st = m.status().at("MTIOCGET")?;
    eq!((st.erreg, st.resid), (0, 1000));
    // Past the second mark: BLANK CHECK (8).
    let _ = m.read(1000);
    let _ = m.read(1000);
    eq!(m.read(1000), Err(EIO));
    let st = m.status().at("MTIOCGET")?;
    eq!((st.erreg, st.resid), (8, 1000));
    let st = m.status().at("MTIOCGET")?;
    eq!((st.erreg, st.resid), (0, 0));
    m.close().at("close")?;
    d.stop()
}

fn eject_node_unloads() -> Outcome {
    let (dir, d) = served(3, &["j.tap"], ImageOptions::default())?;
    let m = open(&node("erpmtm", 3), O_RDWR)?;
    m.write(&record(0, 64)).at("write")?;
    m.close().at("close")?;
    eq!(objects(&dir.path().join("j.tap"))?, vec![64, 0, 0]);
    // The one volume is out of the drive: no medium (NetBSD: EIO).
    eq!(Fd::open(&rewinding(3), O_RDONLY).map(|_| ()), Err(EIO));
    let m = open(&rewinding(3), O_RDONLY | O_NONBLOCK)?;
    eq!(m.status().at("MTIOCGET")?.dsreg & MT_DS_MOUNTED, 0);
    let _ = m.close();
    d.stop()
}

fn control_node_sets_a_mode_block_size() -> Outcome {
    // No daemon on pair 0: the control node of mode 1 opens anyway.
    let c = open("/dev/enrpmtm0.1", O_RDWR)?;
    c.mt(mt::SETBSIZ, 512).at("MTSETBSIZ")?;
    eq!(c.status().at("MTIOCGET")?.mblksiz, [0, 512, 0, 0]);
    c.close().at("close")?;
    // Other nodes need the drive.
    eq!(Fd::open("/dev/rpmtm0.1", O_RDWR).map(|_| ()), Err(EIO));
    let (dir, d) = served(0, &["c.tap"], ImageOptions::default())?;
    // Mode 1 mounts with 512-byte blocks...
    let m = open("/dev/rpmtm0.1", O_RDWR)?;
    eq!(m.status().at("MTIOCGET")?.blksiz, 512);
    m.write(&record(0, 1024)).at("write")?;
    m.close().at("close")?;
    eq!(objects(&dir.path().join("c.tap"))?, vec![512, 512, 0, 0]);
    // ... mode 0 with variable ones; its own MTSETBSIZ lasts until the
    // rewinding close ends the mount.
    let m = open(&rewinding(0), O_RDWR)?;
    eq!(m.status().at("MTIOCGET")?.blksiz, 0);
    m.mt(mt::SETBSIZ, 1024).at("MTSETBSIZ")?;
    eq!(m.status().at("MTIOCGET")?.blksiz, 1024);
    m.close().at("close")?;
    let m = open(&rewinding(0), O_RDONLY)?;
    eq!(m.status().at("MTIOCGET")?.blksiz, 0);
    m.close().at("close")?;
    d.stop()
}

fn transfers_in_maxphys_pieces() -> Outcome {
    const MAXPHYS: usize = 64 * 1024;
    let (dir, d) = served(0, &["p.tap"], ImageOptions::default())?;
    let data = record(7, 3 * MAXPHYS + 3392);
    let m = open(&rewinding(0), O_RDWR)?;
    // One write(2), four records: physio's pieces.
    eq!(m.write(&data), Ok(data.len()));
    m.close().at("close")?;
    let len = MAXPHYS as u32;
    eq!(objects(&dir.path().join("p.tap"))?, vec![len, len, len, 3392, 0, 0]);
    // One read(2) with room for all: whole pieces go on to the next
    // record, the short one ends the transfer.
    let m = open(&rewinding(0), O_RDONLY)?;
    let got = m.read(data.len() + 1000).at("read")?;
    ensure!(got == data, "{} bytes read back, {} written", got.len(), data.len());
    eq!(m.read(1000), Ok(vec![]));
    m.close().at("close")?;
    d.stop()
}
