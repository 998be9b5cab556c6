//! One pmt tape unit: a master (the tape device) and a slave (the daemon's end).
//!
//! A unit owns the channel both sides share and the driver state of the
//! master. The host calls the `m*` entry points from master system calls,
//! one at a time per unit (it holds the unit's master mutex), and the `s*`
//! entry points from slave system calls. Master entry points may sleep through
//! [`Host::wait`]; slave entry points never sleep: the host does the blocking
//! around them, waiting for [`Unit::readable`].
//!
//! Each entry point says how its waits may be ended ([`Sleep`]): a master
//! operation that sends drive commands is killable, the close paths wait
//! for nothing but the timeout.

use crate::abi::Abi;
use crate::chan::{Chan, ChanLock, Limits};
use crate::drv::{Answer, Drv, Link, Node, OpenFlags};
use crate::sgio::SgAnswer;
use crate::errno::{Errno, Result};
use crate::host::{Host, HostArea, HostLock, Sleep, UserArg, UserIn, UserOut, Wait};
use crate::proto::Tape;

/// Limits of a unit, from the module parameters.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Requests in flight at once.
    pub ring: usize,
    /// Bytes of write-behind data a unit may hold.
    pub window: usize,
    /// Command timeout in seconds (st's default is 900).
    pub timeout: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config { ring: 256, window: 1 << 20, timeout: crate::drv::TIMEOUT }
    }
}

impl Config {
    /// Fewest requests in flight.
    pub const MIN_RING: usize = 2;
    /// Most requests in flight.
    pub const MAX_RING: usize = 65536;
    /// Smallest window (a page).
    pub const MIN_WINDOW: usize = 4096;
    /// Largest window (1 GiB).
    pub const MAX_WINDOW: usize = 1 << 30;

    /// Checks the limits: EINVAL when one is out of range.
    pub fn validate(&self) -> Result<()> {
        if (Config::MIN_RING..=Config::MAX_RING).contains(&self.ring)
            && (Config::MIN_WINDOW..=Config::MAX_WINDOW).contains(&self.window)
        {
            Ok(())
        } else {
            Err(Errno::Inval)
        }
    }

    /// The channel's limits.
    pub fn limits(&self) -> Limits {
        Limits { ring: self.ring, window: self.window }
    }
}

/// A pmt tape unit.
#[derive(Debug)]
pub struct Unit {
    cfg: Config,
    abi: Abi,
    chan: ChanLock<Tape>,
    /// Only master system calls touch the driver state, and the host runs
    /// them one at a time: the lock is taken with `try_lock` and never waits.
    drv: spin::mutex::SpinMutex<Drv>,
}

impl Unit {
    /// Unit `index` for host `abi`, with its ring reserved and its channel
    /// behind `lock`. EINVAL if a limit is out of range, ENOMEM if memory is
    /// short.
    pub fn new(index: u32, cfg: Config, abi: Abi, lock: HostLock, area: HostArea) -> Result<Unit> {
        cfg.validate()?;
        let chan = Chan::new(cfg.limits())?;
        let drv = Drv::new(index, abi.policy(), cfg.timeout);
        Ok(Unit { cfg, abi, chan: ChanLock::new(chan, lock, area), drv: spin::mutex::SpinMutex::new(drv) })
    }

    /// The unit's host ABI.
    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// Payload bytes the channel holds now, in its buffers and in the data
    /// area (each bounded by the window, plus one record written
    /// synchronously).
    pub fn held(&self) -> usize {
        self.chan.with(|c| c.held().saturating_add(c.area_held()))
    }

    /// The condition a master sleeps on (see [`Host::wait`]).
    pub fn cond(&self, what: Wait) -> bool {
        self.chan.with(|c| match what {
            Wait::Front => c.front_done() || c.is_empty(),
            Wait::Space(n) => c.has_room(n) || c.front_done() || !c.slave_present(),
        })
    }

