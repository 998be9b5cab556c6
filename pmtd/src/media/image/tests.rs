//! The image medium over a local file: the scanner, the index beside the
//! image, recovery of a damaged tail, capacity and early warning.

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use super::sidecar::Sidecar;
use super::simh::GAP;
use super::*;

/// Opens the image `p`: the medium, what the scan found, how it was indexed.
fn open_tape(p: &Path, read_only: bool) -> (LocalImage, Scan, Indexed) {
    let (m, l) = LocalImage::open(p, &ImageOptions { read_only, ..ImageOptions::default() }).unwrap();
    (m, l.scan, l.how)
}

fn rec(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v
}

#[test]
fn scans_records_marks_and_gaps() {
    let mut img = rec(b"abc");
    img.extend_from_slice(&MARK.to_le_bytes());
    img.extend_from_slice(&GAP.to_le_bytes());
    img.extend(rec(b"hello!"));
    img.extend_from_slice(&MARK.to_le_bytes());
    img.extend_from_slice(&MARK.to_le_bytes());
    let s = scan(&mut Cursor::new(&img), true).unwrap();
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    let lens: Vec<u32> = s.objs.iter().map(|o| o.len).collect();
    assert_eq!(lens, vec![3, 0, 6, 0, 0]);
    assert_eq!(s.end, img.len() as u64);
    assert_eq!(s.objs[2].off, 12 + 4 + 4);
}

#[test]
fn damaged_tail_ends_at_last_complete_object() {
    let mut img = rec(b"first");
    img.extend_from_slice(&MARK.to_le_bytes());
    let good = img.len();
    img.extend(rec(&[7u8; 100]));
    for cut in good..img.len() {
        let s = scan(&mut Cursor::new(&img[..cut]), false).unwrap();
        assert_eq!(s.objs.len(), 2, "cut at {cut}");
        assert_eq!(s.end, good as u64, "cut at {cut}");
        assert_eq!(s.problems.is_empty(), cut == good, "cut at {cut}");
    }
}

#[test]
fn mismatched_trailer_is_a_problem() {
    let mut img = rec(b"abcd");
    let n = img.len();
    img[n - 1] = 9;
    let s = scan(&mut Cursor::new(&img), false).unwrap();
    assert!(s.objs.is_empty());
    assert_eq!(s.end, 0);
    assert_eq!(s.problems.len(), 1);
}

/// A tape of `files` files of `recs` records each, closed by two marks.
fn build(dir: &Path, files: usize, recs: usize) -> PathBuf {
    let p = dir.join("t.tap");
    let (mut t, _, _) = open_tape(&p, false);
    for f in 0..files {
        for r in 0..recs {
            t.write_record(&[(f * 7 + r) as u8; 33]).unwrap();
        }
        t.write_mark().unwrap();
    }
    t.write_mark().unwrap();
    t.sync().unwrap();
    p
}

#[test]
fn spacing_over_marks_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = build(dir.path(), 5, 3); // objects: 4 per file, then a mark
    let (mut t, _, _) = open_tape(&p, false);
    assert_eq!(t.objects().len(), 21);
    assert_eq!(t.space_marks(2).unwrap(), (2, Stop::Done));
    assert_eq!(t.position(), 8);
    assert_eq!(t.space_records(2).unwrap(), (2, Stop::Done));
    assert_eq!(t.position(), 10);
    assert_eq!(t.space_records(5).unwrap(), (1, Stop::Mark));
    assert_eq!(t.position(), 12);
    assert_eq!(t.space_records(-1).unwrap(), (0, Stop::Mark));
    assert_eq!(t.position(), 11, "before the mark");
    assert_eq!(t.space_records(-10).unwrap(), (3, Stop::Mark));
    assert_eq!(t.position(), 7);
    // Just before the mark ending file 1: one mark back is the mark
    // ending file 0, and the position is before it.
    assert_eq!(t.space_marks(-1).unwrap(), (1, Stop::Done));
    assert_eq!(t.position(), 3);
    t.locate(9).unwrap();
    assert_eq!(t.space_marks(-1).unwrap(), (1, Stop::Done));
    assert_eq!(t.position(), 7, "before the mark ending file 1");
    assert_eq!(t.space_marks(-9).unwrap(), (1, Stop::Bot));
    assert_eq!(t.position(), 0);
    assert_eq!(t.space_records(-1).unwrap(), (0, Stop::Bot));
    assert_eq!(t.space_marks(100).unwrap(), (6, Stop::Eod));
    assert_eq!(t.position(), 21);
    assert_eq!(t.space_records(1).unwrap(), (0, Stop::Eod));
}

