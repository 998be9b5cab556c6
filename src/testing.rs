//! Test doubles for the core's own tests: a simulated glue that runs a fake
//! daemon whenever a master call waits, an honest little drive, and the
//! plumbing to send it raw reply frames (well-formed or not).
//!
//! Everything runs under the lock checker (the core's test allocator): the
//! real [`Unit`] path, channel lock included.

#[cfg(test)]
extern crate std;

use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::abi::{linux, Abi};
use crate::drv::OpenFlags;
use crate::errno::{Errno, Result};
use crate::host::{Host, HostArea, HostLock, KernelBuf, Sleep, Wait, WaitError};
use crate::proto::{self, asc, DriveFlags, Op, Rep, Req, ReqFlags, SenseFlags, SenseKey, Space, Status, REP_SIZE, REQ_SIZE};
use crate::unit::{Config, Unit};

/// The channel lock of the units under test: the lock checker's marks.
pub(crate) const LOCK: HostLock = HostLock::new(pmt_lockcheck::enter, pmt_lockcheck::exit, 0);

/// What a daemon does with one request.
pub(crate) trait Daemon {
    /// The reply frames to try in order, each a whole encoded frame: the
    /// first one the unit accepts answers the request (earlier ones may be
    /// refused). An empty list: the daemon dies instead of answering.
    fn answer(&mut self, req: &Req, data: &[u8]) -> Vec<Vec<u8>>;

    /// Told whether attempt `i` of the last answer was accepted.
    fn outcome(&mut self, _i: usize, _accepted: bool) {}
}

/// Encodes a reply with its data.
pub(crate) fn frame(rep: &Rep, data: &[u8]) -> Vec<u8> {
    let mut out = rep.to_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// Data areas of the units under test, by index: what a glue shares with
/// its daemon, here plain memory both sides of a test reach.
static AREAS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

fn area_read(i: usize, off: usize, dst: &mut [u8]) -> bool {
    let a = AREAS.lock().unwrap();
    match a.get(i).and_then(|m| m.get(off..off.checked_add(dst.len())?)) {
        Some(src) => {
            dst.copy_from_slice(src);
            true
        }
        None => false,
    }
}

fn area_write(i: usize, off: usize, src: &[u8]) -> bool {
    let mut a = AREAS.lock().unwrap();
    match a.get_mut(i).and_then(|m| m.get_mut(off..off.checked_add(src.len())?)) {
        Some(dst) => {
            dst.copy_from_slice(src);
            true
        }
        None => false,
    }
}

/// A data area of `size` bytes for a unit under test.
pub(crate) fn test_area(size: usize) -> HostArea {
    let mut a = AREAS.lock().unwrap();
    a.push(vec![0u8; size]);
    HostArea::new(area_read, area_write, a.len() - 1)
}

/// A unit whose glue runs `daemon` whenever a master call waits.
pub(crate) struct Fake<D: Daemon> {
    pub unit: Unit,
    pub daemon: RefCell<Option<D>>,
    /// Replies the unit refused.
    pub refused: RefCell<usize>,
    /// Every wait the engine asked for: what, how, and whether a request
    /// was queued or in flight then.
    pub waits: RefCell<Vec<(Wait, Sleep, bool)>>,
    /// The unit's data area and its size, if it has one.
    pub area: Option<(HostArea, usize)>,
    /// Requests whose payload was in the area.
    pub area_requests: RefCell<usize>,
}

struct FakeHost<'a, D: Daemon> {
    fake: &'a Fake<D>,
}

impl<D: Daemon> Host for FakeHost<'_, D> {
    fn wait(&mut self, what: Wait, how: Sleep, _timeout: u32) -> core::result::Result<(), WaitError> {
        let busy = self.fake.unit.held() > 0 || !self.fake.unit.cond(Wait::Front) || self.fake.unit.readable();
        self.fake.waits.borrow_mut().push((what, how, busy));
        loop {
            if self.fake.unit.cond(what) {
                return Ok(());
            }
            if !self.fake.pump() {
                // Nobody will answer: a real master would sleep until the
                // command timeout.
                return Err(WaitError::TimedOut);
            }
        }
    }
    fn wake_slave(&mut self) {}
    fn privileged(&self) -> bool {
        true
    }
}

/// Read and write, the rewinding node.
pub(crate) const RW: OpenFlags = OpenFlags { read: true, write: true, nonblock: false, norewind: false };

impl<D: Daemon> Fake<D> {
    /// A Linux unit with `daemon` holding its slave.
    pub fn new(daemon: D, cfg: Config) -> Fake<D> {
        Fake::with_abi(daemon, cfg, Abi::Linux)
    }

