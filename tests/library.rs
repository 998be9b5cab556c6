//! A pmtd library served in-process: the real core's changer unit (its
//! SG_IO and CHIO paths) and tape units, their slaves served by pmtd's
//! library daemon on its own threads, as it serves /dev/pmcs<N> and
//! /dev/pmts<N>. What programs see: mtx's commands, CHIO, and the drives
//! through st (`mt status` ONLINE right after a move, "No medium found"
//! right after one out), the drive's SCSI identity against the library's.

use std::cell::RefCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pmt::abi::linux::{self, gmt, op};
use pmt::abi::linux_changer as lx;
use pmt::abi::linux_sg as sg;
use pmt::chg::ch::parse_element_status;
use pmt::chg::OpenMode;
use pmt::proto::scsi::sense;
use pmt::{Abi, ChangerUnit, Config, Errno, Host, HostArea, KernelBuf, OpenFlags, Sleep, Unit, Wait, WaitError};
use pmt_tests::{objects, record, LOCK, RO};
use pmtd::library::{daemon, Library, LibraryConfig};
use pmtd::transport::{SimSlave, SliceIn, SliceOut};

/// Where the host's pretend user memory starts.
const BASE: u64 = 0x1000_0000;

/// A library of 10 slots, 2 portals and 2 drives on in-process units.
struct Rack {
    changer: ChangerUnit,
    tapes: Vec<Unit>,
    lib: Mutex<Library>,
    stop: AtomicBool,
    dir: tempfile::TempDir,
}

/// A master's host: waits by watching the unit's condition while the
/// daemon threads answer; SG_IO's buffers live in `mem`.
struct H<'a> {
    cond: &'a dyn Fn(Wait) -> bool,
    mem: &'a RefCell<Vec<u8>>,
}

impl Host for H<'_> {
    fn wait(&mut self, what: Wait, _how: Sleep, _timeout: u32) -> Result<(), WaitError> {
        let until = Instant::now() + Duration::from_secs(30);
        while !(self.cond)(what) {
            if Instant::now() > until {
                return Err(WaitError::TimedOut);
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        Ok(())
    }
    fn wake_slave(&mut self) {}
    fn privileged(&self) -> bool {
        true
    }
    fn copyin_addr(&mut self, addr: u64, dst: &mut [u8]) -> pmt::Result<()> {
        let at = addr.checked_sub(BASE).ok_or(Errno::Fault)? as usize;
        dst.copy_from_slice(self.mem.borrow().get(at..at + dst.len()).ok_or(Errno::Fault)?);
        Ok(())
    }
    fn copyout_addr(&mut self, addr: u64, src: &[u8]) -> pmt::Result<()> {
        let at = addr.checked_sub(BASE).ok_or(Errno::Fault)? as usize;
        self.mem.borrow_mut().get_mut(at..at + src.len()).ok_or(Errno::Fault)?.copy_from_slice(src);
        Ok(())
    }
}

/// What an SG_IO came back with.
#[derive(Debug)]
struct SgOut {
    status: u8,
    sense: Option<(u8, u8, u8)>,
    data: Vec<u8>,
}

/// The program's side: master calls on the rack's units.
struct Prog<'a> {
    rack: &'a Rack,
    mem: RefCell<Vec<u8>>,
}

