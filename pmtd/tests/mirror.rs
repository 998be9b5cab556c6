//! The mirror on image files: early warning of the smaller member, undo on
//! overflow, alignment, degraded mode, volume changes on every member.

mod common;

use common::{noise, objects, paths, tap, Faults, Flaky};
use pmtd::media::magazine::Magazine;
use pmtd::media::mirror::{Mirror, MirrorVolumes};
use pmtd::media::image::{ImageOptions, LocalImage};
use pmtd::media::{Volumes, Medium, MediumError, Object, Room};

/// 1000-byte records take 1008 bytes of image.
const REC: usize = 1000;
const COST: u64 = 1008;

#[test]
fn the_smaller_member_ends_the_volume_and_copies_stay_identical() {
    let dir = tempfile::tempdir().unwrap();
    // a: early warning at 90 000 bytes; b: at 40 000, its end at 50 000.
    let a = tap(dir.path(), "a.tap", Some(100_000), 10_000);
    let b = tap(dir.path(), "b.tap", Some(50_000), 10_000);
    let mut m = Mirror::new(vec![a, b], false).unwrap();
    assert_eq!(m.room(), Room { to_ew: Some(40_000), to_end: Some(50_000) });
    let mut first_ew = None;
    let mut stored = 0;
    for i in 0.. {
        match m.write_record(&noise(i, REC)) {
            Ok(w) => {
                stored += 1;
                if w.early_warning && first_ew.is_none() {
                    first_ew = Some(i);
                }
            }
            Err(MediumError::Overflow { medium }) => {
                assert!(medium.ends_with("b.tap"), "the smaller member overflows: {medium}");
                break;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(i < 100, "never overflowed");
    }
    // 40 x 1008 = 40 320 passes b's early warning; a's is far away.
    assert_eq!(first_ew, Some(39));
    assert_eq!(m.room().to_ew, Some(0));
    // 49 x 1008 = 49 392 fits b, a 50th record does not: refused on both.
    assert_eq!(stored, 49);
    assert_eq!(m.position(), 49);
    let images = || (std::fs::read(dir.path().join("a.tap")).unwrap(), std::fs::read(dir.path().join("b.tap")).unwrap());
    m.sync().unwrap();
    let (ia, ib) = images();
    assert_eq!(ia, ib, "the record b refused was taken back from a");
    assert_eq!(ia.len() as u64, 49 * COST);
    // Trailer and closing marks reach every member past early warning.
    m.write_mark().unwrap();
    m.write_mark().unwrap();
    m.sync().unwrap();
    let (ia, ib) = images();
    assert_eq!(ia, ib);
    let mut members: Vec<LocalImage> = m.into_members().into_iter().map(|(_, t)| t).collect();
    let oa = objects(&mut members[0]);
    let ob = objects(&mut members[1]);
    assert_eq!(oa.len(), 51);
    assert_eq!(oa, ob, "identical object for object");
    assert_eq!(oa[48], Some(noise(48, REC)));
    assert_eq!(oa[49], None);
}

#[test]
fn members_follow_the_first_for_motions_and_catch_up_before_writes() {
    let dir = tempfile::tempdir().unwrap();
    let a = tap(dir.path(), "a.tap", None, 0);
    let b = tap(dir.path(), "b.tap", None, 0);
    let mut m = Mirror::new(vec![a, b], false).unwrap();
    for i in 0..5 {
        m.write_record(&noise(i, 100)).unwrap();
    }
    m.write_mark().unwrap();
    m.rewind().unwrap();
    let pos = |m: &Mirror<LocalImage>| m.members().map(|(_, t)| t.position()).collect::<Vec<_>>();
    assert_eq!(pos(&m), [0, 0]);
    let mut buf = Vec::new();
    assert_eq!(m.read(&mut buf, 1000).unwrap(), Object::Record(100));
    assert_eq!(m.read(&mut buf, 1000).unwrap(), Object::Record(100));
    assert_eq!(pos(&m), [2, 0], "reads move the first member only");
    m.space_records(1).unwrap();
    assert_eq!(pos(&m), [3, 3], "a motion brings every member along");
    m.locate(1).unwrap();
    assert_eq!(m.read(&mut buf, 1000).unwrap(), Object::Record(100));
    // Writing in the middle cuts the rest on every member.
    m.write_record(b"replacement").unwrap();
    assert_eq!(pos(&m), [3, 3]);
    m.sync().unwrap();
    assert_eq!(std::fs::read(dir.path().join("a.tap")).unwrap(), std::fs::read(dir.path().join("b.tap")).unwrap());
    m.space_eod().unwrap();
    assert_eq!(pos(&m), [3, 3]);
    assert_eq!(m.at_eod(), Some(true));
}

fn flaky_pair(dir: &std::path::Path, degraded: bool) -> (Mirror<Flaky<LocalImage>>, Faults, Faults) {
    let fa = Faults::default();
    let fb = Faults::default();
    let a = Flaky { inner: tap(dir, "a.tap", None, 0), faults: fa.clone() };
    let b = Flaky { inner: tap(dir, "b.tap", None, 0), faults: fb.clone() };
    (Mirror::new(vec![a, b], degraded).unwrap(), fa, fb)
}

#[test]
fn a_failing_member_fails_the_operation_and_the_copies_do_not_diverge() {
    let dir = tempfile::tempdir().unwrap();
    let (mut m, _fa, fb) = flaky_pair(dir.path(), false);
    fb.fail_writes_after(3);
    for i in 0..3 {
        m.write_record(&noise(i, 50)).unwrap();
    }
    let e = m.write_record(&noise(3, 50)).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: the drive died", dir.path().join("b.tap").display()));
    assert_eq!(m.position(), 3, "the record was taken back from the member that stored it");
    assert_eq!(m.members().count(), 2, "nothing dropped without --degraded");
    m.sync().unwrap();
    assert_eq!(std::fs::read(dir.path().join("a.tap")).unwrap(), std::fs::read(dir.path().join("b.tap")).unwrap());
    assert!(m.write_mark().is_err(), "the member is still failing");
}

#[test]
fn degraded_mode_drops_the_failing_member_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (mut m, fa, fb) = flaky_pair(dir.path(), true);
    fb.fail_writes_after(2);
    for i in 0..6 {
        m.write_record(&noise(i, 50)).unwrap();
    }
    m.write_mark().unwrap();
    assert_eq!(m.members().map(|(i, _)| i).collect::<Vec<_>>(), [0]);
    assert_eq!(m.dropped().len(), 1);
    assert_eq!(m.dropped()[0].0, 1);
    assert!(m.dropped()[0].1.ends_with("b.tap: the drive died"), "{:?}", m.dropped());
    let mut left: Vec<Flaky<LocalImage>> = m.into_members().into_iter().map(|(_, t)| t).collect();
    let objs = objects(&mut left[0]);
    assert_eq!(objs.len(), 7);
    assert_eq!(objs[5], Some(noise(5, 50)));
    // The last member left is never dropped: its failure fails the write.
    let mut m = Mirror::new(left, true).unwrap();
    m.space_eod().unwrap();
    fa.fail_writes_after(0);
    assert!(m.write_record(b"x").is_err());
    assert_eq!(m.members().count(), 1);
}

#[test]
fn degraded_reads_fall_back_to_the_next_member() {
    let dir = tempfile::tempdir().unwrap();
    let (mut m, fa, _fb) = flaky_pair(dir.path(), true);
    for i in 0..4 {
        m.write_record(&noise(i, 64)).unwrap();
    }
    m.rewind().unwrap();
    let mut buf = Vec::new();
    assert_eq!(m.read(&mut buf, 64).unwrap(), Object::Record(64));
    fa.reads.store(true, std::sync::atomic::Ordering::SeqCst);
    buf.clear();
    assert_eq!(m.read(&mut buf, 64).unwrap(), Object::Record(64));
    assert_eq!(buf, noise(1, 64), "the second member read at the same position");
    assert_eq!(m.members().map(|(i, _)| i).collect::<Vec<_>>(), [1]);
    assert_eq!(m.position(), 2);
}

#[test]
fn a_bad_record_on_the_first_member_is_read_from_another_copy() {
    let dir = tempfile::tempdir().unwrap();
    {
        let a = tap(dir.path(), "a.tap", None, 0);
        let b = tap(dir.path(), "b.tap", None, 0);
        let mut m = Mirror::new(vec![a, b], false).unwrap();
        m.write_record(&noise(0, 10)).unwrap();
        m.write_record(&noise(1, 10)).unwrap();
        m.sync().unwrap();
    }
    // Flag a's second record bad (SIMH's error bit in both length words).
    let p = dir.path().join("a.tap");
    let mut img = std::fs::read(&p).unwrap();
    img[18 + 3] |= 0x80;
    img[18 + 4 + 10 + 3] |= 0x80;
    std::fs::write(&p, &img).unwrap();
    std::fs::remove_file(dir.path().join("a.tap.pmtidx")).unwrap();
    let a = tap(dir.path(), "a.tap", None, 0);
    let b = tap(dir.path(), "b.tap", None, 0);
    let mut m = Mirror::new(vec![a, b], false).unwrap();
    let mut buf = Vec::new();
    m.read(&mut buf, 100).unwrap();
    buf.clear();
    assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Record(10));
    assert_eq!(buf, noise(1, 10));
    assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Eod);
}

