//! The rmt client against real servers run as local processes: Debian's
//! rmt-dump and rmt-tar for the remote SIMH image, and `fake-rmt` (an rmt
//! server over the real core's st engine and a pmtd drive, tests/fake_rmt.rs)
//! for the remote drive, which needs a tape device the host does not have.
//! The remote shell is tests/rsh-local, which runs the command here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pmt::abi::linux::op;
use pmt_tests::record;
use pmtd::media::device::rmt::connect_drive;
use pmtd::media::device::{DeviceMedium, RmtDevice, RmtDriveVolumes};
use pmtd::media::image::{ImageOptions, RemoteImage};
use pmtd::media::{Medium, MediumError, Object, Room, Stop, Volumes};
use pmtd::spec::{MediumSpec, RmtSpec, RmtTapSpec, Spec};

const RSH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rsh-local");
const SILENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/silent-rmt");
const FAKE: &str = env!("CARGO_BIN_EXE_fake-rmt");
const SERVERS: [&str; 2] = ["/usr/sbin/rmt-dump", "/usr/sbin/rmt-tar"];

fn servers() -> [&'static str; 2] {
    for s in SERVERS {
        assert!(Path::new(s).exists(), "{s} is missing: scripts/deps installs the packages dump and tar");
    }
    SERVERS
}

/// An `rmt-tap:` spec for `path` on `server`, with a timeout of 20 s
/// unless `extra` gives one (a spec names each option once).
fn tap_spec(server: &str, path: &Path, extra: &str) -> RmtTapSpec {
    let timeout = if extra.contains("timeout=") { "" } else { ",timeout=20" };
    let s = format!("rmt-tap:tester@localhost:{},rsh={RSH},rmt={server}{timeout}{extra}", path.display());
    match parse(&s) {
        Ok(MediumSpec::RmtTap(t)) => t,
        other => panic!("{s}: {other:?}"),
    }
}

fn drive_spec(dir: &Path, server_args: &str, extra: &str) -> RmtSpec {
    let s = format!(
        "rmt:localhost:/dev/nst0,rsh={RSH},rmt={FAKE} --dir {} {server_args},max-block=256K,timeout=20{extra}",
        dir.display()
    );
    match parse(&s) {
        Ok(MediumSpec::Rmt(r)) => r,
        other => panic!("{s}: {other:?}"),
    }
}

fn parse(spec: &str) -> Result<MediumSpec, pmtd::spec::SpecError> {
    Spec::parse(spec, &ImageOptions::default()).map(|s| s.medium)
}

/// The remote image `path` of `spec`'s server.
fn open_remote(spec: &RmtTapSpec, path: &str) -> Result<RemoteImage, MediumError> {
    RemoteImage::open(&spec.remote, path, &spec.opts).map(|(m, _)| m)
}

fn open_image(server: &str, path: &Path) -> RemoteImage {
    open_remote(&tap_spec(server, path, ""), &path.to_string_lossy()).expect("open the remote image")
}

/// Lengths of the objects of a local image file (0: a mark), by pmtd's own
/// scanner in its strict mode (`pmtd verify`).
fn verified(path: &Path) -> Vec<u32> {
    let s = pmtd::inspect::scan_file(path, true).expect("scan");
    assert!(s.problems.is_empty(), "{}: {:?}", path.display(), s.problems);
    s.objs.iter().map(|o| o.len).collect()
}

fn read_all(m: &mut impl Medium) -> Vec<(u32, Vec<u8>)> {
    let mut v = Vec::new();
    loop {
        let mut buf = Vec::new();
        match m.read(&mut buf, usize::MAX).expect("read") {
            Object::Record(n) => {
                assert_eq!(n, buf.len());
                v.push((n as u32, buf));
            }
            Object::Mark => v.push((0, Vec::new())),
            Object::Eod => return v,
            Object::Bad => panic!("a bad record"),
        }
        assert!(v.len() < 10_000);
    }
}

