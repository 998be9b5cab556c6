//! The core's st engine against the pmtd drive: what programs see.

use pmt::abi::linux::{gmt, op, MT_ISSCSI2};
use pmt::{Config, Errno};
use pmt_tests::{magazine, objects, record, Sim, NRW, RO, RW};
use pmtd::drive::DriveConfig;
use pmtd::media::image::ImageOptions;

#[test]
fn records_written_read_back_with_filemark_and_end_of_data() {
    let sim = Sim::simple();
    sim.open(RW).unwrap();
    let st = sim.status().unwrap();
    assert_eq!(st.mt_type, MT_ISSCSI2);
    assert_eq!((st.fileno, st.blkno), (0, 0));
    assert_ne!(st.gstat & gmt::BOT, 0);
    assert_ne!(st.gstat & gmt::ONLINE, 0);
    for i in 0..5 {
        assert_eq!(sim.write(&record(i, 10240)), Ok(10240));
    }
    assert_eq!(sim.pos(), (0, 5));
    sim.close().unwrap();
    // One filemark after the data, then rewound.
    assert_eq!(objects(&sim.image("vol1.tap")), vec![10240, 10240, 10240, 10240, 10240, 0]);

    sim.open(RO).unwrap();
    assert_eq!(sim.pos(), (0, 0));
    for i in 0..5 {
        // restore reads with a larger buffer and gets the short record.
        assert_eq!(sim.read(32768).unwrap(), record(i, 10240));
    }
    assert_eq!(sim.read(32768), Ok(vec![])); // the filemark
    assert_eq!(sim.pos(), (1, 0));
    assert_eq!(sim.read(32768), Ok(vec![])); // end of data: second zero read
    assert_eq!(sim.read(32768), Err(Errno::Io));
    sim.close().unwrap();
}

#[test]
fn short_buffer_is_enomem_and_consumes_the_record() {
    let sim = Sim::simple();
    sim.open(RW).unwrap();
    sim.write(&record(0, 1000)).unwrap();
    sim.write(&record(1, 1000)).unwrap();
    sim.close().unwrap();
    sim.open(RO).unwrap();
    assert_eq!(sim.read(999), Err(Errno::NoMem));
    assert_eq!(sim.pos(), (0, 1));
    assert_eq!(sim.read(1000).unwrap(), record(1, 1000));
    sim.close().unwrap();
}

#[test]
fn no_rewind_files_and_positioning() {
    let sim = Sim::simple();
    // Three files through the no-rewind node.
    for f in 0..3 {
        sim.open(NRW).unwrap();
        assert_eq!(sim.pos(), (f, 0), "file {f} starts where the last ended");
        for r in 0..=f as usize {
            sim.write(&record(10 * f as usize + r, 512)).unwrap();
        }
        sim.close().unwrap();
    }
    assert_eq!(objects(&sim.image("vol1.tap")), vec![512, 0, 512, 512, 0, 512, 512, 512, 0]);
    sim.open(NRW).unwrap();
    assert_eq!(sim.pos(), (3, 0));
    sim.mt(op::REW, 1).unwrap();
    assert_eq!(sim.pos(), (0, 0));
    sim.mt(op::FSF, 2).unwrap();
    assert_eq!(sim.pos(), (2, 0));
    assert_eq!(sim.read(512).unwrap(), record(20, 512));
    sim.mt(op::BSF, 1).unwrap();
    // Before the filemark that ends file 1: block unknown, as st reports.
    assert_eq!(sim.pos(), (1, -1));
    sim.mt(op::FSF, 1).unwrap();
    assert_eq!(sim.pos(), (2, 0));
    sim.mt(op::FSR, 2).unwrap();
    assert_eq!(sim.pos(), (2, 2));
    sim.mt(op::BSR, 1).unwrap();
    assert_eq!(sim.pos(), (2, 1));
    assert_eq!(sim.read(512).unwrap(), record(21, 512));
    sim.mt(op::EOM, 1).unwrap();
    let st = sim.status().unwrap();
    assert_eq!(st.fileno, 3);
    assert_ne!(st.gstat & gmt::EOD, 0);
    // Forward spacing past the end of data fails.
    assert_eq!(sim.mt(op::FSF, 1), Err(Errno::Io));
    sim.close().unwrap();
}

