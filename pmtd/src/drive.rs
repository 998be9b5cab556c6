//! The tape drive: executes the requests of the slave protocol against the
//! loaded medium, answering as a SCSI stream device (SSC) would: sense key,
//! FMK/EOM/ILI flags, residue, and the drive status.
//!
//! The drive is the front end over a [`Volumes`]: what stores the tape, its
//! capacity and its early warning are the medium's ([`Medium::room`],
//! [`Written::early_warning`], [`MediumError::Overflow`]). Past early warning
//! every write and filemark still succeeds but reports EOM; a write that
//! would pass the physical end is refused with VOLUME OVERFLOW and nothing
//! of it is stored.

use pmt::proto::{self, asc, DriveFlags, Op, Rep, Req, ReqFlags, SenseFlags, SenseKey, Space, Status, REP_SIZE};
use tracing::{debug, info, warn};

use crate::medium::{Volumes, Medium, MediumError, Object, Stop, Written};

pub use crate::media::tap::FILEMARK_RESERVE;

/// Drive settings (the medium's own settings, such as its capacity, are
/// the medium's: see [`crate::media::tap::TapOptions`]).
#[derive(Clone, Debug)]
pub struct DriveConfig {
    /// Smallest block accepted.
    pub min_block: u32,
    /// Largest block accepted.
    pub max_block: u32,
}

impl Default for DriveConfig {
    fn default() -> DriveConfig {
        DriveConfig { min_block: 1, max_block: proto::MAX_RECORD }
    }
}

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

