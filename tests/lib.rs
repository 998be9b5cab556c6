//! Host integration tests of the pmt core and the pmtd drive, with no
//! kernel: [`Sim`] plays the OS glue. A master system call runs the core's
//! engine; when the engine waits, the simulated daemon reads the queued
//! requests from the slave side (pmtd's [`SimSlave`]), runs them on a pmtd
//! [`Drive`] and writes the replies back, exactly as pmtd does through
//! /dev/pmts<N>. The daemon runs only when the master waits, so write-behind
//! fills its window.

pub mod model;

/// Every test binary linking this crate runs the core under the lock
/// checker: memory allocated or freed inside the channel lock (where the
/// kernel has preemption off) aborts the run.
#[global_allocator]
static ALLOC: pmt_lockcheck::Checked = pmt_lockcheck::Checked;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use pmt::abi::linux;
use pmt::{Abi, Config, Errno, Host, HostArea, HostLock, KernelBuf, OpenFlags, Sleep, Unit, Wait, WaitError};

/// The channel lock of the units under test: the lock checker's marks.
pub const LOCK: HostLock = HostLock::new(pmt_lockcheck::enter, pmt_lockcheck::exit, 0);
use pmtd::area::Area;
use pmtd::drive::{Drive, DriveConfig};
use pmtd::media::magazine::Magazine;
use pmtd::media::image::ImageOptions;
use pmtd::media::{boxed, DynVolumes};
use pmtd::serve::{self, Received};
use pmtd::transport::{SimSlave, SliceIn as In, SliceOut as Out};

/// A unit with a simulated daemon.
pub struct Sim {
    /// The core unit.
    pub unit: Unit,
    /// The daemon's drive; None while no daemon holds the slave.
    pub drive: RefCell<Option<Drive<DynVolumes>>>,
    buf: RefCell<Vec<u8>>,
    out: RefCell<Vec<u8>>,
    /// Batches the daemon processed.
    pub batches: RefCell<usize>,
    /// The most payload bytes the channel held at a wait.
    pub max_held: RefCell<usize>,
    /// Temporary directory holding the images.
    pub dir: tempfile::TempDir,
    /// The daemon's side of the unit's data area (Linux units).
    area: RefCell<Option<Area>>,
    window: usize,
}

/// `struct mtget`, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MtGet {
    /// mt_type.
    pub mt_type: i64,
    /// mt_dsreg.
    pub dsreg: i64,
    /// mt_gstat.
    pub gstat: u32,
    /// mt_fileno.
    pub fileno: i32,
    /// mt_blkno.
    pub blkno: i32,
}

struct SimHost<'a> {
    sim: &'a Sim,
}

impl Host for SimHost<'_> {
    fn wait(&mut self, what: Wait, _how: Sleep, _timeout: u32) -> Result<(), WaitError> {
        loop {
            if self.sim.unit.cond(what) {
                return Ok(());
            }
            if !self.sim.pump() {
                // Nobody will ever answer: a real master would sleep forever.
                return Err(WaitError::TimedOut);
            }
        }
    }
    fn wake_slave(&mut self) {}
    fn privileged(&self) -> bool {
        true
    }
}

/// Master open flags for reading and writing.
pub const RW: OpenFlags = OpenFlags { read: true, write: true, nonblock: false, norewind: false };
/// The no-rewind node, read and write.
pub const NRW: OpenFlags = OpenFlags { read: true, write: true, nonblock: false, norewind: true };
/// Read only.
pub const RO: OpenFlags = OpenFlags { read: true, write: false, nonblock: false, norewind: false };

/// An autoloader magazine of `volumes` (names inside `dir`) opened with `opts`.
pub fn magazine(dir: &Path, volumes: &[&str], opts: ImageOptions) -> DynVolumes {
    let paths: Vec<PathBuf> = volumes.iter().map(|v| dir.join(v)).collect();
    boxed(Magazine::new(paths, opts))
}

