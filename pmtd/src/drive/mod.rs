//! The tape drive: executes the requests of the slave protocol against the
//! loaded medium, answering as a SCSI stream device (SSC) would: sense key,
//! FMK/EOM/ILI flags, residue, and the drive status.
//!
//! The drive is the front end over a [`Volumes`]: what stores the tape, its
//! capacity and its early warning are the medium's ([`Medium::room`],
//! [`crate::media::Written::early_warning`], [`MediumError::Overflow`]). Past early warning
//! every write and filemark still succeeds but reports EOM; a write that
//! would pass the physical end is refused with VOLUME OVERFLOW and nothing
//! of it is stored.

mod motion;
mod scsi;
mod sense;
mod transfer;

use pmt::proto::{self, asc, DriveFlags, Op, Rep, Req, ReqFlags, SenseFlags, SenseKey, Status, REP_SIZE};
use tracing::{debug, info, warn};

use crate::media::{Medium, MediumError, Room, Volumes};
use crate::scsi::Identity;
use sense::failure;
pub use scsi::{ALERT_NO_REMOVAL, ALERT_WRITE_PROTECT};
pub use sense::Sense;

pub use crate::media::image::FILEMARK_RESERVE;

/// Drive settings (the medium's own settings, such as its capacity, are
/// the medium's: see [`crate::media::image::ImageOptions`]).
#[derive(Clone, Debug)]
pub struct DriveConfig {
    /// Smallest block accepted.
    pub min_block: u32,
    /// Largest block accepted.
    pub max_block: u32,
    /// Who the drive says it is (INQUIRY, its serial number).
    pub identity: Identity,
    /// Past early warning, refuse whole (VOLUME OVERFLOW, as at the
    /// physical end) a record the program writes after it was told of the
    /// end of the volume ([`ReqFlags::AFTER_ENOSPC`]): the early-warning
    /// zone then takes only what was on its way and the closing filemarks,
    /// and no record lands on two volumes. Off: every write past early
    /// warning is taken while it fits, as a real drive does.
    pub refuse_after_enospc: bool,
}

impl Default for DriveConfig {
    /// A drive as a real one behaves: writes past early warning are taken.
    fn default() -> DriveConfig {
        DriveConfig { min_block: 1, max_block: proto::MAX_RECORD, identity: Identity::drive_default(None), refuse_after_enospc: false }
    }
}

