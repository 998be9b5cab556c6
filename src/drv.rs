//! The tape driver engine: what st(4) does between the system calls of the
//! master device and the drive (the daemon).
//!
//! The engine follows Linux's drivers/scsi/st.c closely (its state names, its
//! file and block bookkeeping, its end-of-file state machine), talking to the
//! drive through the slave protocol instead of SCSI. Where another host's st
//! differs (NetBSD), the difference is a field of [`Policy`].
//!
//! An engine runs only inside a master system call, one at a time (the glue
//! holds the unit's master mutex), and reaches the channel through [`Link`].
//! It sleeps only through [`Host::wait`], never with the channel locked.
//!
//! Write-behind: a write is acknowledged once it is queued for the daemon,
//! like st's asynchronous writes but with a window of many records (the
//! window bounds the kernel memory of a unit). Results come back later and are
//! reaped in order; an error reaches the writer at the next write, filemark or
//! close. Early warning stays exact: the drive reports in every reply how many
//! bytes remain before early warning, and a write that could reach it is done
//! synchronously after the window drains.

use alloc::vec::Vec;

use crate::chan::{ChanLock, Kind, Outcome};
use crate::errno::{Errno, Result};
use crate::host::{Host, Sleep, UserIn, UserOut, Wait, WaitError};
use crate::proto::{self, asc, DriveFlags, Op, Rep, Req, ReqFlags, SenseFlags, SenseKey, Space};

/// st's fixed-block buffer (ST_FIXED_BUFFER_BLOCKS KiB).
pub const FIXED_BUFFER_SIZE: usize = 32 * 1024;
/// Fixed-block writes are split into requests of at most this many bytes,
/// which bounds the kernel memory one write() can take.
pub const FIXED_WRITE_CHUNK: usize = 1024 * 1024;
/// st's normal command timeout, seconds.
pub const TIMEOUT: u32 = 900;
/// st's timeout for long operations (rewind, space, erase), seconds.
pub const LONG_TIMEOUT: u32 = 14000;

/// A tape operation (MTIOCTOP), named once for every host ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtOp {
    /// Reset the drive (st: unsupported).
    Reset,
    /// Forward space filemarks.
    Fsf,
    /// Backward space filemarks.
    Bsf,
    /// Forward space records.
    Fsr,
    /// Backward space records.
    Bsr,
    /// Write filemarks.
    Weof,
    /// Rewind.
    Rew,
    /// Rewind and unload.
    Offl,
    /// No operation; flushes.
    Nop,
    /// Retension.
    Reten,
    /// Backward space filemarks, position at the filemark.
    Bsfm,
    /// Forward space filemarks, position at the filemark.
    Fsfm,
    /// Space to end of data.
    Eom,
    /// Erase.
    Erase,
    /// Self test 1 (st: unsupported).
    Ras1,
    /// Self test 2 (st: unsupported).
    Ras2,
    /// Self test 3 (st: unsupported).
    Ras3,
    /// Set the block size.
    SetBlk,
    /// Set the density.
    SetDensity,
    /// Locate to a block.
    Seek,
    /// Tell the block (st: through MTIOCPOS only).
    Tell,
    /// Set the drive buffering, or driver options.
    SetDrvBuffer,
    /// Forward space setmarks.
    Fss,
    /// Backward space setmarks.
    Bss,
    /// Write setmarks.
    Wsm,
    /// Lock the door.
    Lock,
    /// Unlock the door.
    Unlock,
    /// Load.
    Load,
    /// Unload.
    Unload,
    /// Compression on or off.
    Compression,
    /// Change partition.
    SetPart,
    /// Make partitions.
    MkPart,
    /// Write filemarks, immediate.
    Weofi,
    /// NetBSD MTCACHE: enable drive buffering.
    Cache,
    /// NetBSD MTNOCACHE: disable drive buffering.
    NoCache,
    /// NetBSD MTEWARN: report early warning.
    Ewarn,
    /// NetBSD MTNBSF: backward space to the start of the file.
    Nbsf,
}

/// Host conventions that differ between st implementations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How early warning reaches the writer.
    pub eom: EomPolicy,
    /// Write two filemarks at close (backspacing over the second).
    pub two_fm: bool,
    /// errno for a record larger than the read buffer.
    pub short_read: Errno,
}

/// How a host reports early warning to a writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EomPolicy {
    /// Linux: the write that meets it succeeds, the next fails with ENOSPC,
    /// then success and ENOSPC alternate until the end of medium.
    Enospc,
    /// NetBSD: with MTEWARN the write that meets it succeeds and the next
    /// transfer fails with EIO; without it writes go on to the end of medium.
    Eio,
}

impl Policy {
    /// Linux st.
    pub const LINUX: Policy = Policy { eom: EomPolicy::Enospc, two_fm: false, short_read: Errno::NoMem };
    /// NetBSD st.
    pub const NETBSD: Policy = Policy { eom: EomPolicy::Eio, two_fm: true, short_read: Errno::Io };
}

/// Drive readiness as st tracks it (`STp->ready`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// A medium is loaded.
    Ready,
    /// The drive is not ready (no daemon).
    NotReady,
    /// No medium.
    NoTape,
}

/// Last direction of data transfer (`STps->rw`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rw {
    /// Neither.
    Idle,
    /// Reading.
    Reading,
    /// Writing.
    Writing,
}

/// The end-of-file state machine (`STps->eof`), in st's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Eof {
    /// Nothing special.
    No,
    /// A read ran into a filemark; not yet reported.
    FmHit,
    /// Just after a filemark.
    Fm,
    /// Early warning met while writing; the next write fails.
    EomOk,
    /// A write failed at end of medium.
    EomError,
    /// End of data met (reading), or one write allowed after ENOSPC (writing).
    Eod1,
    /// End of data: one more zero read.
    Eod2,
    /// End of data: reads fail.
    Eod,
}

/// st's driver options (MTSETDRVBUFFER with MT_ST_BOOLEANS and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opts {
    /// Buffer fixed-block writes.
    pub buffer_writes: bool,
    /// Asynchronous (write-behind) writes.
    pub async_writes: bool,
    /// Read ahead in fixed-block mode.
    pub read_ahead: bool,
    /// Two filemarks at close.
    pub two_fm: bool,
    /// MTEOM straight to end of data (file number unknown).
    pub fast_mteom: bool,
    /// Lock the door while open.
    pub auto_lock: bool,
    /// Defaults apply to writes only.
    pub def_writes: bool,
    /// The drive can backspace records.
    pub can_bsr: bool,
    /// Do not ask the block limits.
    pub no_blklims: bool,
    /// Logical block addresses for MTSEEK/MTIOCPOS.
    pub scsi2logical: bool,
    /// System V semantics at close.
    pub sysv: bool,
    /// Immediate mode for motion commands.
    pub nowait: bool,
    /// Suppress incorrect-length indications.
    pub sili: bool,
    /// Immediate filemarks.
    pub nowait_eof: bool,
    /// NetBSD MTEWARN: report early warning.
    pub ewarn: bool,
}

impl Opts {
    /// st's defaults (st_options.h) for a SCSI-2 drive.
    pub const fn st_default(policy: &Policy) -> Opts {
        Opts {
            buffer_writes: true,
            async_writes: true,
            read_ahead: true,
            two_fm: policy.two_fm,
            fast_mteom: false,
            auto_lock: false,
            def_writes: false,
            can_bsr: true,
            no_blklims: false,
            scsi2logical: false,
            sysv: false,
            nowait: false,
            sili: false,
            nowait_eof: false,
            ewarn: false,
        }
    }
}

/// Linux MT_ST_* option bits (shared by MTSETDRVBUFFER on every host).
pub mod mtst {
    /// Option code mask.
    pub const OPTIONS: u32 = 0xf000_0000;
    /// Set all booleans.
    pub const BOOLEANS: u32 = 0x1000_0000;
    /// Set the named booleans.
    pub const SETBOOLEANS: u32 = 0x3000_0000;
    /// Clear the named booleans.
    pub const CLEARBOOLEANS: u32 = 0x4000_0000;
    /// Obsolete write threshold.
    pub const WRITE_THRESHOLD: u32 = 0x2000_0000;
    /// Default block size.
    pub const DEF_BLKSIZE: u32 = 0x5000_0000;
    /// Default density, drive buffer, compression.
    pub const DEF_OPTIONS: u32 = 0x6000_0000;
    /// Timeouts.
    pub const TIMEOUTS: u32 = 0x7000_0000;
    /// Long timeout flag.
    pub const SET_LONG_TIMEOUT: u32 = 0x0010_0000;
    /// Cleaning request detection.
    pub const SET_CLN: u32 = 0x8000_0000;
    /// Clear a default.
    pub const CLEAR_DEFAULT: u32 = 0xfffff;
    /// Default density selector.
    pub const DEF_DENSITY: u32 = DEF_OPTIONS | 0x10_0000;
    /// Default compression selector.
    pub const DEF_COMPRESSION: u32 = DEF_OPTIONS | 0x20_0000;
    /// Default drive buffer selector.
    pub const DEF_DRVBUFFER: u32 = DEF_OPTIONS | 0x30_0000;
    /// Block size mask of a DEF_BLKSIZE argument and of mt_dsreg.
    pub const BLKSIZE_MASK: u32 = 0x00ff_ffff;
    /// Boolean bits.
    pub const BUFFER_WRITES: u32 = 0x1;
    /// Boolean bits.
    pub const ASYNC_WRITES: u32 = 0x2;
    /// Boolean bits.
    pub const READ_AHEAD: u32 = 0x4;
    /// Boolean bits.
    pub const DEBUGGING: u32 = 0x8;
    /// Boolean bits.
    pub const TWO_FM: u32 = 0x10;
    /// Boolean bits.
    pub const FAST_MTEOM: u32 = 0x20;
    /// Boolean bits.
    pub const AUTO_LOCK: u32 = 0x40;
    /// Boolean bits.
    pub const DEF_WRITES: u32 = 0x80;
    /// Boolean bits.
    pub const CAN_BSR: u32 = 0x100;
    /// Boolean bits.
    pub const NO_BLKLIMS: u32 = 0x200;
    /// Boolean bits.
    pub const CAN_PARTITIONS: u32 = 0x400;
    /// Boolean bits.
    pub const SCSI2LOGICAL: u32 = 0x800;
    /// Boolean bits.
    pub const SYSV: u32 = 0x1000;
    /// Boolean bits.
    pub const NOWAIT: u32 = 0x2000;
    /// Boolean bits.
    pub const SILI: u32 = 0x4000;
    /// Boolean bits.
    pub const NOWAIT_EOF: u32 = 0x8000;
}

