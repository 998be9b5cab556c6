//! The C entry points of the core (`pmt_core_*`, include/pmt_core.h), for
//! any OS glue.
//!
//! Each entry point turns its C arguments into the logic's types (the unit,
//! the host context, user buffers named by the glue's cookies) and its
//! result into the unit's host errno (0 or a nonzero errno value; counts go
//! through a pointer). Everything the core needs from the glue goes through
//! [`crate::import`]. User memory is only ever touched by the glue's copy
//! functions, through cookies the core never dereferences.

use alloc::vec::Vec;
use core::ffi::c_void;

use pmt::{Abi, Config, Errno, Host, HostArea, KernelBuf, Kind, Node, OpenFlags, Pair, Result, Sleep, UserIn, UserOut, Wait, WaitError};

use crate::cdefs::*;
use crate::import::{self as os, UserCookie};

// ----- user memory ------------------------------------------------------------------

impl UserIn for UserCookie {
    fn read(&mut self, at: usize, dst: &mut [u8]) -> Result<()> {
        if self.copyin(at, dst) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }

    fn read_vec(&mut self, at: usize, n: usize, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.try_reserve_exact(n).map_err(|_| Errno::Overflow)?;
        // SAFETY: the vector has capacity for n bytes; the copy writes at
        // most n bytes there.
        if !unsafe { self.copyin_raw(at, out.as_mut_ptr(), n) } {
            return Err(Errno::Fault);
        }
        // SAFETY: all n bytes were initialised by the copy above.
        unsafe { out.set_len(n) };
        Ok(())
    }

    /// One copy, from the user's buffer straight into the area.
    fn read_into_area(&mut self, at: usize, area: &HostArea, off: usize, n: usize) -> Result<()> {
        if self.copy_to_area(at, area.arg(), off, n) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }
}

impl UserOut for UserCookie {
    fn write(&mut self, at: usize, src: &[u8]) -> Result<()> {
        if self.copyout(at, src) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }

    /// One copy, from the area straight to the user's buffer.
    fn write_from_area(&mut self, at: usize, area: &HostArea, off: usize, n: usize) -> Result<()> {
        if self.copy_from_area(at, area.arg(), off, n) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }
}

// ----- the host ----------------------------------------------------------------------

/// The glue's context for one master call (its softc) and the caller.
struct KernelHost {
    host: *mut c_void,
    cred: *mut c_void,
}

impl KernelHost {
    fn new(host: *mut c_void) -> KernelHost {
        KernelHost { host, cred: core::ptr::null_mut() }
    }
}

impl Host for KernelHost {
    fn wait(&mut self, what: Wait, how: Sleep, timeout_secs: u32) -> core::result::Result<(), WaitError> {
        let (w, arg) = match what {
            Wait::Front => (WAIT_FRONT, 0),
            Wait::Space(n) => (WAIT_SPACE, n),
        };
        let h = match how {
            Sleep::Interruptible => SLEEP_INTERRUPTIBLE,
            Sleep::Killable => SLEEP_KILLABLE,
            Sleep::Uninterruptible => SLEEP_UNINTERRUPTIBLE,
        };
        match os::wait(self.host, w, arg, h, timeout_secs) {
            WAITED => Ok(()),
            WAIT_TIMEDOUT => Err(WaitError::TimedOut),
            WAIT_RESTART => Err(WaitError::Restart),
            WAIT_INTR => Err(WaitError::Interrupted),
            // Nothing else is defined: a glue bug, taken as a signal so the
            // call fails rather than waits on.
            _ => Err(WaitError::Interrupted),
        }
    }

    fn wake_slave(&mut self) {
        os::wake_slave(self.host)
    }

    fn privileged(&self) -> bool {
        os::privileged(self.host, self.cred, PRIV_ADMIN)
    }

    fn raw_io(&self) -> bool {
        os::privileged(self.host, self.cred, PRIV_RAWIO)
    }