    /// A unit of `abi` with `daemon` holding its slave. A Linux unit's
    /// daemon maps a data area of the window's size (as pmtd does with the
    /// Linux glue); NetBSD's glue has none, so a NetBSD unit's payloads
    /// travel in the frames.
    pub fn with_abi(daemon: D, cfg: Config, abi: Abi) -> Fake<D> {
        Fake::build(daemon, cfg, abi, (abi == Abi::Linux).then_some(cfg.window))
    }

    /// A unit whose daemon maps no data area: payloads in the frames (the
    /// NetBSD glue, a daemon that does not map).
    pub fn without_area(daemon: D, cfg: Config, abi: Abi) -> Fake<D> {
        Fake::build(daemon, cfg, abi, None)
    }

    fn build(daemon: D, cfg: Config, abi: Abi, area: Option<usize>) -> Fake<D> {
        let a = area.map(|n| (test_area(n), n));
        let unit = Unit::new(0, cfg, abi, LOCK, a.map_or(HostArea::NONE, |(h, _)| h)).unwrap();
        unit.sopen().unwrap();
        if let Some((_, n)) = a {
            unit.sarea(n);
        }
        Fake { unit, daemon: RefCell::new(Some(daemon)), refused: RefCell::new(0), waits: RefCell::new(Vec::new()), area: a, area_requests: RefCell::new(0) }
    }

