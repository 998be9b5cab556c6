//! The `tape:` medium against the real pmt core's st engine and a pmtd
//! drive, in process: [`SimDevice`] is an st device over a [`Sim`] master
//! (its no-rewind node), so every read, write and mtio call goes through the
//! same engine a program on /dev/npmtm<N> uses. With `blind`, the device
//! hides MTIOCGET and MTIOCPOS, as an rmt session does: the medium then runs
//! in its counted mode, the one a remote drive uses.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pmt::abi::linux::gmt;
use pmt::{Config, Errno, OpenFlags};
use pmt_tests::{objects, record, Sim};
use pmtd::media::device::{DeviceMedium, DeviceOptions, DeviceVolumes, MtStatus, StDevice, StOpener};
use pmtd::media::image::ImageOptions;
use pmtd::media::{Medium, MediumError, Object, Room, Stop, Volumes};

type Shared = Arc<Mutex<Sim>>;

fn lock(s: &Shared) -> MutexGuard<'_, Sim> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn ioerr(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.linux())
}

/// An st device over the simulated master.
struct SimDevice {
    sim: Shared,
    readonly: bool,
    blind: bool,
}

impl std::fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimDevice(blind: {})", self.blind)
    }
}

impl SimDevice {
    fn open(sim: &Shared, blind: bool, nonblock: bool) -> io::Result<SimDevice> {
        let s = lock(sim);
        let rw = OpenFlags { read: true, write: true, nonblock, norewind: true };
        let readonly = match s.open(rw) {
            Ok(()) => false,
            Err(Errno::RoFs) => {
                s.open(OpenFlags { write: false, ..rw }).map_err(ioerr)?;
                true
            }
            Err(e) => return Err(ioerr(e)),
        };
        Ok(SimDevice { sim: Arc::clone(sim), readonly, blind })
    }
}

impl StDevice for SimDevice {
    fn name(&self) -> String {
        "sim:npmtm0".into()
    }
    fn opened_readonly(&self) -> bool {
        self.readonly
    }
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        lock(&self.sim).write(data).map_err(ioerr)
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let v = lock(&self.sim).read(buf.len()).map_err(ioerr)?;
        buf[..v.len()].copy_from_slice(&v);
        Ok(v.len())
    }
    fn mtop(&mut self, op: i16, count: i32) -> io::Result<()> {
        lock(&self.sim).mt(op, count).map_err(ioerr)
    }
    fn mtget(&mut self) -> io::Result<MtStatus> {
        if self.blind {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "blind"));
        }
        let s = lock(&self.sim).status().map_err(ioerr)?;
        Ok(MtStatus { gstat: s.gstat, fileno: s.fileno, blkno: s.blkno, dsreg: s.dsreg })
    }
    fn mtpos(&mut self) -> io::Result<u64> {
        if self.blind {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "blind"));
        }
        let p = lock(&self.sim).tell().map_err(ioerr)?;
        u64::try_from(p).map_err(io::Error::other)
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        let _ = lock(&self.sim).close();
    }
}

struct SimOpener {
    sim: Shared,
    blind: bool,
}

impl std::fmt::Debug for SimOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimOpener(blind: {})", self.blind)
    }
}

impl StOpener for SimOpener {
    type Device = SimDevice;
    fn open(&mut self, probe: bool) -> io::Result<SimDevice> {
        SimDevice::open(&self.sim, self.blind, probe)
    }
    fn name(&self) -> String {
        "sim:npmtm0".into()
    }
}

fn opts() -> DeviceOptions {
    DeviceOptions { max_block: 256 * 1024, ..DeviceOptions::default() }
}

fn shared(volumes: &[&str], cfg: ImageOptions) -> Shared {
    Arc::new(Mutex::new(Sim::new(volumes, cfg, Config::default())))
}

fn mount(sim: &Shared, blind: bool) -> DeviceMedium<SimDevice> {
    DeviceMedium::mount(SimDevice::open(sim, blind, false).expect("open"), &opts()).expect("mount")
}

/// MTIOCPOS of the master, asked beside the medium.
fn tell(sim: &Shared) -> u64 {
    lock(sim).tell().expect("tell") as u64
}

