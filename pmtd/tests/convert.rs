//! `pmtd convert` on real files: SIMH images written by pmtd's image
//! medium and AWS images written as Hercules writes them, converted both
//! ways and back, byte for byte; the AWS structure checked by a parser that
//! shares no code with pmtd; what one format cannot hold refused.

mod common;

use std::path::Path;
use std::process::Command;

use common::{noise, record};
use pmtd::convert::{convert, ConvertError, ConvertOptions, Format, AWS_ENDREC, AWS_NEWREC, AWS_TAPEMARK};
use pmtd::media::image::{ImageOptions, LocalImage};
use pmtd::media::Medium;
use pmtd::progress::Progress;

/// Record sizes around every boundary: odd and even (SIMH pads odd ones),
/// one AWS block and more (65535 is the most a block holds), 10 KiB (dump's).
const SIZES: &[usize] = &[
    1, 2, 3, 80, 511, 512, 4096, 10240, 32767, 65534, 65535, 65536, 65537, 100_001, 131_070, 131_071, 131_072, 262_144,
    1 << 20, (1 << 20) + 1,
];

/// One tape object as the test's own parsers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Obj {
    Record(Vec<u8>),
    Mark,
}

/// The objects of a SIMH image, parsed here.
fn simh_objects(b: &[u8]) -> Vec<Obj> {
    let mut v = Vec::new();
    let mut i = 0;
    let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    while i < b.len() {
        let w = word(i);
        if w == 0 {
            v.push(Obj::Mark);
            i += 4;
            continue;
        }
        let n = w as usize;
        v.push(Obj::Record(b[i + 4..i + 4 + n].to_vec()));
        let pad = n & 1;
        assert_eq!(word(i + 4 + n + pad), w, "trailing length at {i}");
        i += 8 + n + pad;
    }
    v
}

/// The objects of an AWS image, parsed here, checking every header: the
/// previous-length chain, the flags, segments of 65535 bytes but the last.
fn aws_objects(b: &[u8]) -> Vec<Obj> {
    let mut v = Vec::new();
    let mut i = 0;
    let mut prev = 0u16;
    let mut open: Option<Vec<u8>> = None;
    while i < b.len() {
        let cur = u16::from_le_bytes([b[i], b[i + 1]]);
        let prv = u16::from_le_bytes([b[i + 2], b[i + 3]]);
        let (f1, f2) = (b[i + 4], b[i + 5]);
        assert_eq!(prv, prev, "previous length at {i}");
        assert_eq!(f2, 0, "flags2 at {i}");
        prev = cur;
        let data = &b[i + 6..i + 6 + cur as usize];
        i += 6 + cur as usize;
        if f1 == AWS_TAPEMARK {
            assert_eq!(cur, 0);
            assert!(open.is_none());
            v.push(Obj::Mark);
            continue;
        }
        assert_eq!(f1 & !(AWS_NEWREC | AWS_ENDREC), 0, "flags at {i}");
        if f1 & AWS_NEWREC != 0 {
            assert!(open.is_none(), "a record starts inside another at {i}");
            open = Some(Vec::new());
        }
        let r = open.as_mut().expect("a segment outside a record");
        r.extend_from_slice(data);
        if f1 & AWS_ENDREC != 0 {
            v.push(Obj::Record(open.take().unwrap()));
        } else {
            assert_eq!(cur, 0xffff, "a segment before the last is a full block");
        }
    }
    assert!(open.is_none(), "the last record has no end");
    v
}

/// The objects of the test tape: marks at the start, between files, two at
/// the end; every size of SIZES, compressible and not.
fn tape() -> Vec<Obj> {
    let mut v = vec![Obj::Mark];
    for (i, &n) in SIZES.iter().enumerate() {
        v.push(Obj::Record(if i % 2 == 0 { record(i, n) } else { noise(i as u64, n) }));
        if i % 5 == 4 {
            v.push(Obj::Mark);
        }
    }
    v.extend([Obj::Mark, Obj::Mark]);
    v
}

/// Writes `objs` to a SIMH image with pmtd's image medium.
fn write_tap(path: &Path, objs: &[Obj]) {
    let (mut t, _) = LocalImage::open(path, &ImageOptions::default()).unwrap();
    for o in objs {
        match o {
            Obj::Record(d) => {
                t.write_record(d).unwrap();
            }
            Obj::Mark => {
                t.write_mark().unwrap();
            }
        }
    }
    t.sync().unwrap();
}