/// How the master device was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OpenFlags {
    /// Opened for reading.
    pub read: bool,
    /// Opened for writing.
    pub write: bool,
    /// O_NONBLOCK: do not wait for (or require) a medium.
    pub nonblock: bool,
    /// The no-rewind node.
    pub norewind: bool,
}

/// Everything MTIOCGET reports, before a host ABI lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TapeStatus {
    /// Block size (0 = variable).
    pub blksize: u32,
    /// Density code.
    pub density: u8,
    /// File number (-1 unknown).
    pub fileno: i32,
    /// Block number in the file (-1 unknown).
    pub blkno: i32,
    /// Soft errors since the last status.
    pub soft_errors: u32,
    /// Partition.
    pub partition: u32,
    /// At the beginning of the tape.
    pub bot: bool,
    /// Just after a filemark.
    pub eof: bool,
    /// At early warning or end of medium.
    pub eot: bool,
    /// At a setmark.
    pub sm: bool,
    /// At end of data.
    pub eod: bool,
    /// Write protected.
    pub wr_prot: bool,
    /// A medium is loaded.
    pub online: bool,
    /// No medium ("door open").
    pub dr_open: bool,
    /// Immediate report (buffered) mode.
    pub im_rep_en: bool,
    /// Cleaning requested.
    pub cln: bool,
    /// The driver reads and writes fixed blocks.
    pub fixed: bool,
}

/// Per-partition position state (`struct st_partstat`); pmt has one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartStat {
    /// Last transfer direction.
    pub rw: Rw,
    /// End-of-file state.
    pub eof: Eof,
    /// At a setmark.
    pub at_sm: bool,
    /// File number, -1 unknown.
    pub drv_file: i32,
    /// Block number in the file, -1 unknown.
    pub drv_block: i32,
}

/// Door lock state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    Unlocked,
    Explicit,
    Auto,
    Fails,
}

/// What a completed drive command returned, as st reads sense data.
#[derive(Clone, Copy, Debug)]
struct Sense {
    good: bool,
    key: SenseKey,
    flags: SenseFlags,
    asc: u8,
    ascq: u8,
    resid: i64,
}

impl Sense {
    fn of(rep: &Rep) -> Sense {
        Sense {
            good: rep.is_good(),
            key: rep.sense_key().unwrap_or(SenseKey::HardwareError),
            flags: rep.sense_flags(),
            asc: rep.asc,
            ascq: rep.ascq,
            resid: rep.resid,
        }
    }
}

/// A completed synchronous command.
struct Done {
    rep: Rep,
    sense: Sense,
    data: Vec<u8>,
}

/// The engine's view of the channel and the host for one system call.
pub struct Link<'a> {
    /// The unit's channel.
    pub chan: &'a ChanLock,
    /// The OS glue.
    pub host: &'a mut dyn Host,
}

/// The driver state of one unit (`struct scsi_tape` and its partition state).
#[derive(Debug)]
pub struct Drv {
    policy: Policy,
    /// Unit number, sent with OPEN.
    unit: u32,
    in_use: bool,
    /// The daemon instance of the current session.
    session: Option<u64>,
    /// The daemon instance of the last session: a new one means a new medium.
    last_gen: Option<u64>,
    ready: Ready,
    pos_unknown: bool,
    write_prot: bool,
    drv_write_prot: bool,
    block_size: u32,
    density: u8,
    drv_buffer: u8,
    min_block: u32,
    max_block: u32,
    rew_at_close: bool,
    autorew_dev: bool,
    opts: Opts,
    default_blksize: Option<u32>,
    default_density: Option<u8>,
    default_drvbuffer: Option<u8>,
    default_compression: Option<bool>,
    blksize_changed: bool,
    density_changed: bool,
    compression_changed: bool,
    door: Door,
    ps: PartStat,
    recover_reg: u32,
    cleaning_req: bool,
    timeout: u32,
    long_timeout: u32,
    /// How master waits sleep in this system call.
    sleep: Sleep,
    /// The read buffer: data of the last READ and how much is left.
    rbuf: Vec<u8>,
    rptr: usize,
    rbytes: usize,
    /// Bytes before early warning at the last reply, and the cost of the
    /// write-behind requests issued since.
    room: u64,
    behind_cost: u64,
    /// Result of reaped write-behind requests not yet reported.
    behind_err: Option<Errno>,
}

fn s24(v: i64) -> i32 {
    // SPACE counts are 24-bit signed in SCSI, as st sends them.
    ((v as i32) << 8) >> 8
}

fn u24(v: i64) -> i32 {
    (v as i32) & 0x00ff_ffff
}

fn cost(req: &Req) -> u64 {
    let marks = u64::from(req.count.unsigned_abs()).max(1);
    req.length.saturating_add(marks.saturating_mul(proto::RECORD_COST))
}

impl Drv {
    /// A unit's driver state, as after st's probe.
    pub fn new(unit: u32, policy: Policy, timeout: u32) -> Drv {
        Drv {
            policy,
            unit,
            in_use: false,
            session: None,
            last_gen: None,
            ready: Ready::NotReady,
            pos_unknown: false,
            write_prot: false,
            drv_write_prot: false,
            block_size: 0,
            density: 0,
            drv_buffer: 0,
            min_block: 0,
            max_block: 0,
            rew_at_close: true,
            autorew_dev: true,
            opts: Opts::st_default(&policy),
            default_blksize: None,
            default_density: None,
            default_drvbuffer: None,
            default_compression: None,
            blksize_changed: false,
            density_changed: false,
            compression_changed: false,
            door: Door::Unlocked,
            ps: PartStat { rw: Rw::Idle, eof: Eof::No, at_sm: false, drv_file: -1, drv_block: -1 },
            recover_reg: 0,
            cleaning_req: false,
            timeout: if timeout == 0 { TIMEOUT } else { timeout },
            long_timeout: LONG_TIMEOUT.max(timeout),
            sleep: Sleep::Killable,
            rbuf: Vec::new(),
            rptr: 0,
            rbytes: 0,
            room: proto::ROOM_UNLIMITED,
            behind_cost: 0,
            behind_err: None,
        }
    }

    /// The position state (for tests and diagnostics).
    pub fn partstat(&self) -> PartStat {
        self.ps
    }

    /// The current options.
    pub fn opts(&self) -> Opts {
        self.opts
    }

    /// True while the master device is open.
    pub fn in_use(&self) -> bool {
        self.in_use
    }

    // ----- the channel -----------------------------------------------------

    fn session_alive(&self, l: &Link<'_>) -> bool {
        match self.session {
            Some(g) => l.chan.with(|c| c.slave_present() && c.generation() == g),
            None => false,
        }
    }

    /// Pops completed entries from the front of the ring without waiting and
    /// processes write-behind results. Returns the entry with id `want` if
    /// it is among them. Data of other entries is freed here, unlocked.
    fn reap(&mut self, l: &Link<'_>, want: Option<u64>) -> Option<(Outcome, Vec<u8>)> {
        loop {
            let e = l.chan.with(|c| c.pop_done())?;
            let outcome = e.outcome().unwrap_or(Outcome::Lost);
            match e.kind {
                Kind::Behind => self.behind_done(&e.req, outcome),
                Kind::Orphan => {}
                Kind::Sync => {
                    if Some(e.req.hdr.id) == want {
                        return Some((outcome, e.data));
                    }
                }
            }
        }
    }