fn check_pos(m: &DeviceMedium<SimDevice>, sim: &Shared, what: &str) {
    assert_eq!(m.position(), tell(sim), "{what}: the medium's position against MTIOCPOS");
}

/// The test tape: R0 R1 M2 R3 M4 M5 R6 R7 R8 M9, end of data at 10.
const LAYOUT: [Option<usize>; 10] = [Some(100), Some(2000), None, Some(3), None, None, Some(65536), Some(7), Some(1), None];

fn write_layout(m: &mut DeviceMedium<SimDevice>, sim: &Shared) {
    for (i, o) in LAYOUT.iter().enumerate() {
        let w = match o {
            Some(len) => m.write_record(&record(i, *len)).unwrap(),
            None => m.write_mark().unwrap(),
        };
        assert!(!w.early_warning);
        check_pos(m, sim, &format!("after writing object {i}"));
        assert_eq!(m.at_eod(), Some(true));
    }
}

fn read_back(m: &mut DeviceMedium<SimDevice>, sim: &Shared) {
    m.rewind().unwrap();
    check_pos(m, sim, "rewind");
    for (i, o) in LAYOUT.iter().enumerate() {
        let mut buf = Vec::new();
        let got = m.read(&mut buf, usize::MAX).unwrap();
        match o {
            Some(len) => {
                assert_eq!(got, Object::Record(*len), "object {i}");
                assert_eq!(buf, record(i, *len), "object {i}");
            }
            None => assert_eq!(got, Object::Mark, "object {i}"),
        }
        check_pos(m, sim, &format!("after reading object {i}"));
    }
    for _ in 0..3 {
        assert_eq!(m.read(&mut Vec::new(), usize::MAX).unwrap(), Object::Eod);
        assert_eq!(m.position(), 10);
        assert_eq!(m.at_eod(), Some(true));
    }
    check_pos(m, sim, "at the end of data");
}

fn layout_objects() -> Vec<u32> {
    LAYOUT.iter().map(|o| o.map_or(0, |n| n as u32)).collect()
}

#[test]
fn records_and_marks_round_trip_with_positions_equal_to_mtiocpos() {
    for blind in [false, true] {
        let sim = shared(&["t.tap"], ImageOptions::default());
        let mut m = mount(&sim, blind);
        assert_eq!(m.exact(), !blind);
        assert_eq!(m.room(), Room::UNKNOWN);
        write_layout(&mut m, &sim);
        read_back(&mut m, &sim);
        // Read again on a fresh mount: the counted mode learns the marks
        // by reading (two marks in a row, the end after a mark).
        drop(m);
        let mut m = mount(&sim, blind);
        read_back(&mut m, &sim);
        drop(m);
        assert_eq!(objects(&lock(&sim).image("t.tap")), layout_objects(), "blind {blind}");
    }
}

#[test]
fn a_short_caller_buffer_gets_the_head_and_the_true_length() {
    let sim = shared(&["t.tap"], ImageOptions::default());
    let mut m = mount(&sim, false);
    m.write_record(&record(1, 5000)).unwrap();
    m.rewind().unwrap();
    let mut buf = Vec::new();
    assert_eq!(m.read(&mut buf, 10).unwrap(), Object::Record(5000));
    assert_eq!(buf, record(1, 5000)[..10]);
}

/// (start, operation, expected result, expected position).
enum Op {
    Records(i64),
    Marks(i64),
    Eod,
    Locate(u64),
}

type Expect = (u64, Op, Result<(u64, Stop), ()>, u64);