/// Writes `objs` as Hercules writes a tape: awstape.c one block per record
/// (`chunk` 65535: records of at most 65535 bytes, flags 0xA0), hetupd -s
/// blocks of 4096 bytes (`chunk` 4096); tape marks 0x40.
fn write_aws_like_hercules(path: &Path, objs: &[Obj], chunk: usize) {
    let mut b = Vec::new();
    let mut prev = 0u16;
    let mut block = |b: &mut Vec<u8>, flags: u8, data: &[u8]| {
        let len = u16::try_from(data.len()).unwrap();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&prev.to_le_bytes());
        b.extend_from_slice(&[flags, 0]);
        b.extend_from_slice(data);
        prev = len;
    };
    for o in objs {
        match o {
            Obj::Mark => block(&mut b, 0x40, &[]),
            Obj::Record(d) => {
                let n = d.len().div_ceil(chunk);
                for (i, c) in d.chunks(chunk).enumerate() {
                    let flags = if i == 0 { 0x80 } else { 0 } | if i + 1 == n { 0x20 } else { 0 };
                    block(&mut b, flags, c);
                }
            }
        }
    }
    std::fs::write(path, b).unwrap();
}

fn conv(input: &Path, output: &Path) -> Result<pmtd::convert::Summary, ConvertError> {
    let from = Format::of_path(input).unwrap();
    let to = Format::of_path(output).unwrap();
    convert(input, from, output, to, &ConvertOptions::default(), &mut Progress::hidden("convert"))
}

#[test]
fn simh_to_aws_and_back_is_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let (tap, aws, back) = (dir.path().join("a.tap"), dir.path().join("a.aws"), dir.path().join("b.tap"));
    let objs = tape();
    write_tap(&tap, &objs);
    let s = conv(&tap, &aws).unwrap();
    assert_eq!((s.records, s.marks), (SIZES.len() as u64, 7));
    assert_eq!(s.bytes, SIZES.iter().sum::<usize>() as u64);
    let a = std::fs::read(&aws).unwrap();
    assert_eq!(aws_objects(&a), objs, "the AWS image holds the tape");
    // Each record of n bytes: ceil(n / 65535) headers of 6 bytes; a mark, one.
    let blocks: usize = SIZES.iter().map(|n| n.div_ceil(0xffff)).sum::<usize>() + 7;
    assert_eq!(a.len(), blocks * 6 + SIZES.iter().sum::<usize>());
    conv(&aws, &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&tap).unwrap(), "SIMH -> AWS -> SIMH");
    assert_eq!(simh_objects(&std::fs::read(&back).unwrap()), objs);
    assert!(!dir.path().join("b.tap.part").exists());
}

#[test]
fn an_aws_tape_hercules_wrote_comes_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (aws, tap, back) = (dir.path().join("h.aws"), dir.path().join("h.tap"), dir.path().join("h2.aws"));
    // A labelled tape: VOL1/HDR1/HDR2 (80 bytes), a mark, data, a mark,
    // EOF1/EOF2, two marks; records up to Hercules' largest.
    let mut objs = vec![Obj::Record(record(1, 80)), Obj::Record(record(2, 80)), Obj::Record(record(3, 80)), Obj::Mark];
    for (i, n) in [27998, 32760, 65535, 1, 333, 65535, 4].into_iter().enumerate() {
        objs.push(Obj::Record(noise(i as u64, n)));
    }
    objs.extend([Obj::Mark, Obj::Record(record(4, 80)), Obj::Record(record(5, 80)), Obj::Mark, Obj::Mark]);
    write_aws_like_hercules(&aws, &objs, 0xffff);
    let s = conv(&aws, &tap).unwrap();
    assert_eq!((s.records, s.marks), (12, 4));
    assert_eq!(simh_objects(&std::fs::read(&tap).unwrap()), objs);
    // pmtd reads the SIMH image as the same tape.
    let (mut t, _) = LocalImage::open(&tap, &ImageOptions { read_only: true, ..ImageOptions::default() }).unwrap();
    let read = common::objects(&mut t);
    assert_eq!(read.len(), objs.len());
    assert!(read.iter().zip(&objs).all(|(r, o)| match (r, o) {
        (Some(a), Obj::Record(b)) => a == b,
        (None, Obj::Mark) => true,
        _ => false,
    }));
    conv(&tap, &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&aws).unwrap(), "AWS -> SIMH -> AWS");
    // Hercules' strict form, in blocks of 4096 bytes, with --segment 4096.
    let (strict, tap2, back2) = (dir.path().join("s.aws"), dir.path().join("s.tap"), dir.path().join("s2.aws"));
    write_aws_like_hercules(&strict, &objs, 4096);
    conv(&strict, &tap2).unwrap();
    assert_eq!(std::fs::read(&tap2).unwrap(), std::fs::read(&tap).unwrap(), "the same tape in either form");
    let opts = ConvertOptions { aws_segment: 4096, ..ConvertOptions::default() };
    convert(&tap2, Format::Tap, &back2, Format::Aws, &opts, &mut Progress::hidden("c")).unwrap();
    assert_eq!(std::fs::read(&back2).unwrap(), std::fs::read(&strict).unwrap(), "strict AWS -> SIMH -> strict AWS");
}