#[test]
fn writing_in_the_middle_cuts_the_rest() {
    let sim = Sim::simple();
    sim.open(NRW).unwrap();
    for i in 0..4 {
        sim.write(&record(i, 100)).unwrap();
    }
    sim.mt(op::WEOF, 1).unwrap();
    sim.mt(op::REW, 1).unwrap();
    sim.mt(op::FSR, 2).unwrap();
    sim.write(&record(9, 50)).unwrap();
    sim.close().unwrap();
    assert_eq!(objects(&sim.image("vol1.tap")), vec![100, 100, 50, 0]);
}

#[test]
fn weof_then_close_writes_no_extra_filemark() {
    let sim = Sim::simple();
    sim.open(NRW).unwrap();
    sim.write(&record(0, 64)).unwrap();
    sim.mt(op::WEOF, 2).unwrap();
    assert_eq!(sim.pos(), (2, 0));
    sim.close().unwrap();
    assert_eq!(objects(&sim.image("vol1.tap")), vec![64, 0, 0]);
}

#[test]
fn write_behind_stays_within_the_window_and_keeps_order() {
    let ucfg = Config { ring: 64, window: 64 * 1024, ..Config::default() };
    let sim = Sim::new(&["w.tap"], ImageOptions::default(), ucfg);
    sim.open(RW).unwrap();
    let n = 300;
    for i in 0..n {
        assert_eq!(sim.write(&record(i, 10240)), Ok(10240));
    }
    assert!(*sim.max_held.borrow() <= 64 * 1024, "held {}", sim.max_held.borrow());
    assert!(*sim.max_held.borrow() >= 40 * 1024, "write-behind never queued: {}", sim.max_held.borrow());
    // Far fewer daemon batches than records: requests were batched.
    assert!(*sim.batches.borrow() < n / 3, "{} batches", sim.batches.borrow());
    sim.close().unwrap();
    sim.open(RO).unwrap();
    for i in 0..n {
        assert_eq!(sim.read(10240).unwrap(), record(i, 10240), "record {i}");
    }
    sim.close().unwrap();
}

#[test]
fn reads_are_served_from_read_ahead_and_end_exactly_as_st() {
    let ucfg = Config { ring: 64, window: 256 * 1024, ..Config::default() };
    let sim = Sim::new(&["r.tap"], ImageOptions::default(), ucfg);
    sim.open(RW).unwrap();
    for i in 0..200 {
        sim.write(&record(i, 1000 + i)).unwrap();
    }
    sim.mt(op::WEOF, 1).unwrap();
    sim.write(&record(999, 77)).unwrap();
    sim.close().unwrap();
    sim.open(RO).unwrap();
    let before = *sim.batches.borrow();
    for i in 0..200 {
        assert_eq!(sim.read(4096).unwrap(), record(i, 1000 + i), "record {i}");
    }
    let batches = *sim.batches.borrow() - before;
    assert!(batches < 40, "{batches} daemon batches for 200 records: no read-ahead");
    assert_eq!(sim.pos(), (0, 200));
    assert_eq!(sim.read(4096), Ok(vec![]), "the filemark");
    assert_eq!(sim.pos(), (1, 0));
    assert_eq!(sim.read(4096).unwrap(), record(999, 77));
    assert_eq!(sim.read(4096), Ok(vec![]));
    assert_eq!(sim.read(4096), Ok(vec![]));
    assert_eq!(sim.read(4096), Err(Errno::Io));
    sim.close().unwrap();
}

