//! The host: what the OS (a kernel's glue, or a daemon serving CUSE
//! devices) provides to the core. Sleeping until the channel changes, waking
//! the daemon, the caller's privilege ([`Host`]), copies to and from user
//! memory ([`UserIn`], [`UserOut`]) and the channel's lock ([`HostLock`]).
//! The core never touches user memory itself; it hands buffers to these
//! traits. This module and its implementations are the one boundary between
//! the core's logic and an OS: the kernel shim implements them over the C
//! glue, a userland host over threads and CUSE.

use alloc::vec::Vec;

use crate::errno::{Errno, Result};

/// The host's lock around a unit's channel: two functions and the
/// argument they take (the kernel shim passes the glue's context, whose
/// spinlock or kmutex the kernel's lock checkers see). Nothing sleeps,
/// allocates or frees while it is held.
#[derive(Clone, Copy)]
pub struct HostLock {
    lock: fn(usize),
    unlock: fn(usize),
    arg: usize,
}

fn no_lock(_: usize) {}

impl HostLock {
    /// A host lock of `lock(arg)` and `unlock(arg)`.
    pub const fn new(lock: fn(usize), unlock: fn(usize), arg: usize) -> HostLock {
        HostLock { lock, unlock, arg }
    }

    /// No host lock: the channel's own (a spin mutex) excludes the other
    /// side. For userland hosts and tests, where a short spin is harmless.
    pub const NONE: HostLock = HostLock::new(no_lock, no_lock, 0);

    /// Takes the lock.
    pub fn lock(&self) {
        (self.lock)(self.arg)
    }

    /// Releases the lock.
    pub fn unlock(&self) {
        (self.unlock)(self.arg)
    }
}

impl core::fmt::Debug for HostLock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostLock").field("arg", &self.arg).finish_non_exhaustive()
    }
}

/// What a master waits for. The glue sleeps until [`crate::Unit::cond`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The oldest outstanding request completed, or none is outstanding.
    Front,
    /// Room in the write-behind window for this many bytes (or something to reap).
    Space(usize),
}

/// How a master sleeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sleep {
    /// Any signal ends the wait (nothing of the caller's is in flight).
    Interruptible,
    /// Only a fatal signal ends the wait (a drive command is in flight).
    Killable,
    /// Nothing but the timeout ends it (close paths, exiting processes).
    Uninterruptible,
}

/// Why a wait ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// A signal arrived: the call fails with EINTR.
    Interrupted,
    /// A signal arrived whose handler lets the call restart (Linux's
    /// ERESTARTSYS, NetBSD's ERESTART), if nothing of it was done yet.
    Restart,
    /// The timeout expired.
    TimedOut,
}

/// Services of the OS glue for a master operation.
pub trait Host {
    /// Sleeps until `what` holds for this unit, a signal (per `how`), or the
    /// timeout in seconds.
    fn wait(&mut self, what: Wait, how: Sleep, timeout_secs: u32) -> core::result::Result<(), WaitError>;
    /// Wakes the daemon side: a request was queued.
    fn wake_slave(&mut self);
    /// The caller may change driver-wide settings (CAP_SYS_ADMIN on Linux,
    /// the superuser's credentials on NetBSD).
    fn privileged(&self) -> bool;

    /// The caller may send any SCSI command (CAP_SYS_RAWIO on Linux, the
    /// superuser on NetBSD); without it SG_IO passes only the commands
    /// Linux's command filter allows.
    fn raw_io(&self) -> bool {
        self.privileged()
    }

    /// Copies `dst.len()` bytes from the caller's memory at address `addr`
    /// (a pointer inside an ioctl's argument: SG_IO's command, data and
    /// sense buffers, CHIOGSTATUS's array). A host that serves no such
    /// ioctl reaches no such memory: EFAULT.
    fn copyin_addr(&mut self, addr: u64, dst: &mut [u8]) -> Result<()> {
        let _ = (addr, dst);
        Err(Errno::Fault)
    }

    /// Copies `src` to the caller's memory at address `addr`.
    fn copyout_addr(&mut self, addr: u64, src: &[u8]) -> Result<()> {
        let _ = (addr, src);
        Err(Errno::Fault)
    }
}

/// A user buffer the core reads from (a write() buffer, an ioctl argument).
pub trait UserIn {
    /// Copies `dst.len()` bytes starting `at` bytes into the user buffer.
    fn read(&mut self, at: usize, dst: &mut [u8]) -> Result<()>;

    /// Replaces `out` with `n` bytes starting `at`. Allocation failure is
    /// EOVERFLOW, as st reports a buffer it cannot allocate.
    fn read_vec(&mut self, at: usize, n: usize, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.try_reserve_exact(n).map_err(|_| Errno::Overflow)?;
        out.resize(n, 0);
        self.read(at, out)
    }