    fn copyin_addr(&mut self, addr: u64, dst: &mut [u8]) -> Result<()> {
        if os::ucopyin(self.host, addr, dst) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }

    fn copyout_addr(&mut self, addr: u64, src: &[u8]) -> Result<()> {
        if os::ucopyout(self.host, addr, src) {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }
}

// ----- results -------------------------------------------------------------------------

/// `u`, if non-null.
///
/// # Safety
/// A non-null `u` must come from [`pmt_core_unit_new`] and not be freed.
unsafe fn unit<'a>(u: *const Pair) -> Option<&'a Pair> {
    // SAFETY: guaranteed by the caller.
    unsafe { u.as_ref() }
}

/// Runs `f` on the unit and encodes its result in the unit's host errno.
///
/// # Safety
/// As [`unit`].
unsafe fn run(u: *const Pair, f: impl FnOnce(&Pair) -> Result<()>) -> i32 {
    // SAFETY: guaranteed by the caller.
    match unsafe { unit(u) } {
        // No unit: ENXIO, in Linux's numbering (the value is the same on
        // NetBSD).
        None => Errno::NxIo.linux(),
        Some(u) => match f(u) {
            Ok(()) => 0,
            Err(e) => u.abi().errno(e),
        },
    }
}

/// Like [`run`] for calls that return a count, stored in `*done` (0 on error).
///
/// # Safety
/// As [`unit`]; `done` must be valid for a write, or null.
unsafe fn run_count(u: *const Pair, done: *mut usize, f: impl FnOnce(&Pair) -> Result<usize>) -> i32 {
    let mut n = 0usize;
    // SAFETY: guaranteed by the caller.
    let r = unsafe {
        run(u, |u| {
            n = f(u)?;
            Ok(())
        })
    };
    // SAFETY: guaranteed by the caller.
    if let Some(d) = unsafe { done.as_mut() } {
        *d = if r == 0 { n } else { 0 };
    }
    r
}

// ----- entry points ----------------------------------------------------------------------

/// Creates unit `index`, whose glue context is `host` (the argument of
/// `pmt_os_lock` and `pmt_os_unlock` for its channel lock). Returns null if
/// memory is short or a parameter is out of range.
///
/// # Safety
/// `p` must point to a valid `struct pmt_core_params`, or be null; `host`
/// must stay valid until the unit is freed.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_unit_new(index: u32, p: *const Params, host: *mut c_void) -> *mut Pair {
    // SAFETY: guaranteed by the caller.
    let Some(p) = (unsafe { p.as_ref() }) else {
        return core::ptr::null_mut();
    };
    let Some(abi) = Abi::from_wire(p.abi) else {
        return core::ptr::null_mut();
    };
    let kind = match p.kind {
        KIND_TAPE => Kind::Tape,
        KIND_CHANGER => Kind::Changer,
        _ => return core::ptr::null_mut(),
    };
    let cfg = Config { ring: p.ring as usize, window: p.window as usize, timeout: p.timeout };
    let Ok(u) = Pair::new(kind, index, cfg, abi, os::host_lock(host), os::host_area(host)) else {
        return core::ptr::null_mut();
    };
    // A one-element vector gives a fallible heap allocation on stable Rust.
    let mut v: Vec<Pair> = Vec::new();
    if v.try_reserve_exact(1).is_err() {
        return core::ptr::null_mut();
    }
    v.push(u);
    let b = v.into_boxed_slice();
    alloc::boxed::Box::into_raw(b).cast::<Pair>()
}

/// Frees a unit. Nothing may use it afterwards.
///
/// # Safety
/// `u` must come from [`pmt_core_unit_new`], with no open file on the unit,
/// or be null.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_unit_free(u: *mut Pair) {
    if u.is_null() {
        return;
    }
    // SAFETY: u is the single element of the boxed slice made by
    // pmt_core_unit_new, and nothing else refers to it.
    drop(unsafe { alloc::boxed::Box::from_raw(core::ptr::slice_from_raw_parts_mut(u, 1)) });
}

