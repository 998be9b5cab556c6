//! The C interface of the core for the Linux kernel glue
//! (sys/dev/pmt/pmt_linux.c), declared in include/pmt_core.h.
//!
//! Everything `unsafe` in the kernel build is here: the exported entry points,
//! the functions the glue provides (`pmt_os_*`), the global allocator, and
//! the panic handler. User memory is only ever touched by the glue's copy
//! functions, through addresses the core never dereferences.

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use crate::abi::linux;
use crate::drv::OpenFlags;
use crate::errno::{Errno, Result};
use crate::host::{Host, Sleep, UserIn, UserOut, Wait, WaitError};
use crate::unit::{Config, Unit};

// Values shared with include/pmt_core.h.
const MOPEN_READ: u32 = 1;
const MOPEN_WRITE: u32 = 2;
const MOPEN_NONBLOCK: u32 = 4;
const MOPEN_NOREWIND: u32 = 8;
const WAIT_FRONT: u32 = 0;
const WAIT_SPACE: u32 = 1;
const SLEEP_INTERRUPTIBLE: u32 = 0;
const SLEEP_KILLABLE: u32 = 1;
const SLEEP_UNINTERRUPTIBLE: u32 = 2;
const ETIMEDOUT: i32 = 110;

/// `struct pmt_core_params`.
#[repr(C)]
pub struct Params {
    ring: u32,
    window: u32,
    timeout: u32,
}

extern "C" {
    fn pmt_os_alloc(size: usize) -> *mut c_void;
    fn pmt_os_free(p: *mut c_void);
    fn pmt_os_copy_from_user(dst: *mut c_void, src: *const c_void, n: usize) -> usize;
    fn pmt_os_copy_to_user(dst: *mut c_void, src: *const c_void, n: usize) -> usize;
    fn pmt_os_wait(host: *mut c_void, what: u32, arg: usize, how: u32, timeout_secs: u32) -> i32;
    fn pmt_os_wake_slave(host: *mut c_void);
    fn pmt_os_privileged(host: *mut c_void) -> bool;
    fn pmt_os_atomic_enter();
    fn pmt_os_atomic_exit();
    fn pmt_os_panic(msg: *const u8, len: usize);
}

/// Disables preemption (for [`crate::sys::Atomic`]).
pub(crate) fn atomic_enter() {
    // SAFETY: preempt_disable() has no preconditions.
    unsafe { pmt_os_atomic_enter() }
}

/// Re-enables preemption.
pub(crate) fn atomic_exit() {
    // SAFETY: paired with atomic_enter by crate::sys::Atomic.
    unsafe { pmt_os_atomic_exit() }
}

// ----- memory ----------------------------------------------------------------

struct KernelAlloc;

// SAFETY: kvmalloc returns memory aligned to at least 8 bytes (kmalloc's
// minimum on x86_64, or pages from vmalloc); larger alignments are refused
// with a null pointer, which callers handle as allocation failure.
unsafe impl GlobalAlloc for KernelAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > 8 {
            return core::ptr::null_mut();
        }
        // SAFETY: kvmalloc(size, GFP_KERNEL) may sleep; the core never
        // allocates with the channel lock held (checked in the unit tests).
        unsafe { pmt_os_alloc(layout.size()).cast() }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: ptr came from pmt_os_alloc (the contract of dealloc).
        unsafe { pmt_os_free(ptr.cast()) }
    }
}

#[global_allocator]
static ALLOC: KernelAlloc = KernelAlloc;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    const MSG: &str = "rust core panicked";
    // SAFETY: pmt_os_panic reports and stops (BUG); the message is static.
    unsafe {
        pmt_os_panic(MSG.as_ptr(), MSG.len());
        core::arch::asm!("ud2", options(noreturn));
    }
}

// ----- user memory -------------------------------------------------------------

/// A user buffer of `len` bytes at user address `addr`, copied by the glue.
struct User {
    addr: usize,
    len: usize,
}

impl User {
    fn range(&self, at: usize, n: usize) -> Result<usize> {
        match at.checked_add(n) {
            Some(end) if end <= self.len => self.addr.checked_add(at).ok_or(Errno::Fault),
            _ => Err(Errno::Fault),
        }
    }
}