    /// st's write_behind_check for one completed write-behind request.
    fn behind_done(&mut self, req: &Req, outcome: Outcome) {
        self.behind_cost = self.behind_cost.saturating_sub(cost(req));
        let blocks = if req.flags().contains(ReqFlags::FIXED) { req.count.max(0) } else { 1 };
        let rep = match outcome {
            Outcome::Reply(rep) => rep,
            Outcome::Lost => {
                self.ps.drv_block = -1;
                self.behind_err = Some(Errno::Io);
                return;
            }
        };
        self.room = rep.status.room;
        if self.ps.drv_block >= 0 {
            self.ps.drv_block = self.ps.drv_block.saturating_add(blocks);
        }
        let s = Sense::of(&rep);
        if s.good || (s.key == SenseKey::Recovered && s.flags.is_empty()) {
            return;
        }
        let mut err = Errno::Io;
        if s.flags.contains(SenseFlags::EOM)
            && matches!(s.key, SenseKey::NoSense | SenseKey::Recovered)
            && s.resid == 0
        {
            err = Errno::NoSpc;
        }
        if err == Errno::Io {
            self.ps.drv_block = -1;
        }
        // The first error is the one reported; EIO outranks early warning.
        if self.behind_err != Some(Errno::Io) {
            self.behind_err = Some(err);
        }
    }

    /// Waits until every outstanding request has completed and is reaped.
    fn drain(&mut self, l: &mut Link<'_>) -> Result<()> {
        loop {
            self.reap(l, None);
            if l.chan.with(|c| c.is_empty()) {
                return Ok(());
            }
            let t = self.timeout;
            match l.host.wait(Wait::Front, self.sleep, t) {
                Ok(()) => {}
                Err(WaitError::Interrupted) => return Err(Errno::Intr),
                Err(WaitError::TimedOut) => {
                    self.pos_unknown = true;
                    return Err(Errno::Io);
                }
            }
        }
    }

