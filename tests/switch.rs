//! The whole stack (the core's st engine, pmtd's drive) over a mirror of
//! two image magazines of different sizes, through compression and
//! encryption: what a program sees (errnos, the ENOSPC sequence, file and
//! block numbers) and what every copy holds.

use std::path::Path;

use pmt::abi::linux::{gmt, op};
use pmt::{Config, Errno};
use pmt_tests::{objects, Sim, NRW, RO, RW};
use pmtd::drive::{Drive, DriveConfig};
use pmtd::media::filter::{Filter, FilterVolumes, Key};
use pmtd::media::magazine::Magazine;
use pmtd::media::mirror::MirrorVolumes;
use pmtd::media::record::MAX_OVERHEAD;
use pmtd::media::image::ImageOptions;
use pmtd::media::{boxed, DynVolumes};

/// Incompressible test data: record `i` of `len` bytes.
fn noise(i: usize, len: usize) -> Vec<u8> {
    let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn filter(key: u8) -> Filter {
    Filter { compress: Some(3), key: Some(Key::from_bytes([key; 32])) }
}

/// Volumes a1.. (300 KiB, early warning 50 KiB before the end) mirrored with
/// b1.. (120 KiB, early warning 30 KiB before the end), through `filter`.
fn mirror(dir: &Path, volumes: usize, filter: Filter) -> DynVolumes {
    let names = |p: &str| (1..=volumes).map(|i| dir.join(format!("{p}{i}.tap"))).collect::<Vec<_>>();
    let a = Magazine::new(names("a"), ImageOptions { capacity: Some(300 << 10), early_warning: 50 << 10, read_only: false });
    let b = Magazine::new(names("b"), ImageOptions { capacity: Some(120 << 10), early_warning: 30 << 10, read_only: false });
    let m = MirrorVolumes::new(vec![boxed(a), boxed(b)], false).expect("mirror");
    boxed(FilterVolumes::new(boxed(m), filter))
}

fn cfg() -> DriveConfig {
    DriveConfig { min_block: 1, max_block: pmt::proto::MAX_RECORD - MAX_OVERHEAD as u32, ..DriveConfig::default() }
}

fn sim(volumes: usize) -> Sim {
    Sim::with_volumes(|d| mirror(d, volumes, filter(1)), cfg(), Config::default(), pmt::Abi::Linux)
}

fn same(sim: &Sim, a: &str, b: &str) -> bool {
    std::fs::read(sim.image(a)).expect(a) == std::fs::read(sim.image(b)).expect(b)
}

#[test]
fn the_smaller_copy_gives_the_early_warning_and_both_copies_are_identical() {
    let sim = sim(1);
    sim.open(RW).unwrap();
    let mut results = Vec::new();
    for i in 0..30 {
        results.push(sim.write(&noise(i, 10240)));
        if i == 8 {
            // The write that met early warning: st shows EOT.
            assert_ne!(sim.status().unwrap().gstat & gmt::EOT, 0);
        }
    }
    // A sealed 10 240-byte noise record takes 10 240 + 54 + 8 bytes of
    // image: the 9th passes b's early warning at 90 KiB (a's is at 250 KiB).
    let first_enospc = results.iter().position(|r| *r == Err(Errno::NoSpc)).unwrap();
    assert_eq!(first_enospc, 9, "{results:?}");
    assert!(results[..9].iter().all(|r| *r == Ok(10240)));
    // Then st's alternation up to b's physical end at 120 KiB: two more
    // records fit; everything after is ENOSPC.
    assert_eq!(&results[9..14], &[Err(Errno::NoSpc), Ok(10240), Err(Errno::NoSpc), Ok(10240), Err(Errno::NoSpc)]);
    assert!(results[14..].iter().all(|r| *r == Err(Errno::NoSpc)), "{results:?}");
    assert_eq!(sim.pos(), (0, 11));
    sim.close().unwrap();
    assert!(same(&sim, "a1.tap", "b1.tap"), "record-for-record identical copies");
    let objs = objects(&sim.image("b1.tap"));
    assert_eq!(objs.len(), 12);
    assert!(objs[..11].iter().all(|l| *l as usize == 10240 + MAX_OVERHEAD));
    assert_eq!(objs[11], 0, "the closing filemark reached both copies");
    assert!(std::fs::metadata(sim.image("b1.tap")).unwrap().len() <= 120 << 10);
    // Read back through the filter: the records whose write succeeded.
    let stored: Vec<usize> = (0..30).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(stored.len(), 11);
    sim.open(RO).unwrap();
    for &i in &stored {
        assert!(sim.read(16384).unwrap() == noise(i, 10240), "record {i}");
    }
    assert_eq!(sim.read(16384), Ok(vec![]));
    assert_eq!(sim.pos(), (1, 0));
    assert_eq!(sim.read(16384), Ok(vec![]));
    assert_eq!(sim.read(16384), Err(Errno::Io));
    sim.close().unwrap();
}

#[test]
fn dump_s_volume_change_changes_every_copy() {
    let sim = sim(3);
    let mut written = 0;
    for _ in 0..2 {
        sim.open(RW).unwrap();
        loop {
            match sim.write(&noise(written, 8192)) {
                Ok(_) => written += 1,
                Err(Errno::NoSpc) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        sim.close().unwrap();
    }
    sim.open(RW).unwrap();
    assert_eq!(sim.pos(), (0, 0), "a new volume");
    sim.write(&noise(written, 8192)).unwrap();
    written += 1;
    sim.close().unwrap();
    let mut total = 0;
    for v in 1..=3 {
        assert!(same(&sim, &format!("a{v}.tap"), &format!("b{v}.tap")), "volume {v}");
        let n = objects(&sim.image(&format!("b{v}.tap"))).iter().filter(|l| **l != 0).count();
        assert!(n > 0, "volume {v} holds data");
        total += n;
    }
    assert_eq!(total, written);
}

#[test]
fn file_and_block_numbers_through_the_mirror() {
    let sim = sim(1);
    for f in 0..3 {
        sim.open(NRW).unwrap();
        for r in 0..=f {
            sim.write(&noise(10 * f + r, 700)).unwrap();
        }
        sim.close().unwrap();
    }
    sim.open(NRW).unwrap();
    assert_eq!(sim.pos(), (3, 0));
    sim.mt(op::REW, 1).unwrap();
    sim.mt(op::FSF, 2).unwrap();
    assert_eq!(sim.pos(), (2, 0));
    assert_eq!(sim.read(700).unwrap(), noise(20, 700));
    sim.mt(op::EOM, 1).unwrap();
    let st = sim.status().unwrap();
    assert_eq!(st.fileno, 3);
    assert_ne!(st.gstat & gmt::EOD, 0);
    // Appending after op::EOM reaches both copies.
    sim.write(&noise(99, 700)).unwrap();
    sim.close().unwrap();
    assert!(same(&sim, "a1.tap", "b1.tap"));
    assert_eq!(objects(&sim.image("a1.tap")).len(), 6 + 3 + 1 + 1);
}

#[test]
fn an_altered_record_is_eio_and_a_wrong_key_is_refused() {
    let sim = sim(1);
    sim.open(RW).unwrap();
    for i in 0..4 {
        sim.write(&noise(i, 3000)).unwrap();
    }
    sim.close().unwrap();
    sim.kill_daemon();
    // One byte of record 2 changed on both copies.
    for img in ["a1.tap", "b1.tap"] {
        let p = sim.image(img);
        let mut b = std::fs::read(&p).unwrap();
        let rec = 8 + 3000 + MAX_OVERHEAD;
        b[2 * rec + 100] ^= 0x10;
        std::fs::write(&p, b).unwrap();
    }
    sim.start_daemon_with(mirror(sim.dir.path(), 1, filter(1)), cfg());
    sim.open(RO).unwrap();
    assert_eq!(sim.read(3000).unwrap(), noise(0, 3000));
    assert_eq!(sim.read(3000).unwrap(), noise(1, 3000));
    assert_eq!(sim.read(3000), Err(Errno::Io), "never the wrong data");
    assert_eq!(sim.read(3000).unwrap(), noise(3, 3000), "the next record reads");
    sim.close().unwrap();
    sim.kill_daemon();
    let e = Drive::new(mirror(sim.dir.path(), 1, filter(2)), cfg()).unwrap_err();
    assert!(e.to_string().ends_with("wrong key: the volume's first record does not authenticate"), "{e}");
}