impl UserIn for User {
    fn read(&mut self, at: usize, dst: &mut [u8]) -> Result<()> {
        let src = self.range(at, dst.len())?;
        // SAFETY: dst is valid for dst.len() bytes; copy_from_user checks the
        // user range itself and returns the bytes it could not copy.
        let left = unsafe { pmt_os_copy_from_user(dst.as_mut_ptr().cast(), src as *const c_void, dst.len()) };
        if left == 0 {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }

    fn read_vec(&mut self, at: usize, n: usize, out: &mut Vec<u8>) -> Result<()> {
        let src = self.range(at, n)?;
        out.clear();
        out.try_reserve_exact(n).map_err(|_| Errno::Overflow)?;
        // SAFETY: the vector has capacity for n bytes; copy_from_user writes
        // at most n bytes there.
        let left = unsafe { pmt_os_copy_from_user(out.as_mut_ptr().cast(), src as *const c_void, n) };
        if left != 0 {
            return Err(Errno::Fault);
        }
        // SAFETY: all n bytes were initialised by the copy above.
        unsafe { out.set_len(n) };
        Ok(())
    }
}

impl UserOut for User {
    fn write(&mut self, at: usize, src: &[u8]) -> Result<()> {
        let dst = self.range(at, src.len())?;
        // SAFETY: src is valid for src.len() bytes; copy_to_user checks the
        // user range itself.
        let left = unsafe { pmt_os_copy_to_user(dst as *mut c_void, src.as_ptr().cast(), src.len()) };
        if left == 0 {
            Ok(())
        } else {
            Err(Errno::Fault)
        }
    }
}

// ----- the host ----------------------------------------------------------------

/// The glue's context for one master system call (its softc).
struct KernelHost(*mut c_void);

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
        // SAFETY: the host pointer is the softc the glue passed in, alive for
        // the whole system call.
        match unsafe { pmt_os_wait(self.0, w, arg, h, timeout_secs) } {
            0 => Ok(()),
            r if r == -ETIMEDOUT => Err(WaitError::TimedOut),
            _ => Err(WaitError::Interrupted),
        }
    }

    fn wake_slave(&mut self) {
        // SAFETY: as in wait.
        unsafe { pmt_os_wake_slave(self.0) }
    }

    fn privileged(&self) -> bool {
        // SAFETY: as in wait.
        unsafe { pmt_os_privileged(self.0) }
    }
}

// ----- entry points ---------------------------------------------------------------

fn ret<T: TryInto<isize>>(r: Result<T>) -> isize {
    match r {
        Ok(v) => v.try_into().unwrap_or(isize::MAX),
        Err(e) => -(e.linux() as isize),
    }
}

fn ret_int(r: Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => -e.linux(),
    }
}

/// # Safety
/// `u` must come from [`pmt_core_unit_new`] and not be freed.
unsafe fn unit<'a>(u: *const Unit) -> &'a Unit {
    // SAFETY: guaranteed by the caller.
    unsafe { &*u }
}

/// Creates unit `index`. Returns null if memory is short.
///
/// # Safety
/// `p` must point to a valid `struct pmt_core_params`.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_unit_new(index: u32, p: *const Params) -> *mut Unit {
    // SAFETY: guaranteed by the caller.
    let p = unsafe { &*p };
    let cfg = Config { ring: p.ring as usize, window: p.window as usize, timeout: p.timeout };
    let Ok(u) = Unit::new(index, cfg, linux::POLICY) else {
        return core::ptr::null_mut();
    };
    // A one-element vector gives a fallible heap allocation on stable Rust.
    let mut v: Vec<Unit> = Vec::new();
    if v.try_reserve_exact(1).is_err() {
        return core::ptr::null_mut();
    }
    v.push(u);
    let b = v.into_boxed_slice();
    alloc::boxed::Box::into_raw(b).cast::<Unit>()
}

/// Frees a unit. Nothing may use it afterwards.
///
/// # Safety
/// `u` must come from [`pmt_core_unit_new`], with no open file on the unit.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_unit_free(u: *mut Unit) {
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
/// `u` valid; `host` is the glue's softc; the unit's master mutex is held.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mopen(u: *const Unit, host: *mut c_void, flags: u32) -> i32 {
    let f = OpenFlags {
        read: flags & MOPEN_READ != 0,
        write: flags & MOPEN_WRITE != 0,
        nonblock: flags & MOPEN_NONBLOCK != 0,
        norewind: flags & MOPEN_NOREWIND != 0,
    };
    // SAFETY: guaranteed by the caller.
    ret_int(unsafe { unit(u) }.mopen(&mut KernelHost(host), f))
}