#[test]
fn early_warning_follows_st() {
    // 200 KiB volume, early warning 50 KiB before the end; 10 KiB records.
    let cfg = ImageOptions { capacity: Some(200 * 1024), early_warning: 50 * 1024, ..ImageOptions::default() };
    let sim = Sim::new(&["ew.tap"], cfg, Config::default());
    sim.open(RW).unwrap();
    let rec = record(0, 10240);
    let mut results = Vec::new();
    let mut written_after_ew = 0;
    loop {
        let r = sim.write(&rec);
        results.push(r);
        if results.len() > 60 {
            break;
        }
    }
    // Records up to early warning all succeed.
    let first_enospc = results.iter().position(|r| *r == Err(Errno::NoSpc)).unwrap();
    assert!(results[..first_enospc].iter().all(|r| *r == Ok(10240)));
    // The write that met early warning succeeded and the status says EOT.
    // After it: ENOSPC and success alternate until the physical end.
    let tail = &results[first_enospc..];
    let mut i = 0;
    while i + 1 < tail.len() && tail[i] == Err(Errno::NoSpc) && tail[i + 1] == Ok(10240) {
        written_after_ew += 1;
        i += 2;
    }
    assert!(written_after_ew >= 2, "alternation after early warning: {:?}", &tail[..8]);
    // Then the medium is full: only ENOSPC.
    assert!(tail[i..].iter().all(|r| *r == Err(Errno::NoSpc)), "{:?}", &tail[i..]);
    let st = sim.status().unwrap();
    assert_ne!(st.gstat & gmt::EOT, 0, "GMT_EOT at early warning");
    sim.close().unwrap();
    let objs = objects(&sim.image("ew.tap"));
    assert_eq!(objs.last(), Some(&0), "the closing filemark fits after early warning");
    let size = std::fs::metadata(sim.image("ew.tap")).unwrap().len();
    assert!(size <= 200 * 1024, "image within capacity: {size}");
    // Exact count: records before EW + those allowed after, all stored.
    let ok = results.iter().filter(|r| **r == Ok(10240)).count();
    assert_eq!(objs.len(), ok + 1);
}

#[test]
fn a_drive_that_refuses_records_after_enospc_keeps_dumps_retries_off_the_volume() {
    // dump's writers retry a record refused with ENOSPC (up to ten times);
    // st lets one write through after each ENOSPC, so on a drive that takes
    // it the record and those in flight land on this volume and again on
    // the next. A drive that refuses such writes keeps every record on one
    // volume; what the driver had in flight and the closing filemark still
    // go into the zone.
    let cfg = ImageOptions { capacity: Some(200 * 1024), early_warning: 50 * 1024, ..ImageOptions::default() };
    let dcfg = DriveConfig { refuse_after_enospc: true, ..DriveConfig::default() };
    let sim = Sim::with_volumes(|d| magazine(d, &["ew.tap"], cfg), dcfg, Config::default(), pmt::Abi::Linux);
    sim.open(RW).unwrap();
    let mut accepted = 0;
    let mut n = 0;
    loop {
        match sim.write(&record(n, 10240)) {
            Ok(_) => accepted += 1,
            Err(Errno::NoSpc) => break,
            Err(e) => panic!("{e:?}"),
        }
        n += 1;
    }
    // dump's retry loop: every retry of the record is refused.
    for _ in 0..10 {
        assert_eq!(sim.write(&record(n, 10240)), Err(Errno::NoSpc));
    }
    // Close writes the filemark.
    sim.close().unwrap();
    let objs = objects(&sim.image("ew.tap"));
    assert_eq!(objs.len(), accepted + 1, "the records acknowledged and the filemark, nothing after ENOSPC");
    assert_eq!(objs.last(), Some(&0));
    assert!(accepted * 10240 >= 150 * 1024 - 10240, "the volume is used up to early warning: {accepted}");
}

#[test]
fn dead_daemon_fails_everything_at_once() {
    let ucfg = Config { ring: 64, window: 1 << 20, ..Config::default() };
    let sim = Sim::new(&["d.tap"], ImageOptions::default(), ucfg);
    sim.open(RW).unwrap();
    for i in 0..10 {
        sim.write(&record(i, 4096)).unwrap();
    }
    // Writes are queued, not yet answered; the daemon dies.
    sim.kill_daemon();
    assert_eq!(sim.write(&record(99, 4096)), Err(Errno::Io));
    assert_eq!(sim.mt(op::WEOF, 1), Err(Errno::Io));
    let st = sim.status().unwrap();
    assert_eq!(st.gstat & gmt::ONLINE, 0);
    assert_eq!(sim.close(), Err(Errno::Io));
    // No daemon: open fails at once with EIO; O_NONBLOCK open succeeds.
    assert_eq!(sim.open(RW), Err(Errno::Io));
    let nb = pmt::OpenFlags { nonblock: true, ..RW };
    sim.open(nb).unwrap();
    assert_eq!(sim.write(&record(0, 10)), Err(Errno::Io));
    sim.close().ok();
    // A new daemon makes the unit usable again, from the beginning of tape.
    sim.start_daemon(&["d.tap"], ImageOptions::default());
    sim.open(RO).unwrap();
    assert_eq!(sim.pos(), (0, 0));
    sim.close().unwrap();
}