fn cases() -> Vec<Expect> {
    use Op::*;
    vec![
        (0, Records(1), Ok((1, Stop::Done)), 1),
        (0, Records(5), Ok((2, Stop::Mark)), 3),
        (3, Records(5), Ok((1, Stop::Mark)), 5),
        (5, Records(1), Ok((0, Stop::Mark)), 6),
        (6, Records(2), Ok((2, Stop::Done)), 8),
        (6, Records(9), Ok((3, Stop::Mark)), 10),
        (9, Records(-2), Ok((2, Stop::Done)), 7),
        (9, Records(-5), Ok((3, Stop::Mark)), 5),
        (6, Records(-3), Ok((0, Stop::Mark)), 5),
        (2, Records(-5), Ok((2, Stop::Bot)), 0),
        (0, Records(-1), Ok((0, Stop::Bot)), 0),
        (0, Marks(2), Ok((2, Stop::Done)), 5),
        (5, Marks(3), Ok((2, Stop::Eod)), 10),
        (3, Marks(1), Ok((1, Stop::Done)), 5),
        (10, Marks(-1), Ok((1, Stop::Done)), 9),
        (6, Marks(-2), Ok((2, Stop::Done)), 4),
        (3, Marks(-2), Ok((1, Stop::Bot)), 0),
        (0, Eod, Ok((0, Stop::Done)), 10),
        (4, Locate(7), Ok((0, Stop::Done)), 7),
        (8, Locate(1), Ok((0, Stop::Done)), 1),
        (2, Locate(12), Ok((0, Stop::Eod)), 10),
    ]
}

fn run(m: &mut DeviceMedium<SimDevice>, op: &Op) -> Result<(u64, Stop), MediumError> {
    match op {
        Op::Records(n) => m.space_records(*n),
        Op::Marks(n) => m.space_marks(*n),
        Op::Eod => m.space_eod().map(|()| (0, Stop::Done)),
        Op::Locate(a) => m.locate(*a).map(|s| (0, s)),
    }
}

#[test]
fn spacing_and_locate_stop_where_scsi_says() {
    for blind in [false, true] {
        let sim = shared(&["t.tap"], ImageOptions::default());
        let mut held = Some(mount(&sim, blind));
        write_layout(held.as_mut().expect("mounted"), &sim);
        for (i, (start, op, want, pos)) in cases().into_iter().enumerate() {
            // Warm: the medium has seen the whole tape. Cold (counted mode
            // only): a fresh mount that has seen only up to `start`.
            for cold in [false, true] {
                if cold && !blind {
                    continue;
                }
                if cold {
                    drop(held.take());
                    held = Some(mount(&sim, blind));
                }
                let m = held.as_mut().expect("mounted");
                let what = format!("case {i} (blind {blind}, cold {cold})");
                assert_eq!(m.locate(start).unwrap(), Stop::Done, "{what}: locate {start}");
                check_pos(m, &sim, &format!("{what}: locate {start}"));
                let got = run(m, &op).map_err(|e| panic!("{what}: {e}"));
                assert_eq!(got, want, "{what}");
                assert_eq!(m.position(), pos, "{what}");
                check_pos(m, &sim, &what);
                // What is read there is the object of the layout.
                let mut buf = Vec::new();
                let o = m.read(&mut buf, usize::MAX).unwrap();
                let expect = match LAYOUT.get(pos as usize) {
                    Some(Some(n)) => Object::Record(*n),
                    Some(None) => Object::Mark,
                    None => Object::Eod,
                };
                assert_eq!(o, expect, "{what}: object read at {pos}");
            }
        }
        drop(held);
        assert_eq!(objects(&lock(&sim).image("t.tap")), layout_objects(), "spacing wrote nothing");
    }
}

#[test]
fn mark_at_bot_is_told_from_bot_when_spacing_back() {
    for blind in [false, true] {
        let sim = shared(&["t.tap"], ImageOptions::default());
        let mut m = mount(&sim, blind);
        m.write_mark().unwrap();
        m.write_record(&record(1, 10)).unwrap();
        m.write_record(&record(2, 10)).unwrap();
        assert_eq!(m.space_records(-5).unwrap(), (2, Stop::Mark), "blind {blind}");
        assert_eq!(m.position(), 0);
        check_pos(&m, &sim, "before the mark at BOT");
    }
}