/// Files of 3, 1 and 2 records (odd and even lengths, one larger than a
/// pipe buffer), each closed by a mark.
const FILES: [&[usize]; 3] = [&[10240, 1, 513], &[200_000], &[7, 4096]];

fn expected(files: &[&[usize]]) -> Vec<(u32, Vec<u8>)> {
    let mut v = Vec::new();
    let mut i = 0;
    for f in files {
        for &len in *f {
            v.push((len as u32, record(i, len)));
            i += 1;
        }
        v.push((0, Vec::new()));
    }
    v
}

fn write_files(m: &mut impl Medium, files: &[&[usize]]) {
    let mut i = 0;
    for f in files {
        for &len in *f {
            assert!(!m.write_record(&record(i, len)).unwrap().early_warning);
            i += 1;
        }
        m.write_mark().unwrap();
    }
}

fn lens(v: &[(u32, Vec<u8>)]) -> Vec<u32> {
    v.iter().map(|o| o.0).collect()
}

#[test]
fn remote_image_round_trip_spacing_overwrite_and_reload_on_both_servers() {
    for server in servers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vol1.tap");
        let mut m = open_image(server, &path);
        assert!(!m.readonly());
        assert_eq!(m.at_eod(), Some(true));
        assert_eq!(m.room(), Room::UNKNOWN);
        write_files(&mut m, &FILES);
        assert_eq!(m.position(), 9);
        m.rewind().unwrap();
        let want = expected(&FILES);
        assert_eq!(read_all(&mut m), want, "{server}");
        assert_eq!(m.read(&mut Vec::new(), 1).unwrap(), Object::Eod);

        // Spacing and locate work on the index.
        m.rewind().unwrap();
        assert_eq!(m.space_marks(2).unwrap(), (2, Stop::Done));
        assert_eq!(m.position(), 6);
        let mut buf = Vec::new();
        assert_eq!(m.read(&mut buf, usize::MAX).unwrap(), Object::Record(7));
        assert_eq!(buf, record(4, 7));
        assert_eq!(m.space_records(5).unwrap(), (1, Stop::Mark));
        assert_eq!(m.position(), 9);
        assert_eq!(m.space_records(-3).unwrap(), (0, Stop::Mark));
        assert_eq!(m.position(), 8);
        assert_eq!(m.space_records(-5).unwrap(), (2, Stop::Mark));
        assert_eq!(m.position(), 5);
        assert_eq!(m.space_marks(-5).unwrap(), (1, Stop::Bot));
        assert_eq!(m.position(), 0);
        assert_eq!(m.locate(4).unwrap(), Stop::Done);
        buf.clear();
        assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Record(200_000));
        assert_eq!(buf, record(3, 200_000)[..100]);
        assert_eq!(m.locate(50).unwrap(), Stop::Eod);
        assert_eq!(m.position(), 9);
        m.space_eod().unwrap();
        assert_eq!(m.space_marks(1).unwrap(), (0, Stop::Eod));

        // Overwrite file 1: everything after it is cut.
        m.locate(4).unwrap();
        m.write_record(&record(77, 999)).unwrap();
        m.write_mark().unwrap();
        assert_eq!(m.at_eod(), Some(true));
        m.rewind().unwrap();
        let mut cut = want[..4].to_vec();
        cut.push((999, record(77, 999)));
        cut.push((0, Vec::new()));
        assert_eq!(read_all(&mut m), cut, "{server}: after the overwrite");
        m.close().unwrap();
        drop(m);
        // The file still holds stale bytes after an end-of-medium marker;
        // pmtd's scanner (as `pmtd verify`) stops there and accepts it.
        assert_eq!(verified(&path), lens(&cut));
        let scan = pmtd::inspect::scan_file(&path, true).unwrap();
        assert!(scan.eom_marker && scan.file_len > scan.end + 4, "{server}: the cut left a marker");

        // Reload through a new session: the same tape.
        let mut m = open_image(server, &path);
        assert_eq!(read_all(&mut m), cut, "{server}: after the reload");
        // Appending at the end, after the marker was read: still one tape.
        m.write_record(&record(78, 12)).unwrap();
        m.rewind().unwrap();
        let mut more = cut.clone();
        more.push((12, record(78, 12)));
        assert_eq!(read_all(&mut m), more);
        drop(m);
        assert_eq!(verified(&path), lens(&more));

        // Writing from BOT makes a fresh image (O_TRUNC): no stale bytes.
        let mut m = open_image(server, &path);
        m.write_record(&record(90, 33)).unwrap();
        m.write_mark().unwrap();
        drop(m);
        assert_eq!(verified(&path), vec![33, 0]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8 + 34 + 4, "{server}");
    }
}

