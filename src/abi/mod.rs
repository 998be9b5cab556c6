//! Host ABIs: how each host OS numbers the tape ioctls and operations, lays
//! out `struct mtget`, numbers its errors, and which st conventions its
//! driver follows ([`Policy`]). The engine ([`crate::drv`]) is shared; a
//! unit is created for one [`Abi`] and keeps it.

pub mod linux;
pub mod mtst;
pub mod netbsd;

use crate::errno::{Errno, Result};
use crate::host::{Host, UserArg, UserIn};
use crate::unit::Unit;

/// A host ABI, chosen when a unit is created (`PMT_ABI_*` in pmt_core.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abi {
    /// Linux: include/uapi/linux/mtio.h and drivers/scsi/st.c.
    Linux,
    /// NetBSD: sys/sys/mtio.h and sys/dev/scsipi/st.c.
    NetBsd,
}

impl Abi {
    /// The ABI of a `PMT_ABI_*` value.
    pub const fn from_wire(v: u32) -> Option<Abi> {
        match v {
            0 => Some(Abi::Linux),
            1 => Some(Abi::NetBsd),
            _ => None,
        }
    }

    /// The host's st conventions.
    pub const fn policy(self) -> Policy {
        match self {
            Abi::Linux => Policy::LINUX,
            Abi::NetBsd => Policy::NETBSD,
        }
    }

    /// The host's number for `e` (nonzero; NetBSD's ERESTART is negative).
    pub const fn errno(self, e: Errno) -> i32 {
        match self {
            Abi::Linux => e.linux(),
            Abi::NetBsd => e.netbsd(),
        }
    }

    /// A master ioctl whose argument `arg` holds the bytes the command's
    /// encoding names (in user memory, or already copied in by the kernel).
    /// `compat32`: a 32-bit caller on a 64-bit kernel (Linux only).
    pub fn ioctl(self, unit: &Unit, host: &mut dyn Host, cmd: u64, arg: &mut dyn UserArg, compat32: bool) -> Result<()> {
        // Ioctl numbers are 32-bit on both hosts; anything wider is unknown.
        let cmd = u32::try_from(cmd).map_err(|_| Errno::NoTty)?;
        match self {
            Abi::Linux => linux::ioctl(unit, host, cmd, arg, compat32),
            Abi::NetBsd => netbsd::ioctl(unit, host, cmd, arg),
        }
    }

    /// Bytes of the ioctl argument that the command's encoding names.
    pub const fn ioctl_size(self, cmd: u64) -> usize {
        match self {
            Abi::Linux => ((cmd >> 16) & 0x3fff) as usize,
            Abi::NetBsd => ((cmd >> 16) & 0x1fff) as usize,
        }
    }
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

/// Reads a native-endian integer of `N` bytes at `at` from an ioctl argument.
pub(crate) fn read_arg<const N: usize>(inp: &mut (impl UserIn + ?Sized), at: usize) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    inp.read(at, &mut b)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_and_errnos() {
        assert_eq!(Abi::from_wire(0), Some(Abi::Linux));
        assert_eq!(Abi::from_wire(1), Some(Abi::NetBsd));
        assert_eq!(Abi::from_wire(2), None);
        assert_eq!(Abi::Linux.errno(Errno::Again), 11);
        assert_eq!(Abi::NetBsd.errno(Errno::Again), 35);
        assert_eq!(Abi::NetBsd.errno(Errno::RestartSys), -3);
        assert_eq!(Abi::Linux.ioctl_size(0x8030_6d02), 48);
        assert_eq!(Abi::NetBsd.ioctl_size(0x4038_6d02), 56);
    }
}