#[test]
fn no_filemark_of_st_s_own_before_rewind_or_close() {
    for blind in [false, true] {
        let sim = shared(&["t.tap"], ImageOptions::default());
        let mut m = mount(&sim, blind);
        m.write_record(&record(0, 512)).unwrap();
        m.write_record(&record(1, 512)).unwrap();
        m.rewind().unwrap();
        m.space_records(2).unwrap();
        m.write_record(&record(2, 512)).unwrap();
        drop(m);
        assert_eq!(objects(&lock(&sim).image("t.tap")), vec![512, 512, 512], "blind {blind}");
    }
}

#[test]
fn writing_in_the_middle_cuts_the_rest_and_the_end_moves() {
    for blind in [false, true] {
        let sim = shared(&["t.tap"], ImageOptions::default());
        let mut m = mount(&sim, blind);
        write_layout(&mut m, &sim);
        m.locate(4).unwrap();
        m.write_record(&record(40, 40)).unwrap();
        m.write_mark().unwrap();
        assert_eq!(m.at_eod(), Some(true));
        m.rewind().unwrap();
        m.space_eod().unwrap();
        assert_eq!(m.position(), 6);
        check_pos(&m, &sim, "end of data after the cut");
        assert_eq!(m.space_marks(-1).unwrap(), (1, Stop::Done));
        assert_eq!(m.position(), 5);
        m.erase().unwrap();
        drop(m);
        assert_eq!(objects(&lock(&sim).image("t.tap")), vec![100, 2000, 0, 3, 40], "blind {blind}");
    }
}

/// Writes 10 KiB records until the medium refuses one; returns what each
/// write reported (true: early warning) and the room seen before each.
fn fill(m: &mut DeviceMedium<SimDevice>) -> (Vec<bool>, Vec<Room>) {
    let mut ew = Vec::new();
    let mut rooms = Vec::new();
    for i in 0..200 {
        rooms.push(m.room());
        match m.write_record(&record(i, 10240)) {
            Ok(w) => ew.push(w.early_warning),
            Err(MediumError::Overflow { .. }) => return (ew, rooms),
            Err(e) => panic!("write {i}: {e}"),
        }
    }
    panic!("no end of medium after 200 records");
}

#[test]
fn early_warning_alternation_becomes_written_early_warning_then_overflow() {
    for blind in [false, true] {
        let cfg = ImageOptions { capacity: Some(200 * 1024), early_warning: 50 * 1024, ..ImageOptions::default() };
        let sim = shared(&["ew.tap"], cfg);
        let mut m = mount(&sim, blind);
        let (ew, rooms) = fill(&mut m);
        let first = ew.iter().position(|&e| e).expect("early warning reported");
        assert!(ew[first..].iter().all(|&e| e), "sticky once past early warning: {ew:?}");
        assert!(rooms[..=first].iter().all(|r| *r == Room::UNKNOWN), "{rooms:?}");
        assert!(rooms[first + 1..].iter().all(|r| r.to_ew == Some(0)), "{rooms:?}");
        assert!(ew.len() - first >= 2, "records written in the zone: {ew:?}");
        if !blind {
            let st = lock(&sim).status().unwrap();
            assert_ne!(st.gstat & gmt::EOT, 0, "GMT_EOT after ENOSPC");
        }
        assert_eq!(m.room().to_ew, Some(0));
        // The closing filemark still fits, and is reported past early warning.
        assert!(m.write_mark().unwrap().early_warning);
        check_pos(&m, &sim, "after the closing mark");
        drop(m);
        let objs = objects(&lock(&sim).image("ew.tap"));
        assert_eq!(objs.len(), ew.len() + 1, "every acknowledged record is on the tape, no other");
        assert_eq!(objs.last(), Some(&0));
        for (i, len) in objs[..ew.len()].iter().enumerate() {
            assert_eq!(*len, 10240, "record {i}");
        }
    }
}

#[test]
fn physical_end_without_a_zone_is_overflow_at_once() {
    let cfg = ImageOptions { capacity: Some(100 * 1024), early_warning: 0, ..ImageOptions::default() };
    let sim = shared(&["full.tap"], cfg);
    let mut m = mount(&sim, false);
    let (ew, _) = fill(&mut m);
    // Without a zone no write succeeds past early warning: the first
    // refusal is the end (ENOSPC, then EIO from st on the retry).
    assert!(ew.iter().all(|&e| !e), "{ew:?}");
    assert_eq!(ew.len(), 9, "9 records of 10 KiB + 8 bytes fit in 100 KiB");
    assert!(m.write_mark().is_ok(), "the filemark fits in the reserve");
    drop(m);
    assert_eq!(objects(&lock(&sim).image("full.tap")).len(), 10);
}

