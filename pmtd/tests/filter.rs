//! The record filters on image files: round trip, raw fallback, records
//! altered, truncated, swapped or moved read as bad, wrong keys refused at
//! load, room counted in stored bytes, what inspect shows.

mod common;

use std::path::Path;

use common::{noise, objects, paths, record, tap};
use pmtd::media::filter::{Filter, FilterVolumes, Filtered, Key};
use pmtd::media::magazine::Magazine;
use pmtd::media::record::{HEADER, MAX_OVERHEAD};
use pmtd::media::image::{ImageOptions, LocalImage};
use pmtd::media::{Volumes, Medium, MediumError, Object};

fn key(b: u8) -> Option<Key> {
    Some(Key::from_bytes([b; 32]))
}

fn sealed() -> Filter {
    Filter { compress: Some(3), key: key(1) }
}

fn filtered(dir: &Path, name: &str, f: &Filter) -> Filtered<LocalImage> {
    Filtered::open(tap(dir, name, None, 0), f).map_err(|(_, e)| e).expect("filter")
}

/// The stored (raw) objects of an image.
fn stored(dir: &Path, name: &str) -> Vec<Option<Vec<u8>>> {
    objects(&mut tap(dir, name, None, 0))
}

/// Writes stored objects as a new image.
fn write_stored(dir: &Path, name: &str, objs: &[Option<Vec<u8>>]) {
    let _ = std::fs::remove_file(dir.join(name));
    let _ = std::fs::remove_file(dir.join(format!("{name}.pmtidx")));
    let mut t = tap(dir, name, None, 0);
    for o in objs {
        match o {
            Some(d) => t.write_record(d).unwrap(),
            None => t.write_mark().unwrap(),
        };
    }
    t.sync().unwrap();
}

fn data() -> Vec<Vec<u8>> {
    vec![record(0, 20000), noise(1, 5000), record(2, 1), noise(3, 65536), record(4, 777)]
}

fn write_tape(dir: &Path, name: &str, f: &Filter) {
    let mut m = filtered(dir, name, f);
    for d in data() {
        m.write_record(&d).unwrap();
    }
    m.write_mark().unwrap();
    m.write_record(b"second file").unwrap();
    m.write_mark().unwrap();
    m.sync().unwrap();
}

#[test]
fn records_come_back_as_written_through_every_filter() {
    let dir = tempfile::tempdir().unwrap();
    for (n, f) in [
        ("z.tap", Filter { compress: Some(3), key: None }),
        ("k.tap", Filter { compress: None, key: key(1) }),
        ("zk.tap", sealed()),
    ] {
        write_tape(dir.path(), n, &f);
        let mut m = filtered(dir.path(), n, &f);
        let got = objects(&mut m);
        let mut want: Vec<Option<Vec<u8>>> = data().into_iter().map(Some).collect();
        want.extend([None, Some(b"second file".to_vec()), None]);
        assert_eq!(got, want, "{n}");
        // A short read gets the head of the record and its true length.
        m.rewind().unwrap();
        let mut buf = Vec::new();
        assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Record(20000), "{n}");
        assert_eq!(buf, record(0, 20000)[..100], "{n}");
        // Spacing and locating go through.
        assert_eq!(m.locate(6).unwrap(), pmtd::media::Stop::Done);
        buf.clear();
        assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Record(11));
    }
}

