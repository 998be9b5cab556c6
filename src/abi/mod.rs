//! Host ABIs: how each host OS numbers the tape ioctls and operations, lays
//! out `struct mtget`, numbers its errors, and which st conventions its
//! driver follows (a [`Policy`] of the engine). The engine ([`crate::drv`])
//! is shared; a unit is created for one [`Abi`] and keeps it. The tables
//! only decode and encode: an ioctl is decoded into the engine's [`Ioctl`],
//! run by the unit, and its [`Answer`] laid out in the host's structures.

pub mod linux;
pub mod linux_changer;
pub mod linux_sg;
pub mod netbsd;
pub mod netbsd_changer;

pub use crate::drv::{Answer, Ioctl, Policy};
use crate::errno::{Errno, Result};
use crate::chg::{ChAnswer, ChangerIoctl};
use crate::host::{Host, UserIn, UserOut};

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

    /// Decodes a master ioctl whose argument `arg` holds the bytes the
    /// command's encoding names (in user memory, or already copied in by
    /// the kernel). `compat32`: a 32-bit caller on a 64-bit kernel (Linux
    /// only). ENOTTY for a command this host's st does not have.
    pub fn decode_ioctl(self, cmd: u64, arg: &mut dyn UserIn, compat32: bool) -> Result<TapeIoctl> {
        // Ioctl numbers are 32-bit on both hosts; anything wider is unknown.
        let cmd = u32::try_from(cmd).map_err(|_| Errno::NoTty)?;
        let what = match self {
            Abi::Linux => linux::decode_ioctl(cmd, arg, compat32)?,
            Abi::NetBsd => netbsd::decode_ioctl(cmd, arg)?,
        };
        Ok(TapeIoctl { what, compat32, cmd })
    }

    /// Lays the engine's answer to `ioctl` out in its argument.
    pub fn encode_ioctl(self, ioctl: &TapeIoctl, answer: Answer, arg: &mut dyn UserOut) -> Result<()> {
        match self {
            Abi::Linux => linux::encode_answer(ioctl.cmd, answer, ioctl.compat32, arg),
            Abi::NetBsd => netbsd::encode_answer(answer, arg),
        }
    }

    /// Decodes a changer master's ioctl (SG_IO and the sg ioctls on Linux,
    /// CHIO on both).
    pub fn decode_changer_ioctl(self, cmd: u64, arg: &mut dyn UserIn, compat32: bool) -> Result<ChangerIoctl> {
        let cmd = u32::try_from(cmd).map_err(|_| Errno::NoTty)?;
        match self {
            Abi::Linux => linux_changer::decode(cmd, arg, compat32),
            Abi::NetBsd => netbsd_changer::decode(cmd, arg),
        }
    }

    /// Lays a changer ioctl's answer out in its argument (and in the
    /// caller's memory it names, through `host`).
    pub fn encode_changer_answer(self, io: &ChangerIoctl, answer: ChAnswer, arg: &mut dyn UserOut, host: &mut dyn Host) -> Result<()> {
        match self {
            Abi::Linux => linux_changer::encode(io, answer, arg, host),
            Abi::NetBsd => netbsd_changer::encode(io, answer, arg, host),
        }
    }

    /// Bytes of a changer ioctl's argument.
    pub fn changer_arg_size(self, cmd: u64, compat32: bool) -> usize {
        match (self, u32::try_from(cmd)) {
            (Abi::Linux, Ok(c)) => linux_changer::arg_size(c, compat32),
            (Abi::NetBsd, Ok(_)) => self.ioctl_size(cmd),
            (_, Err(_)) => 0,
        }
    }

    /// Bytes of a tape master ioctl's argument (the sg ioctls' numbers
    /// encode none).
    pub fn tape_arg_size(self, cmd: u64, compat32: bool) -> usize {
        match (self, u32::try_from(cmd)) {
            (Abi::Linux, Ok(c)) => linux_sg::arg_size(c, compat32).unwrap_or_else(|| self.ioctl_size(cmd)),
            _ => self.ioctl_size(cmd),
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

/// A tape ioctl decoded from a host's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapeIoctl {
    /// What the engine runs.
    pub what: Ioctl,
    /// From a 32-bit caller (Linux): the answer takes the 32-bit layout.
    pub compat32: bool,
    /// The host's command number.
    pub cmd: u32,
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