impl Prog<'_> {
    fn changer_ioctl(&self, cmd: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        let c = &self.rack.changer;
        let mut h = H { cond: &|w| c.cond(w), mem: &self.mem };
        c.ioctl(&mut h, u64::from(cmd), &mut KernelBuf(arg), false, OpenMode { write: true })
    }

    /// Runs `f` on tape master `n` with its host.
    fn tape<R>(&self, n: usize, f: impl FnOnce(&Unit, &mut H) -> R) -> R {
        let u = &self.rack.tapes[n];
        let cond = |w| u.cond(w);
        let mut h = H { cond: &cond, mem: &self.mem };
        f(u, &mut h)
    }

    /// SG_IO of `cdb` reading up to `len` bytes, on the changer (`None`)
    /// or tape master `n`.
    fn sg(&self, tape: Option<usize>, cdb: &[u8], len: u32) -> SgOut {
        self.mem.borrow_mut()[..cdb.len()].copy_from_slice(cdb);
        self.mem.borrow_mut()[0x100..0x100 + len as usize].fill(0);
        let mut h = vec![0u8; sg::SG_IO_HDR_SIZE];
        h[0..4].copy_from_slice(&i32::from(b'S').to_ne_bytes());
        h[4..8].copy_from_slice(&(if len > 0 { -3i32 } else { -1 }).to_ne_bytes());
        h[8] = cdb.len() as u8;
        h[9] = 32;
        h[12..16].copy_from_slice(&len.to_ne_bytes());
        h[16..24].copy_from_slice(&(BASE + 0x100).to_ne_bytes());
        h[24..32].copy_from_slice(&BASE.to_ne_bytes());
        h[32..40].copy_from_slice(&(BASE + 0x20_0000).to_ne_bytes());
        match tape {
            None => self.changer_ioctl(sg::SG_IO, &mut h).unwrap(),
            Some(n) => self.tape(n, |u, host| u.mioctl(host, u64::from(sg::SG_IO), &mut KernelBuf(&mut h), false)).unwrap(),
        };
        let resid = i32::from_ne_bytes(h[72..76].try_into().unwrap());
        let m = self.mem.borrow();
        SgOut {
            status: h[64],
            sense: (h[67] > 0).then(|| sense::decode(&m[0x20_0000..0x20_0000 + usize::from(h[67])]).unwrap()),
            data: m[0x100..0x100 + (len as i32 - resid) as usize].to_vec(),
        }
    }

    fn chio_move(&self, from: (i32, i32), to: (i32, i32)) -> Result<i32, Errno> {
        let mut a = [0u8; 20];
        for (i, v) in [from.0, from.1, to.0, to.1, 0].iter().enumerate() {
            a[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        self.changer_ioctl(lx::CHIOMOVE, &mut a)
    }

    fn open(&self, n: usize, flags: OpenFlags) -> Result<(), Errno> {
        self.tape(n, |u, h| u.mopen(h, flags))
    }

    fn close(&self, n: usize) -> Result<(), Errno> {
        let a = self.tape(n, |u, h| u.mflush(h));
        a.and(self.tape(n, |u, h| u.mrelease(h)))
    }

    fn write(&self, n: usize, data: &[u8]) -> Result<usize, Errno> {
        self.tape(n, |u, h| u.mwrite(h, &mut SliceIn(data), data.len()))
    }

    fn read(&self, n: usize, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        let k = self.tape(n, |u, h| u.mread(h, &mut SliceOut(&mut buf), len))?;
        buf.truncate(k);
        Ok(buf)
    }

    fn mt(&self, n: usize, op: i16, count: i32) -> Result<(), Errno> {
        let mut arg = [0u8; 8];
        arg[0..2].copy_from_slice(&op.to_ne_bytes());
        arg[4..8].copy_from_slice(&count.to_ne_bytes());
        self.tape(n, |u, h| u.mioctl(h, u64::from(linux::MTIOCTOP), &mut KernelBuf(&mut arg), false)).map(|_| ())
    }

    /// MTIOCGET's mt_gstat.
    fn gstat(&self, n: usize) -> u32 {
        let mut b = [0u8; 48];
        self.tape(n, |u, h| u.mioctl(h, u64::from(linux::MTIOCGET), &mut KernelBuf(&mut b), false)).unwrap();
        i64::from_ne_bytes(b[24..32].try_into().unwrap()) as u32
    }
}

const NB: OpenFlags = OpenFlags { read: true, write: false, nonblock: true, norewind: true };
const RW: OpenFlags = OpenFlags { read: true, write: true, nonblock: false, norewind: false };

fn config(dir: &Path) -> LibraryConfig {
    let t = "changer = \"/dev/pmcs0\"\nslots = 10\nimport-export = 2\ninventory = \"lib.inventory\"\n\
             [[drive]]\ndevice = \"/dev/pmts0\"\n[[drive]]\ndevice = \"/dev/pmts1\"\nserial = \"HU1234567\"\n\
             [[cartridges]]\nbarcodes = \"ABC%03dL6\"\ncount = 4\n";
    LibraryConfig::from_toml(t, dir, "lib").unwrap()
}

/// Runs `f` with a library served by its daemon's threads.
fn with_rack(f: impl FnOnce(&Prog)) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let changer = ChangerUnit::new(0, Abi::Linux, 60, LOCK).unwrap();
    changer.sopen().unwrap();
    let tapes: Vec<Unit> = (0..2).map(|n| Unit::new(n, Config::default(), Abi::Linux, LOCK, HostArea::NONE).unwrap()).collect();
    for t in &tapes {
        t.sopen().unwrap();
    }
    let lib = Mutex::new(Library::open(&cfg, None).unwrap());
    let rack = Rack { changer, tapes, lib, stop: AtomicBool::new(false), dir };
    std::thread::scope(|s| {
        let daemon = s.spawn(|| {
            let drives = rack.tapes.iter().map(SimSlave::new).collect();
            daemon::run(&rack.lib, SimSlave::new(&rack.changer), drives, None, &rack.stop, Duration::from_millis(2))
        });
        let prog = Prog { rack: &rack, mem: RefCell::new(vec![0u8; 0x20_0100]) };
        let r = catch_unwind(AssertUnwindSafe(|| f(&prog)));
        rack.stop.store(true, Ordering::Relaxed);
        daemon.join().unwrap().unwrap();
        if let Err(p) = r {
            resume_unwind(p);
        }
    });
}