#[test]
fn compression_only_when_it_saves_space_and_the_overhead_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    write_tape(dir.path(), "z.tap", &Filter { compress: Some(3), key: None });
    write_tape(dir.path(), "zk.tap", &sealed());
    let len = |o: &Option<Vec<u8>>| o.as_ref().map_or(0, Vec::len);
    let z = stored(dir.path(), "z.tap");
    let zk = stored(dir.path(), "zk.tap");
    assert!(len(&z[0]) < 2000, "compressible data shrinks: {}", len(&z[0]));
    assert_eq!(len(&z[1]), 5000 + HEADER, "noise is stored raw");
    assert_eq!(len(&z[3]), 65536 + HEADER);
    assert_eq!(len(&zk[1]), 5000 + MAX_OVERHEAD);
    assert_eq!(len(&zk[2]), 1 + MAX_OVERHEAD, "a 1-byte record is never compressed");
    // Sealed: the plain text does not appear.
    let img = std::fs::read(dir.path().join("zk.tap")).unwrap();
    assert!(!img.windows(11).any(|w| w == b"second file"));
    // inspect reads the headers without the key.
    let (scan, headers, identity) = pmtd::inspect::scan_with_headers(&dir.path().join("zk.tap")).unwrap();
    let text = pmtd::inspect::render(&dir.path().join("zk.tap"), &scan, &headers, identity);
    let id = identity.expect("a sealed volume has an identity");
    assert!(text.contains(&format!("volume identity: {}", pmtd::inspect::hex(&id))), "{text}");
    assert!(text.contains("file 0: 5 records"), "{text}");
    assert!(text.contains("filter: zstd (2 of 5 compressed), XChaCha20-Poly1305, 91314 bytes before filtering"), "{text}");
    let (scan, headers, identity) = pmtd::inspect::scan_with_headers(&dir.path().join("z.tap")).unwrap();
    assert_eq!(identity, None, "compressed only: no identity");
    let text = pmtd::inspect::render(&dir.path().join("z.tap"), &scan, &headers, identity);
    assert!(text.contains("filter: zstd (2 of 5 compressed), 91314 bytes before filtering"), "{text}");
    assert!(!text.contains("XChaCha"), "{text}");
}

/// Reads a filtered tape's objects, bad ones as "BAD".
fn read_back(dir: &Path, name: &str, f: &Filter) -> Vec<Option<Vec<u8>>> {
    let mut m = Filtered::open(tap(dir, name, None, 0), f).map_err(|(_, e)| e).expect("open");
    objects(&mut m)
}

#[test]
fn altered_truncated_swapped_and_moved_records_read_as_bad() {
    let dir = tempfile::tempdir().unwrap();
    let f = sealed();
    write_tape(dir.path(), "t.tap", &f);
    let orig = stored(dir.path(), "t.tap");
    let good = read_back(dir.path(), "t.tap", &f);
    let bad = Some(b"BAD".to_vec());

    // One byte of the stored image changed (in the data of record 3).
    let mut img = std::fs::read(dir.path().join("t.tap")).unwrap();
    let scan = pmtd::inspect::scan_file(&dir.path().join("t.tap"), true).unwrap();
    let off = scan.objs[3].off as usize + 4 + 1000;
    img[off] ^= 1;
    std::fs::write(dir.path().join("a.tap"), &img).unwrap();
    let got = read_back(dir.path(), "a.tap", &f);
    let problems = pmtd::inspect::check_filtered(&dir.path().join("a.tap"), &scan.objs).unwrap();
    assert_eq!(problems, [format!("filtered record 3 at offset {}: its checksum does not match", scan.objs[3].off)], "pmtd verify sees it without the key");
    assert!(pmtd::inspect::check_filtered(&dir.path().join("t.tap"), &scan.objs).unwrap().is_empty());
    assert_eq!(got.iter().filter(|o| **o == bad).count(), 1, "exactly one bad record");
    assert_eq!(got[3], bad);
    assert_eq!(&got[..3], &good[..3], "the others read fine");
    assert_eq!(&got[4..], &good[4..]);

    // A record cut short (framed again as a whole record).
    let mut t = orig.clone();
    if let Some(Some(r)) = t.get_mut(1) {
        r.truncate(r.len() - 7);
    }
    write_stored(dir.path(), "b.tap", &t);
    let got = read_back(dir.path(), "b.tap", &f);
    assert_eq!(got[1], bad);
    assert_eq!(got[2], good[2]);

    // Two records swapped.
    let mut t = orig.clone();
    t.swap(1, 2);
    write_stored(dir.path(), "c.tap", &t);
    let got = read_back(dir.path(), "c.tap", &f);
    assert_eq!((got[1].clone(), got[2].clone()), (bad.clone(), bad.clone()));
    assert_eq!(got[3], good[3]);

    // A record moved: one more tape mark before it.
    let mut t = orig.clone();
    t.insert(1, None);
    write_stored(dir.path(), "d.tap", &t);
    let got = read_back(dir.path(), "d.tap", &f);
    assert_eq!(got[0], good[0]);
    assert_eq!(got[1], None);
    assert!(got[2..6].iter().all(|o| *o == bad), "every record after the shift: {:?}", &got[2..6].iter().map(|o| o.as_ref().map(Vec::len)).collect::<Vec<_>>());
}

