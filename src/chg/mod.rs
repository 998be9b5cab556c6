//! The changer pair: a master that programs open as a SCSI media changer
//! (`/dev/pmcm<N>`) and a slave the library daemon reads (`/dev/pmcs<N>`).
//!
//! Every SCSI command reaches the daemon as a frame of the changer kind
//! ([`crate::proto::scsi`]), checked at the reply boundary like every daemon
//! value. Programs send commands two ways, as on Linux:
//! - [`sg`]: SG_IO with `struct sg_io_hdr`, as sg(4) and Linux's SCSI ioctls
//!   take it (what `mtx` uses), with the sg ioctls around it, and Linux's
//!   command filter for callers without CAP_SYS_RAWIO ([`filter`]);
//! - [`ch`]: the CHIO ioctls, translated into SMC commands as Linux's ch(4)
//!   and NetBSD's ch(4) do, with ch's sense-to-errno mapping.
//!
//! The host runs master calls one at a time per unit (its master lock), so
//! one command is in flight at most; the channel's bounds are the tape
//! pair's (a ring, and a window of one largest transfer).

pub mod ch;
mod rules;

use alloc::vec::Vec;

use crate::abi::Abi;
use crate::chan::{Chan, ChanLock, Kind, Limits, Outcome};
use crate::errno::{Errno, Result};
use crate::host::{Host, HostLock, Sleep, UserArg, UserIn, UserOut, Wait, WaitError};
use crate::proto::scsi::{self, Dir, Scsi, ScsiRep, ScsiReq};
use crate::sgio::{self, Address, Done, Executor, SgAnswer, SgIoctl, SgState};

pub use ch::{Capabilities, ElemStatus, ElemType, Elements, Rules, SenseRule, StatusAnswer};

/// ch's timeout for INITIALIZE ELEMENT STATUS (`timeout_init`), seconds.
pub const INIT_TIMEOUT: u32 = 3600;
/// ch's timeout for moves (`timeout_move`), seconds.
pub const MOVE_TIMEOUT: u32 = 300;
/// SCSI peripheral type of a medium changer.
pub const TYPE_MEDIUM_CHANGER: u8 = 8;

/// Requests in flight at most (one command, and room to spare).
const RING: usize = 4;

/// How a changer master file was opened, for the command filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OpenMode {
    /// Opened for writing (write-safe commands pass the filter).
    pub write: bool,
}

/// A changer ioctl as the engine runs it, whatever the host's numbering
/// (decoded by the host's ABI table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChIoctl {
    /// SG_IO or another sg ioctl.
    Sg(SgIoctl),
    /// A CHIO operation, translated into SMC.
    Ch(ch::Op),
}

/// What a changer ioctl answers, for the host's ABI table to lay out.
#[derive(Debug, PartialEq, Eq)]
pub enum ChAnswer {
    /// An sg ioctl's answer.
    Sg(SgAnswer),
    /// Nothing to copy out.
    Done,
    /// An int to copy out (CHIOGPICKER).
    Int(i32),
    /// CHIOGPARAMS: the element counts and the current picker.
    Params(Elements, i32),
    /// Element status (CHIOGSTATUS, CHIOGELEM).
    Status(StatusAnswer),
}

/// A changer ioctl decoded from a host's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangerIoctl {
    /// What the engine runs.
    pub what: ChIoctl,
    /// From a 32-bit caller (Linux): 32-bit layouts.
    pub compat32: bool,
    /// The host's command number, for its table's layout of the answer.
    pub cmd: u32,
    /// A buffer in the caller's memory the answer goes to (CHIOGSTATUS's
    /// array).
    pub addr: Option<u64>,
    /// The caller's array of pointers to vendor-specific buffers
    /// (NetBSD's `cesr_vendor_data`), if any.
    pub vendor: Option<u64>,
    /// The command can change the changer (NetBSD's ch wants a file open
    /// for writing for it).
    pub changes: bool,
}

/// The changer engine's state (one per unit, touched by master calls only).
#[derive(Debug)]
struct Engine {
    /// SG_SET_TIMEOUT and SG_SET_RESERVED_SIZE.
    sg: SgState,
    /// The element layout (MODE SENSE page 0x1D) and the daemon instance it
    /// was read from.
    elements: Option<(u64, Elements)>,
    /// The library answers READ ELEMENT STATUS with volume tags.
    voltags: bool,
    address: Address,
    /// The host's ch rules.
    rules: Rules,
    /// The moves and exchanges the changer can make (page 0x1F, read
    /// with the layout under [`Rules::capabilities`]).
    caps: Capabilities,
    /// ch's current picker, from the first transport (NetBSD's
    /// CHIOSPICKER; Linux's ch has one).
    picker: u16,
    /// NetBSD's ch events (CHEV_ELEMENT_STATUS_CHANGED) not yet read.
    events: u32,
}

/// NetBSD's `CHEV_ELEMENT_STATUS_CHANGED`: a UNIT ATTENTION said the
/// library's contents may have changed.
pub const CHEV_ELEMENT_STATUS_CHANGED: u32 = 1;