    fn host(&self) -> FakeHost<'_, D> {
        FakeHost { fake: self }
    }

    /// The daemon reads what is queued and answers it. False if there was
    /// nothing to do (or no daemon).
    pub fn pump(&self) -> bool {
        let mut buf = vec![0u8; 1 << 20];
        let n = match self.unit.sread(&mut &mut buf[..], 1 << 20) {
            Ok(n) => n,
            Err(Errno::Again) => return false,
            Err(e) => panic!("slave read: {e:?}"),
        };
        let mut d = self.daemon.borrow_mut();
        let Some(daemon) = d.as_mut() else {
            return false;
        };
        let mut off = 0;
        while off < n {
            let req = Req::from_bytes(&buf[off..]);
            let flen = req.hdr.len as usize;
            assert!(flen >= REQ_SIZE && off + flen <= n, "request frame");
            let in_area = req.flags().contains(ReqFlags::AREA);
            *self.area_requests.borrow_mut() += usize::from(in_area);
            let data = if in_area {
                // The daemon reads a write's data in the area.
                let (h, _) = self.area.expect("an area request without an area");
                let mut d = vec![0u8; if req.op() == Some(Op::Write) { req.length as usize } else { 0 }];
                assert!(h.read(req.arg as usize, &mut d).is_ok(), "area slice");
                d
            } else {
                buf[off + REQ_SIZE..off + flen].to_vec()
            };
            let mut attempts = daemon.answer(&req, &data);
            if in_area {
                // What it reads goes into the area; the frame says how much.
                let (h, _) = self.area.expect("area");
                for a in attempts.iter_mut().filter(|a| a.len() > REP_SIZE) {
                    let mut rep = Rep::from_bytes(a);
                    if rep.dlen != 0 {
                        // A daemon that says itself what it put there.
                        continue;
                    }
                    let d = a[REP_SIZE..].to_vec();
                    if h.write(req.arg as usize, &d).is_ok() {
                        rep.dlen = d.len() as u32;
                        rep.hdr.len = REP_SIZE as u32;
                        *a = rep.to_bytes().to_vec();
                    }
                }
            }
            if attempts.is_empty() {
                drop(d);
                self.kill_daemon();
                return true;
            }
            for (i, a) in attempts.iter().enumerate() {
                // An empty write answers nothing.
                let ok = !a.is_empty() && self.unit.swrite(&mut &a[..], a.len()).map(|k| k == a.len()).unwrap_or(false);
                daemon.outcome(i, ok);
                if ok {
                    break;
                }
                *self.refused.borrow_mut() += 1;
            }
            off += proto::align_frame(flen);
        }
        true
    }

    /// The daemon dies: the slave closes under it.
    pub fn kill_daemon(&self) {
        self.unit.sclose();
        *self.daemon.borrow_mut() = None;
    }

    /// A new daemon holds the slave.
    pub fn start_daemon(&self, daemon: D) {
        self.unit.sopen().unwrap();
        *self.daemon.borrow_mut() = Some(daemon);
    }

    pub fn open(&self, f: OpenFlags) -> Result<()> {
        self.unit.mopen(&mut self.host(), f)
    }

    /// Opens a node of the minor (NetBSD: a mode, eject, control).
    pub fn open_node(&self, f: OpenFlags, node: crate::drv::Node) -> Result<()> {
        self.unit.mopen_node(&mut self.host(), f, node)
    }

    /// NetBSD MTIOCTOP.
    pub fn nb_mt(&self, op: i16, count: i32) -> Result<()> {
        let mut arg = [0u8; 8];
        arg[0..2].copy_from_slice(&op.to_ne_bytes());
        arg[4..8].copy_from_slice(&count.to_ne_bytes());
        self.ioctl(crate::abi::netbsd::MTIOCTOP, &mut arg)
    }

    /// NetBSD MTIOCGET: the raw `struct mtget`.
    pub fn nb_status(&self) -> Result<[u8; crate::abi::netbsd::MTGET_SIZE]> {
        let mut b = [0u8; crate::abi::netbsd::MTGET_SIZE];
        self.ioctl(crate::abi::netbsd::MTIOCGET, &mut b)?;
        Ok(b)
    }

    pub fn close(&self) -> Result<()> {
        let a = self.unit.mflush(&mut self.host());
        let b = self.unit.mrelease(&mut self.host());
        a.and(b)
    }

    pub fn write(&self, data: &[u8]) -> Result<usize> {
        self.unit.mwrite(&mut self.host(), &mut &data[..], data.len())
    }

    pub fn read(&self, n: usize) -> Result<Vec<u8>> {
        // A fill pattern: bytes the core did not write stay 0xa5.
        let mut buf = vec![0xa5u8; n];
        let k = self.unit.mread(&mut self.host(), &mut &mut buf[..], n)?;
        assert!(k <= n, "read returned {k} of a {n}-byte buffer");
        assert!(buf[k..].iter().all(|b| *b == 0xa5), "bytes past the count were written");
        buf.truncate(k);
        Ok(buf)
    }

    /// True while the engine's last transfer was a write.
    pub fn writing(&self) -> bool {
        self.unit.writing()
    }

    pub fn ioctl(&self, cmd: u32, arg: &mut [u8]) -> Result<()> {
        self.unit.mioctl(&mut self.host(), u64::from(cmd), &mut KernelBuf(arg), false).map(|_| ())
    }

    /// Linux MTIOCTOP.
    pub fn mt(&self, op: i16, count: i32) -> Result<()> {
        let mut arg = [0u8; 8];
        arg[0..2].copy_from_slice(&op.to_ne_bytes());
        arg[4..8].copy_from_slice(&count.to_ne_bytes());
        self.ioctl(linux::MTIOCTOP, &mut arg)
    }

    /// Linux MTIOCGET: (file, block, gstat).
    pub fn status(&self) -> Result<(i32, i32, u32)> {
        let mut b = [0u8; linux::MTGET_SIZE];
        self.ioctl(linux::MTIOCGET, &mut b)?;
        let g = i64::from_ne_bytes(b[24..32].try_into().unwrap()) as u32;
        Ok((i32::from_ne_bytes(b[40..44].try_into().unwrap()), i32::from_ne_bytes(b[44..48].try_into().unwrap()), g))
    }
}

/// An honest drive: records and filemarks in memory, answering as pmtd does
/// (the subset the core's tests need), with a few scripted faults.
#[derive(Debug, Default)]
pub(crate) struct Honest {
    /// The tape: `Some(data)` a record, `None` a filemark.
    pub tape: Vec<Option<Vec<u8>>>,
    pub pos: usize,
    pub blksize: u32,
    /// Bytes before early warning (None: unlimited); counts data + 64 per object.
    pub room: Option<u64>,
    /// Objects written: the n-th write (0-based) gets a MEDIUM ERROR.
    pub fail_write: Option<usize>,
    pub writes: usize,
    pub opened: bool,
    /// Answers READRUN (read-ahead); otherwise refuses it.
    pub runs: bool,
    /// READRUN requests answered.
    pub runs_answered: usize,
    /// Plain READ requests answered.
    pub reads_answered: usize,
}

impl Honest {
    fn status(&self) -> Status {
        let mut f = DriveFlags::READY;
        if self.pos == 0 {
            f |= DriveFlags::BOP;
        }
        if self.pos == self.tape.len() {
            f |= DriveFlags::EOD;
        }
        let room = match self.room {
            Some(r) => {
                if r == 0 {
                    f |= DriveFlags::EW;
                }
                r
            }
            None => proto::ROOM_UNLIMITED,
        };
        Status {
            flags: f.bits(),
            blksize: self.blksize,
            minblk: 1,
            maxblk: proto::MAX_RECORD,
            position: self.pos as u64,
            room,
            ..Status::default()
        }
    }