/// Writes 10 KiB records until the medium refuses one at its end; returns
/// the early-warning flag of each record written.
fn fill_to_overflow(m: &mut impl Medium) -> Vec<bool> {
    let mut ew = Vec::new();
    loop {
        match m.write_record(&record(ew.len(), 10240)) {
            Ok(w) => ew.push(w.early_warning),
            Err(MediumError::Overflow { .. }) => return ew,
            Err(e) => panic!("{e}"),
        }
        assert!(ew.len() < 100);
    }
}

#[test]
fn remote_image_capacity_early_warning_and_overflow() {
    for server in servers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.tap");
        let spec = tap_spec(server, &path, ",capacity=100K,early-warning=30K");
        let mut m = open_remote(&spec, &path.to_string_lossy()).unwrap();
        assert_eq!(m.room(), Room { to_ew: Some(70 * 1024), to_end: Some(100 * 1024) });
        let ew = fill_to_overflow(&mut m);
        // 10248 bytes a record: 6 fit before 70 KiB, 9 in 100 KiB.
        assert_eq!(ew, vec![false, false, false, false, false, false, true, true, true], "{server}");
        assert!(m.write_mark().unwrap().early_warning, "the closing mark fits in the reserve");
        assert_eq!(m.room().to_end, Some(100 * 1024 - 9 * 10248 - 4));
        drop(m);
        assert_eq!(verified(&path).len(), 10);
        assert!(std::fs::metadata(&path).unwrap().len() <= 100 * 1024 + 64);
    }
}

#[test]
fn remote_image_magazine_walks_the_pattern() {
    let server = servers()[1];
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("vol%d.tap");
    let spec = tap_spec(server, &pattern, ",volumes=2");
    let mut ch = spec.magazine();
    assert!(ch.has_next());
    for v in 1..=2usize {
        let mut m = ch.load_next().unwrap().expect("a volume");
        assert_eq!(ch.volume(), Some(v));
        m.write_record(&record(v, 100 * v)).unwrap();
        m.write_mark().unwrap();
        ch.unload(m).unwrap();
    }
    assert!(!ch.has_next());
    assert!(ch.load_next().unwrap().is_none());
    assert_eq!(verified(&dir.path().join("vol1.tap")), vec![100, 0]);
    assert_eq!(verified(&dir.path().join("vol2.tap")), vec![200, 0]);
}

#[test]
fn remote_image_read_only_refuses_writes() {
    let server = servers()[0];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.tap");
    {
        let mut m = open_image(server, &path);
        write_files(&mut m, &FILES[..1]);
    }
    let spec = tap_spec(server, &path, ",read-only");
    let mut m = open_remote(&spec, &path.to_string_lossy()).unwrap();
    assert!(m.readonly());
    assert!(matches!(m.write_record(b"x"), Err(MediumError::Protected { .. })));
    assert!(matches!(m.erase(), Err(MediumError::Protected { .. })));
    assert_eq!(read_all(&mut m), expected(&FILES[..1]));
}

fn kill(pid: u32) {
    let ok = Command::new("kill").arg("-9").arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill {pid}");
}