#[test]
fn sidecar_is_used_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = build(dir.path(), 50, 2);
    let (t, _, how) = open_tape(&p, false);
    assert_eq!(how, Indexed::Sidecar { scanned: 0 });
    assert_eq!(t.objects().len(), 50 * 3 + 1);
    drop(t);
    // Objects written after the last index update are found by a scan
    // from where the index ends.
    {
        let (mut t, _, _) = open_tape(&p, false);
        t.space_eod().unwrap();
        t.write_record(b"late").unwrap();
        // No sync: the sidecar still has the old count.
    }
    let (t, _, how) = open_tape(&p, false);
    assert_eq!(how, Indexed::Sidecar { scanned: 1 });
    assert_eq!(t.objects().len(), 50 * 3 + 2);
    drop(t);
    // A different image under the same name: the index is refused.
    std::fs::write(&p, rec(b"other")).unwrap();
    let (t, _, how) = open_tape(&p, false);
    assert_eq!(how, Indexed::Scan);
    assert_eq!(t.objects().len(), 1);
}

#[test]
fn a_damaged_index_is_refused_at_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let p = build(dir.path(), 20, 2);
    let (t, _, _) = open_tape(&p, false);
    let objs = t.objects().to_vec();
    drop(t);
    let good = std::fs::read(Sidecar::path_for(&p)).unwrap();
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(Sidecar::path_for(&p), &bad).unwrap();
        let (t, _, how) = open_tape(&p, true);
        assert_eq!(t.objects(), &objs[..], "byte {at} of the index changed");
        // Spare header bytes are not covered; everything else is.
        if !(40..64).contains(&at) {
            assert_eq!(how, Indexed::Scan, "byte {at} of the index changed");
        }
    }
    // Counts that would overflow or allocate without bound.
    let mut huge = good.clone();
    huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(Sidecar::path_for(&p), &huge).unwrap();
    assert_eq!(open_tape(&p, true).2, Indexed::Scan);
}

#[test]
fn cut_image_with_a_sidecar_recovers_every_complete_object() {
    let dir = tempfile::tempdir().unwrap();
    let p = build(dir.path(), 3, 2);
    let full = std::fs::read(&p).unwrap();
    let sidecar = std::fs::read(Sidecar::path_for(&p)).unwrap();
    let (t, _, _) = open_tape(&p, false);
    let objs = t.objects().to_vec();
    drop(t);
    for cut in 0..=full.len() {
        std::fs::write(&p, &full[..cut]).unwrap();
        std::fs::write(Sidecar::path_for(&p), &sidecar).unwrap();
        let (t, _, _) = open_tape(&p, false);
        let whole = objs.iter().filter(|o| o.off + o.size() <= cut as u64).count();
        assert_eq!(t.objects().len(), whole, "cut at {cut}");
        assert_eq!(t.objects(), &objs[..whole], "cut at {cut}");
    }
}

#[test]
fn writing_after_a_cut_replaces_the_damaged_tail() {
    let dir = tempfile::tempdir().unwrap();
    let p = build(dir.path(), 2, 2);
    let full = std::fs::read(&p).unwrap();
    let (t, _, _) = open_tape(&p, false);
    let objs = t.objects().to_vec();
    drop(t);
    for cut in 0..=full.len() {
        std::fs::write(&p, &full[..cut]).unwrap();
        let _ = std::fs::remove_file(Sidecar::path_for(&p));
        let (mut t, _, _) = open_tape(&p, false);
        let whole = t.objects().len();
        t.space_eod().unwrap();
        t.write_record(b"after the cut").unwrap();
        t.sync().unwrap();
        drop(t);
        // The image is whole again: strict framing, old objects kept.
        let s = scan(&mut File::open(&p).unwrap(), true).unwrap();
        assert!(s.problems.is_empty(), "cut at {cut}: {:?}", s.problems);
        assert_eq!(s.objs.len(), whole + 1, "cut at {cut}");
        assert_eq!(&s.objs[..whole], &objs[..whole], "cut at {cut}");
        let (t, _, how) = open_tape(&p, false);
        assert_eq!(how, Indexed::Sidecar { scanned: 0 }, "cut at {cut}");
        let (mut t, mut buf) = (t, Vec::new());
        t.locate(whole as u64).unwrap();
        assert_eq!(t.read(&mut buf, 13).unwrap(), Object::Record(13), "cut at {cut}");
        assert_eq!(&buf, b"after the cut", "cut at {cut}");
    }
}

fn open(dir: &Path, capacity: Option<u64>, early_warning: u64) -> LocalImage {
    let opts = ImageOptions { capacity, early_warning, read_only: false };
    LocalImage::open(&dir.join("m.tap"), &opts).unwrap().0
}