/// The engine's view of the channel and the host for one system call.
pub struct ChLink<'a> {
    chan: &'a ChanLock<Scsi>,
    /// The host.
    pub host: &'a mut dyn Host,
}

/// A pmt changer unit.
#[derive(Debug)]
pub struct ChangerUnit {
    abi: Abi,
    timeout: u32,
    chan: ChanLock<Scsi>,
    /// Only master system calls touch the engine, one at a time (the host's
    /// master lock): taken with `try_lock`, never waited for.
    engine: spin::mutex::SpinMutex<Engine>,
}

impl ChangerUnit {
    /// Changer unit `index` for host `abi`, its channel behind `lock`;
    /// `timeout` is the host's default command timeout in seconds.
    pub fn new(index: u32, abi: Abi, timeout: u32, lock: HostLock) -> Result<ChangerUnit> {
        // One command of the largest transfer at a time; the window is at
        // least a page.
        let chan = Chan::new(Limits { ring: RING, window: scsi::XFER_MAX as usize })?;
        let engine = Engine {
            sg: SgState::default(),
            elements: None,
            voltags: true,
            address: Address { host: 0, id: index, kind: TYPE_MEDIUM_CHANGER },
            rules: match abi {
                Abi::Linux => Rules::LINUX,
                Abi::NetBsd => Rules::NETBSD,
            },
            caps: Capabilities::default(),
            picker: 0,
            events: 0,
        };
        Ok(ChangerUnit {
            abi,
            timeout: if timeout == 0 { MOVE_TIMEOUT } else { timeout },
            chan: ChanLock::new(chan, lock, crate::host::HostArea::NONE),
            engine: spin::mutex::SpinMutex::new(engine),
        })
    }

    /// The unit's host ABI.
    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// The condition a master sleeps on (see [`Host::wait`]).
    pub fn cond(&self, what: Wait) -> bool {
        self.chan.with(|c| match what {
            Wait::Front => c.front_done() || c.is_empty(),
            Wait::Space(n) => c.has_space(n) || c.front_done() || !c.slave_present(),
        })
    }

    /// Bytes of changer ioctl `cmd`'s argument (the sg ioctls' numbers
    /// encode none).
    pub fn ioctl_size(&self, cmd: u64, compat32: bool) -> usize {
        self.abi.changer_arg_size(cmd, compat32)
    }

    /// Master ioctl. `compat32`: a 32-bit caller (Linux); `mode`: how the
    /// caller's file was opened. Returns the ioctl's return value (0 but
    /// for SG_GET_TIMEOUT).
    pub fn ioctl(&self, host: &mut dyn Host, cmd: u64, arg: &mut dyn UserArg, compat32: bool, mode: OpenMode) -> Result<i32> {
        let io = self.abi.decode_changer_ioctl(cmd, arg, compat32)?;
        let mut e = self.engine.try_lock().ok_or(Errno::Busy)?;
        if e.rules.write_to_change && io.changes && !mode.write {
            return Err(Errno::BadF);
        }
        let mut l = ChLink { chan: &self.chan, host };
        let answer = e.run(&mut l, io.what, mode, self.timeout)?;
        if let ChAnswer::Sg(SgAnswer::Return(v)) = answer {
            return Ok(v);
        }
        self.abi.encode_changer_answer(&io, answer, arg, l.host).map(|()| 0)
    }

    /// A master open. Under [`Rules::open_reads_layout`] (NetBSD's
    /// chopen): TEST UNIT READY, NOT READY allowed, and the layout read
    /// afresh; an error fails the open. Otherwise nothing.
    pub fn open(&self, host: &mut dyn Host) -> Result<()> {
        let mut e = self.engine.try_lock().ok_or(Errno::Busy)?;
        if !e.rules.open_reads_layout {
            return Ok(());
        }
        let mut l = ChLink { chan: &self.chan, host };
        let d = e.command(&mut l, &[0x00, 0, 0, 0, 0, 0], Dir::None, &[], 0, self.timeout)?;
        if !matches!(d.sense(), Some((0x2, _, _))) {
            e.result(&d)?;
        }
        e.elements = None;
        e.elements(&mut l, self.timeout).map(|_| ())
    }

    /// A master read: NetBSD's chread, the events not yet read as one
    /// int (EINVAL for any other size), which it clears; a Linux changer
    /// has no read (EINVAL).
    pub fn read(&self, out: &mut dyn UserOut, count: usize) -> Result<usize> {
        let mut e = self.engine.try_lock().ok_or(Errno::Busy)?;
        if !e.rules.open_reads_layout || count != 4 {
            return Err(Errno::Inval);
        }
        out.write(0, &e.events.to_ne_bytes())?;
        e.events = 0;
        Ok(4)
    }

    /// The last close of the master (NetBSD's chclose: events cleared).
    pub fn close(&self) {
        if let Some(mut e) = self.engine.try_lock() {
            e.events = 0;
        }
    }

    /// A daemon opens the slave.
    pub fn sopen(&self) -> Result<()> {
        self.chan.with(|c| c.slave_open())
    }