#[test]
fn a_killed_server_fails_the_next_operation_promptly_and_every_later_one() {
    for server in servers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.tap");
        let mut m = open_image(server, &path);
        m.write_record(&record(0, 4096)).unwrap();
        kill(m.store().connection().pid());
        let t = Instant::now();
        let e = m.write_record(&record(1, 4096)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{server}: {:?}", t.elapsed());
        let msg = e.to_string();
        assert!(msg.contains("closed") || msg.contains("Broken pipe"), "{server}: {msg}");
        assert!(msg.starts_with(&format!("tester@localhost:{}: ", path.display())), "{msg}");
        let t = Instant::now();
        m.rewind().unwrap(); // the index alone
        assert!(m.read(&mut Vec::new(), 10).is_err());
        assert!(m.write_mark().is_err());
        assert!(m.sync().is_err());
        assert!(t.elapsed() < Duration::from_millis(500));
    }
}

#[test]
fn a_silent_server_is_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.tap");
    let spec = tap_spec(SILENT, &path, ",timeout=0.5");
    let t = Instant::now();
    let e = open_remote(&spec, &path.to_string_lossy()).unwrap_err();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(450) && took < Duration::from_secs(3), "{took:?}");
    assert!(e.to_string().contains("no answer from the rmt server within 500ms"), "{e}");
}

#[test]
fn bad_remote_paths_and_shells_name_the_path_and_the_cause_once() {
    let server = servers()[0];
    let path = PathBuf::from("/nonexistent-dir/v.tap");
    let e = open_remote(&tap_spec(server, &path, ""), "/nonexistent-dir/v.tap").unwrap_err();
    let msg = e.to_string();
    assert_eq!(msg, "tester@localhost:/nonexistent-dir/v.tap: No such file or directory (os error 2)");
    let spec = parse("rmt-tap:h:/x.tap,rsh=/nonexistent/rsh").unwrap();
    let MediumSpec::RmtTap(spec) = spec else { panic!() };
    let e = open_remote(&spec, "/x.tap").unwrap_err().to_string();
    assert!(e.starts_with("h:/x.tap: starting the remote shell \"/nonexistent/rsh\": "), "{e}");
    assert_eq!(e.matches("No such file").count(), 1, "{e}");
}

// ----- the remote drive, against fake-rmt ------------------------------------

fn requests(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("requests.log")).unwrap_or_default().lines().map(str::to_owned).collect()
}

fn drive(dir: &Path, args: &str) -> DeviceMedium<RmtDevice> {
    let spec = drive_spec(dir, args, "");
    connect_drive(&spec.remote, &spec.opts).expect("connect the remote drive")
}

#[test]
fn remote_drive_round_trip_positions_and_only_common_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = drive(dir.path(), "");
    assert!(!m.exact(), "no MTIOCPOS over rmt");
    write_files(&mut m, &FILES);
    m.rewind().unwrap();
    let want = expected(&FILES);
    assert_eq!(read_all(&mut m), want);
    // Positions, checked by what is read where the medium says it is.
    m.rewind().unwrap();
    assert_eq!(m.space_marks(2).unwrap(), (2, Stop::Done));
    assert_eq!(m.position(), 6);
    assert_eq!(m.read(&mut Vec::new(), 0).unwrap(), Object::Record(7));
    assert_eq!(m.space_records(-5).unwrap(), (1, Stop::Mark));
    assert_eq!(m.position(), 5);
    assert_eq!(m.read(&mut Vec::new(), 0).unwrap(), Object::Mark);
    assert_eq!(m.locate(1).unwrap(), Stop::Done);
    assert_eq!(m.read(&mut Vec::new(), 0).unwrap(), Object::Record(1));
    m.space_eod().unwrap();
    assert_eq!(m.position(), 9);
    assert_eq!(m.read(&mut Vec::new(), 0).unwrap(), Object::Eod);
    drop(m);

    // A new session (positions counted again from BOT) reads it all.
    let mut m = drive(dir.path(), "");
    assert_eq!(m.space_marks(3).unwrap(), (3, Stop::Done));
    assert_eq!(m.read(&mut Vec::new(), 0).unwrap(), Object::Eod, "end of data after the last mark");
    assert_eq!(m.space_records(-1).unwrap(), (0, Stop::Mark));
    assert_eq!(m.position(), 8);
    m.rewind().unwrap();
    assert_eq!(read_all(&mut m), want);
    drop(m);
    assert_eq!(verified(&dir.path().join("drive.tap")), lens(&want), "no filemark of st's own");

    let log = requests(dir.path());
    assert_eq!(log.first().map(String::as_str), Some("O /dev/nst0 O_RDWR"));
    assert_eq!(log.get(1).map(String::as_str), Some(format!("I {} 0", op::SETBLK).as_str()), "variable block mode first");
    assert_eq!(log.get(2).map(String::as_str), Some(format!("I {} 1", op::REW).as_str()), "then a rewind: positions count from BOT");
    for l in &log {
        let c = l.chars().next().unwrap_or(' ');
        assert!("OCRWI".contains(c), "a request outside O, C, R, W, I: {l}");
        assert!(!l.starts_with("I -1"), "no version probe on a drive: {l}");
    }
    assert!(log.iter().any(|l| *l == format!("I {} 1", op::WEOF)), "filemarks are I5 (MTWEOF)");
    assert!(log.iter().any(|l| l.starts_with("R 262144")), "reads with the whole buffer");
}