    /// Copies `n` bytes starting `at` into the unit's data area at `off`.
    /// The default goes through a small buffer; a host that can copy from
    /// user memory straight into the area does so (one copy).
    fn read_into_area(&mut self, at: usize, area: &HostArea, off: usize, n: usize) -> Result<()> {
        let mut b = [0u8; BOUNCE];
        let mut done = 0usize;
        while done < n {
            let k = (n - done).min(BOUNCE);
            let chunk = b.get_mut(..k).ok_or(Errno::Fault)?;
            self.read(at.checked_add(done).ok_or(Errno::Fault)?, chunk)?;
            area.write(off.checked_add(done).ok_or(Errno::Fault)?, chunk)?;
            done += k;
        }
        Ok(())
    }
}

/// A user buffer the core writes to (a read() buffer, an ioctl result).
pub trait UserOut {
    /// Copies `src` to `at` bytes into the user buffer.
    fn write(&mut self, at: usize, src: &[u8]) -> Result<()>;

    /// Copies `n` bytes of the unit's data area at `off` to `at` bytes into
    /// the user buffer. The default goes through a small buffer; a host
    /// that can copy from the area straight to user memory does so.
    fn write_from_area(&mut self, at: usize, area: &HostArea, off: usize, n: usize) -> Result<()> {
        let mut b = [0u8; BOUNCE];
        let mut done = 0usize;
        while done < n {
            let k = (n - done).min(BOUNCE);
            let chunk = b.get_mut(..k).ok_or(Errno::Fault)?;
            area.read(off.checked_add(done).ok_or(Errno::Fault)?, chunk)?;
            self.write(at.checked_add(done).ok_or(Errno::Fault)?, chunk)?;
            done += k;
        }
        Ok(())
    }
}

/// Bytes of the bounce buffer of the default area copies.
const BOUNCE: usize = 512;

/// A unit's data area as the host provides it: memory shared with the
/// daemon (the slave's mapping), where write data and read-ahead runs live
/// by offset so that the daemon reads and writes them in place. The core
/// never makes a reference to that memory (the daemon may write it at any
/// time): it copies through these functions, which check the range.
#[derive(Clone, Copy)]
pub struct HostArea {
    read: fn(usize, usize, &mut [u8]) -> bool,
    write: fn(usize, usize, &[u8]) -> bool,
    arg: usize,
}

fn no_read(_: usize, _: usize, _: &mut [u8]) -> bool {
    false
}

fn no_write(_: usize, _: usize, _: &[u8]) -> bool {
    false
}

impl HostArea {
    /// An area read by `read(arg, off, dst)` and written by
    /// `write(arg, off, src)` (false: the range is outside the area).
    pub const fn new(read: fn(usize, usize, &mut [u8]) -> bool, write: fn(usize, usize, &[u8]) -> bool, arg: usize) -> HostArea {
        HostArea { read, write, arg }
    }

    /// No area: payloads travel inside the frames.
    pub const NONE: HostArea = HostArea::new(no_read, no_write, 0);

    /// The host's argument (its context for the area).
    pub fn arg(&self) -> usize {
        self.arg
    }

    /// Copies `dst.len()` bytes at `off` out of the area.
    pub fn read(&self, off: usize, dst: &mut [u8]) -> Result<()> {
        if (self.read)(self.arg, off, dst) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }

    /// Copies `src` into the area at `off`.
    pub fn write(&self, off: usize, src: &[u8]) -> Result<()> {
        if (self.write)(self.arg, off, src) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }
}

impl core::fmt::Debug for HostArea {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostArea").field("arg", &self.arg).finish_non_exhaustive()
    }
}

/// An ioctl argument: read and written in place.
pub trait UserArg: UserIn + UserOut {}

impl<T: UserIn + UserOut + ?Sized> UserArg for T {}

/// A buffer in kernel memory (an ioctl argument the kernel already copied
/// in), read and written like a user buffer.
pub struct KernelBuf<'a>(pub &'a mut [u8]);

impl UserIn for KernelBuf<'_> {
    fn read(&mut self, at: usize, dst: &mut [u8]) -> Result<()> {
        (&*self.0).read(at, dst)
    }
}

impl UserOut for KernelBuf<'_> {
    fn write(&mut self, at: usize, src: &[u8]) -> Result<()> {
        (&mut *self.0).write(at, src)
    }
}

impl UserIn for &[u8] {
    fn read(&mut self, at: usize, dst: &mut [u8]) -> Result<()> {
        let src = self.get(at..at.checked_add(dst.len()).ok_or(Errno::Fault)?).ok_or(Errno::Fault)?;
        dst.copy_from_slice(src);
        Ok(())
    }
}

impl UserOut for &mut [u8] {
    fn write(&mut self, at: usize, src: &[u8]) -> Result<()> {
        let dst = self.get_mut(at..at.checked_add(src.len()).ok_or(Errno::Fault)?).ok_or(Errno::Fault)?;
        dst.copy_from_slice(src);
        Ok(())
    }
}
