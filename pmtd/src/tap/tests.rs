    use super::*;
    use std::io::Cursor;

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
        let (mut t, _, _) = Tape::open(&p, false).unwrap();
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
        let (mut t, _, _) = Tape::open(&p, false).unwrap();
        assert_eq!(t.len(), 21);
        assert_eq!(t.space_marks_forward(2), (2, Stop::Done));
        assert_eq!(t.pos(), 8);
        assert_eq!(t.space_records_forward(2), (2, Stop::Done));
        assert_eq!(t.pos(), 10);
        assert_eq!(t.space_records_forward(5), (1, Stop::Mark));
        assert_eq!(t.pos(), 12);
        assert_eq!(t.space_records_backward(1), (0, Stop::Mark));
        assert_eq!(t.pos(), 11, "before the mark");
        assert_eq!(t.space_records_backward(10), (3, Stop::Mark));
        assert_eq!(t.pos(), 7);
        // Just before the mark ending file 1: one mark back is the mark
        // ending file 0, and the position is before it.
        assert_eq!(t.space_marks_backward(1), (1, Stop::Done));
        assert_eq!(t.pos(), 3);
        t.set_pos(9);
        assert_eq!(t.space_marks_backward(1), (1, Stop::Done));
        assert_eq!(t.pos(), 7, "before the mark ending file 1");
        assert_eq!(t.space_marks_backward(9), (1, Stop::Bot));
        assert_eq!(t.pos(), 0);
        assert_eq!(t.space_records_backward(1), (0, Stop::Bot));
        assert_eq!(t.space_marks_forward(100), (6, Stop::Eod));
        assert_eq!(t.pos(), 21);
        assert_eq!(t.space_records_forward(1), (0, Stop::Eod));
    }

    #[test]
    fn sidecar_is_used_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 50, 2);
        let (t, _, how) = Tape::open(&p, false).unwrap();
        assert_eq!(how, Indexed::Sidecar { scanned: 0 });
        assert_eq!(t.len(), 50 * 3 + 1);
        drop(t);
        // Objects written after the last index update are found by a scan
        // from where the index ends.
        {
            let (mut t, _, _) = Tape::open(&p, false).unwrap();
            t.set_pos(t.len());
            t.write_record(b"late").unwrap();
            // No sync: the sidecar still has the old count.
        }
        let (t, _, how) = Tape::open(&p, false).unwrap();
        assert_eq!(how, Indexed::Sidecar { scanned: 1 });
        assert_eq!(t.len(), 50 * 3 + 2);
        drop(t);
        // A different image under the same name: the index is refused.
        std::fs::write(&p, rec(b"other")).unwrap();
        let (t, _, how) = Tape::open(&p, false).unwrap();
        assert_eq!(how, Indexed::Scan);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_damaged_index_is_refused_at_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 20, 2);
        let (t, _, _) = Tape::open(&p, false).unwrap();
        let objs = t.objs().to_vec();
        drop(t);
        let good = std::fs::read(Sidecar::path_for(&p)).unwrap();
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            std::fs::write(Sidecar::path_for(&p), &bad).unwrap();
            let (t, _, how) = Tape::open(&p, true).unwrap();
            assert_eq!(t.objs(), &objs[..], "byte {at} of the index changed");
            // Spare header bytes are not covered; everything else is.
            if !(40..64).contains(&at) {
                assert_eq!(how, Indexed::Scan, "byte {at} of the index changed");
            }
        }
        // Counts that would overflow or allocate without bound.
        let mut huge = good.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(Sidecar::path_for(&p), &huge).unwrap();
        assert_eq!(Tape::open(&p, true).unwrap().2, Indexed::Scan);
    }

    #[test]
    fn cut_image_with_a_sidecar_recovers_every_complete_object() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 3, 2);
        let full = std::fs::read(&p).unwrap();
        let sidecar = std::fs::read(Sidecar::path_for(&p)).unwrap();
        let (t, _, _) = Tape::open(&p, false).unwrap();
        let objs = t.objs().to_vec();
        drop(t);
        for cut in 0..=full.len() {
            std::fs::write(&p, &full[..cut]).unwrap();
            std::fs::write(Sidecar::path_for(&p), &sidecar).unwrap();
            let (t, _, _) = Tape::open(&p, false).unwrap();
            let whole = objs.iter().filter(|o| o.off + o.size() <= cut as u64).count();
            assert_eq!(t.len(), whole, "cut at {cut}");
            assert_eq!(t.objs(), &objs[..whole], "cut at {cut}");
        }
    }

    #[test]
    fn writing_after_a_cut_replaces_the_damaged_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = build(dir.path(), 2, 2);
        let full = std::fs::read(&p).unwrap();
        let (t, _, _) = Tape::open(&p, false).unwrap();
        let objs = t.objs().to_vec();
        drop(t);
        for cut in 0..=full.len() {
            std::fs::write(&p, &full[..cut]).unwrap();
            let _ = std::fs::remove_file(Sidecar::path_for(&p));
            let (mut t, _, _) = Tape::open(&p, false).unwrap();
            let whole = t.len();
            t.set_pos(whole);
            t.write_record(b"after the cut").unwrap();
            t.sync().unwrap();
            drop(t);
            // The image is whole again: strict framing, old objects kept.
            let s = scan(&mut File::open(&p).unwrap(), true).unwrap();
            assert!(s.problems.is_empty(), "cut at {cut}: {:?}", s.problems);
            assert_eq!(s.objs.len(), whole + 1, "cut at {cut}");
            assert_eq!(&s.objs[..whole], &objs[..whole], "cut at {cut}");
            let (t, _, how) = Tape::open(&p, false).unwrap();
            assert_eq!(how, Indexed::Sidecar { scanned: 0 }, "cut at {cut}");
            let mut buf = [0u8; 13];
            t.read_data(&t.obj(whole).unwrap(), &mut buf).unwrap();
            assert_eq!(&buf, b"after the cut", "cut at {cut}");
        }
    }