/// Last close() of a master file.
///
/// # Safety
/// As [`pmt_core_mopen`].
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mflush(u: *const Unit, host: *mut c_void) -> i32 {
    // SAFETY: guaranteed by the caller.
    ret_int(unsafe { unit(u) }.mflush(&mut KernelHost(host)))
}

/// Master release.
///
/// # Safety
/// As [`pmt_core_mopen`].
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mrelease(u: *const Unit, host: *mut c_void) -> i32 {
    // SAFETY: guaranteed by the caller.
    ret_int(unsafe { unit(u) }.mrelease(&mut KernelHost(host)))
}

/// Master read().
///
/// # Safety
/// As [`pmt_core_mopen`]; `buf` is a user address.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mread(u: *const Unit, host: *mut c_void, buf: *mut c_void, len: usize) -> isize {
    let mut out = User { addr: buf as usize, len };
    // SAFETY: guaranteed by the caller.
    ret(unsafe { unit(u) }.mread(&mut KernelHost(host), &mut out, len))
}

/// Master write().
///
/// # Safety
/// As [`pmt_core_mopen`]; `buf` is a user address.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mwrite(u: *const Unit, host: *mut c_void, buf: *const c_void, len: usize) -> isize {
    let mut src = User { addr: buf as usize, len };
    // SAFETY: guaranteed by the caller.
    ret(unsafe { unit(u) }.mwrite(&mut KernelHost(host), &mut src, len))
}

/// Master ioctl(); `compat` for a 32-bit caller (arg already converted).
///
/// # Safety
/// As [`pmt_core_mopen`]; `arg` is a user address.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mioctl(u: *const Unit, host: *mut c_void, cmd: u32, arg: usize, compat: i32) -> isize {
    let size = ((cmd >> 16) & 0x3fff) as usize;
    let mut inp = User { addr: arg, len: size };
    let mut out = User { addr: arg, len: size };
    // SAFETY: guaranteed by the caller.
    let u = unsafe { unit(u) };
    ret(linux::ioctl(u, &mut KernelHost(host), cmd, &mut inp, &mut out, compat != 0).map(|()| 0usize))
}

/// The condition a master sleeps on: `what` is PMT_WAIT_*, `arg` its size.
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_mcond(u: *const Unit, what: u32, arg: usize) -> bool {
    let w = if what == WAIT_SPACE { Wait::Space(arg) } else { Wait::Front };
    // SAFETY: guaranteed by the caller.
    unsafe { unit(u) }.cond(w)
}

/// Slave open (EBUSY if a daemon holds it).
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_sopen(u: *const Unit) -> i32 {
    // SAFETY: guaranteed by the caller.
    ret_int(unsafe { unit(u) }.sopen())
}

/// Slave release: pending requests fail.
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_sclose(u: *const Unit) {
    // SAFETY: guaranteed by the caller.
    unsafe { unit(u) }.sclose()
}

/// Slave read(): -EAGAIN when nothing is queued.
///
/// # Safety
/// `u` valid; `buf` is a user address.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_sread(u: *const Unit, buf: *mut c_void, len: usize) -> isize {
    let mut out = User { addr: buf as usize, len };
    // SAFETY: guaranteed by the caller.
    ret(unsafe { unit(u) }.sread(&mut out, len))
}

/// Slave write() of replies.
///
/// # Safety
/// `u` valid; `buf` is a user address.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_swrite(u: *const Unit, buf: *const c_void, len: usize) -> isize {
    let mut src = User { addr: buf as usize, len };
    // SAFETY: guaranteed by the caller.
    ret(unsafe { unit(u) }.swrite(&mut src, len))
}

/// True if a slave read would return requests now.
///
/// # Safety
/// `u` valid.
#[no_mangle]
pub unsafe extern "C" fn pmt_core_readable(u: *const Unit) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { unit(u) }.readable()
}