/// Hercules' own tools (when installed: scripts/deps installs them) read
/// what pmtd writes, and write what pmtd writes: hetupd -d copies pmtd's
/// AWS image to the same bytes, hetupd -s to what --segment 4096 writes, and
/// tapemap sees the files and blocks.
#[test]
fn hercules_reads_and_writes_the_same_aws() {
    let have = |t: &str| Command::new(t).arg("-h").output().is_ok();
    if !have("hetupd") || !have("tapemap") {
        eprintln!("Hercules' tools are not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Hercules reads records of at most 65535 bytes.
    let mut objs = vec![Obj::Record(record(0, 80)), Obj::Mark];
    for (i, n) in [32760, 65535, 1, 4097, 10240, 10240].into_iter().enumerate() {
        objs.push(Obj::Record(noise(i as u64, n)));
    }
    objs.extend([Obj::Mark, Obj::Mark]);
    write_tap(&d.join("t.tap"), &objs);
    conv(&d.join("t.tap"), &d.join("t.aws")).unwrap();
    let run = |args: &[&Path]| {
        let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (aws, copy, strict) = (d.join("t.aws"), d.join("copy.aws"), d.join("strict.aws"));
    run(&[Path::new("hetupd"), Path::new("-d"), &aws, &copy]);
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&aws).unwrap(), "hetupd -d rewrites the same bytes");
    run(&[Path::new("hetupd"), Path::new("-s"), &aws, &strict]);
    let opts = ConvertOptions { aws_segment: 4096, ..ConvertOptions::default() };
    let mine = d.join("mine.aws");
    convert(&d.join("t.tap"), Format::Tap, &mine, Format::Aws, &opts, &mut Progress::hidden("c")).unwrap();
    assert_eq!(std::fs::read(&mine).unwrap(), std::fs::read(&strict).unwrap(), "hetupd -s writes what --segment 4096 does");
    let map = run(&[Path::new("tapemap"), &aws]);
    for f in ["File 1: Blocks=1, block size min=80, max=80", "File 2: Blocks=6, block size min=1, max=65535"] {
        assert!(map.contains(f), "tapemap: {map}");
    }
}

#[test]
fn what_a_format_cannot_hold_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input_error = |r: Result<_, ConvertError>| match r {
        Err(ConvertError::Input { off, why, .. }) => (off, why),
        other => panic!("{other:?}"),
    };
    // A SIMH record flagged bad, after a good one.
    let mut b = Vec::new();
    for w in [4u32, 4 | 0x8000_0000] {
        b.extend_from_slice(&w.to_le_bytes());
        b.extend_from_slice(b"abcd");
        b.extend_from_slice(&w.to_le_bytes());
    }
    std::fs::write(d.join("bad.tap"), &b).unwrap();
    let (off, why) = input_error(conv(&d.join("bad.tap"), &d.join("bad.aws")));
    assert_eq!(off, 12);
    assert!(why.contains("flagged bad"), "{why}");
    assert!(!d.join("bad.aws").exists() && !d.join("bad.aws.part").exists(), "no partial output");
    // AWS: a record of zero bytes, a header cut short, a broken chain, a
    // compressed block, a record without its end.
    let cases: &[(&[u8], u64, &str)] = &[
        (&[0, 0, 0, 0, 0xa0, 0], 0, "zero bytes"),
        (&[1, 0, 0, 0, 0xa0, 0, 7, 0, 0], 7, "stray bytes"),
        (&[1, 0, 0, 0, 0xa0, 0, 7, 1, 0, 2, 0, 0xa0, 0, 1], 7, "previous block length"),
        (&[1, 0, 0, 0, 0xa1, 0, 7], 0, "compressed"),
        (&[1, 0, 0, 0, 0x80, 0, 7], 0, "no end"),
        (&[1, 0, 0, 0, 0x20, 0, 7], 0, "starts no record"),
        (&[2, 0, 0, 0, 0xa0, 0, 7], 0, "cut short"),
    ];
    for (i, (bytes, at, what)) in cases.iter().enumerate() {
        let p = d.join(format!("c{i}.aws"));
        std::fs::write(&p, bytes).unwrap();
        let (off, why) = input_error(conv(&p, &d.join(format!("c{i}.tap"))));
        assert_eq!((off, why.contains(what)), (*at, true), "case {i}: {why}");
    }
    // A record longer than a SIMH length word holds, in 257 full segments.
    let mut b = Vec::new();
    let seg = vec![0x5a; 0xffff];
    for i in 0..257u32 {
        let flags = if i == 0 { 0x80 } else if i == 256 { 0x20 } else { 0 };
        b.extend_from_slice(&0xffffu16.to_le_bytes());
        b.extend_from_slice(&(if i == 0 { 0u16 } else { 0xffff }).to_le_bytes());
        b.extend_from_slice(&[flags, 0]);
        b.extend_from_slice(&seg);
    }
    std::fs::write(d.join("huge.aws"), b).unwrap();
    let (off, why) = input_error(conv(&d.join("huge.aws"), &d.join("huge.tap")));
    assert_eq!(off, 0);
    assert!(why.contains("16777215"), "{why}");
}