    /// st's write_behind_check: the write-behind result not yet reported.
    fn write_behind_check(&mut self, l: &mut Link<'_>, wait: bool) -> Result<()> {
        if wait {
            self.drain(l)?;
        } else {
            self.reap(l, None);
        }
        match self.behind_err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sends a drive command and waits for its reply (st_do_scsi with do_wait).
    fn call(&mut self, l: &mut Link<'_>, req: Req, mut data: Vec<u8>, timeout: u32) -> Result<Done> {
        if !self.session_alive(l) {
            self.lose_session();
            return Err(Errno::Io);
        }
        let id = loop {
            match l.chan.with(|c| c.submit(req, &mut data, Kind::Sync)) {
                Ok(id) => break id,
                Err(Errno::Again) => {
                    self.reap(l, None);
                    match l.host.wait(Wait::Space(0), self.sleep, timeout) {
                        Ok(()) => continue,
                        Err(WaitError::Interrupted) => return Err(Errno::Intr),
                        Err(WaitError::TimedOut) => return Err(Errno::Io),
                    }
                }
                Err(e) => {
                    self.lose_session();
                    return Err(e);
                }
            }
        };
        drop(data);
        l.host.wake_slave();
        loop {
            if let Some((outcome, data)) = self.reap(l, Some(id)) {
                return match outcome {
                    Outcome::Reply(rep) => {
                        self.room = rep.status.room;
                        let sense = Sense::of(&rep);
                        Ok(Done { rep, sense, data })
                    }
                    Outcome::Lost => {
                        self.lose_session();
                        Err(Errno::Io)
                    }
                };
            }
            match l.host.wait(Wait::Front, self.sleep, timeout) {
                Ok(()) => {}
                Err(e) => {
                    // The command is in flight: its effect on the position is
                    // unknown from now on.
                    l.chan.with(|c| c.orphan(id));
                    self.pos_unknown = true;
                    return Err(match e {
                        WaitError::Interrupted => Errno::Intr,
                        WaitError::TimedOut => Errno::Io,
                    });
                }
            }
        }
    }

    /// The daemon went away: the position of the medium is unknown.
    fn lose_session(&mut self) {
        if self.session.is_some() {
            self.pos_unknown = true;
        }
    }

    /// st_chk_result: 0 for success, EIO for any other condition.
    fn chk(&mut self, s: &Sense) -> Result<()> {
        if s.good {
            return Ok(());
        }
        if s.key == SenseKey::UnitAttention && s.asc == 0x29 {
            self.pos_unknown = true;
        }
        if s.asc == 0 && s.ascq == 0x17 {
            self.cleaning_req = true;
        }
        if s.key == SenseKey::Recovered {
            self.recover_reg = self.recover_reg.saturating_add(1);
            if s.flags.is_empty() {
                return Ok(());
            }
        }
        Err(Errno::Io)
    }

    fn immed(&self) -> ReqFlags {
        if self.opts.nowait {
            ReqFlags::IMMED
        } else {
            ReqFlags::empty()
        }
    }

    fn not_ready_err(&self) -> Errno {
        if self.ready == Ready::NoTape {
            Errno::NoMedium
        } else {
            Errno::Io
        }
    }

    fn apply_status(&mut self, st: &proto::Status) {
        self.min_block = st.minblk;
        self.max_block = st.maxblk;
        self.density = st.density;
        self.block_size = st.blksize & mtst::BLKSIZE_MASK;
        self.drv_buffer = st.drvbuf & 7;
        self.drv_write_prot = st.flags().contains(DriveFlags::WRPROT);
        if st.flags().contains(DriveFlags::CLEAN) {
            self.cleaning_req = true;
        }
    }

    fn new_session_positions(&mut self) {
        self.pos_unknown = false;
        self.ps = PartStat { rw: Rw::Idle, eof: Eof::No, at_sm: false, drv_file: 0, drv_block: 0 };
    }

    // ----- open and close --------------------------------------------------

    /// st_open + check_tape. `gen` is the daemon instance at open, if any.
    pub fn open(&mut self, l: &mut Link<'_>, flags: OpenFlags) -> Result<()> {
        if self.in_use {
            return Err(Errno::Busy);
        }
        self.sleep = Sleep::Killable;
        // Anything left by an interrupted earlier session is reaped first.
        self.reap(l, None);
        self.behind_err = None;
        self.behind_cost = 0;
        self.rew_at_close = !flags.norewind;
        self.autorew_dev = !flags.norewind;
        self.write_prot = flags.read && !flags.write;
        self.ps.rw = Rw::Idle;
        self.recover_reg = 0;
        self.rbuf = Vec::new();
        self.rptr = 0;
        self.rbytes = 0;
        match self.check_tape(l, flags) {
            Ok(true) => {}
            Ok(false) if flags.nonblock => {}
            Ok(false) => {
                let e = self.not_ready_err();
                self.close_session(l);
                return Err(e);
            }
            Err(e) => {
                self.close_session(l);
                return Err(e);
            }
        }
        self.in_use = true;
        Ok(())
    }

    /// Tells the daemon the master closed, if a session exists.
    fn close_session(&mut self, l: &mut Link<'_>) {
        if self.session_alive(l) {
            let _ = self.call(l, Req::new(Op::Close), Vec::new(), self.timeout);
        }
        self.session = None;
    }

    /// check_tape: Ok(true) ready, Ok(false) not ready, or an error.
    fn check_tape(&mut self, l: &mut Link<'_>, flags: OpenFlags) -> Result<bool> {
        let gen = l.chan.with(|c| c.slave_present().then(|| c.generation()));
        let Some(gen) = gen else {
            self.set_not_ready(Ready::NotReady);
            self.session = None;
            return Ok(false);
        };
        let new_daemon = self.last_gen != Some(gen);
        self.session = Some(gen);
        self.last_gen = Some(gen);
        let mut req = Req::new(Op::Open);
        let mut rf = ReqFlags::empty();
        if flags.read {
            rf |= ReqFlags::OPEN_READ;
        }
        if flags.write {
            rf |= ReqFlags::OPEN_WRITE;
        }
        if flags.nonblock {
            rf |= ReqFlags::OPEN_NONBLOCK;
        }
        if flags.norewind {
            rf |= ReqFlags::OPEN_NOREWIND;
        }
        req.flags = rf.bits();
        req.arg = u64::from(self.unit);
        let d = self.call(l, req, Vec::new(), self.long_timeout)?;
        let s = d.sense;
        let mut new_session = new_daemon;
        if !s.good {
            match s.key {
                SenseKey::UnitAttention if s.asc == asc::MEDIUM_CHANGED => new_session = true,
                SenseKey::UnitAttention => new_session = true,
                SenseKey::NotReady => {
                    self.set_not_ready(if s.asc == asc::NO_MEDIUM { Ready::NoTape } else { Ready::NotReady });
                    return Ok(false);
                }
                _ => return Err(Errno::Io),
            }
        }
        self.ready = Ready::Ready;
        if new_session {
            self.new_session_positions();
            self.density_changed = false;
            self.blksize_changed = false;
            self.compression_changed = false;
        }
        self.apply_status(&d.rep.status);
        if self.opts.no_blklims {
            self.min_block = 0;
            self.max_block = 0;
        }
        if self.drv_write_prot {
            self.write_prot = true;
            if !flags.nonblock && flags.write {
                return Err(Errno::RoFs);
            }
        }
        if new_session {
            if !self.opts.def_writes {
                self.set_mode_densblk(l)?;
            }
            if let Some(b) = self.default_drvbuffer {
                let _ = self.int_ioctl(l, MtOp::SetDrvBuffer, i64::from(b));
            }
        }
        Ok(true)
    }

    fn set_not_ready(&mut self, r: Ready) {
        self.ready = r;
        self.density = 0;
        self.write_prot = false;
        self.block_size = 0;
        self.ps.drv_file = -1;
        self.ps.drv_block = -1;
        self.door = Door::Unlocked;
    }

    /// st_flush: the work of the last close() of the master file.
    pub fn flush(&mut self, l: &mut Link<'_>) -> Result<()> {
        self.sleep = Sleep::Uninterruptible;
        let mut result: Result<()> = Ok(());
        let mut skip_to_rewind = false;
        if self.ps.rw == Rw::Writing && !self.pos_unknown {
            if let Err(e) = self.flush_write_buffer(l) {
                if e != Errno::NoSpc {
                    result = Err(e);
                    skip_to_rewind = true;
                }
            }
        }
        if !skip_to_rewind {
            if self.ps.rw == Rw::Writing && !self.pos_unknown {
                let mut req = Req::new(Op::Wfm);
                if self.opts.nowait_eof {
                    req.flags = ReqFlags::IMMED.bits();
                }
                req.count = 1 + i32::from(self.opts.two_fm);
                match self.call(l, req, Vec::new(), self.timeout) {
                    Ok(d) if d.sense.good || eom_written(&d.sense) => {
                        if self.ps.drv_file >= 0 {
                            self.ps.drv_file += 1;
                        }
                        self.ps.drv_block = 0;
                        if self.opts.two_fm {
                            let _ = self.cross_eof(l, false);
                        }
                        self.ps.eof = Eof::Fm;
                    }
                    Ok(_) | Err(_) => {
                        if result.is_ok() {
                            result = Err(Errno::Io);
                        }
                    }
                }
            } else if !self.rew_at_close {
                if !self.opts.sysv || self.ps.rw != Rw::Reading {
                    if self.opts.can_bsr {
                        result = self.flush_buffer(l, false);
                    } else if self.ps.eof == Eof::FmHit {
                        if self.cross_eof(l, false).is_err() {
                            self.bump_file();
                            self.ps.eof = Eof::Fm;
                        } else {
                            self.ps.eof = Eof::No;
                        }
                    }
                } else {
                    let crossed = self.ps.eof == Eof::No && self.cross_eof(l, true).is_ok();
                    if crossed || self.ps.eof == Eof::FmHit {
                        self.bump_file();
                        self.ps.eof = Eof::Fm;
                    }
                }
            }
        }
        if self.rew_at_close {
            let r2 = self.int_ioctl(l, MtOp::Rew, 1);
            if result.is_ok() {
                result = r2;
            }
        }
        result
    }

    /// st_release: the master file is gone. Tells the daemon.
    pub fn release(&mut self, l: &mut Link<'_>) -> Result<()> {
        self.sleep = Sleep::Uninterruptible;
        if self.door == Door::Auto {
            let _ = self.door_lock(l, false);
        }
        // Nothing may stay queued past close: the daemon must have the data.
        let mut result = self.drain(l);
        if result.is_ok() {
            if let Some(e) = self.behind_err.take() {
                if e != Errno::NoSpc {
                    result = Err(e);
                }
            }
        }
        if self.session_alive(l) {
            let r2 = self.call(l, Req::new(Op::Close), Vec::new(), self.timeout).and_then(|d| self.chk(&d.sense));
            if result.is_ok() {
                result = r2;
            }
        }
        self.rbuf = Vec::new();
        self.rbytes = 0;
        self.rptr = 0;
        self.in_use = false;
        self.session = None;
        result
    }

    fn bump_file(&mut self) {
        if self.ps.drv_file >= 0 {
            self.ps.drv_file += 1;
        }
        self.ps.drv_block = 0;
    }

    // ----- buffers ---------------------------------------------------------

    /// st_flush_write_buffer: all written data reached the drive.
    fn flush_write_buffer(&mut self, l: &mut Link<'_>) -> Result<()> {
        self.write_behind_check(l, true)
    }

    /// flush_buffer: before an operation that moves the tape.
    fn flush_buffer(&mut self, l: &mut Link<'_>, seek_next: bool) -> Result<()> {
        if self.ready != Ready::Ready {
            return Ok(());
        }
        if self.pos_unknown {
            return Err(Errno::Io);
        }
        if self.ps.rw == Rw::Writing {
            return self.flush_write_buffer(l);
        }
        if self.block_size == 0 {
            return Ok(());
        }
        let bs = self.block_size as usize;
        let backspace = (self.rbytes + self.rptr) / bs - self.rptr.div_ceil(bs);
        self.rbuf = Vec::new();
        self.rbytes = 0;
        self.rptr = 0;
        let mut result = Ok(());
        if !seek_next {
            if self.ps.eof == Eof::FmHit {
                result = self.cross_eof(l, false);
                if result.is_ok() {
                    self.ps.eof = Eof::No;
                } else {
                    self.bump_file();
                }
            }
            if result.is_ok() && backspace > 0 {
                result = self.int_ioctl(l, MtOp::Bsr, backspace as i64);
            }
        } else if self.ps.eof == Eof::FmHit {
            self.bump_file();
            self.ps.eof = Eof::No;
        }
        result
    }

    /// cross_eof: step over a filemark without touching the counters.
    fn cross_eof(&mut self, l: &mut Link<'_>, forward: bool) -> Result<()> {
        let mut req = Req::new(Op::Space);
        req.arg = Space::Filemarks as u64;
        req.count = if forward { 1 } else { -1 };
        let t = self.timeout;
        let d = self.call(l, req, Vec::new(), t)?;
        self.chk(&d.sense)
    }

    // ----- read and write --------------------------------------------------

    /// rw_checks: common to read and write.
    fn rw_checks(&mut self, l: &mut Link<'_>, count: usize) -> Result<()> {
        if self.ready != Ready::Ready {
            return Err(self.not_ready_err());
        }
        if self.pos_unknown || !self.session_alive(l) {
            return Err(Errno::Io);
        }
        if count == 0 {
            return Ok(());
        }
        if count > proto::MAX_RECORD as usize && self.block_size == 0 {
            return Err(Errno::Inval);
        }
        if self.block_size == 0
            && self.max_block > 0
            && (count < self.min_block as usize || count > self.max_block as usize)
        {
            return Err(Errno::Inval);
        }
        if self.opts.auto_lock && self.door == Door::Unlocked && self.door_lock(l, true).is_ok() {
            self.door = Door::Auto;
        }
        Ok(())
    }

    /// Whether a write costing `c` may go behind: asynchronous writes on, not
    /// past early warning, no early warning within reach, and it fits the window.
    fn can_write_behind(&self, c: u64, len: usize, window: usize) -> bool {
        self.opts.async_writes
            && self.ps.eof < Eof::EomOk
            && len <= window
            && (self.room == proto::ROOM_UNLIMITED || self.behind_cost.saturating_add(c) <= self.room)
    }

    /// st_write. Fixed-block writes go out in chunks of at most
    /// [`FIXED_WRITE_CHUNK`] bytes; a write that ends early returns the bytes
    /// written, as st does.
    pub fn write(&mut self, l: &mut Link<'_>, src: &mut dyn UserIn, count: usize, window: usize) -> Result<usize> {
        self.sleep = Sleep::Killable;
        self.rw_checks(l, count)?;
        if count == 0 {
            return Ok(0);
        }
        let bs = self.block_size as usize;
        if bs != 0 && count % bs != 0 {
            return Err(Errno::Inval);
        }
        if self.write_prot {
            return Err(Errno::Acces);
        }
        if self.ps.rw == Rw::Reading {
            self.flush_buffer(l, false)?;
            self.ps.rw = Rw::Writing;
        } else if self.ps.rw != Rw::Writing && self.ps.drv_file == 0 && self.ps.drv_block == 0 {
            self.set_mode_densblk(l)?;
            if let Some(on) = self.default_compression {
                if !self.compression_changed {
                    // st only warns when the default cannot be set.
                    let _ = self.compression(l, on);
                }
            }
        }
        let chunk = FIXED_WRITE_CHUNK.checked_div(bs).map_or(count, |n| n.max(1) * bs);
        let first = write_req(count.min(chunk), bs)?;
        let behind = self.can_write_behind(cost(&first), count.min(chunk), window);
        match self.write_behind_check(l, !behind) {
            Ok(()) => {}
            Err(Errno::NoSpc) => self.ps.eof = Eof::EomOk,
            Err(Errno::Intr) => return Err(Errno::Intr),
            Err(_) => self.ps.eof = Eof::EomError,
        }
        if self.ps.eof == Eof::EomOk {
            return match self.policy.eom {
                EomPolicy::Enospc => {
                    self.ps.eof = Eof::Eod1;
                    Err(Errno::NoSpc)
                }
                EomPolicy::Eio => Err(Errno::Io),
            };
        } else if self.ps.eof == Eof::EomError {
            return Err(Errno::Io);
        }
        self.ps.rw = Rw::Writing;
        let partial = |done: usize, e: Errno| if done > 0 { Ok(done) } else { Err(e) };
        let mut done = 0usize;
        while done < count {
            let n = (count - done).min(chunk);
            let req = write_req(n, bs)?;
            let mut data = l.chan.with(|c| c.take_buffer(n)).unwrap_or_default();
            if let Err(e) = src.read_vec(done, n, &mut data) {
                return partial(done, e);
            }
            let c = cost(&req);
            if self.ps.eof < Eof::EomOk && self.can_write_behind(c, n, window) {
                if let Err(e) = self.submit_behind(l, req, data, c) {
                    return partial(done, e);
                }
            } else {
                if let Err(e) = self.drain(l) {
                    return partial(done, e);
                }
                match self.write_sync(l, req, data) {
                    Ok(None) => {}
                    Ok(Some(Ok(w))) => return Ok(done + w),
                    Ok(Some(Err(e))) | Err(e) => return partial(done, e),
                }
            }
            done += n;
        }
        if self.ps.eof == Eof::Eod1 {
            self.ps.eof = Eof::EomOk;
        } else if self.ps.eof != Eof::EomOk {
            self.ps.eof = Eof::No;
        }
        Ok(count)
    }

    fn submit_behind(&mut self, l: &mut Link<'_>, req: Req, mut data: Vec<u8>, c: u64) -> Result<()> {
        let len = data.len();
        loop {
            if !self.session_alive(l) {
                self.lose_session();
                return Err(Errno::Io);
            }
            let r = l.chan.with(|ch| if ch.has_space(len) { Some(ch.submit(req, &mut data, Kind::Behind)) } else { None });
            match r {
                Some(Ok(_)) => break,
                Some(Err(e)) => return Err(e),
                None => {
                    self.reap(l, None);
                    match l.host.wait(Wait::Space(len), Sleep::Interruptible, self.timeout) {
                        Ok(()) => {}
                        Err(WaitError::Interrupted) => return Err(Errno::RestartSys),
                        Err(WaitError::TimedOut) => return Err(Errno::Io),
                    }
                }
            }
        }
        self.behind_cost = self.behind_cost.saturating_add(c);
        l.host.wake_slave();
        Ok(())
    }

    /// The synchronous write of st_write, for one request. Returns None when
    /// it completed normally, Some(result) when the write ends here: the
    /// bytes of this request that were written, or an error.
    fn write_sync(&mut self, l: &mut Link<'_>, req: Req, data: Vec<u8>) -> Result<Option<Result<usize>>> {
        let bs = self.block_size as usize;
        let total = data.len();
        let blks = total.checked_div(bs).unwrap_or(1);
        let d = self.call(l, req, data, self.timeout)?;
        let s = d.sense;
        if self.chk(&s).is_ok() {
            if self.ps.drv_block >= 0 {
                self.ps.drv_block = self.ps.drv_block.saturating_add(blks as i32);
            }
            return Ok(None);
        }
        if !s.flags.contains(SenseFlags::EOM) {
            self.ps.drv_block = -1;
            return Ok(Some(Err(Errno::Io)));
        }
        // End of medium: the residue says what was not written.
        let mut undone = s.resid.max(0) as u64;
        if bs != 0 {
            undone = undone.saturating_mul(bs as u64);
        }
        let undone = usize::try_from(undone).unwrap_or(usize::MAX);
        if undone > total {
            // EOM for data written earlier: st's "EOM with lost data".
            self.ps.eof = Eof::EomError;
            self.ps.drv_block = -1;
            return Ok(Some(Err(Errno::Io)));
        }
        let written = total - undone;
        if self.ps.drv_block >= 0 {
            let add = written.checked_div(bs).map_or(i32::from(written > 0), |n| n as i32);
            self.ps.drv_block = self.ps.drv_block.saturating_add(add);
        }
        if self.policy.eom == EomPolicy::Eio && !self.opts.ewarn && written == total {
            // NetBSD without MTEWARN does not report early warning.
            return Ok(None);
        }
        self.ps.eof = Eof::EomOk;
        Ok(Some(if written > 0 {
            Ok(written)
        } else if self.policy.eom == EomPolicy::Eio {
            Err(Errno::Io)
        } else {
            Err(Errno::NoSpc)
        }))
    }

    /// read_tape: one READ command into the read buffer. Ok(true) when a
    /// special condition (filemark, end of data) ended the transfer.
    fn read_tape(&mut self, l: &mut Link<'_>, count: usize) -> Result<bool> {
        if count == 0 {
            return Ok(false);
        }
        if self.ps.eof == Eof::FmHit {
            return Ok(true);
        }
        let bs = self.block_size as usize;
        let (blks, bytes) = if bs == 0 {
            (1usize, count.min(proto::MAX_RECORD as usize))
        } else if self.opts.read_ahead {
            let blks = (FIXED_BUFFER_SIZE.max(bs) / bs).max(1);
            (blks, blks * bs)
        } else {
            let bytes = count.min(FIXED_BUFFER_SIZE.max(bs));
            let blks = bytes / bs;
            (blks, blks * bs)
        };
        let mut req = Req::new(Op::Read);
        req.length = bytes as u64;
        let mut rf = ReqFlags::empty();
        if bs != 0 {
            rf |= ReqFlags::FIXED;
            req.count = i32::try_from(blks).map_err(|_| Errno::Inval)?;
        } else if self.opts.sili {
            rf |= ReqFlags::SILI;
        }
        req.flags = rf.bits();
        let d = self.call(l, req, Vec::new(), self.timeout)?;
        self.rbuf = d.data;
        self.rptr = 0;
        self.ps.at_sm = false;
        let got = self.rbuf.len();
        let s = d.sense;
        let mut special = false;
        if self.chk(&s).is_err() {
            special = true;
            let mut flags = s.flags;
            if s.key == SenseKey::BlankCheck {
                flags.remove(SenseFlags::ILI);
            }
            let mut nbytes: i64;
            if !flags.is_empty() {
                let mut transfer = s.resid;
                if s.key == SenseKey::MediumError {
                    if bs == 0 {
                        transfer = bytes as i64;
                    }
                    flags.remove(SenseFlags::ILI);
                }
                if flags.contains(SenseFlags::ILI) {
                    if bs == 0 && transfer < 0 {
                        if self.ps.drv_block >= 0 {
                            self.ps.drv_block += 1;
                        }
                        self.rbytes = 0;
                        self.rbuf = Vec::new();
                        return Err(self.policy.short_read);
                    } else if bs == 0 {
                        nbytes = bytes as i64 - transfer;
                    } else {
                        if transfer == blks as i64 {
                            if self.ps.drv_block >= 0 {
                                self.ps.drv_block = self.ps.drv_block.saturating_add((blks as i64 - transfer + 1) as i32);
                            }
                            self.rbytes = 0;
                            let _ = self.int_ioctl(l, MtOp::Bsr, 1);
                            return Err(Errno::Io);
                        }
                        nbytes = (blks as i64 - transfer) * bs as i64;
                        if self.ps.drv_block >= 0 {
                            self.ps.drv_block += 1;
                        }
                        self.rbytes = clamp_len(nbytes, got);
                        if self.int_ioctl(l, MtOp::Bsr, 1).is_err() {
                            return Err(Errno::Io);
                        }
                    }
                } else if flags.contains(SenseFlags::FMK) {
                    self.ps.eof = if self.ps.eof != Eof::FmHit { Eof::FmHit } else { Eof::Eod2 };
                    nbytes = if bs == 0 { 0 } else { bytes as i64 - transfer * bs as i64 };
                } else if flags.contains(SenseFlags::EOM) {
                    self.ps.eof = if self.ps.eof == Eof::Fm { Eof::Eod1 } else { Eof::EomOk };
                    nbytes = if bs == 0 { bytes as i64 - transfer } else { bytes as i64 - transfer * bs as i64 };
                } else {
                    nbytes = 0;
                }
            } else {
                self.ps.drv_block = -1;
                nbytes = 0;
                if self.ps.eof == Eof::Fm && s.key == SenseKey::BlankCheck {
                    self.ps.eof = Eof::Eod2;
                } else {
                    self.rbytes = 0;
                    self.rbuf = Vec::new();
                    return Err(Errno::Io);
                }
            }
            if nbytes < 0 {
                nbytes = 0;
            }
            self.rbytes = clamp_len(nbytes, got);
        } else {
            self.rbytes = if bs == 0 { got } else { clamp_len(bytes as i64, got) };
        }
        if self.ps.drv_block >= 0 {
            let add = self.rbytes.checked_div(bs).map_or(1, |n| n as i32);
            self.ps.drv_block = self.ps.drv_block.saturating_add(add);
        }
        Ok(special)
    }

    /// st_read.
    pub fn read(&mut self, l: &mut Link<'_>, out: &mut dyn UserOut, count: usize) -> Result<usize> {
        self.sleep = Sleep::Killable;
        self.rw_checks(l, count)?;
        if count == 0 {
            return Ok(0);
        }
        let bs = self.block_size as usize;
        if bs != 0 && count % bs != 0 && !self.opts.read_ahead {
            return Err(Errno::Inval);
        }
        if self.ps.rw == Rw::Writing {
            self.flush_buffer(l, false)?;
            self.ps.rw = Rw::Reading;
        }
        if self.rbytes == 0 && self.ps.eof >= Eof::Eod1 {
            if self.ps.eof < Eof::Eod {
                self.ps.eof = if self.ps.eof == Eof::Eod1 { Eof::Eod2 } else { Eof::Eod };
                return Ok(0);
            }
            return Err(Errno::Io);
        }
        self.ps.rw = Rw::Reading;
        let mut total = 0usize;
        let mut special = false;
        while total < count && !special {
            if self.rbytes == 0 {
                special = self.read_tape(l, count - total)?;
            }
            if self.rbytes > 0 {
                let transfer = self.rbytes.min(count - total);
                let chunk = self.rbuf.get(self.rptr..self.rptr + transfer).ok_or(Errno::Io)?;
                out.write(total, chunk)?;
                self.rptr += transfer;
                self.rbytes -= transfer;
                total += transfer;
            }
            if self.rbytes == 0 {
                self.rbuf = Vec::new();
                self.rptr = 0;
            }
            if bs == 0 {
                break;
            }
        }
        if total == 0 {
            match self.ps.eof {
                Eof::FmHit => {
                    self.ps.eof = Eof::Fm;
                    self.bump_file();
                }
                Eof::Eod1 => {
                    self.ps.eof = Eof::Eod2;
                    self.bump_file();
                }
                Eof::Eod2 => self.ps.eof = Eof::Eod,
                _ => {}
            }
        } else if self.ps.eof == Eof::Fm {
            self.ps.eof = Eof::No;
        }
        Ok(total)
    }

    // ----- ioctl -----------------------------------------------------------

    /// st_ioctl for MTIOCTOP.
    pub fn mtop(&mut self, l: &mut Link<'_>, op: MtOp, count: i32) -> Result<()> {
        self.sleep = Sleep::Killable;
        let mut count = i64::from(count);
        if op == MtOp::SetDrvBuffer && !l.host.privileged() {
            return Err(Errno::Perm);
        }
        if !self.pos_unknown {
            if self.ps.eof == Eof::FmHit {
                if matches!(op, MtOp::Fsf | MtOp::Fsfm | MtOp::Eom) {
                    count -= 1;
                    if self.ps.drv_file >= 0 {
                        self.ps.drv_file += 1;
                    }
                } else if matches!(op, MtOp::Bsf | MtOp::Bsfm) {
                    count += 1;
                    if self.ps.drv_file >= 0 {
                        self.ps.drv_file += 1;
                    }
                }
            }
            let seek_next = matches!(
                op,
                MtOp::Seek
                    | MtOp::Rew
                    | MtOp::Offl
                    | MtOp::Reten
                    | MtOp::Eom
                    | MtOp::Lock
                    | MtOp::Load
                    | MtOp::Fsf
                    | MtOp::Fsfm
                    | MtOp::Bsf
                    | MtOp::Bsfm
                    | MtOp::Compression
            );
            self.flush_buffer(l, seek_next)?;
            if self.ps.rw == Rw::Writing && matches!(op, MtOp::Rew | MtOp::Offl | MtOp::Seek | MtOp::Bsf | MtOp::Bsfm) {
                self.int_ioctl(l, MtOp::Weof, 1)?;
                if matches!(op, MtOp::Bsf | MtOp::Bsfm) {
                    count += 1;
                }
                self.ps.rw = Rw::Idle;
            }
        } else {
            if !matches!(op, MtOp::Rew | MtOp::Offl | MtOp::Load | MtOp::Reten | MtOp::Erase | MtOp::Seek | MtOp::Eom) {
                return Err(Errno::Io);
            }
            self.reset_state();
        }
        if !matches!(op, MtOp::Nop | MtOp::SetBlk | MtOp::SetDensity | MtOp::Wsm | MtOp::SetDrvBuffer | MtOp::SetPart) {
            self.ps.rw = Rw::Idle;
        }
        if op == MtOp::Offl && self.door != Door::Unlocked {
            let _ = self.door_lock(l, false);
        }
        let ucount = count as u32;
        match op {
            MtOp::SetDrvBuffer if ucount & mtst::OPTIONS != 0 => self.set_options(l, ucount),
            MtOp::SetPart | MtOp::MkPart => Err(Errno::Inval),
            MtOp::Seek => {
                let r = self.set_location(l, count as u32);
                self.ps.rw = Rw::Idle;
                r
            }
            MtOp::Unload | MtOp::Offl => self.do_load_unload(l, false, false),
            MtOp::Load => self.do_load_unload(l, true, false),
            MtOp::Lock | MtOp::Unlock => self.door_lock(l, op == MtOp::Lock),
            MtOp::Compression => self.compression(l, count & 1 != 0),
            MtOp::Cache | MtOp::NoCache => {
                self.int_ioctl(l, MtOp::SetDrvBuffer, i64::from(op == MtOp::Cache))
            }
            MtOp::Ewarn => {
                self.opts.ewarn = count != 0;
                Ok(())
            }
            MtOp::Nbsf => {
                // Backward over `count` filemarks, then forward over the one
                // found: the start of the file.
                self.int_ioctl(l, MtOp::Bsf, count + 1)?;
                self.int_ioctl(l, MtOp::Fsf, 1)
            }
            _ => self.int_ioctl(l, op, count),
        }
    }

    fn reset_state(&mut self) {
        self.pos_unknown = false;
        self.ps = PartStat { rw: Rw::Idle, eof: Eof::No, at_sm: false, drv_file: -1, drv_block: -1 };
    }

    /// st_int_ioctl: one drive command for a tape operation.
    fn int_ioctl(&mut self, l: &mut Link<'_>, op: MtOp, arg: i64) -> Result<()> {
        if self.ready != Ready::Ready {
            return Err(self.not_ready_err());
        }
        let mut timeout = self.long_timeout;
        let mut fileno = self.ps.drv_file;
        let mut blkno = self.ps.drv_block;
        let mut at_sm = self.ps.at_sm;
        let mut chg_eof = true;
        let mut req;
        let space = |kind: Space, n: i32| {
            let mut r = Req::new(Op::Space);
            r.arg = kind as u64;
            r.count = n;
            r
        };
        match op {
            MtOp::Fsf | MtOp::Fsfm => {
                chg_eof = op == MtOp::Fsf;
                req = space(Space::Filemarks, s24(arg));
                if fileno >= 0 {
                    fileno = fileno.wrapping_add(arg as i32);
                }
                blkno = 0;
                at_sm &= arg == 0;
            }
            MtOp::Bsf | MtOp::Bsfm => {
                chg_eof = op == MtOp::Bsf;
                req = space(Space::Filemarks, s24(-arg));
                if fileno >= 0 {
                    fileno = fileno.wrapping_sub(arg as i32);
                }
                blkno = -1;
                at_sm &= arg == 0;
            }
            MtOp::Fsr => {
                req = space(Space::Blocks, s24(arg));
                if blkno >= 0 {
                    blkno = blkno.wrapping_add(arg as i32);
                }
                at_sm &= arg == 0;
            }
            MtOp::Bsr => {
                req = space(Space::Blocks, s24(-arg));
                if blkno >= 0 {
                    blkno = blkno.wrapping_sub(arg as i32);
                }
                at_sm &= arg == 0;
            }
            MtOp::Fss | MtOp::Bss => {
                req = space(Space::Setmarks, s24(if op == MtOp::Fss { arg } else { -arg }));
                if arg != 0 {
                    blkno = -1;
                    fileno = -1;
                    at_sm = true;
                }
            }
            MtOp::Weof | MtOp::Weofi | MtOp::Wsm => {
                if self.write_prot {
                    return Err(Errno::Acces);
                }
                req = Req::new(Op::Wfm);
                let mut rf = ReqFlags::empty();
                if op == MtOp::Wsm {
                    rf |= ReqFlags::SETMARK;
                }
                if op == MtOp::Weofi || (op == MtOp::Weof && self.opts.nowait_eof) {
                    rf |= ReqFlags::IMMED;
                }
                req.flags = rf.bits();
                req.count = u24(arg);
                timeout = self.timeout;
                if fileno >= 0 {
                    fileno = fileno.wrapping_add(arg as i32);
                }
                blkno = 0;
                at_sm = op == MtOp::Wsm;
            }
            MtOp::Rew => {
                req = Req::new(Op::Rewind);
                req.flags = self.immed().bits();
                fileno = 0;
                blkno = 0;
                at_sm = false;
            }
            MtOp::Nop => return Ok(()),
            MtOp::Reten => {
                req = Req::new(Op::Load);
                req.flags = (self.immed() | ReqFlags::LOAD | ReqFlags::RETEN).bits();
                fileno = 0;
                blkno = 0;
                at_sm = false;
            }
            MtOp::Eom => {
                if !self.opts.fast_mteom {
                    let _ = self.int_ioctl(l, MtOp::Fsf, 0x7f_ffff);
                    fileno = self.ps.drv_file;
                    if self.ps.eof >= Eof::Eod1 {
                        return Ok(());
                    }
                } else {
                    fileno = -1;
                }
                req = space(Space::Eod, 0);
                blkno = -1;
                at_sm = false;
            }
            MtOp::Erase => {
                if self.write_prot {
                    return Err(Errno::Acces);
                }
                req = Req::new(Op::Erase);
                let mut rf = self.immed();
                if arg != 0 {
                    rf |= ReqFlags::LONG;
                }
                req.flags = rf.bits();
                timeout = self.long_timeout.saturating_mul(8);
            }
            MtOp::SetBlk | MtOp::SetDensity | MtOp::SetDrvBuffer => {
                chg_eof = false;
                if self.rbytes != 0 {
                    return Err(Errno::Io);
                }
                let a = arg as u32;
                if op == MtOp::SetBlk
                    && a & mtst::BLKSIZE_MASK != 0
                    && self.max_block > 0
                    && ((a & mtst::BLKSIZE_MASK) < self.min_block || (a & mtst::BLKSIZE_MASK) > self.max_block)
                {
                    return Err(Errno::Inval);
                }
                req = Req::new(Op::Mode);
                let rf = match op {
                    MtOp::SetBlk => {
                        req.length = u64::from(a & mtst::BLKSIZE_MASK);
                        self.blksize_changed = true;
                        ReqFlags::SET_BLKSIZE
                    }
                    MtOp::SetDensity => {
                        req.arg = u64::from(a & 0xff);
                        self.density_changed = true;
                        ReqFlags::SET_DENSITY
                    }
                    _ => {
                        req.arg2 = a & 7;
                        ReqFlags::SET_DRVBUF
                    }
                };
                req.flags = rf.bits();
                timeout = self.timeout;
            }
            _ => return Err(Errno::NoSys),
        }
        let d = self.call(l, req, Vec::new(), timeout)?;
        let s = d.sense;
        let result = self.chk(&s);
        if result.is_ok() {
            self.ps.drv_block = blkno;
            self.ps.drv_file = fileno;
            self.ps.at_sm = at_sm;
            let mut r = Ok(());
            if op == MtOp::Bsfm {
                r = self.int_ioctl(l, MtOp::Fsf, 1);
            } else if op == MtOp::Fsfm {
                r = self.int_ioctl(l, MtOp::Bsf, 1);
            }
            match op {
                MtOp::SetBlk => {
                    self.block_size = (arg as u32) & mtst::BLKSIZE_MASK;
                    self.rbytes = 0;
                    self.rptr = 0;
                }
                MtOp::SetDrvBuffer => self.drv_buffer = (arg as u8) & 7,
                MtOp::SetDensity => self.density = arg as u8,
                _ => {}
            }
            if op == MtOp::Eom {
                self.ps.eof = Eof::Eod;
            } else if op == MtOp::Fsf {
                self.ps.eof = Eof::Fm;
            } else if chg_eof {
                self.ps.eof = Eof::No;
            }
            if matches!(op, MtOp::Weof | MtOp::Weofi) {
                self.ps.rw = Rw::Idle;
            }
            return r;
        }
        // Not completely successful.
        let mut result = result;
        if s.flags.contains(SenseFlags::EOM) {
            if !matches!(op, MtOp::Bsf | MtOp::Bsfm | MtOp::Bsr | MtOp::Bss) {
                self.ps.eof = Eof::EomOk;
            }
            self.ps.drv_block = 0;
        }
        let mut undone = s.resid.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        if matches!(op, MtOp::Weof | MtOp::Weofi) && s.flags.contains(SenseFlags::EOM) {
            if matches!(s.key, SenseKey::NoSense | SenseKey::Recovered) {
                result = Ok(());
                self.ps.eof = Eof::No;
                self.ps.rw = Rw::Idle;
            } else {
                if fileno >= 0 {
                    fileno = fileno.wrapping_sub(undone);
                }
                if i64::from(undone) < arg {
                    self.ps.eof = Eof::No;
                }
            }
            self.ps.drv_file = fileno;
        } else if matches!(op, MtOp::Fsf | MtOp::Fsfm) {
            self.ps.drv_file = if fileno >= 0 { fileno.wrapping_sub(undone) } else { fileno };
            self.ps.drv_block = -1;
            self.ps.eof = Eof::No;
        } else if matches!(op, MtOp::Bsf | MtOp::Bsfm) {
            if arg > 0 && undone < 0 {
                undone = undone.wrapping_neg();
            }
            if self.ps.drv_file >= 0 {
                self.ps.drv_file = fileno.wrapping_add(undone);
            }
            self.ps.drv_block = 0;
            self.ps.eof = Eof::No;
        } else if op == MtOp::Fsr {
            if s.flags.contains(SenseFlags::FMK) {
                self.bump_file();
                self.ps.eof = Eof::Fm;
            } else {
                self.ps.drv_block = if blkno >= undone { blkno - undone } else { -1 };
                self.ps.eof = Eof::No;
            }
        } else if op == MtOp::Bsr {
            if s.flags.contains(SenseFlags::FMK) {
                self.ps.drv_file = self.ps.drv_file.wrapping_sub(1);
                self.ps.drv_block = -1;
            } else {
                if arg > 0 && undone < 0 {
                    undone = undone.wrapping_neg();
                }
                if self.ps.drv_block >= 0 {
                    self.ps.drv_block = blkno.wrapping_add(undone);
                }
            }
            self.ps.eof = Eof::No;
        } else if op == MtOp::Eom {
            self.ps.drv_file = -1;
            self.ps.drv_block = -1;
            self.ps.eof = Eof::Eod;
        } else if matches!(op, MtOp::SetBlk | MtOp::SetDensity | MtOp::SetDrvBuffer) {
            // st retries with the other page-format setting; the daemon has one.
        } else if chg_eof {
            self.ps.eof = Eof::No;
        }
        if s.key == SenseKey::BlankCheck {
            self.ps.eof = Eof::Eod;
        }
        result
    }

    /// st_set_options: MTSETDRVBUFFER with an option code.
    fn set_options(&mut self, l: &mut Link<'_>, options: u32) -> Result<()> {
        let code = options & mtst::OPTIONS;
        let o = &mut self.opts;
        if code == mtst::BOOLEANS {
            o.buffer_writes = options & mtst::BUFFER_WRITES != 0;
            o.async_writes = options & mtst::ASYNC_WRITES != 0;
            o.def_writes = options & mtst::DEF_WRITES != 0;
            o.read_ahead = options & mtst::READ_AHEAD != 0;
            o.two_fm = options & mtst::TWO_FM != 0;
            o.fast_mteom = options & mtst::FAST_MTEOM != 0;
            o.auto_lock = options & mtst::AUTO_LOCK != 0;
            o.can_bsr = options & mtst::CAN_BSR != 0;
            o.no_blklims = options & mtst::NO_BLKLIMS != 0;
            o.scsi2logical = options & mtst::SCSI2LOGICAL != 0;
            o.nowait = options & mtst::NOWAIT != 0;
            o.nowait_eof = options & mtst::NOWAIT_EOF != 0;
            o.sysv = options & mtst::SYSV != 0;
            o.sili = options & mtst::SILI != 0;
        } else if code == mtst::SETBOOLEANS || code == mtst::CLEARBOOLEANS {
            let v = code == mtst::SETBOOLEANS;
            let set = |flag: u32, field: &mut bool| {
                if options & flag != 0 {
                    *field = v;
                }
            };
            set(mtst::BUFFER_WRITES, &mut o.buffer_writes);
            set(mtst::ASYNC_WRITES, &mut o.async_writes);
            set(mtst::DEF_WRITES, &mut o.def_writes);
            set(mtst::READ_AHEAD, &mut o.read_ahead);
            set(mtst::TWO_FM, &mut o.two_fm);
            set(mtst::FAST_MTEOM, &mut o.fast_mteom);
            set(mtst::AUTO_LOCK, &mut o.auto_lock);
            set(mtst::CAN_BSR, &mut o.can_bsr);
            set(mtst::NO_BLKLIMS, &mut o.no_blklims);
            set(mtst::SCSI2LOGICAL, &mut o.scsi2logical);
            set(mtst::NOWAIT, &mut o.nowait);
            set(mtst::NOWAIT_EOF, &mut o.nowait_eof);
            set(mtst::SYSV, &mut o.sysv);
            set(mtst::SILI, &mut o.sili);
        } else if code == mtst::WRITE_THRESHOLD {
            // Retained for compatibility.
        } else if code == mtst::DEF_BLKSIZE {
            let value = options & !mtst::OPTIONS;
            if value == !mtst::OPTIONS {
                self.default_blksize = None;
            } else {
                self.default_blksize = Some(value);
                if self.ready == Ready::Ready {
                    self.blksize_changed = false;
                    let _ = self.set_mode_densblk(l);
                }
            }
        } else if code == mtst::TIMEOUTS {
            let value = options & !mtst::OPTIONS;
            if value & mtst::SET_LONG_TIMEOUT != 0 {
                self.long_timeout = value & !mtst::SET_LONG_TIMEOUT;
            } else {
                self.timeout = value;
            }
        } else if code == mtst::SET_CLN {
            let value = options & !mtst::OPTIONS & 0xff;
            if value != 0 && !(18..96).contains(&value) {
                return Err(Errno::Inval);
            }
        } else if code == mtst::DEF_OPTIONS {
            let sel = options & !mtst::CLEAR_DEFAULT;
            let value = options & mtst::CLEAR_DEFAULT;
            if sel == mtst::DEF_DENSITY {
                if value == mtst::CLEAR_DEFAULT {
                    self.default_density = None;
                } else {
                    self.default_density = Some((value & 0xff) as u8);
                    if self.ready == Ready::Ready {
                        self.density_changed = false;
                        let _ = self.set_mode_densblk(l);
                    }
                }
            } else if sel == mtst::DEF_DRVBUFFER {
                if value == mtst::CLEAR_DEFAULT {
                    self.default_drvbuffer = None;
                } else {
                    self.default_drvbuffer = Some((value & 7) as u8);
                    if self.ready == Ready::Ready {
                        let _ = self.int_ioctl(l, MtOp::SetDrvBuffer, i64::from(value & 7));
                    }
                }
            } else if sel == mtst::DEF_COMPRESSION {
                if value == mtst::CLEAR_DEFAULT {
                    self.default_compression = None;
                } else if value & 0xff != 0xff {
                    self.default_compression = Some(value & 1 != 0);
                    if self.ready == Ready::Ready {
                        self.compression_changed = false;
                        let _ = self.compression(l, value & 1 != 0);
                    }
                }
            }
        } else {
            return Err(Errno::Io);
        }
        Ok(())
    }

    /// set_mode_densblk: apply the default block size and density.
    fn set_mode_densblk(&mut self, l: &mut Link<'_>) -> Result<()> {
        let mut req = Req::new(Op::Mode);
        let mut rf = ReqFlags::empty();
        if !self.density_changed {
            if let Some(d) = self.default_density.filter(|d| *d != self.density) {
                rf |= ReqFlags::SET_DENSITY;
                req.arg = u64::from(d);
            }
        }
        if !self.blksize_changed {
            if let Some(b) = self.default_blksize.filter(|b| *b != self.block_size) {
                rf |= ReqFlags::SET_BLKSIZE;
                req.length = u64::from(b);
            }
        }
        if rf.is_empty() {
            return Ok(());
        }
        req.flags = rf.bits();
        let d = self.call(l, req, Vec::new(), self.timeout)?;
        if self.chk(&d.sense).is_ok() {
            if rf.contains(ReqFlags::SET_BLKSIZE) {
                self.block_size = req.length as u32;
            }
            if rf.contains(ReqFlags::SET_DENSITY) {
                self.density = req.arg as u8;
            }
        }
        // st only warns when the defaults cannot be set.
        Ok(())
    }

    /// st_compression.
    fn compression(&mut self, l: &mut Link<'_>, on: bool) -> Result<()> {
        if self.ready != Ready::Ready {
            return Err(Errno::Io);
        }
        let mut req = Req::new(Op::Mode);
        req.flags = ReqFlags::SET_COMPRESS.bits();
        req.count = i32::from(on);
        let d = self.call(l, req, Vec::new(), self.timeout)?;
        self.chk(&d.sense)?;
        self.compression_changed = true;
        Ok(())
    }

    /// do_load_unload.
    fn do_load_unload(&mut self, l: &mut Link<'_>, load: bool, reten: bool) -> Result<()> {
        if self.ready != Ready::Ready && !load {
            return Err(self.not_ready_err());
        }
        if self.session.is_none() || !self.session_alive(l) {
            // No drive to talk to (opened O_NONBLOCK without a daemon).
            return Err(Errno::Io);
        }
        let mut req = Req::new(Op::Load);
        let mut rf = self.immed();
        if load {
            rf |= ReqFlags::LOAD;
        }
        if reten {
            rf |= ReqFlags::RETEN;
        }
        req.flags = rf.bits();
        let d = self.call(l, req, Vec::new(), self.long_timeout)?;
        let r = self.chk(&d.sense);
        if r.is_ok() {
            if !load {
                self.rew_at_close = false;
                self.ready = Ready::NoTape;
            } else {
                self.rew_at_close = self.autorew_dev;
                // check_tape on the medium just loaded: a new session.
                self.ready = Ready::Ready;
                self.new_session_positions();
                self.apply_status(&d.rep.status);
                if self.drv_write_prot {
                    self.write_prot = true;
                }
            }
        } else {
            self.ps.drv_file = -1;
            self.ps.drv_block = -1;
        }
        r
    }

    /// do_door_lock.
    fn door_lock(&mut self, l: &mut Link<'_>, lock: bool) -> Result<()> {
        let mut req = Req::new(Op::Lock);
        req.count = i32::from(lock);
        let r = self.call(l, req, Vec::new(), self.timeout).and_then(|d| self.chk(&d.sense));
        self.door = match (&r, lock) {
            (Ok(()), true) => Door::Explicit,
            (Ok(()), false) => Door::Unlocked,
            (Err(_), _) => Door::Fails,
        };
        r
    }

    /// get_location: MTIOCPOS.
    fn get_location(&mut self, l: &mut Link<'_>) -> Result<u32> {
        if self.ready != Ready::Ready {
            return Err(Errno::Io);
        }
        let d = self.call(l, Req::new(Op::ReadPos), Vec::new(), self.timeout)?;
        if self.chk(&d.sense).is_err() {
            return Err(Errno::Io);
        }
        let st = d.rep.status;
        if st.flags().contains(DriveFlags::BOP) {
            self.ps.drv_block = 0;
            self.ps.drv_file = 0;
        }
        Ok(st.position as u32)
    }

    /// set_location: MTSEEK.
    fn set_location(&mut self, l: &mut Link<'_>, block: u32) -> Result<()> {
        if self.ready != Ready::Ready {
            return Err(Errno::Io);
        }
        let mut req = Req::new(Op::Locate);
        req.arg = u64::from(block);
        req.flags = self.immed().bits();
        let d = self.call(l, req, Vec::new(), self.long_timeout)?;
        self.ps.drv_block = -1;
        self.ps.drv_file = -1;
        self.ps.eof = Eof::No;
        if self.chk(&d.sense).is_err() {
            return Err(Errno::Io);
        }
        self.ps.at_sm = false;
        if block == 0 {
            self.ps.drv_block = 0;
            self.ps.drv_file = 0;
        }
        Ok(())
    }

    /// The flush st_ioctl does before MTIOCGET, MTIOCPOS and other ioctls.
    pub fn ioctl_flush(&mut self, l: &mut Link<'_>, for_status: bool) -> Result<()> {
        self.sleep = Sleep::Killable;
        match self.flush_buffer(l, false) {
            Ok(()) => Ok(()),
            Err(_) if for_status && self.pos_unknown => {
                self.reset_state();
                self.pos_unknown = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// MTIOCPOS (after [`Drv::ioctl_flush`]).
    pub fn tell(&mut self, l: &mut Link<'_>) -> Result<u32> {
        self.get_location(l)
    }

    /// MTIOCGET (after [`Drv::ioctl_flush`]): st's status, with the drive
    /// asked whether a medium is still loaded and writable.
    pub fn status(&mut self, l: &mut Link<'_>) -> TapeStatus {
        if self.ready != Ready::NotReady && self.session_alive(l) {
            if let Ok(d) = self.call(l, Req::new(Op::Status), Vec::new(), self.timeout) {
                let f = d.rep.status.flags();
                self.drv_write_prot = f.contains(DriveFlags::WRPROT);
                if f.contains(DriveFlags::CLEAN) {
                    self.cleaning_req = true;
                }
                if !f.contains(DriveFlags::READY) && self.ready == Ready::Ready {
                    self.set_not_ready(Ready::NoTape);
                }
            }
        } else if self.ready == Ready::Ready && !self.session_alive(l) {
            // The daemon is gone: the drive is not ready any more.
            self.ready = Ready::NotReady;
        }
        let ps = self.ps;
        let mut blkno = ps.drv_block;
        let bs = self.block_size as usize;
        if bs != 0 && blkno >= 0 && ps.rw == Rw::Reading {
            blkno -= self.rbytes.div_ceil(bs) as i32;
        }
        let st = TapeStatus {
            blksize: self.block_size,
            density: self.density,
            fileno: ps.drv_file,
            blkno,
            soft_errors: self.recover_reg,
            partition: 0,
            bot: blkno == 0 && ps.drv_file == 0,
            eof: blkno == 0 && ps.drv_file != 0,
            eot: ps.eof == Eof::EomOk || ps.eof == Eof::EomError,
            sm: ps.at_sm,
            eod: ps.eof > Eof::EomError,
            wr_prot: self.drv_write_prot,
            online: self.ready == Ready::Ready,
            dr_open: self.ready == Ready::NoTape,
            im_rep_en: self.opts.async_writes || (self.opts.buffer_writes && bs != 0) || self.drv_buffer != 0,
            cln: self.cleaning_req,
            fixed: bs != 0,
        };
        self.recover_reg = 0;
        st
    }
}

/// A WRITE request for `n` bytes: one record, or `n / bs` fixed blocks.
fn write_req(n: usize, bs: usize) -> Result<Req> {
    let mut req = Req::new(Op::Write);
    req.length = n as u64;
    if let Some(blocks) = n.checked_div(bs) {
        req.flags = ReqFlags::FIXED.bits();
        req.count = i32::try_from(blocks).map_err(|_| Errno::Inval)?;
    }
    Ok(req)
}

/// A filemark or write that completed at early warning (NO SENSE + EOM, all done).
fn eom_written(s: &Sense) -> bool {
    s.flags.contains(SenseFlags::EOM) && matches!(s.key, SenseKey::NoSense | SenseKey::Recovered) && s.resid == 0
}

/// A byte count computed from drive sense, limited to the data actually
/// received so that nothing beyond it can reach the user.
fn clamp_len(n: i64, got: usize) -> usize {
    usize::try_from(n.max(0)).unwrap_or(0).min(got)
}