#[test]
fn the_mirror_changes_the_volume_of_every_member() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ImageOptions::default();
    let a = Magazine::new(paths(dir.path(), &["a1.tap", "a2.tap"]), opts);
    let b = Magazine::new(paths(dir.path(), &["b1.tap", "b2.tap", "b3.tap"]), opts);
    let mut c = MirrorVolumes::new(vec![a, b], false).unwrap();
    for vol in 1..=2 {
        assert!(c.has_next());
        let mut m = c.load_next().unwrap().unwrap();
        assert_eq!(c.volume(), Some(vol));
        let names: Vec<String> = m.members().map(|(_, t)| t.name()).collect();
        assert!(names[0].ends_with(&format!("a{vol}.tap")) && names[1].ends_with(&format!("b{vol}.tap")), "{names:?}");
        m.write_record(&noise(vol as u64, 300)).unwrap();
        m.write_mark().unwrap();
        c.unload(m).unwrap();
    }
    assert!(!c.has_next(), "a's magazine is exhausted: the mirror is");
    assert!(c.load_next().unwrap().is_none());
    for vol in 1..=2 {
        let ia = std::fs::read(dir.path().join(format!("a{vol}.tap"))).unwrap();
        let ib = std::fs::read(dir.path().join(format!("b{vol}.tap"))).unwrap();
        assert_eq!(ia, ib, "volume {vol}");
        assert_eq!(ia.len(), 308 + 4);
    }
    assert!(!dir.path().join("b3.tap").exists(), "b's third volume was never loaded");
}

#[test]
fn a_member_dropped_in_degraded_mode_stays_out_of_the_next_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ImageOptions::default();
    let a = Magazine::new(paths(dir.path(), &["a1.tap", "a2.tap"]), opts);
    // b's second volume cannot be created: its directory does not exist.
    let b = Magazine::new(vec![dir.path().join("b1.tap"), dir.path().join("gone/b2.tap")], opts);
    let mut c = MirrorVolumes::new(vec![a, b], true).unwrap();
    let m = c.load_next().unwrap().unwrap();
    c.unload(m).unwrap();
    let mut m = c.load_next().unwrap().unwrap();
    assert_eq!(m.members().count(), 1, "b failed to load its volume and was dropped");
    assert_eq!(c.members(), [0]);
    m.write_record(b"on a only").unwrap();
    c.unload(m).unwrap();
    // Without --degraded the same failure fails the load.
    let a = Magazine::new(paths(dir.path(), &["c1.tap"]), opts);
    let b = Magazine::new(vec![dir.path().join("gone/d1.tap")], opts);
    let mut c = MirrorVolumes::new(vec![a, b], false).unwrap();
    let e = c.load_next().unwrap_err();
    assert!(e.to_string().contains("gone/d1.tap: No such file or directory"), "{e}");
}