#[test]
fn busy_and_write_protect() {
    let sim = Sim::simple();
    sim.open(RW).unwrap();
    assert_eq!(sim.open(RW), Err(Errno::Busy));
    sim.close().unwrap();
    // Opened read-only: writes are EACCES.
    sim.open(RO).unwrap();
    assert_eq!(sim.write(b"x"), Err(Errno::Acces));
    assert_eq!(sim.mt(op::WEOF, 1), Err(Errno::Acces));
    sim.close().unwrap();
}

#[test]
fn write_protected_medium_refuses_write_opens() {
    let sim = Sim::simple();
    sim.open(RW).unwrap();
    sim.write(&record(0, 100)).unwrap();
    sim.close().unwrap();
    sim.kill_daemon();
    sim.start_daemon(&["vol1.tap"], ImageOptions { read_only: true, ..ImageOptions::default() });
    assert_eq!(sim.open(RW), Err(Errno::RoFs));
    sim.open(RO).unwrap();
    let st = sim.status().unwrap();
    assert_ne!(st.gstat & gmt::WR_PROT, 0);
    assert_eq!(sim.read(100).unwrap(), record(0, 100));
    sim.close().unwrap();
}

#[test]
fn fixed_block_mode() {
    let sim = Sim::simple();
    sim.open(RW).unwrap();
    sim.mt(op::SETBLK, 512).unwrap();
    assert_eq!(sim.status().unwrap().dsreg & 0xffffff, 512);
    assert_eq!(sim.write(&[1u8; 1000]), Err(Errno::Inval));
    assert_eq!(sim.write(&record(0, 2048)), Ok(2048));
    assert_eq!(sim.pos(), (0, 4));
    sim.close().unwrap();
    assert_eq!(objects(&sim.image("vol1.tap")), vec![512, 512, 512, 512, 0]);
    sim.open(RO).unwrap();
    // Reads may span records.
    let a = sim.read(1024).unwrap();
    let b = sim.read(1024).unwrap();
    assert_eq!([a, b].concat(), record(0, 2048));
    assert_eq!(sim.read(512), Ok(vec![]));
    sim.close().unwrap();
}

#[test]
fn autoloader_unload_loads_the_next_volume() {
    let sim = Sim::new(&["v1.tap", "v2.tap"], ImageOptions::default(), Config::default());
    sim.open(RW).unwrap();
    sim.write(&record(1, 100)).unwrap();
    sim.mt(op::OFFL, 1).unwrap();
    // After an unload st says "no tape" until the next open.
    let st = sim.status().unwrap();
    assert_ne!(st.gstat & gmt::DR_OPEN, 0);
    assert_eq!(sim.write(&record(2, 100)), Err(Errno::NoMedium));
    sim.close().unwrap();
    // The loader put volume 2 in: a new medium, at the beginning.
    sim.open(RW).unwrap();
    assert_eq!(sim.pos(), (0, 0));
    sim.write(&record(2, 200)).unwrap();
    sim.close().unwrap();
    assert_eq!(objects(&sim.image("v1.tap")), vec![100, 0], "the offline wrote the filemark first");
    assert_eq!(objects(&sim.image("v2.tap")), vec![200, 0]);
    // The magazine is empty now: no medium.
    sim.open(RO).unwrap();
    sim.mt(op::OFFL, 1).unwrap();
    sim.close().unwrap();
    assert_eq!(sim.open(RO), Err(Errno::NoMedium));
    let nb = pmt::OpenFlags { nonblock: true, ..RO };
    sim.open(nb).unwrap();
    let st = sim.status().unwrap();
    assert_ne!(st.gstat & gmt::DR_OPEN, 0);
    assert_eq!(st.gstat & gmt::ONLINE, 0);
    assert_eq!(sim.mt(op::LOAD, 1), Err(Errno::Io), "nothing left to load");
    assert_eq!(sim.read(100), Err(Errno::NoMedium));
    sim.close().ok();
}

