//! The driver's state, in st's three lifetimes: the unit's settings, what
//! the driver knows of the drive and its medium across opens, and the
//! state of one open, made anew at every open.

use alloc::vec::Vec;

use super::{ahead, Answer, Door, Eof, Ioctl, Link, Node, OpenFlags, Opts, PartStat, Policy, Ready, Rw, LONG_TIMEOUT, TIMEOUT};
use crate::errno::{Errno, Result};
use crate::proto;
use crate::sgio::SgState;

/// The driver state of one unit (st's `struct scsi_tape` and its partition
/// state), in three lifetimes: the unit's settings, what the driver knows of
/// the drive and its medium (kept across opens), and the state of one open
/// (made anew at every open).
#[derive(Debug)]
pub struct Drv {
    pub(super) cfg: Settings,
    pub(super) drive: DriveState,
    pub(super) open: OpenState,
}

/// The unit's settings: its host's conventions, the driver options and
/// defaults (MTSETDRVBUFFER), the timeouts.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) policy: Policy,
    /// Unit number, sent with OPEN.
    pub(super) unit: u32,
    pub(super) opts: Opts,
    pub(super) default_blksize: Option<u32>,
    pub(super) default_density: Option<u8>,
    pub(super) default_drvbuffer: Option<u8>,
    pub(super) default_compression: Option<bool>,
    pub(super) timeout: u32,
    pub(super) long_timeout: u32,
    /// The sg settings of the master (SG_SET_TIMEOUT, the reserved size).
    pub(super) sg: SgState,
    /// The block size and density each mode of the minor gives a mount,
    /// set through the control device (NetBSD's st `modes[]`).
    pub(super) modes: [ModeValues; 4],
}

/// What a mode of the minor gives a mount (NetBSD's st: set through the
/// control device, persistent until the unit goes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModeValues {
    /// The block size (0: variable), if set.
    pub blksize: Option<u32>,
    /// The density code, if set.
    pub density: Option<u8>,
}

/// What written data still lacks at its end, as NetBSD's st tracks it
/// (ST_WRITTEN, ST_FM_WRITTEN), kept across opens of one mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct EodFlags {
    /// Data was written and not yet ended by filemarks (ST_WRITTEN).
    pub(super) written: bool,
    /// One filemark was written since (ST_FM_WRITTEN).
    pub(super) fm_written: bool,
}

/// The last sense the drive returned, for MTIOCGET (NetBSD's st:
/// `mt_erreg`, `mt_resid`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Latched {
    /// The sense key.
    pub(super) key: u8,
    /// The residue (the sense's INFORMATION field).
    pub(super) resid: i64,
}

/// What the driver knows of the drive and its medium, across opens.
#[derive(Debug)]
pub(super) struct DriveState {
    /// A master file is open.
    pub(super) in_use: bool,
    /// The daemon instance of the current session.
    pub(super) session: Option<u64>,
    /// The daemon instance of the last session: a new one means a new medium.
    pub(super) last_gen: Option<u64>,
    pub(super) ready: Ready,
    pub(super) pos_unknown: bool,
    pub(super) drv_write_prot: bool,
    pub(super) block_size: u32,
    pub(super) density: u8,
    pub(super) drv_buffer: u8,
    pub(super) min_block: u32,
    pub(super) max_block: u32,
    pub(super) blksize_changed: bool,
    pub(super) density_changed: bool,
    pub(super) compression_changed: bool,
    pub(super) door: Door,
    pub(super) ps: PartStat,
    pub(super) cleaning_req: bool,
    /// Bytes before early warning at the last reply.
    pub(super) room: u64,
    /// What written data still lacks (EodRule::CheckEod).
    pub(super) eod: EodFlags,
    /// The last sense latched for MTIOCGET (Policy::latch_sense).
    pub(super) latched: Latched,
    /// The mode of the present mount, if mounted (Policy::remount).
    pub(super) mounted: Option<u8>,
}

/// The state of one open, made anew at every open.
#[derive(Debug)]
pub(super) struct OpenState {
    /// How the file was opened.
    pub(super) mode: OpenFlags,
    /// Which node of the minor (mode, eject, control).
    pub(super) node: Node,
    pub(super) rew_at_close: bool,
    pub(super) autorew_dev: bool,
    pub(super) write_prot: bool,
    pub(super) recover_reg: u32,
    /// The read buffer: data of the last READ and how much is left.
    pub(super) rbuf: Vec<u8>,
    pub(super) rptr: usize,
    pub(super) rbytes: usize,
    /// The cost of the write-behind requests issued since the last reply
    /// that said how much room is left.
    pub(super) behind_cost: u64,
    /// Result of reaped write-behind requests not yet reported.
    pub(super) behind_err: Option<Errno>,
    /// Read-ahead runs, in flight and completed.
    pub(super) ahead: ahead::Ahead,
}

impl OpenState {
    /// The state of an open with `flags`, as st_open sets it up.
    pub(super) fn new(flags: OpenFlags, node: Node) -> OpenState {
        OpenState {
            mode: flags,
            node,
            rew_at_close: !flags.norewind,
            autorew_dev: !flags.norewind,
            write_prot: flags.read && !flags.write,
            recover_reg: 0,
            rbuf: Vec::new(),
            rptr: 0,
            rbytes: 0,
            behind_cost: 0,
            behind_err: None,
            ahead: ahead::Ahead::default(),
        }
    }
}

impl Drv {
    /// A unit's driver state, as after st's probe.
    pub fn new(unit: u32, policy: Policy, timeout: u32) -> Drv {
        Drv {
            cfg: Settings {
                policy,
                unit,
                opts: Opts::st_default(&policy),
                default_blksize: None,
                default_density: None,
                default_drvbuffer: None,
                default_compression: None,
                timeout: if timeout == 0 { TIMEOUT } else { timeout },
                long_timeout: LONG_TIMEOUT.max(timeout),
                sg: SgState::default(),
                modes: [ModeValues::default(); 4],
            },
            drive: DriveState {
                in_use: false,
                session: None,
                last_gen: None,
                ready: Ready::NotReady,
                pos_unknown: false,
                drv_write_prot: false,
                block_size: 0,
                density: 0,
                drv_buffer: 0,
                min_block: 0,
                max_block: 0,
                blksize_changed: false,
                density_changed: false,
                compression_changed: false,
                door: Door::Unlocked,
                ps: PartStat { rw: Rw::Idle, eof: Eof::No, at_sm: false, drv_file: -1, drv_block: -1 },
                cleaning_req: false,
                room: proto::ROOM_UNLIMITED,
                eod: EodFlags::default(),
                latched: Latched::default(),
                mounted: None,
            },
            open: OpenState::new(OpenFlags::default(), Node::default()),
        }
    }

    /// Runs a decoded master ioctl.
    pub fn ioctl(&mut self, l: &mut Link<'_>, what: Ioctl) -> Result<Answer> {
        match what {
            Ioctl::Op(op, count) => self.mtop(l, op, count).map(|()| Answer::Done),
            Ioctl::Status => {
                self.ioctl_flush(l, true)?;
                Ok(Answer::Status(self.status(l)))
            }
            Ioctl::Tell => {
                self.ioctl_flush(l, false)?;
                self.tell(l).map(Answer::Block)
            }
            Ioctl::Nothing => Ok(Answer::Done),
            Ioctl::Refuse(e) => {
                self.ioctl_flush(l, false)?;
                Err(e)
            }
            Ioctl::Sg(s) => self.sg(l, s).map(Answer::Sg),
        }
    }
}