#[test]
fn records_spliced_across_volumes_under_one_key_read_as_bad() {
    // Two volumes written with the same key: the same records at the same
    // positions. Each volume has its own identity, bound into every record.
    let dir = tempfile::tempdir().unwrap();
    let f = sealed();
    write_tape(dir.path(), "v1.tap", &f);
    write_tape(dir.path(), "v2.tap", &f);
    let good = read_back(dir.path(), "v1.tap", &f);
    assert_eq!(read_back(dir.path(), "v2.tap", &f), good);
    let (one, two) = (stored(dir.path(), "v1.tap"), stored(dir.path(), "v2.tap"));
    let id = |n: &str| pmtd::inspect::scan_with_headers(&dir.path().join(n)).unwrap().2.expect("identity");
    assert_ne!(id("v1.tap"), id("v2.tap"));
    let bad = Some(b"BAD".to_vec());

    // Record 2 of volume 2 over record 2 of volume 1: same position, same key.
    let mut t = one.clone();
    t[2] = two[2].clone();
    write_stored(dir.path(), "s.tap", &t);
    let got = read_back(dir.path(), "s.tap", &f);
    assert_eq!(got[2], bad, "a record from another volume is not data");
    assert_eq!((&got[..2], &got[3..]), (&good[..2], &good[3..]), "the others read fine");

    // Volume 1's first record replaced by volume 2's: the volume loads (the
    // first record is volume 2's own), and every other record of volume 1
    // is refused.
    let mut t = one.clone();
    t[0] = two[0].clone();
    write_stored(dir.path(), "f.tap", &t);
    let got = read_back(dir.path(), "f.tap", &f);
    assert_eq!(got[0], good[0]);
    let lens: Vec<_> = got.iter().map(|o| o.as_ref().map(Vec::len)).collect();
    assert!(got.iter().skip(1).all(|o| o.is_none() || *o == bad), "{lens:?}");

    // Through the drive's medium the spliced record is a bad record (MEDIUM
    // ERROR, EIO for the program).
    let mut m = filtered(dir.path(), "s.tap", &f);
    let mut buf = Vec::new();
    assert!(matches!(m.read(&mut buf, usize::MAX).unwrap(), Object::Record(_)));
    assert!(matches!(m.read(&mut buf, usize::MAX).unwrap(), Object::Record(_)));
    assert_eq!(m.read(&mut buf, usize::MAX).unwrap(), Object::Bad);
}

#[test]
fn a_rewritten_volume_gets_a_new_identity() {
    let dir = tempfile::tempdir().unwrap();
    let f = sealed();
    write_tape(dir.path(), "v.tap", &f);
    let before = pmtd::inspect::scan_with_headers(&dir.path().join("v.tap")).unwrap().2;
    // Written again from the beginning (a new dump on an old tape).
    let mut m = filtered(dir.path(), "v.tap", &f);
    m.write_record(&record(9, 300)).unwrap();
    m.write_record(&record(10, 400)).unwrap();
    m.write_mark().unwrap();
    m.sync().unwrap();
    drop(m);
    let after = pmtd::inspect::scan_with_headers(&dir.path().join("v.tap")).unwrap().2;
    assert!(after.is_some() && after != before);
    assert_eq!(read_back(dir.path(), "v.tap", &f), vec![Some(record(9, 300)), Some(record(10, 400)), None]);
    // Appending keeps it.
    let mut m = filtered(dir.path(), "v.tap", &f);
    m.space_eod().unwrap();
    m.write_record(&record(11, 50)).unwrap();
    m.sync().unwrap();
    drop(m);
    assert_eq!(pmtd::inspect::scan_with_headers(&dir.path().join("v.tap")).unwrap().2, after);
    assert_eq!(read_back(dir.path(), "v.tap", &f)[3], Some(record(11, 50)));
}