#[test]
fn gaps_and_the_end_of_medium_marker_carry_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut b = Vec::new();
    b.extend_from_slice(&0xffff_fffeu32.to_le_bytes());
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(b"xyz\0");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
    b.extend_from_slice(b"beyond the end");
    std::fs::write(d.join("g.tap"), &b).unwrap();
    let s = conv(&d.join("g.tap"), &d.join("g.aws")).unwrap();
    assert_eq!((s.records, s.marks, s.gaps, s.beyond_eom), (1, 1, 1, 14));
    assert_eq!(aws_objects(&std::fs::read(d.join("g.aws")).unwrap()), [Obj::Record(b"xyz".to_vec()), Obj::Mark]);
}

#[test]
fn an_existing_output_is_replaced_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tap(&d.join("a.tap"), &[Obj::Record(record(0, 100)), Obj::Mark]);
    std::fs::write(d.join("a.aws"), b"old").unwrap();
    assert!(matches!(conv(&d.join("a.tap"), &d.join("a.aws")), Err(ConvertError::Exists(_))));
    assert_eq!(std::fs::read(d.join("a.aws")).unwrap(), b"old");
    let force = ConvertOptions { force: true, ..ConvertOptions::default() };
    convert(&d.join("a.tap"), Format::Tap, &d.join("a.aws"), Format::Aws, &force, &mut Progress::hidden("c")).unwrap();
    assert_eq!(aws_objects(&std::fs::read(d.join("a.aws")).unwrap()).len(), 2);
    let same = convert(&d.join("a.tap"), Format::Tap, &d.join("a.tap"), Format::Aws, &force, &mut Progress::hidden("c"));
    assert!(matches!(same, Err(ConvertError::Same(_))), "{same:?}");
}

#[test]
fn convert_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tap(&d.join("t.tap"), &tape());
    let pmtd = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_pmtd")).args(args).output().unwrap();
    let (tap, aws, img) = (d.join("t.tap"), d.join("t.aws"), d.join("t.img"));
    let o = pmtd(&["convert", tap.to_str().unwrap(), aws.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with(&format!("{} (SIMH) -> {} (AWS): {} records, 7 tape marks, ", tap.display(), aws.display(), SIZES.len())),
        "{out}"
    );
    // No extension to go by: the format is asked for.
    let o = pmtd(&["convert", aws.to_str().unwrap(), img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let o = pmtd(&["convert", "--to", "tap", aws.to_str().unwrap(), img.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&img).unwrap(), std::fs::read(&tap).unwrap());
    let o = pmtd(&["convert", "--to", "tap", aws.to_str().unwrap(), img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists (--force replaces it)"));
}