#[test]
fn a_move_into_a_drive_is_loaded_before_it_is_answered() {
    with_rack(|p| {
        let mut params = [0u8; 20];
        p.changer_ioctl(lx::CHIOGPARAMS, &mut params).unwrap();
        let n: Vec<i32> = (0..5).map(|i| i32::from_ne_bytes(params[i * 4..i * 4 + 4].try_into().unwrap())).collect();
        assert_eq!(n[1..], [1, 10, 2, 2], "one picker, 10 slots, 2 portals, 2 drives");
        assert_eq!(p.open(0, RW), Err(Errno::NoMedium), "an empty drive: No medium found");
        p.chio_move((1, 0), (3, 0)).unwrap();
        // The very next command of the drive sees the tape.
        p.open(0, RW).unwrap();
        assert_ne!(p.gstat(0) & gmt::ONLINE, 0, "mt status: ONLINE");
        for i in 0..3 {
            assert_eq!(p.write(0, &record(i, 4096)), Ok(4096));
        }
        p.close(0).unwrap();
        // Nobody has it open: the library unloads it itself.
        p.chio_move((3, 0), (1, 5)).unwrap();
        assert_eq!(p.open(0, RW), Err(Errno::NoMedium), "the drive is empty again");
        assert_eq!(objects(&p.rack.dir.path().join("ABC001L6.tap")), vec![4096, 4096, 4096, 0]);
        // Into the other drive, read back.
        p.chio_move((1, 5), (3, 1)).unwrap();
        p.open(1, RO).unwrap();
        assert_eq!(p.read(1, 8192).unwrap(), record(0, 4096));
        p.close(1).unwrap();
        let inv = p.rack.lib.lock().unwrap().robot.inventory().clone();
        assert_eq!(inv.at(pmtd::library::Element::Drive(1)).unwrap().barcode, "ABC001L6");
        assert_eq!(inv.at(pmtd::library::Element::Drive(1)).unwrap().from, Some(pmtd::library::Element::Slot(5)));
    });
}