#[test]
fn a_wrong_key_or_no_key_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    write_tape(dir.path(), "t.tap", &sealed());
    let load = |f: Filter| {
        let mut c = FilterVolumes::new(Magazine::new(paths(dir.path(), &["t.tap"]), ImageOptions::default()), f);
        c.load_next().map(|_| ()).unwrap_err().to_string()
    };
    let name = dir.path().join("t.tap").display().to_string();
    assert_eq!(load(Filter { compress: Some(3), key: key(2) }), format!("{name}: wrong key: the volume's first record does not authenticate"));
    assert_eq!(load(Filter { compress: Some(3), key: None }), format!("{name}: the volume is encrypted: give its key file"));
    // A volume written without filters is refused by a filter.
    let mut plain = tap(dir.path(), "plain.tap", None, 0);
    plain.write_record(&record(0, 100)).unwrap();
    plain.sync().unwrap();
    let mut c = FilterVolumes::new(Magazine::new(paths(dir.path(), &["plain.tap"]), ImageOptions::default()), sealed());
    let e = c.load_next().map(|_| ()).unwrap_err();
    assert!(e.to_string().ends_with("the volume was not written through a filter (no compression or key on its first record)"), "{e}");
    // A blank volume and the right key load.
    let mut c = FilterVolumes::new(Magazine::new(paths(dir.path(), &["blank.tap", "t.tap"]), ImageOptions::default()), sealed());
    let m = c.load_next().unwrap().unwrap();
    c.unload(m).unwrap();
    let m = c.load_next().unwrap().unwrap();
    assert!(m.at_bot(), "the check rewinds");
}

#[test]
fn room_and_early_warning_count_stored_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let f = Filter { compress: Some(3), key: None };
    let writes_to_ew = |name: &str, f: Option<&Filter>, data: &dyn Fn(usize) -> Vec<u8>| -> usize {
        let t = tap(dir.path(), name, Some(400_000), 100_000);
        let mut m: Box<dyn Medium> = match f {
            Some(f) => Box::new(Filtered::open(t, f).map_err(|(_, e)| e).unwrap()),
            None => Box::new(t),
        };
        for i in 0.. {
            let before = m.room();
            let w = m.write_record(&data(i)).unwrap();
            let after = m.room();
            assert!(after.to_end < before.to_end);
            if w.early_warning {
                return i;
            }
        }
        unreachable!()
    };
    // 10 000-byte records: 30 of them reach early warning at 300 000 bytes
    // raw; compressed, many more do.
    assert_eq!(writes_to_ew("raw.tap", None, &|i| record(i, 10_000)), 29);
    let compressed = writes_to_ew("z.tap", Some(&f), &|i| vec![(i % 251) as u8; 10_000]);
    assert!(compressed > 1000, "{compressed}");
    // Incompressible records cost their length plus the header.
    let n = writes_to_ew("n.tap", Some(&f), &|i| noise(i as u64, 10_000));
    assert_eq!(n, 300_000 / (10_000 + HEADER + 8));
    // The overflow is the stored record's too.
    let mut m = Filtered::open(tap(dir.path(), "full.tap", Some(20_200), 0), &f).map_err(|(_, e)| e).unwrap();
    m.write_record(&noise(1, 10_000)).unwrap();
    m.write_record(&noise(2, 10_000)).unwrap();
    assert!(matches!(m.write_record(&noise(3, 10_000)), Err(MediumError::Overflow { .. })));
    m.write_record(&[3u8; 10_000]).unwrap();
}

#[test]
fn a_record_too_large_for_the_filter_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = filtered(dir.path(), "big.tap", &sealed());
    let big = vec![0u8; pmt::proto::MAX_RECORD as usize - MAX_OVERHEAD + 1];
    assert!(matches!(m.write_record(&big), Err(MediumError::Unsupported { .. })));
    m.write_record(&big[1..]).unwrap();
    m.rewind().unwrap();
    let mut buf = Vec::new();
    assert_eq!(m.read(&mut buf, usize::MAX).unwrap(), Object::Record(big.len() - 1));
}