/// Master open. `flags` are PMT_MOPEN_* bits.
///
/// # Safety
/// `u` valid; `host` is the glue's context; the unit's master lock is held.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mopen(u: *const Pair, host: *mut c_void, flags: u32) -> i32 {
    let f = OpenFlags {
        read: flags & MOPEN_READ != 0,
        write: flags & MOPEN_WRITE != 0,
        nonblock: flags & MOPEN_NONBLOCK != 0,
        norewind: flags & MOPEN_NOREWIND != 0,
    };
    let node = Node {
        mode: ((flags >> MOPEN_MODE_SHIFT) & 3) as u8,
        eject: flags & MOPEN_EJECT != 0,
        control: flags & MOPEN_CONTROL != 0,
    };
    // SAFETY: guaranteed by the caller.
    unsafe { run(u, |u| u.mopen(&mut KernelHost::new(host), f, node)) }
}

/// Last close() of a master file: filemarks, rewind.
///
/// # Safety
/// As [`pmt_core_mopen`].
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mflush(u: *const Pair, host: *mut c_void) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe { run(u, |u| u.mflush(&mut KernelHost::new(host))) }
}

/// Master release: the daemon hears of the close.
///
/// # Safety
/// As [`pmt_core_mopen`].
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mrelease(u: *const Pair, host: *mut c_void) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe { run(u, |u| u.mrelease(&mut KernelHost::new(host))) }
}

/// Master read() of at most `len` bytes into the buffer behind `cookie`.
///
/// # Safety
/// As [`pmt_core_mopen`]; `cookie` names a user buffer of `len` bytes for
/// the glue's copy functions; `done` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mread(u: *const Pair, host: *mut c_void, cookie: *mut c_void, len: usize, done: *mut usize) -> i32 {
    let mut out = UserCookie::new(cookie, len);
    // SAFETY: guaranteed by the caller.
    unsafe { run_count(u, done, |u| u.mread(&mut KernelHost::new(host), &mut out, len)) }
}

/// Master write() of `len` bytes from the buffer behind `cookie`.
///
/// # Safety
/// As [`pmt_core_mread`].
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mwrite(u: *const Pair, host: *mut c_void, cookie: *mut c_void, len: usize, done: *mut usize) -> i32 {
    let mut src = UserCookie::new(cookie, len);
    // SAFETY: guaranteed by the caller.
    unsafe { run_count(u, done, |u| u.mwrite(&mut KernelHost::new(host), &mut src, len)) }
}

/// Stores an ioctl's return value, if the glue asked for it.
///
/// # Safety
/// `retval` valid for a write, or null.
unsafe fn put_retval(retval: *mut i32, v: i32) {
    // SAFETY: guaranteed by the caller.
    if let Some(r) = unsafe { retval.as_mut() } {
        *r = v;
    }
}

/// Master ioctl() with its argument in user memory behind `cookie`, sized
/// by the command (PMT_IOCTL_COMPAT32: a 32-bit caller; PMT_IOCTL_WRITABLE:
/// its file is open for writing). `*retval` gets the ioctl's return value
/// (0 but for SG_GET_TIMEOUT).
///
/// # Safety
/// As [`pmt_core_mopen`]; `cred` is the glue's, passed back unchanged;
/// `retval` valid for a write, or null.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mioctl(
    u: *const Pair,
    host: *mut c_void,
    cred: *mut c_void,
    cmd: core::ffi::c_ulong,
    cookie: *mut c_void,
    flags: u32,
    retval: *mut i32,
) -> i32 {
    let mut v = 0;
    // SAFETY: guaranteed by the caller.
    let r = unsafe {
        run(u, |u| {
            // unsigned long is 64-bit here, 32-bit on ILP32 hosts.
            #[allow(clippy::useless_conversion)]
            let cmd = u64::from(cmd);
            let compat = flags & IOCTL_COMPAT32 != 0;
            let mut arg = UserCookie::new(cookie, u.ioctl_size(cmd, compat));
            v = u.mioctl(&mut KernelHost { host, cred }, cmd, &mut arg, compat, flags & IOCTL_WRITABLE != 0)?;
            Ok(())
        })
    };
    // SAFETY: guaranteed by the caller.
    unsafe { put_retval(retval, v) };
    r
}

