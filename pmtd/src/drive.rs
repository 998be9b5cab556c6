//! The tape drive: executes the requests of the slave protocol against the
//! loaded medium, answering as a SCSI stream device (SSC) would: sense key,
//! FMK/EOM/ILI flags, residue, and the drive status.
//!
//! Capacity: a medium of `capacity` bytes of image has its early-warning
//! point `early_warning` bytes before the end. Past early warning every write
//! and filemark still succeeds but reports EOM; a write that would pass the
//! physical end is refused with VOLUME OVERFLOW and nothing of it is stored.

use std::path::PathBuf;

use pmt::proto::{self, asc, DriveFlags, Op, Rep, Req, ReqFlags, SenseFlags, SenseKey, Space, Status, REP_SIZE};
use tracing::{debug, info, warn};

use crate::tap::{Stop, Tape, TapError};

/// Drive settings.
#[derive(Clone, Debug)]
pub struct DriveConfig {
    /// Bytes of image per volume, if limited.
    pub capacity: Option<u64>,
    /// Size of the early-warning zone before the end of a limited volume.
    pub early_warning: u64,
    /// Smallest block accepted.
    pub min_block: u32,
    /// Largest block accepted.
    pub max_block: u32,
    /// Treat every volume as write protected.
    pub read_only: bool,
}

impl Default for DriveConfig {
    fn default() -> DriveConfig {
        DriveConfig { capacity: None, early_warning: 0, min_block: 1, max_block: proto::MAX_RECORD, read_only: false }
    }
}

/// Image bytes past the capacity that only filemarks may use, as a drive
/// keeps room to close a file at the end of medium: a volume always ends
/// with its filemark.
pub const FILEMARK_RESERVE: u64 = 64;

/// The outcome of a command before it becomes a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sense {
    /// Sense key.
    pub key: SenseKey,
    /// FMK / EOM / ILI.
    pub flags: SenseFlags,
    /// Additional sense code.
    pub asc: u8,
    /// Qualifier.
    pub ascq: u8,
    /// Requested minus actual.
    pub resid: i64,
}

impl Sense {
    /// Success.
    pub const GOOD: Sense = Sense { key: SenseKey::NoSense, flags: SenseFlags::empty(), asc: 0, ascq: 0, resid: 0 };

    fn new(key: SenseKey, flags: SenseFlags, asc: u8, ascq: u8, resid: i64) -> Sense {
        Sense { key, flags, asc, ascq, resid }
    }

    fn no_medium() -> Sense {
        Sense::new(SenseKey::NotReady, SenseFlags::empty(), asc::NO_MEDIUM, 0, 0)
    }

    fn illegal() -> Sense {
        Sense::new(SenseKey::IllegalRequest, SenseFlags::empty(), asc::INVALID_FIELD, 0, 0)
    }

    fn protected() -> Sense {
        Sense::new(SenseKey::DataProtect, SenseFlags::empty(), asc::WRITE_PROTECTED, 0, 0)
    }

    fn filemark(resid: i64) -> Sense {
        Sense::new(SenseKey::NoSense, SenseFlags::FMK, asc::NONE, asc::Q_FILEMARK, resid)
    }

    fn eod(resid: i64) -> Sense {
        Sense::new(SenseKey::BlankCheck, SenseFlags::empty(), asc::NONE, asc::Q_EOD, resid)
    }

    fn bop(resid: i64) -> Sense {
        Sense::new(SenseKey::NoSense, SenseFlags::EOM, asc::NONE, asc::Q_BOP, resid)
    }

    fn early_warning() -> Sense {
        Sense::new(SenseKey::NoSense, SenseFlags::EOM, asc::NONE, asc::Q_EOM, 0)
    }

    fn overflow(resid: i64) -> Sense {
        Sense::new(SenseKey::VolumeOverflow, SenseFlags::EOM, asc::NONE, asc::Q_EOM, resid)
    }

    fn medium_error(code: u8) -> Sense {
        Sense::new(SenseKey::MediumError, SenseFlags::empty(), code, 0, 0)
    }
}