#[test]
fn mtx_over_sg_io() {
    with_rack(|p| {
        let mut v = [0u8; 4];
        p.changer_ioctl(sg::SG_GET_VERSION_NUM, &mut v).unwrap();
        assert!(i32::from_ne_bytes(v) >= 30000);
        let inq = p.sg(None, &[0x12, 0, 0, 0, 0x38, 0], 0x38);
        assert_eq!((inq.status, inq.data[0], inq.data[6] & 0x08), (0, 8, 0));
        let ms = p.sg(None, &[0x1a, 0x08, 0x1d, 0x00, 0x88, 0x00], 0x88);
        let e = pmt::chg::Elements::from_mode_sense(&ms.data).unwrap();
        assert_eq!((e.first, e.count), ([1, 1000, 10, 500], [1, 10, 2, 2]));
        // mtx's allocation: header, 4 pages, a descriptor per element.
        let alloc = 8 + 4 * 8 + 15 * 84;
        let res = |t: u8, start: u16, n: u16| {
            let (s, c) = (start.to_be_bytes(), n.to_be_bytes());
            let a = (alloc as u32).to_be_bytes();
            p.sg(None, &[0xb8, 0x10 | t, s[0], s[1], c[0], c[1], 0, a[1], a[2], a[3], 0, 0], alloc as u32)
        };
        let slots = parse_element_status(&res(2, 1000, 10).data, 100);
        assert_eq!(slots.iter().filter(|s| s.flags & 1 == 1).count(), 4);
        assert_eq!(&slots[3].pvoltag.unwrap()[..8], b"ABC004L6");
        // mtx load 2 1: slot 2 into drive 1.
        let mv = p.sg(None, &[0xa5, 0, 0, 1, 0x03, 0xe9, 0x01, 0xf5, 0, 0, 0, 0], 0);
        assert_eq!((mv.status, mv.sense), (0, None));
        let drives = parse_element_status(&res(4, 500, 2).data, 100);
        assert_eq!((drives[1].flags & 1, drives[1].source), (1, Some(1001)));
        assert_eq!(&drives[1].pvoltag.unwrap()[..8], b"ABC002L6");
        // Again: the slot is empty now (mtx: "source Element Address 1001 is Empty").
        let again = p.sg(None, &[0xa5, 0, 0, 1, 0x03, 0xe9, 0x01, 0xf4, 0, 0, 0, 0], 0);
        assert_eq!((again.status, again.sense), (2, Some((5, 0x3b, 0x0e))));
        let full = p.sg(None, &[0xa5, 0, 0, 1, 0x03, 0xe8, 0x01, 0xf5, 0, 0, 0, 0], 0);
        assert_eq!(full.sense, Some((5, 0x3b, 0x0d)));
        // mtx unload 2 1.
        let back = p.sg(None, &[0xa5, 0, 0, 1, 0x01, 0xf5, 0x03, 0xe9, 0, 0, 0, 0], 0);
        assert_eq!(back.status, 0);
        // A short allocation: the header counts the whole report.
        assert_eq!(res(0, 0, 100).data.len(), 8 + 4 * 8 + 15 * 48, "every element, no more than there is");
        let all = p.sg(None, &[0xb8, 0x10, 0, 0, 0, 100, 0, 0, 0, 16, 0, 0], 16);
        let whole = u32::from_be_bytes([0, all.data[5], all.data[6], all.data[7]]) as usize + 8;
        assert_eq!(whole, 8 + 4 * 8 + 15 * 48);
        // mtx lock: nothing to or from the import/export slots.
        assert_eq!(p.sg(None, &[0x1e, 0, 0, 0, 1, 0], 0).status, 0);
        assert_eq!(p.chio_move((1, 0), (2, 0)), Err(Errno::Io), "53/02: ch's EIO");
        assert_eq!(p.sg(None, &[0xa5, 0, 0, 1, 0x03, 0xe8, 0x00, 0x0a, 0, 0, 0, 0], 0).sense, Some((5, 0x53, 0x02)));
        assert_eq!(p.sg(None, &[0x1e, 0, 0, 0, 0, 0], 0).status, 0);
        p.chio_move((1, 0), (2, 0)).unwrap();
        assert_eq!(p.sg(None, &[0xd0, 0, 0, 0, 0, 0], 0).sense, Some((5, 0x20, 0)), "an unknown command");
    });
}