#[test]
fn write_protected_medium_refuses_writes_and_reads() {
    let sim = shared(&["ro.tap"], ImageOptions::default());
    {
        let mut m = mount(&sim, false);
        m.write_record(&record(0, 100)).unwrap();
        m.write_mark().unwrap();
    }
    {
        let s = lock(&sim);
        s.kill_daemon();
        s.start_daemon(&["ro.tap"], ImageOptions { read_only: true, ..ImageOptions::default() });
    }
    for blind in [false, true] {
        let mut m = mount(&sim, blind);
        assert!(m.readonly());
        assert!(matches!(m.write_record(b"x"), Err(MediumError::Protected { .. })));
        assert!(matches!(m.write_mark(), Err(MediumError::Protected { .. })));
        assert!(matches!(m.erase(), Err(MediumError::Protected { .. })));
        m.rewind().unwrap();
        let mut buf = Vec::new();
        assert_eq!(m.read(&mut buf, usize::MAX).unwrap(), Object::Record(100));
        assert_eq!(buf, record(0, 100));
    }
    assert_eq!(objects(&lock(&sim).image("ro.tap")), vec![100, 0]);
}

#[test]
fn a_dead_daemon_is_an_immediate_io_error() {
    for blind in [false, true] {
        let sim = shared(&["d.tap"], ImageOptions::default());
        let mut m = mount(&sim, blind);
        for i in 0..5 {
            m.write_record(&record(i, 4096)).unwrap();
        }
        lock(&sim).kill_daemon();
        let t = Instant::now();
        let e = m.write_record(&record(9, 4096)).unwrap_err();
        assert!(matches!(e, MediumError::Io { .. }), "blind {blind}: {e}");
        assert!(e.to_string().starts_with("sim:npmtm0: "), "{e}");
        // Everything after fails too, at once: an I/O error, or the
        // position the failed write left unknown.
        let lost_or_io = |r: Result<(), MediumError>| {
            matches!(r, Err(MediumError::Io { .. }) | Err(MediumError::PositionLost { .. }))
        };
        assert!(lost_or_io(m.write_mark().map(drop)), "blind {blind}");
        assert!(lost_or_io(m.space_records(-1).map(drop)));
        assert!(lost_or_io(m.read(&mut Vec::new(), 10).map(drop)));
        assert!(matches!(m.rewind(), Err(MediumError::Io { .. })), "rewind finds the device gone");
        assert!(lost_or_io(m.sync()));
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(m);
    }
}

#[test]
fn read_buffer_is_learned_down_when_the_drive_refuses_large_reads() {
    let dcfg = pmtd::drive::DriveConfig { max_block: 64 * 1024, ..pmtd::drive::DriveConfig::default() };
    let sim: Shared = Arc::new(Mutex::new(Sim::with_volumes(
        |d| pmt_tests::magazine(d, &["b.tap"], ImageOptions::default()),
        dcfg,
        Config::default(),
        pmt::Abi::Linux,
    )));
    let dev = SimDevice::open(&sim, false, false).unwrap();
    let mut m = DeviceMedium::mount(dev, &DeviceOptions { max_block: 1 << 20, ..DeviceOptions::default() }).unwrap();
    m.write_record(&record(0, 65536)).unwrap();
    m.write_record(&record(1, 10)).unwrap();
    m.rewind().unwrap();
    let mut buf = Vec::new();
    assert_eq!(m.read(&mut buf, usize::MAX).unwrap(), Object::Record(65536));
    assert_eq!(buf, record(0, 65536));
    assert_eq!(m.max_block(), 64 * 1024);
    check_pos(&m, &sim, "after the learned read");
}

