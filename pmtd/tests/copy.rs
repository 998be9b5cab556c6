//! `pmtd copy` on image files: spanning at file boundaries, verify, the
//! map, and the errors.

mod common;

use std::path::Path;

use common::{noise, objects, tap, Faults, FlakyVolumes};
use pmtd::copy::{copy, CopyError, CopyOptions};
use pmtd::media::magazine::{expand_pattern, Magazine};
use pmtd::media::image::{ImageOptions, LocalImage};
use pmtd::media::{boxed, DynVolumes, Medium};
use pmtd::progress::Progress;
use pmtd::spec;

/// Records per source file (1000 bytes each, 1008 bytes of image).
const FILES: [usize; 6] = [10, 25, 5, 30, 1, 12];

fn source(dir: &Path) -> LocalImage {
    let mut t = tap(dir, "src.tap", None, 0);
    for (f, &n) in FILES.iter().enumerate() {
        for r in 0..n {
            t.write_record(&noise((f * 100 + r) as u64, 1000)).unwrap();
        }
        t.write_mark().unwrap();
    }
    t.write_mark().unwrap();
    t.sync().unwrap();
    t
}

/// The objects of source files `files`, closed by the double mark.
fn expected(files: std::ops::RangeInclusive<usize>) -> Vec<Option<Vec<u8>>> {
    let mut v = Vec::new();
    for f in files {
        for r in 0..FILES[f] {
            v.push(Some(noise((f * 100 + r) as u64, 1000)));
        }
        v.push(None);
    }
    v.push(None);
    v
}

fn magazine(dir: &Path, pattern: &str, n: usize, capacity: u64, early_warning: u64) -> DynVolumes {
    let vols = expand_pattern(&format!("{}/{pattern}", dir.display()), n).unwrap();
    boxed(Magazine::new(vols, ImageOptions { capacity: Some(capacity), early_warning, read_only: false }))
}

fn volume(dir: &Path, name: &str) -> Vec<Option<Vec<u8>>> {
    objects(&mut tap(dir, name, None, 0))
}

#[test]
fn a_shorter_destination_spans_at_file_boundaries_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = source(dir.path());
    let dests = vec![
        // Early warning at 36 000 bytes: two or three files per volume.
        ("short".to_string(), magazine(dir.path(), "a%d.tap", 5, 40_000, 4_000)),
        ("long".to_string(), magazine(dir.path(), "b%d.tap", 1, 100_000, 0)),
    ];
    let map = copy(&mut src, dests, &CopyOptions { verify: true }, &mut Progress::hidden("copy")).unwrap();
    assert_eq!((map.files, map.records), (6, 83));
    assert_eq!(map.bytes, 83_000);
    let short = &map.dests[0];
    let files: Vec<Vec<u64>> = short.volumes.iter().map(|v| v.files.clone()).collect();
    assert_eq!(files, [vec![0, 1], vec![2, 3], vec![4, 5]]);
    assert!(short.volumes.iter().all(|v| v.verified));
    assert_eq!(short.volumes.iter().map(|v| v.records).collect::<Vec<_>>(), [35, 35, 13]);
    assert_eq!(map.dests[1].volumes.len(), 1);
    assert_eq!(map.dests[1].volumes[0].files, [0, 1, 2, 3, 4, 5]);
    // Every volume holds whole files, closed by a double mark.
    assert_eq!(volume(dir.path(), "a1.tap"), expected(0..=1));
    assert_eq!(volume(dir.path(), "a2.tap"), expected(2..=3));
    assert_eq!(volume(dir.path(), "a3.tap"), expected(4..=5));
    assert_eq!(volume(dir.path(), "b1.tap"), expected(0..=5));
    assert!(!dir.path().join("a4.tap").exists(), "the fourth volume was never needed");
    for v in ["a1.tap", "a2.tap", "a3.tap"] {
        let scan = pmtd::inspect::scan_file(&dir.path().join(v), true).unwrap();
        assert!(scan.problems.is_empty(), "{v}: {:?}", scan.problems);
        assert!(scan.file_len <= 36_000, "{v}: the partial file was cut off ({} bytes)", scan.file_len);
    }
    let text = map.render();
    assert!(text.contains(&format!("  volume 2 ({}): files 2-3, 35 records, 34.18 KiB, verified", dir.path().join("a2.tap").display())), "{text}");
    assert!(text.starts_with(&format!("source {}: 6 files, 83 records", dir.path().join("src.tap").display())), "{text}");
}