#[test]
fn a_drive_in_use_or_locked_keeps_its_tape() {
    with_rack(|p| {
        p.chio_move((1, 1), (3, 0)).unwrap();
        p.open(0, RW).unwrap();
        let busy = p.sg(None, &[0xa5, 0, 0, 1, 0x01, 0xf4, 0x03, 0xe9, 0, 0, 0, 0], 0);
        assert_eq!(busy.sense, Some((2, 0x04, 0x07)), "NOT READY: a program has it open");
        assert_eq!(p.chio_move((3, 0), (1, 1)), Err(Errno::Io));
        let st = parse_element_status(&p.sg(None, &[0xb8, 0x14, 0x01, 0xf4, 0, 1, 0, 0, 1, 0, 0, 0], 256).data, 1);
        assert_eq!(st[0].flags & 0x09, 0x01, "full, and the picker cannot reach it");
        p.mt(0, op::LOCK, 1).unwrap();
        p.close(0).unwrap();
        let locked = p.sg(None, &[0xa5, 0, 0, 1, 0x01, 0xf4, 0x03, 0xe9, 0, 0, 0, 0], 0);
        assert_eq!(locked.sense, Some((5, 0x53, 0x02)), "removal prevented on the drive");
        p.open(0, NB).unwrap();
        p.mt(0, op::UNLOCK, 1).unwrap();
        p.close(0).unwrap();
        p.chio_move((3, 0), (1, 1)).unwrap();
    });
}

#[test]
fn mt_offline_ejects_and_the_picker_takes_it() {
    with_rack(|p| {
        p.chio_move((1, 2), (3, 1)).unwrap();
        p.open(1, NB).unwrap();
        assert_ne!(p.gstat(1) & gmt::ONLINE, 0);
        p.mt(1, op::OFFL, 1).unwrap();
        let g = p.gstat(1);
        assert_eq!(g & gmt::ONLINE, 0, "no medium after mt offline");
        assert_ne!(g & gmt::DR_OPEN, 0);
        // Still in the drive element, and reachable although the program
        // holds the drive open: the tape is out.
        let st = parse_element_status(&p.sg(None, &[0xb8, 0x14, 0x01, 0xf5, 0, 1, 0, 0, 1, 0, 0, 0], 256).data, 1);
        assert_eq!((st[0].flags & 0x09, &st[0].pvoltag.unwrap()[..8]), (0x09, &b"ABC003L6"[..]));
        // mt load pulls it in again; offline once more; the picker takes it.
        p.mt(1, op::LOAD, 1).unwrap();
        assert_ne!(p.gstat(1) & gmt::ONLINE, 0);
        p.mt(1, op::OFFL, 1).unwrap();
        p.chio_move((3, 1), (1, 2)).unwrap();
        p.close(1).unwrap();
        assert_eq!(p.open(1, RW), Err(Errno::NoMedium));
    });
}

#[test]
fn the_drive_says_the_serial_the_library_reports() {
    with_rack(|p| {
        // READ ELEMENT STATUS of the drives with DVCID.
        let d = p.sg(None, &[0xb8, 0x04, 0x01, 0xf4, 0, 2, 0x01, 0, 1, 0, 0, 0], 256).data;
        let dlen = usize::from(u16::from_be_bytes([d[10], d[11]]));
        let serial = |i: usize| {
            let desc = &d[16 + i * dlen..16 + (i + 1) * dlen];
            String::from_utf8(desc[16..16 + usize::from(desc[15])].to_vec()).unwrap()
        };
        assert_eq!((serial(0), serial(1)), ("PMTD0000".to_string(), "HU1234567".to_string()));
        p.chio_move((1, 3), (3, 1)).unwrap();
        for (n, want) in [(0, "PMTD0000"), (1, "HU1234567")] {
            // sg_inq opens the tape master O_NONBLOCK.
            p.open(n, NB).unwrap();
            let std = p.sg(Some(n), &[0x12, 0, 0, 0, 96, 0], 96);
            assert_eq!((std.status, std.data[0], std.data[1]), (0, 1, 0x80), "a removable tape drive");
            let vpd = p.sg(Some(n), &[0x12, 1, 0x80, 0, 64, 0], 64);
            assert_eq!(String::from_utf8_lossy(&vpd.data[4..]), want);
            let id = p.sg(Some(n), &[0x12, 1, 0x83, 0, 255, 0], 255);
            assert!(String::from_utf8_lossy(&id.data).ends_with(want));
            let tur = p.sg(Some(n), &[0, 0, 0, 0, 0, 0], 0);
            let cap = p.sg(Some(n), &[0x4d, 0, 0x31, 0, 0, 0, 0, 0, 64, 0], 64);
            if n == 0 {
                assert_eq!(tur.sense, Some((2, 0x3a, 0)), "drive 0 is empty");
                assert_eq!(cap.sense, Some((2, 0x3a, 0)));
            } else {
                assert_eq!(tur.status, 0);
                assert_eq!((cap.data[0], cap.data[3]), (0x31, 32), "the tape capacity page");
            }
            let alerts = p.sg(Some(n), &[0x4d, 0, 0x2e, 0, 0, 0, 0, 0x04, 0, 0], 1024);
            assert_eq!(alerts.data.len(), 4 + 64 * 5, "64 TapeAlert flags");
            p.close(n).unwrap();
        }
    });
}