/// A tape drive with an autoloader holding a list of volumes.
///
/// The first volume is loaded at start. Unloading (MTOFFL, MTUNLOAD) ejects
/// the volume and loads the next one; a close right after a rewind once the
/// volume went past early warning (what dump and GNU tar do at the end of a
/// tape) swaps in the next volume too, if there is one. When the magazine is
/// exhausted the drive is empty: NOT READY, medium not present.
#[derive(Debug)]
pub struct Drive {
    cfg: DriveConfig,
    volumes: Vec<PathBuf>,
    /// The next volume the loader takes.
    next: usize,
    /// The loaded volume (an index in `volumes`) and its medium.
    slot: Option<usize>,
    tape: Option<Tape>,
    /// A new medium was loaded and no OPEN has been told yet.
    attention: bool,
    /// A write or filemark on this volume went past early warning.
    past_ew: bool,
    blksize: u32,
    density: u8,
    drvbuf: u8,
    compress: bool,
    locked: bool,
}

impl Drive {
    /// A drive with `volumes` in its magazine; the first one is loaded.
    pub fn new(volumes: Vec<PathBuf>, cfg: DriveConfig) -> Result<Drive, TapError> {
        let mut d = Drive {
            cfg,
            volumes,
            next: 0,
            slot: None,
            tape: None,
            attention: false,
            past_ew: false,
            blksize: 0,
            density: 0,
            drvbuf: 1,
            compress: false,
            locked: false,
        };
        d.load_next()?;
        Ok(d)
    }

    /// The loaded medium, if any.
    pub fn tape(&self) -> Option<&Tape> {
        self.tape.as_ref()
    }

    /// The loaded volume's number (1-based), if any.
    pub fn volume(&self) -> Option<usize> {
        self.slot.map(|s| s + 1)
    }

    /// Loads the next volume of the magazine, if there is one.
    fn load_next(&mut self) -> Result<(), TapError> {
        let Some(path) = self.volumes.get(self.next) else {
            return Ok(());
        };
        let t0 = std::time::Instant::now();
        let (tape, scan, how) = Tape::open(path, self.cfg.read_only)?;
        let load_us = t0.elapsed().as_micros();
        for p in &scan.problems {
            warn!(image = %path.display(), "{p}; the medium ends at byte {}", scan.end);
        }
        info!(
            image = %path.display(),
            objects = tape.len(),
            write_protected = tape.readonly(),
            index = ?how,
            load_us,
            "volume {} loaded",
            self.next + 1
        );
        self.tape = Some(tape);
        self.slot = Some(self.next);
        self.next += 1;
        self.attention = true;
        self.past_ew = false;
        Ok(())
    }