#[test]
fn changer_unloads_with_offline_and_waits_for_the_next_medium() {
    let sim = shared(&["v1.tap", "v2.tap"], ImageOptions::default());
    let topts = DeviceOptions { load_timeout: Duration::from_millis(300), poll: Duration::from_millis(50), ..opts() };
    let mut ch = DeviceVolumes::new(SimOpener { sim: Arc::clone(&sim), blind: false }, topts);
    assert_eq!(ch.volume(), None);
    let mut v1 = ch.load_next().unwrap().expect("volume 1");
    assert_eq!(ch.volume(), Some(1));
    v1.write_record(&record(1, 300)).unwrap();
    v1.write_mark().unwrap();
    ch.unload(v1).unwrap();
    let mut v2 = ch.load_next().unwrap().expect("volume 2");
    assert_eq!(v2.position(), 0);
    assert_eq!(v2.read(&mut Vec::new(), 10).unwrap(), Object::Eod, "a fresh volume");
    v2.write_record(&record(2, 200)).unwrap();
    ch.unload(v2).unwrap();
    assert_eq!(objects(&lock(&sim).image("v1.tap")), vec![300, 0]);
    assert_eq!(objects(&lock(&sim).image("v2.tap")), vec![200], "no filemark added by st at unload");
    // The magazine is empty: the wait is bounded and says why.
    let t = Instant::now();
    let e = ch.load_next().unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(3));
    let msg = e.to_string();
    assert!(msg.contains("no medium within"), "{msg}");
    assert!(msg.starts_with("sim:npmtm0: "), "{msg}");
}

/// A mirror of a tape device whose early-warning zone is much smaller than
/// the driver's window, and an image: the program writes 10 KiB records
/// until ENOSPC through a unit with a 4 MiB window. The device does not say
/// how far its early warning is, so what the driver holds unanswered must
/// stay within the zone the spec declares: nothing in flight may meet the
/// device's physical end (EIO for the program, the end of the archive lost
/// on every copy).
#[test]
fn a_mirror_never_sends_a_member_more_than_its_zone_holds() {
    use pmt_tests::magazine;
    use pmtd::drive::DriveConfig;
    use pmtd::media::boxed;
    use pmtd::media::mirror::MirrorVolumes;

    let zone = 128 * 1024;
    let inner = shared(&["t1.tap"], ImageOptions { capacity: Some(1 << 20), early_warning: zone, ..ImageOptions::default() });
    let dopts = DeviceOptions { early_warning: zone, ..opts() };
    let make = |dir: &std::path::Path| {
        let tape = boxed(DeviceVolumes::new(SimOpener { sim: Arc::clone(&inner), blind: false }, dopts.clone()));
        let image = magazine(dir, &["m1.tap"], ImageOptions::default());
        boxed(MirrorVolumes::new(vec![tape, image], false).expect("mirror"))
    };
    let ucfg = Config { window: 4 << 20, ..Config::default() };
    let outer = Sim::with_volumes(make, DriveConfig::default(), ucfg, pmt::Abi::Linux);
    outer.open(OpenFlags { read: true, write: true, nonblock: false, norewind: true }).unwrap();
    let mut acked = 0;
    let mut n = 0;
    loop {
        match outer.write(&record(n, 10240)) {
            Ok(_) => acked += 1,
            Err(Errno::NoSpc) => break,
            Err(e) => panic!("record {n}: {e:?} after {acked} records acknowledged"),
        }
        n += 1;
        assert!(n < 1000, "no end of medium");
    }
    // A trailer after early warning, as programs write, and the close.
    outer.write(&record(n, 10240)).expect("the trailer after ENOSPC");
    acked += 1;
    outer.close().expect("close");
    let on_tape = objects(&lock(&inner).image("t1.tap")).iter().filter(|l| **l != 0).count();
    let on_image = objects(&outer.image("m1.tap")).iter().filter(|l| **l != 0).count();
    assert_eq!((on_tape, on_image), (acked, acked), "every acknowledged record on both copies");
    assert!(acked * 10240 > (1 << 20) - 2 * zone as usize, "the volume was used up to its early warning: {acked}");
}