impl Sim {
    /// A unit whose daemon serves `volumes` (names inside a fresh temporary
    /// directory), each opened with `opts`.
    pub fn new(volumes: &[&str], opts: ImageOptions, ucfg: Config) -> Sim {
        Sim::with_abi(volumes, opts, ucfg, Abi::Linux)
    }

    /// Like [`Sim::new`] for another host's ABI (numbering, st conventions).
    pub fn with_abi(volumes: &[&str], opts: ImageOptions, ucfg: Config, abi: Abi) -> Sim {
        Sim::with_volumes(|dir| magazine(dir, volumes, opts), DriveConfig::default(), ucfg, abi)
    }

    /// A unit whose daemon serves the volume sequence `make` builds in the
    /// temporary directory, with `dcfg`.
    pub fn with_volumes(make: impl FnOnce(&Path) -> DynVolumes, dcfg: DriveConfig, ucfg: Config, abi: Abi) -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        // A data area as the Linux glue gives one (records pass by offset);
        // NetBSD's glue has none (records travel in the frames).
        let area = (abi == Abi::Linux).then(|| Area::simulated(ucfg.window));
        let unit = Unit::new(0, ucfg, abi, LOCK, area.as_ref().map_or(HostArea::NONE, |a| a.1)).expect("unit");
        unit.sopen().expect("slave open");
        if area.is_some() {
            unit.sarea(ucfg.window);
        }
        let drive = Drive::new(make(dir.path()), dcfg).expect("drive");
        Sim {
            area: RefCell::new(area.map(|a| a.0)),
            window: ucfg.window,
            unit,
            drive: RefCell::new(Some(drive)),
            buf: RefCell::new(vec![0u8; serve::READ_BUFFER]),
            out: RefCell::new(Vec::new()),
            batches: RefCell::new(0),
            max_held: RefCell::new(0),
            dir,
        }
    }

    /// One volume, unlimited, default unit limits.
    pub fn simple() -> Sim {
        Sim::new(&["vol1.tap"], ImageOptions::default(), Config::default())
    }

    /// Path of a volume image.
    pub fn image(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The daemon handles one batch. False if there was nothing to do.
    pub fn pump(&self) -> bool {
        let mut drive = self.drive.borrow_mut();
        let Some(d) = drive.as_mut() else {
            return false;
        };
        let mut buf = self.buf.borrow_mut();
        let mut out = self.out.borrow_mut();
        let mut area = self.area.borrow_mut();
        match serve::step(&mut SimSlave::with_area(&self.unit, area.as_mut()), d, &mut buf, &mut out) {
            Ok(Received::Batch(_)) => {
                *self.batches.borrow_mut() += 1;
                true
            }
            Ok(_) => false,
            Err(e) => panic!("simulated daemon: {e}"),
        }
    }

    /// The daemon dies: the slave is closed under it.
    pub fn kill_daemon(&self) {
        self.unit.sclose();
        *self.drive.borrow_mut() = None;
    }

    /// A new daemon starts with `volumes`.
    pub fn start_daemon(&self, volumes: &[&str], opts: ImageOptions) {
        self.start_daemon_with(magazine(self.dir.path(), volumes, opts), DriveConfig::default());
    }

    /// A new daemon starts with `volumes`.
    pub fn start_daemon_with(&self, volumes: DynVolumes, dcfg: DriveConfig) {
        self.unit.sopen().expect("slave open");
        if self.area.borrow().is_some() {
            self.unit.sarea(self.window);
        }
        *self.drive.borrow_mut() = Some(Drive::new(volumes, dcfg).expect("drive"));
    }

    fn host(&self) -> SimHost<'_> {
        SimHost { sim: self }
    }

    /// open(2) of the master.
    pub fn open(&self, flags: OpenFlags) -> Result<(), Errno> {
        self.unit.mopen(&mut self.host(), flags)
    }

    /// close(2) of the master: st_flush then release; the first error wins.
    pub fn close(&self) -> Result<(), Errno> {
        let a = self.unit.mflush(&mut self.host());
        let b = self.unit.mrelease(&mut self.host());
        a.and(b)
    }

    /// write(2) of one record.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let r = self.unit.mwrite(&mut self.host(), &mut In(data), data.len());
        let held = self.unit.held();
        let mut m = self.max_held.borrow_mut();
        *m = (*m).max(held);
        r
    }

    /// read(2) with an `n`-byte buffer.
    pub fn read(&self, n: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; n];
        let k = self.unit.mread(&mut self.host(), &mut Out(&mut buf), n)?;
        buf.truncate(k);
        Ok(buf)
    }

    /// An ioctl in the unit's ABI with its argument in `arg`, read and
    /// written in place.
    pub fn ioctl(&self, cmd: u32, arg: &mut [u8]) -> Result<(), Errno> {
        self.unit.mioctl(&mut self.host(), u64::from(cmd), &mut KernelBuf(arg), false).map(|_| ())
    }

    /// MTIOCTOP.
    pub fn mt(&self, op: i16, count: i32) -> Result<(), Errno> {
        let mut arg = [0u8; 8];
        arg[0..2].copy_from_slice(&op.to_ne_bytes());
        arg[4..8].copy_from_slice(&count.to_ne_bytes());
        self.ioctl(linux::MTIOCTOP, &mut arg)
    }

    /// MTIOCGET.
    pub fn status(&self) -> Result<MtGet, Errno> {
        let mut b = [0u8; 48];
        self.ioctl(linux::MTIOCGET, &mut b)?;
        let l = |i: usize| i64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        Ok(MtGet {
            mt_type: l(0),
            dsreg: l(2),
            gstat: l(3) as u32,
            fileno: i32::from_ne_bytes(b[40..44].try_into().unwrap_or_default()),
            blkno: i32::from_ne_bytes(b[44..48].try_into().unwrap_or_default()),
        })
    }

    /// MTIOCTOP with NetBSD's numbering.
    pub fn netbsd_mt(&self, op: i16, count: i32) -> Result<(), Errno> {
        let mut arg = [0u8; 8];
        arg[0..2].copy_from_slice(&op.to_ne_bytes());
        arg[4..8].copy_from_slice(&count.to_ne_bytes());
        self.ioctl(pmt::abi::netbsd::MTIOCTOP, &mut arg)
    }

    /// NetBSD MTIOCGET: (mt_fileno, mt_blkno, mt_dsreg).
    pub fn netbsd_status(&self) -> Result<(i32, i32, u16), Errno> {
        let mut b = [0u8; 56];
        self.ioctl(pmt::abi::netbsd::MTIOCGET, &mut b)?;
        let i = |at: usize| i32::from_ne_bytes(b[at..at + 4].try_into().unwrap_or_default());
        Ok((i(8), i(12), u16::from_ne_bytes([b[2], b[3]])))
    }

    /// MTIOCPOS.
    pub fn tell(&self) -> Result<i64, Errno> {
        let mut b = [0u8; 8];
        self.ioctl(linux::MTIOCPOS, &mut b)?;
        Ok(i64::from_ne_bytes(b))
    }

    /// (file, block) from MTIOCGET.
    pub fn pos(&self) -> (i32, i32) {
        let s = self.status().expect("status");
        (s.fileno, s.blkno)
    }
}

/// Deterministic test data: record `i` of `len` bytes.
pub fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i.wrapping_mul(31).wrapping_add(j.wrapping_mul(7)) % 251) as u8).collect()
}

/// Objects of an image as (length, 0 for a mark), using pmtd's scanner.
pub fn objects(path: &Path) -> Vec<u32> {
    let s = pmtd::inspect::scan_file(path, true).expect("scan");
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    s.objs.iter().map(|o| o.len).collect()
}