#[test]
fn chio_as_ch_users_see_it() {
    with_rack(|p| {
        let ints = |v: &[i32]| v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
        let int_at = |b: &[u8], at: usize| i32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        // CHIOGSTATUS: a status byte per slot.
        let mut ces = [0u8; 16];
        ces[0..4].copy_from_slice(&1i32.to_ne_bytes());
        ces[8..16].copy_from_slice(&(BASE + 0x100).to_ne_bytes());
        p.changer_ioctl(lx::CHIOGSTATUS, &mut ces).unwrap();
        assert_eq!(p.mem.borrow()[0x100..0x10a], [9, 9, 9, 9, 8, 8, 8, 8, 8, 8], "four full slots, all accessible");
        // CHIOEXCHANGE: slot 0 into drive 0 needs the drive full first.
        let mut x = ints(&[1, 1, 3, 0, 1, 1, 0]);
        assert_eq!(p.changer_ioctl(lx::CHIOEXCHANGE, &mut x), Err(Errno::BadE), "the drive is empty: 3B/0E");
        p.chio_move((1, 0), (3, 0)).unwrap();
        let mut x = ints(&[1, 1, 3, 0, 1, 1, 0]);
        p.changer_ioctl(lx::CHIOEXCHANGE, &mut x).unwrap();
        // CHIOGELEM of drive 0: ABC002L6, from slot 1 (unit 1).
        let mut ge = [0u8; 108];
        ge[0..8].copy_from_slice(&ints(&[3, 0]));
        p.changer_ioctl(lx::CHIOGELEM, &mut ge).unwrap();
        assert_eq!(int_at(&ge, 8) & 1, 1, "full");
        assert_eq!((int_at(&ge, 16), int_at(&ge, 20)), (1, 1), "from slot 1");
        assert_eq!(&ge[32..40], b"ABC002L6");
        p.open(0, NB).unwrap();
        assert_ne!(p.gstat(0) & gmt::ONLINE, 0, "the exchanged tape is loaded");
        p.close(0).unwrap();
        let mut pos = ints(&[1, 9, 0]);
        p.changer_ioctl(lx::CHIOPOSITION, &mut pos).unwrap();
        let mut pos = ints(&[1, 10, 0]);
        assert_eq!(p.changer_ioctl(lx::CHIOPOSITION, &mut pos), Err(Errno::BadSlt), "beyond the slots");
        p.changer_ioctl(lx::CHIOINITELEM, &mut []).unwrap();
        let mut tag = [0u8; 48];
        tag[0..8].copy_from_slice(&ints(&[1, 4]));
        tag[12..20].copy_from_slice(b"XYZ001L6");
        assert_eq!(p.changer_ioctl(lx::CHIOSVOLTAG, &mut tag), Err(Errno::BadRqc), "SEND VOLUME TAG is not supported: 20/00");
    });
}
