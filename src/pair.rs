//! A pmt pair of either kind, as a host holds it: the slave side and the
//! ioctls are the same calls for both; reads and writes of the master are
//! the tape's (a changer master has none).

use crate::abi::Abi;
use crate::chg::{ChangerUnit, OpenMode};
use crate::drv::{Node, OpenFlags};
use crate::errno::{Errno, Result};
use crate::host::{Host, HostArea, HostLock, UserArg, UserIn, UserOut, Wait};
use crate::unit::{Config, Unit};

/// The kinds of pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A tape drive: the master is a tape device (st).
    Tape,
    /// A media changer: the master is a SCSI changer (sg, ch).
    Changer,
}

/// A pair of either kind. A host keeps each pair in one allocation of its
/// own, so the kinds' different sizes cost nothing worth a second one.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Pair {
    /// A tape pair.
    Tape(Unit),
    /// A changer pair.
    Changer(ChangerUnit),
}

impl Pair {
    /// Pair `index` of `kind` for host `abi`, its channel behind `lock`.
    /// `area`: how the host reaches a data area the daemon maps (tapes).
    pub fn new(kind: Kind, index: u32, cfg: Config, abi: Abi, lock: HostLock, area: HostArea) -> Result<Pair> {
        Ok(match kind {
            Kind::Tape => Pair::Tape(Unit::new(index, cfg, abi, lock, area)?),
            Kind::Changer => Pair::Changer(ChangerUnit::new(index, abi, cfg.timeout, lock)?),
        })
    }

    /// The tape unit, for the tape master's own calls.
    pub fn tape(&self) -> Result<&Unit> {
        match self {
            Pair::Tape(u) => Ok(u),
            Pair::Changer(_) => Err(Errno::NxIo),
        }
    }

    /// The host ABI.
    pub fn abi(&self) -> Abi {
        match self {
            Pair::Tape(u) => u.abi(),
            Pair::Changer(c) => c.abi(),
        }
    }

    /// Master open of one node of the minor (a tape's mode, eject and
    /// control nodes). A changer master prepares what its host's ch does
    /// at open (NetBSD: the library must answer; Linux: nothing).
    pub fn mopen(&self, host: &mut dyn Host, flags: OpenFlags, node: Node) -> Result<()> {
        match self {
            Pair::Tape(u) => u.mopen_node(host, flags, node),
            Pair::Changer(c) => c.open(host),
        }
    }

    /// The last close() of a master file.
    pub fn mflush(&self, host: &mut dyn Host) -> Result<()> {
        match self {
            Pair::Tape(u) => u.mflush(host),
            Pair::Changer(_) => Ok(()),
        }
    }

    /// Master release.
    pub fn mrelease(&self, host: &mut dyn Host) -> Result<()> {
        match self {
            Pair::Tape(u) => u.mrelease(host),
            Pair::Changer(c) => {
                c.close();
                Ok(())
            }
        }
    }

    /// Master read(): a tape's record; a changer's events where its host's
    /// ch has them (NetBSD), else EINVAL.
    pub fn mread(&self, host: &mut dyn Host, out: &mut dyn UserOut, count: usize) -> Result<usize> {
        match self {
            Pair::Tape(u) => u.mread(host, out, count),
            Pair::Changer(c) => c.read(out, count),
        }
    }

    /// Master write(): a tape's record; a changer has no write (EINVAL).
    pub fn mwrite(&self, host: &mut dyn Host, src: &mut dyn UserIn, count: usize) -> Result<usize> {
        self.tape().map_err(|_| Errno::Inval)?.mwrite(host, src, count)
    }

    /// Master ioctl; `writable`: the caller's file was opened for writing.
    /// Returns the ioctl's return value.
    pub fn mioctl(&self, host: &mut dyn Host, cmd: u64, arg: &mut dyn UserArg, compat32: bool, writable: bool) -> Result<i32> {
        match self {
            Pair::Tape(u) => u.mioctl(host, cmd, arg, compat32),
            Pair::Changer(c) => c.ioctl(host, cmd, arg, compat32, OpenMode { write: writable }),
        }
    }

    /// Bytes of an ioctl's argument.
    pub fn ioctl_size(&self, cmd: u64, compat32: bool) -> usize {
        match self {
            Pair::Tape(u) => u.ioctl_size(cmd, compat32),
            Pair::Changer(c) => c.ioctl_size(cmd, compat32),
        }
    }

    /// The condition a master sleeps on.
    pub fn cond(&self, what: Wait) -> bool {
        match self {
            Pair::Tape(u) => u.cond(what),
            Pair::Changer(c) => c.cond(what),
        }
    }

    /// A daemon opens the slave.
    pub fn sopen(&self) -> Result<()> {
        match self {
            Pair::Tape(u) => u.sopen(),
            Pair::Changer(c) => c.sopen(),
        }
    }

    /// The daemon mapped a data area of `size` bytes (tapes; a changer
    /// has none).
    pub fn sarea(&self, size: usize) {
        if let Pair::Tape(u) = self {
            u.sarea(size);
        }
    }

    /// The daemon closed the slave.
    pub fn sclose(&self) {
        match self {
            Pair::Tape(u) => u.sclose(),
            Pair::Changer(c) => c.sclose(),
        }
    }

    /// True if a slave read would return a request now.
    pub fn readable(&self) -> bool {
        match self {
            Pair::Tape(u) => u.readable(),
            Pair::Changer(c) => c.readable(),
        }
    }

    /// Bytes a slave read with room for everything would return now.
    pub fn pending(&self) -> usize {
        match self {
            Pair::Tape(u) => u.pending(),
            Pair::Changer(c) => c.pending(),
        }
    }

    /// Slave read().
    pub fn sread(&self, out: &mut dyn UserOut, len: usize) -> Result<usize> {
        match self {
            Pair::Tape(u) => u.sread(out, len),
            Pair::Changer(c) => c.sread(out, len),
        }
    }

    /// Slave write().
    pub fn swrite(&self, src: &mut dyn UserIn, len: usize) -> Result<usize> {
        match self {
            Pair::Tape(u) => u.swrite(src, len),
            Pair::Changer(c) => c.swrite(src, len),
        }
    }
}