    /// Runs a driver operation for a master system call whose waits sleep
    /// as `sleep` says.
    fn with_drv<R>(&self, host: &mut dyn Host, sleep: Sleep, f: impl FnOnce(&mut Drv, &mut Link<'_>) -> Result<R>) -> Result<R> {
        let mut drv = self.drv.try_lock().ok_or(Errno::Busy)?;
        let mut link = Link { chan: &self.chan, host, sleep };
        f(&mut drv, &mut link)
    }

    /// Master open.
    pub fn mopen(&self, host: &mut dyn Host, flags: OpenFlags) -> Result<()> {
        self.mopen_node(host, flags, Node::default())
    }

    /// Master open of one node of the minor (NetBSD: a mode, the eject
    /// node, the control node).
    pub fn mopen_node(&self, host: &mut dyn Host, flags: OpenFlags, node: Node) -> Result<()> {
        self.with_drv(host, Sleep::Killable, |d, l| d.open(l, flags, node))
    }

    /// The last close() of a master file: filemarks, rewind.
    pub fn mflush(&self, host: &mut dyn Host) -> Result<()> {
        self.with_drv(host, Sleep::Uninterruptible, |d, l| d.flush(l))
    }

    /// Master release: the daemon gets the close; the unit is free again.
    pub fn mrelease(&self, host: &mut dyn Host) -> Result<()> {
        self.with_drv(host, Sleep::Uninterruptible, |d, l| d.release(l))
    }

    /// Master read(): one record (or fixed blocks) into `out`.
    pub fn mread(&self, host: &mut dyn Host, out: &mut dyn UserOut, count: usize) -> Result<usize> {
        let window = self.cfg.window;
        self.with_drv(host, Sleep::Killable, |d, l| d.read(l, out, count, window))
    }

    /// Master write(): one record (or fixed blocks) from `src`.
    pub fn mwrite(&self, host: &mut dyn Host, src: &mut dyn UserIn, count: usize) -> Result<usize> {
        let window = self.cfg.window;
        self.with_drv(host, Sleep::Killable, |d, l| d.write(l, src, count, window))
    }

    /// Master ioctl: the host's ABI decodes the command and its argument,
    /// the engine runs it, the ABI lays the answer out in the argument.
    /// `compat32`: a 32-bit caller on a 64-bit kernel (Linux). Returns the
    /// ioctl's return value (0 but for SG_GET_TIMEOUT).
    pub fn mioctl(&self, host: &mut dyn Host, cmd: u64, arg: &mut dyn UserArg, compat32: bool) -> Result<i32> {
        let ioctl = self.abi.decode_ioctl(cmd, arg, compat32)?;
        let answer = self.with_drv(host, Sleep::Killable, |d, l| d.ioctl(l, ioctl.what))?;
        if let Answer::Sg(SgAnswer::Return(v)) = answer {
            return Ok(v);
        }
        self.abi.encode_ioctl(&ioctl, answer, arg).map(|()| 0)
    }

    /// Bytes of an ioctl's argument (`compat32`: from a 32-bit caller).
    pub fn ioctl_size(&self, cmd: u64, compat32: bool) -> usize {
        self.abi.tape_arg_size(cmd, compat32)
    }

    /// The daemon mapped the unit's data area, `size` bytes (0: it has
    /// none): write data and read-ahead runs go there from now on, as
    /// they fit.
    pub fn sarea(&self, size: usize) {
        self.chan.with(|c| c.map_area(size));
    }

    /// A daemon opens the slave.
    pub fn sopen(&self) -> Result<()> {
        self.chan.with(|c| c.slave_open())
    }

    /// The daemon closed the slave (or died): every pending request fails.
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

    /// Slave read(): as many whole queued requests as fit `len` bytes, each
    /// at an aligned offset. EAGAIN when none is queued, EMSGSIZE when the
    /// first does not fit.
    pub fn sread(&self, out: &mut dyn UserOut, len: usize) -> Result<usize> {
        self.chan.slave_read(out, len)
    }

    /// Slave write(): one or more replies, each at an aligned offset. A
    /// malformed reply is refused with EINVAL and changes nothing; replies
    /// before it in the same write stay accepted (a short write).
    pub fn swrite(&self, src: &mut dyn UserIn, len: usize) -> Result<usize> {
        self.chan.slave_write(src, len)
    }

    /// True while the engine's last transfer was a write (for tests).
    #[cfg(test)]
    pub(crate) fn writing(&self) -> bool {
        self.drv.try_lock().is_some_and(|d| d.writing())
    }
}