#[test]
fn a_file_larger_than_an_empty_volume_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = source(dir.path());
    let dests = vec![("tiny".to_string(), magazine(dir.path(), "t%d.tap", 5, 20_000, 0))];
    let e = copy(&mut src, dests, &CopyOptions::default(), &mut Progress::hidden("copy")).unwrap_err();
    assert!(matches!(e, CopyError::TooLarge { file: 1, .. }), "{e:?}");
    assert_eq!(e.to_string(), format!("tiny: source file 1 does not fit on an empty volume ({})", dir.path().join("t2.tap").display()));
    // The first volume was ended cleanly after file 0.
    assert_eq!(volume(dir.path(), "t1.tap"), expected(0..=0));
}

#[test]
fn running_out_of_volumes_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = source(dir.path());
    let dests = vec![("two".to_string(), magazine(dir.path(), "v%d.tap", 2, 40_000, 4_000))];
    let e = copy(&mut src, dests, &CopyOptions::default(), &mut Progress::hidden("copy")).unwrap_err();
    assert_eq!(e.to_string(), "two: no volume left for source file 4");
}

#[test]
fn verify_finds_a_copy_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = source(dir.path());
    let faults = Faults::default();
    faults.corrupt.store(true, std::sync::atomic::Ordering::SeqCst);
    let vols = expand_pattern(&format!("{}/c%d.tap", dir.path().display()), 1).unwrap();
    let c = boxed(FlakyVolumes { inner: Magazine::new(vols, ImageOptions::default()), faults });
    let e = copy(&mut src, vec![("bad".to_string(), c)], &CopyOptions { verify: true }, &mut Progress::hidden("copy")).unwrap_err();
    assert_eq!(e.to_string(), format!("bad: verify of volume {}: file 0, record 0: the data differs", dir.path().join("c1.tap").display()));
    // Without verify the same copy "succeeds".
    let mut src = source(dir.path());
    let faults = Faults::default();
    faults.corrupt.store(true, std::sync::atomic::Ordering::SeqCst);
    let vols = expand_pattern(&format!("{}/d%d.tap", dir.path().display()), 1).unwrap();
    let c = boxed(FlakyVolumes { inner: Magazine::new(vols, ImageOptions::default()), faults });
    copy(&mut src, vec![("bad".to_string(), c)], &CopyOptions::default(), &mut Progress::hidden("copy")).unwrap();
}

#[test]
fn an_empty_first_file_and_an_unclosed_last_file_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = tap(dir.path(), "s.tap", None, 0);
    src.write_mark().unwrap();
    src.write_record(b"one").unwrap();
    src.write_record(b"two").unwrap();
    let dests = vec![("d".to_string(), magazine(dir.path(), "d%d.tap", 1, 1 << 20, 0))];
    let map = copy(&mut src, dests, &CopyOptions { verify: true }, &mut Progress::hidden("copy")).unwrap();
    assert_eq!(map.files, 2);
    assert_eq!(map.dests[0].volumes[0].files, [0, 1]);
    assert_eq!(volume(dir.path(), "d1.tap"), vec![None, Some(b"one".to_vec()), Some(b"two".to_vec()), None, None]);
    // A blank source is refused.
    let mut blank = tap(dir.path(), "blank.tap", None, 0);
    let dests = vec![("d".to_string(), magazine(dir.path(), "e%d.tap", 1, 1 << 20, 0))];
    let e = copy(&mut blank, dests, &CopyOptions::default(), &mut Progress::hidden("copy")).unwrap_err();
    assert!(matches!(e, CopyError::EmptySource { .. }), "{e}");
}