#[test]
fn room_early_warning_and_overflow_count_image_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // 1000 bytes, early warning 300 bytes before the end.
    let mut m = open(dir.path(), Some(1000), 300);
    assert_eq!(m.room(), Room { to_ew: Some(700), to_end: Some(1000) });
    // 100-byte records take 108 bytes of image.
    for i in 0..6 {
        assert_eq!(m.write_record(&[i; 100]).unwrap(), Written { early_warning: false }, "record {i}");
    }
    assert_eq!(m.room(), Room { to_ew: Some(700 - 648), to_end: Some(1000 - 648) });
    // The 7th ends at 756, past early warning at 700.
    assert_eq!(m.write_record(&[7; 100]).unwrap(), Written { early_warning: true });
    assert_eq!(m.room().to_ew, Some(0));
    assert_eq!(m.write_record(&[8; 100]).unwrap(), Written { early_warning: true });
    // 864 used: a 200-byte record (208) would pass 1000: refused whole.
    assert!(m.write_record(&[9; 200]).unwrap_err().is_overflow());
    assert_eq!(m.objects().len(), 8, "nothing of the refused record was stored");
    // Odd lengths are padded: 127 bytes take 136, ending at exactly 1000.
    assert_eq!(m.write_record(&[1; 127]).unwrap(), Written { early_warning: true });
    assert_eq!(m.room(), Room { to_ew: Some(0), to_end: Some(0) });
    assert!(m.write_record(&[1]).unwrap_err().is_overflow());
    // Tape marks may use the reserve past the end.
    for _ in 0..16 {
        m.write_mark().unwrap();
    }
    assert!(m.write_mark().unwrap_err().is_overflow(), "the reserve is 64 bytes: 16 marks");
    let len = std::fs::metadata(m.path()).unwrap().len();
    assert_eq!(len, 1000 + FILEMARK_RESERVE);
}

#[test]
fn reads_spacing_and_locate() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = open(dir.path(), None, 0);
    assert_eq!(m.room(), Room::UNKNOWN);
    m.write_record(b"hello").unwrap();
    m.write_record(b"world!").unwrap();
    m.write_mark().unwrap();
    m.write_record(b"x").unwrap();
    m.rewind().unwrap();
    assert!(m.at_bot());
    let mut buf = Vec::new();
    assert_eq!(m.read(&mut buf, 3).unwrap(), Object::Record(5));
    assert_eq!(buf, b"hel");
    buf.clear();
    assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Record(6));
    assert_eq!(buf, b"world!");
    assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Mark);
    assert_eq!(m.space_records(5).unwrap(), (1, Stop::Eod));
    assert_eq!(m.at_eod(), Some(true));
    assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Eod);
    assert_eq!(m.position(), 4, "the end of data does not move");
    assert_eq!(m.space_records(-5).unwrap(), (1, Stop::Mark));
    assert_eq!(m.position(), 2, "before the mark");
    assert_eq!(m.space_marks(-1).unwrap(), (0, Stop::Bot), "no mark before this one");
    assert_eq!(m.space_marks(1).unwrap(), (1, Stop::Done));
    assert_eq!(m.position(), 3);
    assert_eq!(m.space_marks(-1).unwrap(), (1, Stop::Done));
    assert_eq!(m.position(), 2, "before the mark crossed");
    m.space_marks(1).unwrap();
    assert_eq!(m.locate(1).unwrap(), Stop::Done);
    assert_eq!(m.locate(4).unwrap(), Stop::Done, "the end of data is a position");
    assert_eq!(m.locate(9).unwrap(), Stop::Eod);
    assert_eq!(m.position(), 4);
}

#[test]
fn undo_last_cuts_the_image_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = open(dir.path(), None, 0);
    m.write_record(b"keep").unwrap();
    let keep = std::fs::metadata(m.path()).unwrap().len();
    m.write_record(b"take back").unwrap();
    m.undo_last().unwrap();
    assert_eq!(m.position(), 1);
    assert_eq!(m.at_eod(), Some(true));
    assert_eq!(std::fs::metadata(m.path()).unwrap().len(), keep);
    m.write_mark().unwrap();
    m.undo_last().unwrap();
    assert_eq!(m.objects().len(), 1);
}

#[test]
fn write_protected_volume_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), None, 0).write_record(b"data").unwrap();
    let opts = ImageOptions { read_only: true, ..ImageOptions::default() };
    let (mut m, _) = LocalImage::open(&dir.path().join("m.tap"), &opts).unwrap();
    assert!(m.readonly());
    assert!(matches!(m.write_record(b"x"), Err(MediumError::Protected { .. })));
    assert!(matches!(m.write_mark(), Err(MediumError::Protected { .. })));
    assert!(matches!(m.erase(), Err(MediumError::Protected { .. })));
    let mut buf = Vec::new();
    assert_eq!(m.read(&mut buf, 10).unwrap(), Object::Record(4));
}
