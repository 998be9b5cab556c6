//! Host conventions that differ between st implementations: how early
//! warning reaches the writer, filemarks at close, short reads. A host's
//! ABI table ([`crate::abi`]) names its policy; the engine follows it.

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
    };
    /// NetBSD st.
    pub const NETBSD: Policy = Policy {
        eom: EomPolicy::Eio,
        two_fm: true,
        short_read: Errno::Io,
        short_read_counts: false,
        eom_loses_position: true,
    };
}