    fn put(&mut self, obj: Option<Vec<u8>>) -> bool {
        let cost = obj.as_ref().map_or(0, |d| d.len() as u64) + proto::RECORD_COST;
        self.tape.truncate(self.pos);
        self.tape.push(obj);
        self.pos += 1;
        match self.room.as_mut() {
            Some(r) => {
                let ew = *r < cost;
                *r = r.saturating_sub(cost);
                ew
            }
            None => false,
        }
    }

    fn sense(&self, req: &Req, key: SenseKey, flags: SenseFlags, resid: i64) -> Rep {
        let mut rep = Rep::good(req, self.status());
        rep.sense = key as u8;
        rep.sflags = flags.bits();
        rep.resid = resid;
        rep
    }

    /// The reply to `req`, with its data.
    pub fn reply(&mut self, req: &Req, data: &[u8]) -> (Rep, Vec<u8>) {
        let good = |s: &Honest| (Rep::good(req, s.status()), Vec::new());
        match req.op() {
            Some(Op::Open) => {
                if !std::mem::replace(&mut self.opened, true) {
                    let mut r = self.sense(req, SenseKey::UnitAttention, SenseFlags::empty(), 0);
                    r.asc = asc::MEDIUM_CHANGED;
                    return (r, Vec::new());
                }
                good(self)
            }
            Some(Op::Write) => {
                let n = self.writes;
                self.writes += 1;
                if self.fail_write == Some(n) {
                    let resid = if req.flags().contains(ReqFlags::FIXED) { i64::from(req.count) } else { data.len() as i64 };
                    let mut r = self.sense(req, SenseKey::MediumError, SenseFlags::empty(), resid);
                    r.asc = asc::WRITE_ERROR;
                    return (r, Vec::new());
                }
                let mut ew = false;
                if self.blksize != 0 {
                    for b in data.chunks(self.blksize as usize) {
                        ew |= self.put(Some(b.to_vec()));
                    }
                } else {
                    ew = self.put(Some(data.to_vec()));
                }
                if ew {
                    (self.sense(req, SenseKey::NoSense, SenseFlags::EOM, 0), Vec::new())
                } else {
                    good(self)
                }
            }
            Some(Op::Wfm) => {
                let mut ew = false;
                for _ in 0..req.count.max(0) {
                    ew |= self.put(None);
                }
                if ew {
                    (self.sense(req, SenseKey::NoSense, SenseFlags::EOM, 0), Vec::new())
                } else {
                    good(self)
                }
            }
            Some(Op::Read) => {
                self.reads_answered += 1;
                self.read(req)
            }
            Some(Op::ReadRun) => self.read_run(req),
            Some(Op::Rewind) | Some(Op::Load) => {
                self.pos = 0;
                good(self)
            }
            Some(Op::Space) => self.space(req),
            Some(Op::Mode) => {
                if req.flags().contains(ReqFlags::SET_BLKSIZE) {
                    self.blksize = req.length as u32;
                }
                good(self)
            }
            Some(Op::Erase) => {
                self.tape.truncate(self.pos);
                good(self)
            }
            Some(Op::Locate) => {
                self.pos = (req.arg as usize).min(self.tape.len());
                good(self)
            }
            _ => good(self),
        }
    }

    fn read(&mut self, req: &Req) -> (Rep, Vec<u8>) {
        let want = req.length as usize;
        if req.flags().contains(ReqFlags::FIXED) {
            let bs = self.blksize as usize;
            let count = req.count.max(0) as usize;
            let mut out = Vec::new();
            for i in 0..count {
                let left = (count - i) as i64;
                match self.tape.get(self.pos).cloned() {
                    None => return (self.sense(req, SenseKey::BlankCheck, SenseFlags::empty(), left), out),
                    Some(None) => {
                        self.pos += 1;
                        return (self.sense(req, SenseKey::NoSense, SenseFlags::FMK, left), out);
                    }
                    Some(Some(d)) => {
                        self.pos += 1;
                        if d.len() != bs {
                            return (self.sense(req, SenseKey::NoSense, SenseFlags::ILI, left), out);
                        }
                        out.extend_from_slice(&d);
                    }
                }
            }
            return (Rep::good(req, self.status()), out);
        }
        match self.tape.get(self.pos).cloned() {
            None => (self.sense(req, SenseKey::BlankCheck, SenseFlags::empty(), want as i64), Vec::new()),
            Some(None) => {
                self.pos += 1;
                (self.sense(req, SenseKey::NoSense, SenseFlags::FMK, want as i64), Vec::new())
            }
            Some(Some(d)) => {
                self.pos += 1;
                let n = d.len().min(want);
                if d.len() == want || (d.len() < want && req.flags().contains(ReqFlags::SILI)) {
                    (Rep::good(req, self.status()), d[..n].to_vec())
                } else {
                    (self.sense(req, SenseKey::NoSense, SenseFlags::ILI, want as i64 - d.len() as i64), d[..n].to_vec())
                }
            }
        }
    }