#[test]
fn copies_through_specs_with_filters_and_refuses_the_source_as_destination() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    source(dir.path());
    std::fs::write(dir.path().join("k"), [5u8; 32]).unwrap();
    let image = ImageOptions::default();
    let mut sc = spec::build(&format!("tap:{d}/src.tap"), &image).unwrap().volumes;
    let mut src = sc.load_next().unwrap().unwrap();
    // Filtered destination volumes: compressed and sealed, 40 000 bytes each.
    let spec = format!("tap:{d}/f%d.tap,volumes=4,capacity=40000,compress,key-file={d}/k");
    let dests = vec![(spec.clone(), spec::build(&spec, &image).unwrap().volumes)];
    let map = copy(&mut src, dests, &CopyOptions { verify: true }, &mut Progress::hidden("copy")).unwrap();
    let files: Vec<Vec<u64>> = map.dests[0].volumes.iter().map(|v| v.files.clone()).collect();
    // Noise does not compress and the seal costs 54 bytes a record: 1062
    // bytes of image each, where the source's take 1008.
    assert_eq!(files, [vec![0, 1], vec![2, 3, 4], vec![5]]);
    // Read back through the filter: the source's records.
    let mut back = spec::build(&format!("tap:{d}/f2.tap,compress,key-file={d}/k"), &image).unwrap().volumes;
    let mut m = back.load_next().unwrap().unwrap();
    let mut want = expected(2..=4);
    assert_eq!(objects(&mut m), want);
    // Stored sealed: the bytes differ from the source's.
    want.truncate(1);
    assert_ne!(volume(dir.path(), "f2.tap")[..1], want[..]);
    // The source itself as a destination is refused.
    src.rewind().unwrap();
    let same = vec![("same".to_string(), spec::build(&format!("tap:{d}/src.tap"), &image).unwrap().volumes)];
    let e = copy(&mut src, same, &CopyOptions::default(), &mut Progress::hidden("copy")).unwrap_err();
    assert_eq!(e.to_string(), format!("same: volume {d}/src.tap is the source"));
    assert_eq!(objects(&mut src).len(), 83 + 7, "the source is untouched");
}

#[test]
fn a_whole_set_is_copied_across_its_volumes_and_mapped() {
    // A set of three source volumes (a program spanned them): files 0-1,
    // 2-3 and 4-5 of the usual source, each volume ended by a double mark.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    for (v, files) in [(1, 0..=1), (2, 2..=3), (3, 4..=5)] {
        let mut t = tap(dir.path(), &format!("s{v}.tap"), None, 0);
        for f in files {
            for r in 0..FILES[f] {
                t.write_record(&noise((f * 100 + r) as u64, 1000)).unwrap();
            }
            t.write_mark().unwrap();
        }
        t.write_mark().unwrap();
        t.sync().unwrap();
    }
    let image = ImageOptions::default();
    let mut src = spec::build(&format!("tap:{d}/s%d.tap,volumes=3"), &image).unwrap().volumes;
    // One destination that holds everything, one of 60 000-byte volumes
    // with early warning 10 000 bytes before the end.
    let dests = vec![
        ("one".to_string(), magazine(dir.path(), "o%d.tap", 1, 1 << 20, 0)),
        ("short".to_string(), magazine(dir.path(), "h%d.tap", 4, 60_000, 10_000)),
    ];
    let map = pmtd::copy::copy_set(&mut src, dests, &CopyOptions { verify: true }, &mut Progress::hidden("copy")).unwrap();
    assert_eq!((map.files, map.records, map.source_volumes.len()), (6, 83, 3));
    // Every file, in the order of the set, on the single volume.
    assert_eq!(volume(dir.path(), "o1.tap"), expected(0..=5));
    assert_eq!(map.dests[0].volumes[0].files, [0, 1, 2, 3, 4, 5]);
    // The short destination spans where it needs, across source volumes.
    let short: Vec<Vec<(usize, u64)>> =
        map.dests[1].volumes.iter().map(|v| v.sources.iter().map(|s| (s.volume, s.file)).collect()).collect();
    assert_eq!(short, [vec![(1, 0), (1, 1), (2, 0)], vec![(2, 1), (3, 0), (3, 1)]]);
    assert_eq!(volume(dir.path(), "h1.tap"), expected(0..=2));
    assert_eq!(volume(dir.path(), "h2.tap"), expected(3..=5));
    assert!(map.dests.iter().all(|d| d.volumes.iter().all(|v| v.verified)));
    let text = map.render();
    assert!(text.contains("  source volume 3 ("), "{text}");
    assert!(
        text.contains(&format!("  volume 1 ({d}/h1.tap): source volume 1 files 0-1, source volume 2 file 0, 40 records")),
        "{text}"
    );
    // A source volume as a destination is refused, whichever it is.
    let mut src = spec::build(&format!("tap:{d}/s%d.tap,volumes=3"), &image).unwrap().volumes;
    let same = vec![("same".to_string(), spec::build(&format!("tap:{d}/s1.tap"), &image).unwrap().volumes)];
    let e = pmtd::copy::copy_set(&mut src, same, &CopyOptions::default(), &mut Progress::hidden("copy")).unwrap_err();
    assert_eq!(e.to_string(), format!("same: volume {d}/s1.tap is the source"));
}
