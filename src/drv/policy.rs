//! Host conventions that differ between st implementations: how early
//! warning reaches the writer, filemarks at close and before motions, short
//! reads, what MTIOCGET latches, what a mount keeps. A host's ABI table
//! ([`crate::abi`]) names its policy; the engine follows it.

use crate::errno::Errno;

/// Host conventions that differ between st implementations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How early warning reaches the writer.
    pub eom: EomPolicy,
    /// Write two filemarks at close (backspacing over the second).
    pub two_fm: bool,
    /// errno for a record larger than the read buffer.
    pub short_read: Errno,
    /// Whether such a record counts as a block read (Linux's st: the drive
    /// passed it; NetBSD's st does not count it).
    pub short_read_counts: bool,
    /// Whether MTEOM loses the file and block numbers (NetBSD's st: "this
    /// loses us relative position"; Linux's st counts the files crossed).
    pub eom_loses_position: bool,
    /// Which filemarks end written data before a motion and at close.
    pub eod: EodRule,
    /// MTIOCGET reports the last sense key and residue the drive returned
    /// (`mt_erreg`, `mt_resid`) and clears them, as NetBSD's st latches
    /// them; an open clears them too. Linux's st reports neither.
    pub latch_sense: bool,
    /// A mount lasts until a rewinding close, an eject or an unload, and
    /// the next open mounts again with the block size and density of its
    /// minor's mode (NetBSD's st_mount_tape: the values the control device
    /// set, else variable blocks). Linux's st keeps the drive's block size.
    pub remount: bool,
}

/// Which filemarks end written data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EodRule {
    /// Linux's st_ioctl: one filemark before MTREW, MTOFFL, MTSEEK, MTBSF
    /// and MTBSFM after writing (MTBSF counting it); st_flush's one (two
    /// with MT_ST_TWO_FM) at the last close after writing.
    OneBeforeMotion,
    /// NetBSD's st_check_eod: the marks written data still lacks (two with
    /// two-fm, one if one was written since; none after a read or more
    /// marks) before MTREW, MTOFFL, MTRETEN, MTFSF, MTBSF and MTEOM (the
    /// spacing counts them), and before MTFSR and MTBSR with the head
    /// brought back; none before a locate. At close: after writing, or on a
    /// write-only file that wrote nothing (st_check_eod then finds nothing
    /// to end), then again at the unmount of a rewinding close.
    CheckEod,
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
    pub const LINUX: Policy = Policy {
        eom: EomPolicy::Enospc,
        two_fm: false,
        short_read: Errno::NoMem,
        short_read_counts: true,
        eom_loses_position: false,
        eod: EodRule::OneBeforeMotion,
        latch_sense: false,
        remount: false,
    };
    /// NetBSD st.
    pub const NETBSD: Policy = Policy {
        eom: EomPolicy::Eio,
        two_fm: true,
        short_read: Errno::Io,
        short_read_counts: false,
        eom_loses_position: true,
        eod: EodRule::CheckEod,
        latch_sense: true,
        remount: true,
    };
}