/// A tape drive in front of a [`Volumes`] (an autoloader magazine, a mirror
/// of them...).
///
/// The first volume is loaded at start. Unloading (MTOFFL, MTUNLOAD) ejects
/// the volume and loads the next one, as a sequential autoloader does. A
/// close right after a rewind once the volume went past early warning (what
/// dump and GNU tar do at the end of a tape) marks the volume *done*: the
/// next open for writing loads the next volume first (a program run without
/// a script that ejects goes on to the next volume), and an eject before
/// that is the change itself, so a script that ejects never skips a volume.
/// When the volumes are exhausted the drive is empty: NOT READY, medium not
/// present.
#[derive(Debug)]
pub struct Drive<C: Volumes> {
    cfg: DriveConfig,
    volumes: C,
    tape: Option<C::Medium>,
    /// A new medium was loaded and no OPEN has been told yet.
    attention: bool,
    /// A write or filemark on this volume went past early warning.
    past_ew: bool,
    /// The volume was rewound and closed past early warning: the next open
    /// for writing changes volumes, unless an eject does first.
    done: bool,
    blksize: u32,
    density: u8,
    drvbuf: u8,
    compress: bool,
    locked: bool,
    /// Where a run for the data area is read when the medium cannot read
    /// straight into it.
    scratch: Vec<u8>,
    /// A program has the master open (between its OPEN and its CLOSE).
    in_use: bool,
    /// TapeAlert flags raised since they were last read (bit n-1: flag n).
    alerts: u64,
    /// The medium's room when it was loaded (at its beginning): its
    /// capacity, for the tape capacity log page.
    loaded_room: Room,
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
            done: false,
            blksize: 0,
            density: 0,
            drvbuf: 1,
            compress: false,
            locked: false,
            scratch: Vec::new(),
            in_use: false,
            alerts: 0,
            loaded_room: Room::UNKNOWN,
        };
        d.load_next()?;
        Ok(d)
    }

    /// The drive's settings.
    pub fn config(&self) -> &DriveConfig {
        &self.cfg
    }

    /// The volume sequence, to change what it holds (a library's picker
    /// putting a cartridge in the drive or taking it out).
    pub fn volumes_mut(&mut self) -> &mut C {
        &mut self.volumes
    }

    /// True while a program has the drive open.
    pub fn in_use(&self) -> bool {
        self.in_use
    }

    /// True while medium removal is prevented (MTLOCK, PREVENT ALLOW
    /// MEDIUM REMOVAL).
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// True while a medium is loaded.
    pub fn loaded(&self) -> bool {
        self.tape.is_some()
    }

    /// Loads the next volume of the volume sequence, as a loader putting a
    /// tape in: the next OPEN gets the unit attention of a new medium.
    /// False if the sequence had none.
    pub fn load_medium(&mut self) -> Result<bool, MediumError> {
        if self.tape.is_none() {
            self.load_next()?;
        }
        Ok(self.tape.is_some())
    }

    /// Unloads the loaded volume (after making it durable) and gives it
    /// back to the volume sequence; the drive is then empty.
    pub fn unload_medium(&mut self) -> Result<(), MediumError> {
        self.unload()
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
            self.loaded_room = m.room();
            self.tape = Some(m);
            self.attention = true;
            self.past_ew = false;
        }
        Ok(())
    }

    /// A load command with the drive empty: the volume the drive ejected
    /// last, if the sequence keeps it in the drive, or the next one.
    fn load_again(&mut self) -> Result<(), MediumError> {
        if let Some(m) = self.volumes.load_again()? {
            info!(medium = %m.name(), "volume loaded again");
            self.loaded_room = m.room();
            self.tape = Some(m);
            self.attention = true;
            self.past_ew = false;
        }
        Ok(())
    }

    /// Ejects the loaded volume (after making it durable).
    fn unload(&mut self) -> Result<(), MediumError> {
        self.done = false;
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
            if let Some(limit) = t.in_flight_limit() {
                // A medium that cannot say how far early warning is: the
                // driver holds no more than its zone can take.
                room = room.min(limit);
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
    /// Executes a READRUN whose records go into the driver's data area
    /// (`buf`, the request's slice of it), appending the reply frame to
    /// `out`.
    pub fn execute_into(&mut self, req: &Req, buf: &mut [u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + REP_SIZE, 0);
        let (sense, n) = if req.op() == Some(Op::ReadRun) { self.read_run_area(req, buf) } else { (Sense::illegal(), 0) };
        self.finish_frame(req, sense, start, out, n);
    }

    pub fn execute(&mut self, req: &Req, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + REP_SIZE, 0);
        let sense = self.dispatch(req, data, out);
        self.finish(req, sense, start, out);
    }

    /// Completes the reply frame that starts at `start` of `out` (its data
    /// already after the header): the header with `sense` and the status.
    pub(super) fn finish(&mut self, req: &Req, sense: Sense, start: usize, out: &mut Vec<u8>) {
        self.finish_frame(req, sense, start, out, 0);
    }

    /// [`Drive::finish`], saying `area_len` bytes of data went to the
    /// driver's data area.
    fn finish_frame(&mut self, req: &Req, sense: Sense, start: usize, out: &mut Vec<u8>, area_len: usize) {
        let dlen = out.len() - start - REP_SIZE;
        let mut rep = Rep::good(req, self.status());
        rep.hdr.len = (REP_SIZE + dlen) as u32;
        rep.dlen = area_len as u32;
        rep.sense = sense.key as u8;
        rep.sflags = sense.flags.bits();
        rep.asc = sense.asc;
        rep.ascq = sense.ascq;
        rep.resid = sense.resid;
        if sense.key == SenseKey::DataProtect {
            self.alert(ALERT_WRITE_PROTECT);
        }
        if (sense.asc, sense.ascq) == (0x53, 0x02) {
            self.alert(ALERT_NO_REMOVAL);
        }
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
            Op::Scsi => self.scsi(req, data, out),
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

    pub(super) fn with_tape<R>(&mut self, f: impl FnOnce(&mut C::Medium) -> R) -> Option<R> {
        self.tape.as_mut().map(f)
    }

    pub(super) fn readonly(&self) -> bool {
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
        self.in_use = true;
        if self.tape.is_none() {
            return Sense::no_medium();
        }
        if self.done && rf.contains(ReqFlags::OPEN_WRITE) {
            // The program goes on writing after the end of a volume without
            // an eject in between: the loader changes volumes now.
            info!("the volume is done: the loader changes volumes for the next writer");
            if let Err(e) = self.unload().and_then(|()| self.load_next()) {
                warn!("{e}");
                return Sense::medium_error(asc::NOT_READY);
            }
            if self.tape.is_none() {
                return Sense::no_medium();
            }
        }
        if std::mem::take(&mut self.attention) {
            return Sense::new(SenseKey::UnitAttention, SenseFlags::empty(), asc::MEDIUM_CHANGED, 0, 0);
        }
        Sense::GOOD
    }

    fn close(&mut self) -> Sense {
        info!("master close");
        self.in_use = false;
        let r = self.sync().map(|()| {
            // Rewound and closed after early warning: the volume is done.
            // The change waits for what comes next: an eject (a script, an
            // operator) is the change; an open for writing without one
            // changes first. Changing here would make a later eject load a
            // second volume. Without another volume the tape stays, as in a
            // drive without a loader.
            let rewound = self.tape.as_ref().is_some_and(|t| t.at_bot());
            if self.past_ew && rewound && self.volumes.has_next() && !self.done {
                info!("volume {} done: the next writer gets the next volume", self.volumes.volume().unwrap_or(0));
                self.done = true;
            }
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
            self.load_again()
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
}