/// Master ioctl() whose argument the kernel already copied in: `data` holds
/// the bytes the command's encoding names (NetBSD's IOCPARM_LEN). `flags`:
/// PMT_IOCTL_WRITABLE.
///
/// # Safety
/// As [`pmt_core_mopen`]; `data` valid for reads and writes of the
/// command's argument size (or null when that size is 0).
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mioctl_data(
    u: *const Pair,
    host: *mut c_void,
    cred: *mut c_void,
    cmd: core::ffi::c_ulong,
    data: *mut c_void,
    flags: u32,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        run(u, |u| {
            // unsigned long is 64-bit here, 32-bit on ILP32 hosts.
            #[allow(clippy::useless_conversion)]
            let cmd = u64::from(cmd);
            let size = u.ioctl_size(cmd, false);
            let buf: &mut [u8] = if size == 0 || data.is_null() {
                &mut []
            } else {
                // SAFETY: the caller guarantees size bytes at data, owned by
                // the kernel for the whole call.
                core::slice::from_raw_parts_mut(data.cast::<u8>(), size)
            };
            u.mioctl(&mut KernelHost { host, cred }, cmd, &mut KernelBuf(buf), false, flags & IOCTL_WRITABLE != 0).map(|_| ())
        })
    }
}

/// The condition a master sleeps on: `what` is PMT_WAIT_*, `arg` its size.
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mcond(u: *const Pair, what: u32, arg: usize) -> bool {
    let w = if what == WAIT_SPACE { Wait::Space(arg) } else { Wait::Front };
    // SAFETY: guaranteed by the caller.
    unsafe { unit(u) }.is_some_and(|u| u.cond(w))
}

/// Slave open (EBUSY if a daemon holds it).
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_sopen(u: *const Pair) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe { run(u, |u| u.sopen()) }
}

/// Slave release: pending requests fail.
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_sclose(u: *const Pair) {
    // SAFETY: guaranteed by the caller.
    if let Some(u) = unsafe { unit(u) } {
        u.sclose()
    }
}

/// Slave read(): EAGAIN when nothing is queued.
///
/// # Safety
/// `u` valid; `cookie` names a user buffer of `len` bytes; `done` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_sread(u: *const Pair, cookie: *mut c_void, len: usize, done: *mut usize) -> i32 {
    let mut out = UserCookie::new(cookie, len);
    // SAFETY: guaranteed by the caller.
    unsafe { run_count(u, done, |u| u.sread(&mut out, len)) }
}

/// Slave write() of replies.
///
/// # Safety
/// As [`pmt_core_sread`].
#[no_mangle]
pub unsafe extern "C" fn pmt_core_swrite(u: *const Pair, cookie: *mut c_void, len: usize, done: *mut usize) -> i32 {
    let mut src = UserCookie::new(cookie, len);
    // SAFETY: guaranteed by the caller.
    unsafe { run_count(u, done, |u| u.swrite(&mut src, len)) }
}

/// True if a slave read would return requests now.
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_readable(u: *const Pair) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { unit(u) }.is_some_and(|u| u.readable())
}

/// Bytes a slave read with room for every queued request would return
/// now (a kqueue filter's `kn_data`).
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_spending(u: *const Pair) -> usize {
    // SAFETY: guaranteed by the caller.
    unsafe { unit(u) }.map_or(0, |u| u.pending())
}

/// The daemon mapped the unit's data area, `size` bytes (0: none).
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_sarea(u: *const Pair, size: usize) {
    // SAFETY: guaranteed by the caller.
    if let Some(u) = unsafe { unit(u) } {
        u.sarea(size)
    }
}