#[test]
fn rewind_and_close_after_early_warning_changes_volumes() {
    let cfg = ImageOptions { capacity: Some(64 * 1024), early_warning: 16 * 1024, ..ImageOptions::default() };
    let sim = Sim::new(&["a.tap", "b.tap", "c.tap"], cfg, Config::default());
    let rec = record(0, 4096);
    let mut written = 0;
    // dump's way: write until ENOSPC, close (rewinding node), reopen.
    for vol in 0..2 {
        sim.open(RW).unwrap();
        loop {
            match sim.write(&rec) {
                Ok(_) => written += 1,
                Err(Errno::NoSpc) => break,
                Err(e) => panic!("volume {vol}: {e:?}"),
            }
        }
        sim.close().unwrap();
    }
    sim.open(RW).unwrap();
    sim.write(&rec).unwrap();
    written += 1;
    sim.close().unwrap();
    let counts: Vec<usize> = ["a.tap", "b.tap", "c.tap"]
        .iter()
        .map(|v| objects(&sim.image(v)).iter().filter(|l| **l != 0).count())
        .collect();
    assert!(counts[0] > 0 && counts[1] > 0 && counts[2] == 1, "{counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), written);
    // A volume that did not reach early warning stays in the drive.
    sim.open(RW).unwrap();
    sim.close().unwrap();
    sim.open(RO).unwrap();
    assert_eq!(sim.read(8192).unwrap(), rec);
    sim.close().unwrap();
}

/// Writes `rec` until ENOSPC, the end of a volume as dump and tar meet it,
/// and closes (the rewinding node rewinds); returns the records written.
fn fill_volume(sim: &Sim, rec: &[u8]) -> usize {
    sim.open(RW).unwrap();
    let mut n = 0;
    loop {
        match sim.write(rec) {
            Ok(_) => n += 1,
            Err(Errno::NoSpc) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    sim.close().unwrap();
    n
}

/// The data records of each image, in order.
fn records_per_volume(sim: &Sim, names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|v| match sim.dir.path().join(v).exists() {
            true => objects(&sim.image(v)).iter().filter(|l| **l != 0).count(),
            false => 0,
        })
        .collect()
}

#[test]
fn a_script_that_ejects_after_the_end_of_a_volume_skips_no_volume() {
    // dump -F with `mt offline` in the script: the end of the volume, the
    // close (rewind), dump's read-only reopen, the script's eject, the
    // next volume opened for writing. tar -M -F is the same without the
    // read-only reopen.
    let cfg = ImageOptions { capacity: Some(64 * 1024), early_warning: 16 * 1024, ..ImageOptions::default() };
    let names = ["a.tap", "b.tap", "c.tap", "d.tap"];
    let sim = Sim::new(&names, cfg, Config::default());
    let rec = record(0, 4096);
    let mut written = 0;
    for _ in 0..2 {
        written += fill_volume(&sim, &rec);
        sim.open(RO).unwrap();
        sim.close().unwrap();
        let nb = pmt::OpenFlags { nonblock: true, ..RO };
        sim.open(nb).unwrap();
        sim.mt(op::OFFL, 1).unwrap();
        sim.close().unwrap();
    }
    sim.open(RW).unwrap();
    sim.write(&rec).unwrap();
    written += 1;
    sim.close().unwrap();
    let counts = records_per_volume(&sim, &names);
    assert!(counts[0] > 0 && counts[1] > 0 && counts[2] == 1 && counts[3] == 0, "a volume was skipped: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), written);
}

#[test]
fn an_eject_after_a_change_by_the_writer_is_an_eject() {
    // Without a script the next writer gets the next volume; an eject after
    // that (a reader's script) moves on by one, never by two.
    let cfg = ImageOptions { capacity: Some(64 * 1024), early_warning: 16 * 1024, ..ImageOptions::default() };
    let names = ["a.tap", "b.tap", "c.tap"];
    let sim = Sim::new(&names, cfg, Config::default());
    let rec = record(0, 4096);
    fill_volume(&sim, &rec);
    // A status query and a read-only open do not change the volume.
    let nb = pmt::OpenFlags { nonblock: true, ..RO };
    sim.open(nb).unwrap();
    assert_ne!(sim.status().unwrap().gstat & gmt::BOT, 0);
    sim.close().unwrap();
    sim.open(RO).unwrap();
    assert_eq!(sim.read(8192).unwrap(), rec, "still volume 1 for a reader");
    sim.close().unwrap();
    // The writer gets volume 2.
    sim.open(RW).unwrap();
    sim.write(&record(1, 100)).unwrap();
    sim.close().unwrap();
    // An eject now loads volume 3.
    sim.open(nb).unwrap();
    sim.mt(op::OFFL, 1).unwrap();
    sim.close().unwrap();
    sim.open(RW).unwrap();
    sim.write(&record(2, 100)).unwrap();
    sim.close().unwrap();
    assert_eq!(objects(&sim.image("b.tap")), vec![100, 0]);
    assert_eq!(objects(&sim.image("c.tap")), vec![100, 0]);
}

#[test]
fn image_without_write_permission_is_write_protected() {
    use std::os::unix::fs::PermissionsExt;
    let sim = Sim::simple();
    sim.open(RW).unwrap();
    sim.write(&record(0, 10)).unwrap();
    sim.close().unwrap();
    sim.kill_daemon();
    std::fs::set_permissions(sim.image("vol1.tap"), std::fs::Permissions::from_mode(0o444)).unwrap();
    sim.start_daemon(&["vol1.tap"], ImageOptions::default());
    assert_eq!(sim.open(RW), Err(Errno::RoFs));
    sim.open(RO).unwrap();
    assert_ne!(sim.status().unwrap().gstat & gmt::WR_PROT, 0);
    assert_eq!(sim.read(10).unwrap(), record(0, 10));
    sim.close().unwrap();
}

mod netbsd {
    //! The same engine under NetBSD's st conventions (src/abi/netbsd.rs).
    use super::*;
    use pmt::abi::netbsd;

    fn sim(cfg: ImageOptions) -> Sim {
        Sim::with_abi(&["nb.tap"], cfg, Config::default(), pmt::Abi::NetBsd)
    }

    fn fill(sim: &Sim) -> Vec<Result<usize, Errno>> {
        (0..60).map(|i| sim.write(&record(i, 10240))).collect()
    }

    #[test]
    fn end_of_medium_is_eio_and_early_warning_is_silent_by_default() {
        let s = sim(ImageOptions { capacity: Some(200 * 1024), early_warning: 50 * 1024, ..ImageOptions::default() });
        s.open(RW).unwrap();
        let r = fill(&s);
        let first_err = r.iter().position(|x| x.is_err()).unwrap();
        // Without MTEWARN, writes go on through the early-warning zone to
        // the physical end; there the write fails with EIO, never ENOSPC.
        assert_eq!(first_err, 19, "{r:?}");
        assert!(r[first_err..].iter().all(|x| *x == Err(Errno::Io)), "{r:?}");
        s.close().ok();
    }

    #[test]
    fn mtewarn_fails_the_transfer_after_early_warning_with_eio() {
        let s = sim(ImageOptions { capacity: Some(200 * 1024), early_warning: 50 * 1024, ..ImageOptions::default() });
        s.open(RW).unwrap();
        s.netbsd_mt(netbsd::op::EWARN, 1).unwrap();
        let r = fill(&s);
        let first_err = r.iter().position(|x| x.is_err()).unwrap();
        // The write that meets early warning (the 15th: 15 x 10248 bytes pass
        // 150 KiB) succeeds; the next transfer fails with EIO.
        assert_eq!(first_err, 15, "{r:?}");
        assert_eq!(r[first_err], Err(Errno::Io));
        s.close().ok();
    }

    #[test]
    fn close_writes_two_filemarks_and_a_short_read_is_eio() {
        let s = sim(ImageOptions::default());
        s.open(NRW).unwrap();
        s.write(&record(0, 100)).unwrap();
        s.close().unwrap();
        // Two filemarks; the head between them, so the next file replaces
        // the second.
        assert_eq!(objects(&s.image("nb.tap")), vec![100, 0, 0]);
        assert_eq!(s.netbsd_status().unwrap().0, 1);
        s.open(NRW).unwrap();
        s.write(&record(1, 50)).unwrap();
        s.close().unwrap();
        assert_eq!(objects(&s.image("nb.tap")), vec![100, 0, 50, 0, 0]);
        s.open(RO).unwrap();
        s.netbsd_mt(netbsd::op::REW, 1).unwrap();
        assert_eq!(s.read(99), Err(Errno::Io), "NetBSD: a record larger than the buffer is EIO");
        // ... and, as NetBSD's st, not counted as a block read (the next
        // read still gets the next record: the drive passed it).
        assert_eq!(s.netbsd_status().unwrap().1, 0);
        assert_eq!(s.read(32768), Ok(vec![]), "the filemark after the first file");
        let (_, _, dsreg) = s.netbsd_status().unwrap();
        assert_eq!(dsreg & netbsd::MT_DS_MOUNTED, netbsd::MT_DS_MOUNTED);
        s.close().unwrap();
        // NetBSD's op::WEOF is op 0.
        s.open(NRW).unwrap();
        s.netbsd_mt(netbsd::op::WEOF, 1).unwrap();
        s.close().unwrap();
    }

    #[test]
    fn mteom_loses_the_file_and_block_numbers_as_netbsd_st_does() {
        let s = sim(ImageOptions::default());
        s.open(NRW).unwrap();
        s.write(&record(0, 100)).unwrap();
        s.netbsd_mt(netbsd::op::WEOF, 1).unwrap();
        s.write(&record(1, 100)).unwrap();
        s.netbsd_mt(netbsd::op::WEOF, 1).unwrap();
        s.netbsd_mt(netbsd::op::REW, 1).unwrap();
        let st = s.netbsd_status().unwrap();
        assert_eq!((st.0, st.1), (0, 0));
        s.netbsd_mt(netbsd::op::EOM, 1).unwrap();
        // "This loses us relative position" (NetBSD's st.c); the logical
        // position is still known to the drive.
        let st = s.netbsd_status().unwrap();
        assert_eq!((st.0, st.1), (-1, -1));
        s.write(&record(2, 100)).unwrap();
        s.close().unwrap();
        // The MTREW after data and one MTWEOF wrote the second mark of the
        // end of data (st_check_eod), so MTEOM went past both.
        assert_eq!(objects(&s.image("nb.tap")), vec![100, 0, 100, 0, 0, 100, 0, 0]);
    }
}

#[test]
fn records_larger_than_the_data_area_travel_in_the_frames() {
    // A 64 KiB area: 100 KiB records cannot go there, 10 KiB ones can.
    let ucfg = Config { ring: 64, window: 64 * 1024, ..Config::default() };
    let sim = Sim::new(&["big.tap"], ImageOptions::default(), ucfg);
    sim.open(RW).unwrap();
    for i in 0..6 {
        let n = if i % 2 == 0 { 100 * 1024 } else { 10 * 1024 };
        assert_eq!(sim.write(&record(i, n)), Ok(n));
    }
    sim.close().unwrap();
    sim.open(RO).unwrap();
    for i in 0..6 {
        let n = if i % 2 == 0 { 100 * 1024 } else { 10 * 1024 };
        assert_eq!(sim.read(200 * 1024).unwrap(), record(i, n), "record {i}");
    }
    sim.close().unwrap();
    assert_eq!(objects(&sim.image("big.tap")), vec![102400, 10240, 102400, 10240, 102400, 10240, 0]);
    assert_eq!(sim.unit.held(), 0, "every slice and buffer given back");
}
