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
//! The engine is split by responsibility:
//! - [`link`]: the transport to the drive: synchronous commands, the
//!   write-behind queue and its results, sense interpretation;
//! - [`open`]: open (st_open, check_tape), the last close (st_flush) and
//!   release;
//! - [`rw`]: read and write (st_read, read_tape, st_write) and the read
//!   buffer;
//! - [`ahead`]: read-ahead, the drive's runs of records served without a
//!   round trip;
//! - [`tapeop`]: MTIOCTOP (st_ioctl, st_int_ioctl), load, lock, locate;
//! - [`options`]: driver options (MTSETDRVBUFFER) and mode defaults;
//! - [`status`]: MTIOCGET and MTIOCPOS;
//! - [`options`] and [`mtst`]: st's driver options in Linux's MT_ST terms
//!   (every host keeps them so), [`policy`]: what differs between hosts.
//!
//! Write-behind: a write is acknowledged once it is queued for the daemon,
//! like st's asynchronous writes but with a window of many records (the
//! window bounds the kernel memory of a unit). Results come back later and are
//! reaped in order; an error reaches the writer at the next write, filemark or
//! close. Early warning stays exact: the drive reports in every reply how many
//! bytes remain before early warning, and a write that could reach it is done
//! synchronously after the window drains.

mod ahead;
mod link;
pub mod mtst;
mod open;
mod options;
mod policy;
mod rw;
mod scsi;
mod state;
mod status;
mod tapeop;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

pub use policy::{EodRule, EomPolicy, Policy};
pub use state::{Drv, ModeValues};
use state::OpenState;
use crate::area::Slice;
use crate::chan::ChanLock;

/// How a drive command ended.
type Outcome = crate::chan::Outcome<Rep>;
use crate::errno::{Errno, Result};
use crate::host::{Host, Sleep};
use crate::proto::{self, Op, Rep, Req, ReqFlags, SenseFlags, SenseKey, Tape};
use crate::sgio::{SgAnswer, SgIoctl};

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

/// What a master minor says besides rewinding: NetBSD's st minors carry a
/// mode (bits 2-3) and name an eject node and a control node (mode 2 and
/// 3 of the low bits). Linux's glue opens every node with the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Node {
    /// The mode (0-3) whose block size and density a mount takes.
    pub mode: u8,
    /// Rewind and unload at close (st's EJECT_MODE).
    pub eject: bool,
    /// The control device: it opens without a medium, and MTSETBSIZ and
    /// MTSETDNSTY through it set its mode's values for later mounts.
    pub control: bool,
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
    /// The last sense key latched (Policy::latch_sense), else 0.
    pub sense_key: u8,
    /// The last residue latched (Policy::latch_sense), else 0.
    pub resid: i64,
    /// Each mode's block size and density for a mount (NetBSD's
    /// `mt_mblksiz`, `mt_mdensity`).
    pub modes: [ModeValues; 4],
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

/// A request's payload: in a buffer the frame carries, or in the unit's
/// data area.
#[derive(Debug)]
pub(super) enum Payload {
    /// Bytes carried by the frame.
    Mem(Vec<u8>),
    /// A slice of the data area, already holding the bytes.
    Area(Slice),
}

impl Payload {
    /// Its bytes.
    pub(super) fn len(&self) -> usize {
        match self {
            Payload::Mem(v) => v.len(),
            Payload::Area(s) => s.len,
        }
    }

    /// True if a request with this payload fits the channel now.
    pub(super) fn fits(&self, c: &crate::chan::Chan<Tape>) -> bool {
        match self {
            Payload::Mem(v) => c.has_space(v.len()),
            // The slice is already taken: a free ring slot is enough.
            Payload::Area(_) => c.has_space(0),
        }
    }

    /// Gives an area slice back (a payload that will not be sent).
    pub(super) fn release(&self, l: &Link<'_>) {
        if let Payload::Area(s) = self {
            l.chan.with(|c| c.release_area(*s));
        }
    }
}

/// The engine's view of the channel and the host for one system call.
pub struct Link<'a> {
    /// The unit's channel.
    pub chan: &'a ChanLock<Tape>,
    /// The host.
    pub host: &'a mut dyn Host,
    /// How this call's waits for the drive sleep.
    pub sleep: Sleep,
}

/// A tape ioctl as the engine runs it, whatever the host's numbering
/// (decoded by the host's ABI table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ioctl {
    /// MTIOCTOP: an operation and its count.
    Op(MtOp, i32),
    /// MTIOCGET: the status.
    Status,
    /// MTIOCPOS (NetBSD: MTIOCRDSPOS, MTIOCRDHPOS): the logical block.
    Tell,
    /// Accepted, nothing to do (NetBSD's MTIOCIEOT and MTIOCEEOT).
    Nothing,
    /// A command of st's own it refuses, after flushing as it does before
    /// any command other than MTIOCTOP.
    Refuse(Errno),
    /// SG_IO or another sg ioctl, which st passes to the SCSI layer.
    Sg(SgIoctl),
}

/// What an ioctl answers, for the host's ABI table to lay out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Done; nothing to copy out.
    Done,
    /// The status (MTIOCGET).
    Status(TapeStatus),
    /// The logical block (MTIOCPOS).
    Block(u32),
    /// An sg ioctl's answer.
    Sg(SgAnswer),
}

/// Largest count of a SPACE or WRITE FILEMARKS command: SCSI's 24 bits.
pub const MAX_MOTION: i64 = 0x7f_ffff;

/// A SPACE count, 24-bit signed as SCSI carries it. Counts are checked at
/// MTIOCTOP; one beyond the range is limited to it, never wrapped into the
/// other direction.
fn s24(v: i64) -> i32 {
    v.clamp(-MAX_MOTION - 1, MAX_MOTION) as i32
}

/// A WRITE FILEMARKS count, 24-bit unsigned.
fn u24(v: i64) -> i32 {
    v.clamp(0, 0x00ff_ffff) as i32
}

/// A file or block number computed as st computes it (in a wider type, so
/// neither a caller's count nor a residue can wrap it): a result that does
/// not fit st's int is unknown (-1), never a wrapped number.
fn pos(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(-1)
}

fn cost(req: &Req) -> u64 {
    let marks = u64::from(req.count.unsigned_abs()).max(1);
    req.length.saturating_add(marks.saturating_mul(proto::RECORD_COST))
}

#[cfg(test)]
impl Drv {
    /// True while the last transfer was a write (for tests).
    pub(crate) fn writing(&self) -> bool {
        self.drive.ps.rw == Rw::Writing
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