    /// Ejects the loaded volume (after making it durable).
    fn unload(&mut self) -> Result<(), TapError> {
        if let Some(mut t) = self.tape.take() {
            let r = t.sync();
            info!(image = %t.path().display(), "volume {} unloaded", self.slot.map_or(0, |s| s + 1));
            self.slot = None;
            r?;
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn sync(&mut self) -> Result<(), TapError> {
        match self.tape.as_mut() {
            Some(t) => t.sync(),
            None => Ok(()),
        }
    }

    fn ew_offset(&self) -> Option<u64> {
        self.cfg.capacity.map(|c| c.saturating_sub(self.cfg.early_warning))
    }

    /// The drive status.
    pub fn status(&self) -> Status {
        let mut f = DriveFlags::empty();
        let mut position = 0;
        let mut room = proto::ROOM_UNLIMITED;
        if let Some(t) = &self.tape {
            f |= DriveFlags::READY;
            if t.readonly() {
                f |= DriveFlags::WRPROT;
                room = 0;
            }
            if t.pos() == 0 {
                f |= DriveFlags::BOP;
            }
            if t.pos() == t.len() {
                f |= DriveFlags::EOD;
            }
            let here = t.offset_of(t.pos());
            if let Some(ew) = self.ew_offset() {
                if here >= ew {
                    f |= DriveFlags::EW;
                }
                if !t.readonly() {
                    room = ew.saturating_sub(here);
                }
            }
            position = t.pos() as u64;
        }
        if self.compress {
            f |= DriveFlags::COMPRESS;
        }
        if self.locked {
            f |= DriveFlags::LOCKED;
        }
        Status {
            flags: f.bits(),
            blksize: self.blksize,
            minblk: self.cfg.min_block,
            maxblk: self.cfg.max_block,
            density: self.density,
            drvbuf: self.drvbuf,
            position,
            room,
            ..Status::default()
        }
    }

    /// Executes `req` (with its write `data`) and appends the whole reply
    /// frame, data and padding included, to `out`.
    pub fn execute(&mut self, req: &Req, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + REP_SIZE, 0);
        let sense = self.dispatch(req, data, out);
        let dlen = out.len() - start - REP_SIZE;
        let mut rep = Rep::good(req, self.status());
        rep.hdr.len = (REP_SIZE + dlen) as u32;
        rep.sense = sense.key as u8;
        rep.sflags = sense.flags.bits();
        rep.asc = sense.asc;
        rep.ascq = sense.ascq;
        rep.resid = sense.resid;
        if let Some(h) = out.get_mut(start..start + REP_SIZE) {
            h.copy_from_slice(&rep.to_bytes());
        }
        let aligned = start + proto::align_frame(REP_SIZE + dlen);
        out.resize(aligned, 0);
        debug!(op = ?req.op(), id = req.hdr.id, count = req.count, length = req.length, sense = ?sense, "command");
    }

    fn dispatch(&mut self, req: &Req, data: &[u8], out: &mut Vec<u8>) -> Sense {
        let Some(op) = req.op() else {
            return Sense::illegal();
        };
        match op {
            Op::Open => self.open(req),
            Op::Close => self.close(),
            Op::Status | Op::ReadPos => {
                if self.tape.is_some() || op == Op::Status {
                    Sense::GOOD
                } else {
                    Sense::no_medium()
                }
            }
            Op::Lock => {
                self.locked = req.count != 0;
                Sense::GOOD
            }
            Op::Mode => self.mode(req),
            Op::Load => self.load(req),
            _ if self.tape.is_none() => Sense::no_medium(),
            Op::Write => self.write(req, data),
            Op::Read => self.read(req, out),
            Op::Wfm => self.wfm(req),
            Op::Space => self.space(req),
            Op::Rewind => {
                self.with_tape(|t| t.set_pos(0));
                Sense::GOOD
            }
            Op::Erase => self.erase(),
            Op::Locate => self.locate(req.arg),
            // Read-ahead runs come with the medium seam.
            Op::ReadRun => Sense::illegal(),
        }
    }

    fn with_tape<R>(&mut self, f: impl FnOnce(&mut Tape) -> R) -> Option<R> {
        self.tape.as_mut().map(f)
    }

    fn open(&mut self, req: &Req) -> Sense {
        let rf = req.flags();
        info!(
            read = rf.contains(ReqFlags::OPEN_READ),
            write = rf.contains(ReqFlags::OPEN_WRITE),
            norewind = rf.contains(ReqFlags::OPEN_NOREWIND),
            "master open"
        );
        if self.tape.is_none() {
            return Sense::no_medium();
        }
        if std::mem::take(&mut self.attention) {
            return Sense::new(SenseKey::UnitAttention, SenseFlags::empty(), asc::MEDIUM_CHANGED, 0, 0);
        }
        Sense::GOOD
    }

    fn close(&mut self) -> Sense {
        info!("master close");
        let r = self.sync().and_then(|()| {
            // Rewound and closed after early warning: the loader changes
            // volumes, if it has another one (else the tape stays, as in a
            // drive without a loader).
            let rewound = self.tape.as_ref().is_some_and(|t| t.pos() == 0);
            if self.past_ew && rewound && self.next < self.volumes.len() {
                self.unload()?;
                self.load_next()?;
            }
            Ok(())
        });
        match r {
            Ok(()) => Sense::GOOD,
            Err(e) => {
                warn!("{e}");
                Sense::medium_error(asc::WRITE_ERROR)
            }
        }
    }

    fn mode(&mut self, req: &Req) -> Sense {
        let rf = req.flags();
        if rf.contains(ReqFlags::SET_BLKSIZE) {
            let b = req.length;
            if b != 0 && (b < u64::from(self.cfg.min_block) || b > u64::from(self.cfg.max_block)) {
                return Sense::illegal();
            }
            self.blksize = b as u32;
        }
        if rf.contains(ReqFlags::SET_DENSITY) {
            self.density = req.arg as u8;
        }
        if rf.contains(ReqFlags::SET_DRVBUF) {
            self.drvbuf = (req.arg2 & 7) as u8;
        }
        if rf.contains(ReqFlags::SET_COMPRESS) {
            self.compress = req.count != 0;
        }
        Sense::GOOD
    }

    fn load(&mut self, req: &Req) -> Sense {
        let r = if req.flags().contains(ReqFlags::LOAD) {
            if self.tape.is_some() {
                self.with_tape(|t| t.set_pos(0));
                return Sense::GOOD;
            }
            self.load_next()
        } else {
            if self.locked {
                // MEDIUM REMOVAL PREVENTED
                return Sense::new(SenseKey::IllegalRequest, SenseFlags::empty(), 0x53, 0x02, 0);
            }
            if self.tape.is_none() {
                return Sense::no_medium();
            }
            // The autoloader puts the next volume in.
            self.unload().and_then(|()| self.load_next())
        };
        if let Err(e) = r {
            warn!("{e}");
            return Sense::medium_error(asc::NOT_READY);
        }
        if req.flags().contains(ReqFlags::LOAD) && self.tape.is_none() {
            return Sense::no_medium();
        }
        Sense::GOOD
    }

    fn here(&self) -> u64 {
        self.tape.as_ref().map_or(0, |t| t.offset_of(t.pos()))
    }

    /// Whether an object of `size` image bytes fits the medium (with
    /// `reserve` bytes allowed past its end), and whether it ends past early
    /// warning.
    fn fits(&self, size: u64, reserve: u64) -> (bool, bool) {
        let after = self.here() + size;
        let fits = self.cfg.capacity.is_none_or(|c| after <= c + reserve);
        let ew = self.ew_offset().is_some_and(|e| after > e) || self.cfg.capacity.is_some_and(|c| after > c);
        (fits, ew)
    }

    fn write(&mut self, req: &Req, data: &[u8]) -> Sense {
        if self.tape.as_ref().is_some_and(|t| t.readonly()) {
            return Sense::protected();
        }
        let fixed = req.flags().contains(ReqFlags::FIXED);
        let (size, count) = if fixed {
            if self.blksize == 0 || req.count < 0 || data.len() != self.blksize as usize * req.count as usize {
                return Sense::illegal();
            }
            (self.blksize as usize, req.count as usize)
        } else {
            if self.blksize != 0 || data.is_empty() || data.len() > self.cfg.max_block as usize || data.len() < self.cfg.min_block as usize
            {
                return Sense::illegal();
            }
            (data.len(), 1)
        };
        let mut past_ew = false;
        for (i, chunk) in data.chunks(size).take(count).enumerate() {
            let obj = 8 + chunk.len() as u64 + (chunk.len() as u64 & 1);
            let (fits, ew) = self.fits(obj, 0);
            if !fits {
                self.past_ew = true;
                let left = if fixed { (count - i) as i64 } else { data.len() as i64 };
                return Sense::overflow(left);
            }
            past_ew |= ew;
            if let Some(Err(e)) = self.with_tape(|t| t.write_record(chunk)) {
                warn!("{e}");
                let mut s = Sense::medium_error(asc::WRITE_ERROR);
                s.resid = if fixed { (count - i) as i64 } else { data.len() as i64 };
                return s;
            }
        }
        self.past_ew |= past_ew;
        if past_ew {
            Sense::early_warning()
        } else {
            Sense::GOOD
        }
    }

    fn wfm(&mut self, req: &Req) -> Sense {
        if req.flags().contains(ReqFlags::SETMARK) {
            return Sense::illegal();
        }
        if self.tape.as_ref().is_some_and(|t| t.readonly()) {
            return Sense::protected();
        }
        let n = req.count.max(0);
        let mut past_ew = false;
        for i in 0..n {
            let (fits, ew) = self.fits(4, FILEMARK_RESERVE);
            if !fits {
                self.past_ew = true;
                return Sense::overflow(i64::from(n - i));
            }
            past_ew |= ew;
            if let Some(Err(e)) = self.with_tape(|t| t.write_mark()) {
                warn!("{e}");
                return Sense::medium_error(asc::WRITE_ERROR);
            }
        }
        // A filemark is a durability point (and WFM 0 flushes).
        if let Err(e) = self.sync() {
            warn!("{e}");
            return Sense::medium_error(asc::WRITE_ERROR);
        }
        self.past_ew |= past_ew;
        if past_ew {
            Sense::early_warning()
        } else {
            Sense::GOOD
        }
    }

    fn read(&mut self, req: &Req, out: &mut Vec<u8>) -> Sense {
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let fixed = req.flags().contains(ReqFlags::FIXED);
        let want = usize::try_from(req.length).unwrap_or(usize::MAX).min(proto::MAX_RECORD as usize);
        if fixed {
            let bs = self.blksize as usize;
            if bs == 0 || req.count < 0 {
                return Sense::illegal();
            }
            let count = (req.count as usize).min(want / bs);
            for i in 0..count {
                let left = (count - i) as i64;
                let Some(o) = t.obj(t.pos()) else {
                    return Sense::eod(left);
                };
                t.set_pos(t.pos() + 1);
                if o.is_mark() {
                    return Sense::filemark(left);
                }
                if o.bad {
                    return Sense::medium_error(asc::READ_ERROR);
                }
                if o.len as usize != bs {
                    // A block of the wrong length is passed over and not
                    // returned; the residue counts it as not transferred.
                    return Sense::new(SenseKey::NoSense, SenseFlags::ILI, 0, 0, left);
                }
                let at = out.len();
                out.resize(at + bs, 0);
                if let Err(e) = t.read_data(&o, out.get_mut(at..).unwrap_or_default()) {
                    warn!("{e}");
                    out.truncate(at);
                    return Sense::medium_error(asc::READ_ERROR);
                }
            }
            return Sense::GOOD;
        }
        let Some(o) = t.obj(t.pos()) else {
            return Sense::eod(want as i64);
        };
        t.set_pos(t.pos() + 1);
        if o.is_mark() {
            return Sense::filemark(want as i64);
        }
        if o.bad {
            return Sense::medium_error(asc::READ_ERROR);
        }
        let n = (o.len as usize).min(want);
        let at = out.len();
        out.resize(at + n, 0);
        if let Err(e) = t.read_data(&o, out.get_mut(at..).unwrap_or_default()) {
            warn!("{e}");
            out.truncate(at);
            return Sense::medium_error(asc::READ_ERROR);
        }
        let len = o.len as usize;
        if len == want || (len < want && req.flags().contains(ReqFlags::SILI)) {
            Sense::GOOD
        } else {
            Sense::new(SenseKey::NoSense, SenseFlags::ILI, 0, 0, want as i64 - len as i64)
        }
    }

    fn space(&mut self, req: &Req) -> Sense {
        let Some(kind) = Space::from_u64(req.arg) else {
            return Sense::illegal();
        };
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let count = i64::from(req.count);
        let n = count.unsigned_abs();
        // Residues are SCSI's: requested minus actual, signed like the count.
        let left = |done: u64| if count >= 0 { count - done as i64 } else { count + done as i64 };
        match kind {
            Space::Setmarks => Sense::illegal(),
            Space::Eod => {
                t.set_pos(t.len());
                Sense::GOOD
            }
            Space::Blocks => {
                let (done, stop) = if count >= 0 { t.space_records_forward(n) } else { t.space_records_backward(n) };
                match stop {
                    Stop::Done => Sense::GOOD,
                    Stop::Mark => Sense::filemark(left(done)),
                    Stop::Eod => Sense::eod(left(done)),
                    Stop::Bot => Sense::bop(left(done)),
                }
            }
            Space::Filemarks => {
                let (done, stop) = if count >= 0 { t.space_marks_forward(n) } else { t.space_marks_backward(n) };
                match stop {
                    Stop::Done | Stop::Mark => Sense::GOOD,
                    Stop::Eod => Sense::eod(left(done)),
                    Stop::Bot => Sense::bop(left(done)),
                }
            }
        }
    }

    fn erase(&mut self) -> Sense {
        if self.tape.as_ref().is_some_and(|t| t.readonly()) {
            return Sense::protected();
        }
        match self.with_tape(|t| t.erase().and_then(|()| t.sync())) {
            Some(Err(e)) => {
                warn!("{e}");
                Sense::medium_error(asc::WRITE_ERROR)
            }
            _ => Sense::GOOD,
        }
    }

    fn locate(&mut self, addr: u64) -> Sense {
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        match usize::try_from(addr) {
            Ok(a) if a <= t.len() => {
                t.set_pos(a);
                Sense::GOOD
            }
            _ => {
                t.set_pos(t.len());
                Sense::eod(0)
            }
        }
    }
}