/// A tape drive in front of a [`Volumes`] (an autoloader magazine, a mirror
/// of volume sequences...).
///
/// The first volume is loaded at start. Unloading (MTOFFL, MTUNLOAD) ejects
/// the volume and loads the next one; a close right after a rewind once the
/// volume went past early warning (what dump and GNU tar do at the end of a
/// tape) swaps in the next volume too, if there is one. When the volume sequence is
/// exhausted the drive is empty: NOT READY, medium not present.
#[derive(Debug)]
pub struct Drive<C: Volumes> {
    cfg: DriveConfig,
    volumes: C,
    tape: Option<C::Medium>,
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

/// The sense of a failed medium operation: write protection, an illegal
/// request, or a medium error with `code`.
fn failure(e: &MediumError, code: u8) -> Sense {
    match e {
        MediumError::Protected { .. } => Sense::protected(),
        MediumError::Unsupported { .. } => {
            warn!("{e}");
            Sense::illegal()
        }
        _ => {
            warn!("{e}");
            Sense::medium_error(code)
        }
    }
}

impl<C: Volumes> Drive<C> {
    /// A drive in front of `volumes`; its first volume is loaded.
    pub fn new(volumes: C, cfg: DriveConfig) -> Result<Drive<C>, MediumError> {
        let mut d = Drive {
            cfg,
            volumes,
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
    pub fn medium(&self) -> Option<&C::Medium> {
        self.tape.as_ref()
    }

    /// The volume sequence.
    pub fn volumes(&self) -> &C {
        &self.volumes
    }

    /// The loaded volume's number (1-based), if any.
    pub fn volume(&self) -> Option<usize> {
        self.tape.as_ref().and(self.volumes.volume())
    }

    /// Unloads the volume (after making it durable) and gives the volume sequence
    /// back: what a daemon does when it stops.
    pub fn shut_down(mut self) -> Result<C, MediumError> {
        self.unload()?;
        Ok(self.volumes)
    }

    /// Loads the next volume of the volume sequence, if there is one.
    fn load_next(&mut self) -> Result<(), MediumError> {
        if let Some(m) = self.volumes.load_next()? {
            info!(medium = %m.name(), write_protected = m.readonly(), "volume {} in the drive", self.volumes.volume().unwrap_or(0));
            self.tape = Some(m);
            self.attention = true;
            self.past_ew = false;
        }
        Ok(())
    }

    /// Ejects the loaded volume (after making it durable).
    fn unload(&mut self) -> Result<(), MediumError> {
        match self.tape.take() {
            Some(t) => self.volumes.unload(t),
            None => Ok(()),
        }
    }

    /// Makes everything written so far durable.
    pub fn sync(&mut self) -> Result<(), MediumError> {
        match self.tape.as_mut() {
            Some(t) => t.sync(),
            None => Ok(()),
        }
    }

    /// The drive status.
    pub fn status(&self) -> Status {
        let mut f = DriveFlags::empty();
        let mut position = 0;
        let mut room = proto::ROOM_UNLIMITED;
        if let Some(t) = &self.tape {
            f |= DriveFlags::READY;
            let r = t.room();
            if t.readonly() {
                f |= DriveFlags::WRPROT;
                room = 0;
            } else if let Some(ew) = r.to_ew {
                room = ew;
            }
            if t.at_bot() {
                f |= DriveFlags::BOP;
            }
            if t.at_eod() == Some(true) {
                f |= DriveFlags::EOD;
            }
            if r.to_ew == Some(0) {
                f |= DriveFlags::EW;
            }
            position = t.position();
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
        self.finish(req, sense, start, out);
    }

    /// Executes consecutive WRITE requests of variable-length records at
    /// once: the medium gets them together (an image writes them with one
    /// system call) and each still gets its own reply, the one `execute`
    /// would have given. Anything else goes through `execute` one by one.
    pub fn execute_writes(&mut self, reqs: &[(Req, &[u8])], out: &mut Vec<u8>) {
        let plain = |(req, data): &(Req, &[u8])| {
            req.op() == Some(Op::Write)
                && !req.flags().contains(ReqFlags::FIXED)
                && !data.is_empty()
                && data.len() <= self.cfg.max_block as usize
                && data.len() >= self.cfg.min_block as usize
        };
        if reqs.len() < 2 || self.blksize != 0 || self.readonly() || self.tape.is_none() || !reqs.iter().all(plain) {
            for (req, data) in reqs {
                self.execute(req, data, out);
            }
            return;
        }
        let datas: Vec<&[u8]> = reqs.iter().map(|(_, d)| *d).collect();
        let results = self.tape.as_mut().map(|t| t.write_records(&datas)).unwrap_or_default();
        for ((req, data), r) in reqs.iter().zip(results) {
            let start = out.len();
            out.resize(start + REP_SIZE, 0);
            let sense = match r {
                Ok(Written { early_warning }) => {
                    self.past_ew |= early_warning;
                    if early_warning {
                        Sense::early_warning()
                    } else {
                        Sense::GOOD
                    }
                }
                Err(MediumError::Overflow { .. }) => {
                    self.past_ew = true;
                    Sense::overflow(data.len() as i64)
                }
                Err(e) => {
                    let mut s = failure(&e, asc::WRITE_ERROR);
                    if s.key == SenseKey::MediumError {
                        s.resid = data.len() as i64;
                    }
                    s
                }
            };
            self.finish(req, sense, start, out);
        }
    }

    /// Completes the reply frame that starts at `start` of `out` (its data
    /// already after the header): the header with `sense` and the status.
    fn finish(&mut self, req: &Req, sense: Sense, start: usize, out: &mut Vec<u8>) {
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
            Op::Rewind => match self.with_tape(|t| t.rewind()) {
                Some(Err(e)) => failure(&e, asc::POSITION_ERROR),
                _ => Sense::GOOD,
            },
            Op::Erase => self.erase(),
            Op::Locate => self.locate(req.arg),
            Op::ReadRun => self.read_run(req, out),
        }
    }

    fn with_tape<R>(&mut self, f: impl FnOnce(&mut C::Medium) -> R) -> Option<R> {
        self.tape.as_mut().map(f)
    }

    fn readonly(&self) -> bool {
        self.tape.as_ref().is_some_and(|t| t.readonly())
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
            let rewound = self.tape.as_ref().is_some_and(|t| t.at_bot());
            if self.past_ew && rewound && self.volumes.has_next() {
                self.unload()?;
                self.load_next()?;
            }
            Ok(())
        });
        match r {
            Ok(()) => Sense::GOOD,
            Err(e) => failure(&e, asc::WRITE_ERROR),
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
            if let Some(t) = self.tape.as_mut() {
                return match t.rewind() {
                    Ok(()) => Sense::GOOD,
                    Err(e) => failure(&e, asc::POSITION_ERROR),
                };
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

    fn write(&mut self, req: &Req, data: &[u8]) -> Sense {
        if self.readonly() {
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
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let mut past_ew = false;
        for (i, chunk) in data.chunks(size).take(count).enumerate() {
            let left = if fixed { (count - i) as i64 } else { data.len() as i64 };
            match t.write_record(chunk) {
                Ok(Written { early_warning }) => past_ew |= early_warning,
                Err(MediumError::Overflow { .. }) => {
                    self.past_ew = true;
                    return Sense::overflow(left);
                }
                Err(e) => {
                    let mut s = failure(&e, asc::WRITE_ERROR);
                    if s.key == SenseKey::MediumError {
                        s.resid = left;
                    }
                    return s;
                }
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
        if self.readonly() {
            return Sense::protected();
        }
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let n = req.count.max(0);
        let mut past_ew = false;
        for i in 0..n {
            match t.write_mark() {
                Ok(Written { early_warning }) => past_ew |= early_warning,
                Err(MediumError::Overflow { .. }) => {
                    self.past_ew = true;
                    return Sense::overflow(i64::from(n - i));
                }
                Err(e) => return failure(&e, asc::WRITE_ERROR),
            }
        }
        // A filemark is a durability point (and WFM 0 flushes).
        if let Err(e) = t.sync() {
            return failure(&e, asc::WRITE_ERROR);
        }
        self.past_ew |= past_ew;
        if past_ew {
            Sense::early_warning()
        } else {
            Sense::GOOD
        }
    }

    /// READRUN: whole records (or blocks) ahead, stopping before anything
    /// else; NO SENSE with the residue counting what was not returned. On
    /// an error the medium has not moved and nothing is returned.
    fn read_run(&mut self, req: &Req, out: &mut Vec<u8>) -> Sense {
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let Ok(count) = usize::try_from(req.count) else {
            return Sense::illegal();
        };
        let length = usize::try_from(req.length).unwrap_or(usize::MAX);
        let fixed = req.flags().contains(ReqFlags::FIXED);
        let bs = self.blksize as usize;
        if count == 0 || (fixed && (bs == 0 || length != bs.saturating_mul(count))) {
            return Sense::illegal();
        }
        let (budget, exact) = if fixed { (count.saturating_mul(proto::run::frame_len(bs)), Some(bs)) } else { (length, None) };
        let at = out.len();
        match t.read_run(out, count, budget, exact) {
            Ok(n) => {
                if fixed {
                    // The blocks alone, one after the other, as a fixed READ.
                    let end = proto::run::unframe_fixed(out, at, n, bs);
                    out.truncate(end);
                }
                Sense { resid: (count - n) as i64, ..Sense::GOOD }
            }
            Err(e) => {
                out.truncate(at);
                failure(&e, asc::READ_ERROR)
            }
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
                let at = out.len();
                match t.read(out, bs) {
                    Ok(Object::Eod) => return Sense::eod(left),
                    Ok(Object::Mark) => return Sense::filemark(left),
                    Ok(Object::Bad) => return Sense::medium_error(asc::READ_ERROR),
                    Ok(Object::Record(len)) if len != bs => {
                        // A block of the wrong length is passed over and not
                        // returned; the residue counts it as not transferred.
                        out.truncate(at);
                        return Sense::new(SenseKey::NoSense, SenseFlags::ILI, 0, 0, left);
                    }
                    Ok(Object::Record(_)) => {}
                    Err(e) => {
                        out.truncate(at);
                        return failure(&e, asc::READ_ERROR);
                    }
                }
            }
            return Sense::GOOD;
        }
        let at = out.len();
        let len = match t.read(out, want) {
            Ok(Object::Eod) => return Sense::eod(want as i64),
            Ok(Object::Mark) => return Sense::filemark(want as i64),
            Ok(Object::Bad) => return Sense::medium_error(asc::READ_ERROR),
            Ok(Object::Record(len)) => len,
            Err(e) => {
                out.truncate(at);
                return failure(&e, asc::READ_ERROR);
            }
        };
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
        // Residues are SCSI's: requested minus actual, signed like the count.
        let left = |done: u64| if count >= 0 { count - done as i64 } else { count + done as i64 };
        let r = match kind {
            Space::Setmarks => return Sense::illegal(),
            Space::Eod => t.space_eod().map(|()| Sense::GOOD),
            Space::Blocks => t.space_records(count).map(|(done, stop)| match stop {
                Stop::Done => Sense::GOOD,
                Stop::Mark => Sense::filemark(left(done)),
                Stop::Eod => Sense::eod(left(done)),
                Stop::Bot => Sense::bop(left(done)),
            }),
            Space::Filemarks => t.space_marks(count).map(|(done, stop)| match stop {
                Stop::Done | Stop::Mark => Sense::GOOD,
                Stop::Eod => Sense::eod(left(done)),
                Stop::Bot => Sense::bop(left(done)),
            }),
        };
        r.unwrap_or_else(|e| failure(&e, asc::POSITION_ERROR))
    }

    fn erase(&mut self) -> Sense {
        if self.readonly() {
            return Sense::protected();
        }
        match self.with_tape(|t| t.erase().and_then(|()| t.sync())) {
            Some(Err(e)) => failure(&e, asc::WRITE_ERROR),
            _ => Sense::GOOD,
        }
    }

    fn locate(&mut self, addr: u64) -> Sense {
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        match t.locate(addr) {
            Ok(Stop::Eod) => Sense::eod(0),
            Ok(_) => Sense::GOOD,
            Err(e) => failure(&e, asc::POSITION_ERROR),
        }
    }
}