    /// The daemon closed the slave (or died): the command in flight fails.
    pub fn sclose(&self) {
        self.chan.with(|c| c.slave_close());
    }

    /// True if a slave read would return a request now.
    pub fn readable(&self) -> bool {
        self.chan.with(|c| c.readable())
    }

    /// Bytes a slave read with room for everything would return now.
    pub fn pending(&self) -> usize {
        self.chan.with(|c| c.pending())
    }

    /// Slave read(): the queued commands that fit `len` bytes.
    pub fn sread(&self, out: &mut dyn UserOut, len: usize) -> Result<usize> {
        self.chan.slave_read(out, len)
    }

    /// Slave write(): replies.
    pub fn swrite(&self, src: &mut dyn UserIn, len: usize) -> Result<usize> {
        self.chan.slave_write(src, len)
    }
}

impl Engine {
    fn run(&mut self, l: &mut ChLink<'_>, what: ChIoctl, mode: OpenMode, timeout: u32) -> Result<ChAnswer> {
        match what {
            ChIoctl::Sg(s) => sgio::run(&mut self.sg, l, s, mode.write, self.address).map(ChAnswer::Sg),
            ChIoctl::Ch(op) => self.chio(l, op, timeout),
        }
    }

    /// The daemon instance now, if a daemon holds the slave.
    fn generation(&self, l: &ChLink<'_>) -> Option<u64> {
        l.chan.with(|c| c.slave_present().then(|| c.generation()))
    }

    /// Sends a command built by the engine, with the data to send (if any)
    /// or the most to receive, retrying after a unit attention as ch does.
    fn command(&mut self, l: &mut ChLink<'_>, cdb: &[u8], dir: Dir, out: &[u8], xfer: u32, timeout: u32) -> Result<Done> {
        let mut tries = 0;
        loop {
            let mut data = Vec::new();
            if dir == Dir::ToDev {
                data.try_reserve_exact(out.len()).map_err(|_| Errno::NoMem)?;
                data.extend_from_slice(out);
            }
            let d = l.execute(cdb, dir, data, xfer, timeout.saturating_mul(1000))?;
            match d.sense() {
                Some((0x6, asc, 0)) if asc == 0x28 || asc == 0x29 => {
                    // NetBSD's ch_interpret_sense: the inventory may have
                    // changed.
                    self.events |= CHEV_ELEMENT_STATUS_CHANGED;
                    if tries >= 3 {
                        return Ok(d);
                    }
                    tries += 1;
                }
                Some((0x6, _, _)) if tries < 3 => tries += 1,
                _ => return Ok(d),
            }
        }
    }
}

impl ChLink<'_> {
    /// Pops completed entries; returns the one with id `want`. Data of the
    /// others (orphans) is freed here, unlocked.
    fn reap(&self, want: u64) -> Option<(Outcome<ScsiRep>, Vec<u8>)> {
        loop {
            let e = self.chan.with(|c| c.pop_done())?;
            if e.kind == Kind::Sync && e.id() == want {
                return Some((e.outcome().unwrap_or(Outcome::Lost), e.data));
            }
        }
    }
}

impl Executor for ChLink<'_> {
    fn host(&mut self) -> &mut dyn Host {
        self.host
    }

    /// Sends one command and waits for its reply (ch_do_scsi, sg_io's
    /// blk_execute_rq). A command in flight is waited for until it
    /// completes, the daemon goes, or the timeout passes; only a fatal
    /// signal ends the wait earlier. The daemon gone is EIO at once.
    fn execute(&mut self, cdb: &[u8], dir: Dir, mut data: Vec<u8>, xfer: u32, timeout_ms: u32) -> Result<Done> {
        let len = if dir == Dir::ToDev { u32::try_from(data.len()).map_err(|_| Errno::Inval)? } else { xfer };
        let mut req = ScsiReq::new(cdb, dir, len);
        req.timeout_ms = timeout_ms;
        let timeout = timeout_ms.div_ceil(1000).max(1);
        let id = loop {
            match self.chan.with(|c| c.submit(req, &mut data, Kind::Sync)) {
                Ok(id) => break id,
                Err(Errno::Again) => match self.host.wait(Wait::Space(0), Sleep::Interruptible, timeout) {
                    Ok(()) => {}
                    Err(WaitError::Restart) => return Err(Errno::RestartSys),
                    Err(WaitError::Interrupted) => return Err(Errno::Intr),
                    Err(WaitError::TimedOut) => return Err(Errno::Io),
                },
                Err(e) => return Err(e),
            }
        };
        drop(data);
        self.host.wake_slave();
        loop {
            if let Some((outcome, data)) = self.reap(id) {
                return match outcome {
                    Outcome::Reply(rep) => Ok(Done { rep, data }),
                    Outcome::Lost => Err(Errno::Io),
                };
            }
            if let Err(e) = self.host.wait(Wait::Front, Sleep::Killable, timeout) {
                self.chan.with(|c| c.orphan(id));
                return Err(match e {
                    WaitError::Interrupted | WaitError::Restart => Errno::Intr,
                    WaitError::TimedOut => Errno::Io,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