    fn read_run(&mut self, req: &Req) -> (Rep, Vec<u8>) {
        if !self.runs {
            let mut r = self.sense(req, SenseKey::IllegalRequest, SenseFlags::empty(), 0);
            r.asc = asc::INVALID_FIELD;
            return (r, Vec::new());
        }
        self.runs_answered += 1;
        let count = req.count.max(0) as usize;
        let fixed = req.flags().contains(ReqFlags::FIXED);
        let mut out = Vec::new();
        let mut n = 0;
        while n < count {
            let Some(Some(d)) = self.tape.get(self.pos) else { break };
            if fixed {
                if d.len() != self.blksize as usize {
                    break;
                }
                out.extend_from_slice(d);
            } else {
                if out.len() + proto::run::frame_len(d.len()) > req.length as usize {
                    break;
                }
                proto::run::push(&mut out, d).unwrap();
            }
            self.pos += 1;
            n += 1;
        }
        let resid = (count - n) as i64;
        let mut rep = Rep::good(req, self.status());
        rep.resid = resid;
        (rep, out)
    }

    fn space(&mut self, req: &Req) -> (Rep, Vec<u8>) {
        let count = i64::from(req.count);
        let mut done = 0i64;
        let is_mark = |s: &Honest, i: usize| matches!(s.tape.get(i), Some(None));
        let left = |done: i64| if count >= 0 { count - done } else { count + done };
        match Space::from_u64(req.arg) {
            Some(Space::Eod) => {
                self.pos = self.tape.len();
                (Rep::good(req, self.status()), Vec::new())
            }
            Some(Space::Filemarks) => {
                while done < count.abs() {
                    if count > 0 {
                        let Some(i) = (self.pos..self.tape.len()).find(|&i| is_mark(self, i)) else {
                            self.pos = self.tape.len();
                            return (self.sense(req, SenseKey::BlankCheck, SenseFlags::empty(), left(done)), Vec::new());
                        };
                        self.pos = i + 1;
                    } else {
                        let Some(i) = (0..self.pos).rev().find(|&i| is_mark(self, i)) else {
                            self.pos = 0;
                            return (self.sense(req, SenseKey::NoSense, SenseFlags::EOM, left(done)), Vec::new());
                        };
                        self.pos = i;
                    }
                    done += 1;
                }
                (Rep::good(req, self.status()), Vec::new())
            }
            Some(Space::Blocks) => {
                while done < count.abs() {
                    if count > 0 {
                        match self.tape.get(self.pos) {
                            None => return (self.sense(req, SenseKey::BlankCheck, SenseFlags::empty(), left(done)), Vec::new()),
                            Some(None) => {
                                self.pos += 1;
                                return (self.sense(req, SenseKey::NoSense, SenseFlags::FMK, left(done)), Vec::new());
                            }
                            Some(Some(_)) => self.pos += 1,
                        }
                    } else {
                        if self.pos == 0 {
                            return (self.sense(req, SenseKey::NoSense, SenseFlags::EOM, left(done)), Vec::new());
                        }
                        if is_mark(self, self.pos - 1) {
                            self.pos -= 1;
                            return (self.sense(req, SenseKey::NoSense, SenseFlags::FMK, left(done)), Vec::new());
                        }
                        self.pos -= 1;
                    }
                    done += 1;
                }
                (Rep::good(req, self.status()), Vec::new())
            }
            _ => {
                let mut r = self.sense(req, SenseKey::IllegalRequest, SenseFlags::empty(), 0);
                r.asc = asc::INVALID_FIELD;
                (r, Vec::new())
            }
        }
    }
}

impl Daemon for Honest {
    fn answer(&mut self, req: &Req, data: &[u8]) -> Vec<Vec<u8>> {
        let (mut rep, d) = self.reply(req, data);
        rep.hdr.len = (REP_SIZE + d.len()) as u32;
        vec![frame(&rep, &d)]
    }
}