#[test]
fn remote_drive_early_warning_as_e28_then_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = drive(dir.path(), "--capacity 204800 --early-warning 51200");
    let ew = fill_to_overflow(&mut m);
    let first = ew.iter().position(|&e| e).expect("early warning");
    assert!(ew[first..].iter().all(|&e| e));
    assert!(ew.len() - first >= 2, "{ew:?}");
    assert_eq!(m.room().to_ew, Some(0));
    assert!(m.write_mark().unwrap().early_warning);
    drop(m);
    let objs = verified(&dir.path().join("drive.tap"));
    assert_eq!(objs.len(), ew.len() + 1);
    assert!(requests(dir.path()).iter().filter(|l| l.starts_with('W')).count() > ew.len(), "refused writes retried");
}

#[test]
fn remote_drive_changer_offlines_and_reconnects_for_the_next_volume() {
    let dir = tempfile::tempdir().unwrap();
    let spec = drive_spec(dir.path(), "--volume v1.tap --volume v2.tap", ",load-timeout=1");
    let mut ch = RmtDriveVolumes::remote(spec.remote, spec.opts);
    for v in 1..=2usize {
        let mut m = ch.load_next().unwrap().expect("a volume");
        assert_eq!(ch.volume(), Some(v));
        assert_eq!(m.read(&mut Vec::new(), 0).unwrap(), Object::Eod, "volume {v} is blank");
        m.write_record(&record(v, 50 * v)).unwrap();
        m.write_mark().unwrap();
        ch.unload(m).unwrap();
    }
    // No third volume: the wait for a medium ends with a clear error.
    let t = Instant::now();
    let e = ch.load_next().unwrap_err().to_string();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(e.contains("no medium within 1s"), "{e}");
    assert_eq!(verified(&dir.path().join("v1.tap")), vec![50, 0]);
    assert_eq!(verified(&dir.path().join("v2.tap")), vec![100, 0]);
    let log = requests(dir.path());
    assert_eq!(log.iter().filter(|l| **l == format!("I {} 1", op::OFFL)).count(), 2, "MTOFFL per unload: {log:?}");
}

#[test]
fn remote_drive_connection_cut_fails_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = drive(dir.path(), "");
    m.write_record(&record(0, 1000)).unwrap();
    kill(m.device().connection().pid());
    let t = Instant::now();
    assert!(matches!(m.write_record(&record(1, 1000)), Err(MediumError::Io { .. })));
    assert!(matches!(m.rewind(), Err(MediumError::Io { .. })));
    assert!(m.read(&mut Vec::new(), 10).is_err());
    assert!(t.elapsed() < Duration::from_secs(2));
}
