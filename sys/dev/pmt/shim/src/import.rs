//! What the shim imports from its kernel: the `pmt_os_*` functions every
//! OS glue provides (include/pmt_core.h), behind safe wrappers, and the two
//! services Rust itself needs from the host (the global allocator and the
//! panic handler). The entry points ([`crate::export`]) implement the
//! logic's host traits with these wrappers. Nothing here knows which kernel
//! it runs in.
//!
//! The allocator and the panic handler are the kernel build's (a target
//! without an OS); a host build of the shim (its tests, clippy) has std's.

use core::ffi::c_void;

extern "C" {
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    fn pmt_os_alloc(size: usize) -> *mut c_void;
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    fn pmt_os_free(p: *mut c_void, size: usize);
    fn pmt_os_copyin(cookie: *mut c_void, off: usize, dst: *mut c_void, n: usize) -> i32;
    fn pmt_os_copyout(cookie: *mut c_void, off: usize, src: *const c_void, n: usize) -> i32;
    fn pmt_os_wait(host: *mut c_void, what: u32, arg: usize, how: u32, timeout_secs: u32) -> i32;
    fn pmt_os_wake_slave(host: *mut c_void);
    fn pmt_os_privileged(host: *mut c_void, cred: *mut c_void, what: u32) -> bool;
    fn pmt_os_ucopyin(host: *mut c_void, uaddr: u64, dst: *mut c_void, n: usize) -> i32;
    fn pmt_os_ucopyout(host: *mut c_void, uaddr: u64, src: *const c_void, n: usize) -> i32;
    fn pmt_os_lock(host: *mut c_void);
    fn pmt_os_area_read(host: *mut c_void, off: usize, dst: *mut c_void, n: usize) -> i32;
    fn pmt_os_area_write(host: *mut c_void, off: usize, src: *const c_void, n: usize) -> i32;
    fn pmt_os_area_copyin(host: *mut c_void, ucookie: *mut c_void, uoff: usize, aoff: usize, n: usize) -> i32;
    fn pmt_os_area_copyout(host: *mut c_void, ucookie: *mut c_void, uoff: usize, aoff: usize, n: usize) -> i32;
    fn pmt_os_unlock(host: *mut c_void);
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    fn pmt_os_panic(msg: *const u8, len: usize);
}

/// The glue's context, as the host lock carries it.
fn context(arg: usize) -> *mut c_void {
    core::ptr::with_exposed_provenance_mut(arg)
}

fn lock(arg: usize) {
    // SAFETY: arg is the glue's context given to pmt_core_unit_new, which
    // outlives the unit (the glue frees the unit before its context).
    unsafe { pmt_os_lock(context(arg)) }
}

fn unlock(arg: usize) {
    // SAFETY: as in lock; the core pairs every unlock with its lock.
    unsafe { pmt_os_unlock(context(arg)) }
}

/// The channel lock of the unit whose glue context is `host`: the glue's
/// spinlock (Linux) or kmutex (NetBSD), which the kernel's lock checkers see.
pub(crate) fn host_lock(host: *mut c_void) -> pmt::HostLock {
    pmt::HostLock::new(lock, unlock, host.expose_provenance())
}

fn area_read(arg: usize, off: usize, dst: &mut [u8]) -> bool {
    // SAFETY: arg is the glue's context (as in lock); dst is valid for
    // writes of its length; the glue checks the range against the area.
    unsafe { pmt_os_area_read(context(arg), off, dst.as_mut_ptr().cast(), dst.len()) == 0 }
}

fn area_write(arg: usize, off: usize, src: &[u8]) -> bool {
    // SAFETY: as in area_read, src valid for reads of its length.
    unsafe { pmt_os_area_write(context(arg), off, src.as_ptr().cast(), src.len()) == 0 }
}

/// The data area of the unit whose glue context is `host`.
pub(crate) fn host_area(host: *mut c_void) -> pmt::HostArea {
    pmt::HostArea::new(area_read, area_write, host.expose_provenance())
}

/// A user buffer the glue names by an opaque cookie (a user address on
/// Linux, a `struct uio` on NetBSD) and `len` bytes long. The core checks
/// every range against `len` before the glue sees it.
pub(crate) struct UserCookie {
    cookie: *mut c_void,
    len: usize,
}

impl UserCookie {
    /// A cookie from the glue, for a buffer of `len` bytes.
    pub(crate) fn new(cookie: *mut c_void, len: usize) -> UserCookie {
        UserCookie { cookie, len }
    }

    fn check(&self, off: usize, n: usize) -> bool {
        off.checked_add(n).is_some_and(|end| end <= self.len)
    }

    /// Copies `dst.len()` bytes at `off` of the user buffer into `dst`.
    /// False on a fault or a range outside the buffer.
    pub(crate) fn copyin(&mut self, off: usize, dst: &mut [u8]) -> bool {
        // SAFETY: dst is valid for writes of dst.len() bytes.
        self.check(off, dst.len()) && unsafe { self.copyin_raw(off, dst.as_mut_ptr(), dst.len()) }
    }

    /// Copies `n` bytes at `off` of the user buffer to `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `n` bytes.
    pub(crate) unsafe fn copyin_raw(&mut self, off: usize, dst: *mut u8, n: usize) -> bool {
        // SAFETY: the range is inside the user buffer (checked) and dst is
        // valid for n bytes (the caller's contract); the glue's copy checks
        // the user side itself.
        self.check(off, n) && unsafe { pmt_os_copyin(self.cookie, off, dst.cast(), n) } == 0
    }

    /// Copies `n` bytes at `off` of the user buffer into the data area of
    /// the unit whose context is `area` (its host), at `aoff`.
    pub(crate) fn copy_to_area(&mut self, off: usize, area: usize, aoff: usize, n: usize) -> bool {
        // SAFETY: the user range is inside the buffer (checked); the glue
        // checks the area's range and the user side itself.
        self.check(off, n) && unsafe { pmt_os_area_copyin(context(area), self.cookie, off, aoff, n) } == 0
    }

    /// Copies `n` bytes of the data area at `aoff` to `off` bytes into the
    /// user buffer.
    pub(crate) fn copy_from_area(&mut self, off: usize, area: usize, aoff: usize, n: usize) -> bool {
        // SAFETY: as in copy_to_area.
        self.check(off, n) && unsafe { pmt_os_area_copyout(context(area), self.cookie, off, aoff, n) } == 0
    }

    /// Copies `src` to `off` bytes into the user buffer. False on a fault or
    /// a range outside the buffer.
    pub(crate) fn copyout(&mut self, off: usize, src: &[u8]) -> bool {
        // SAFETY: src is valid for reads of src.len() bytes; the range is
        // inside the user buffer (checked) and the glue checks the user side.
        self.check(off, src.len()) && unsafe { pmt_os_copyout(self.cookie, off, src.as_ptr().cast(), src.len()) } == 0
    }
}

/// Sleeps in the glue until the unit's condition `what`/`arg` holds, a
/// signal (per `how`) or the timeout. Returns a `PMT_WAIT*` code
/// ([`crate::cdefs`]).
pub(crate) fn wait(host: *mut c_void, what: u32, arg: usize, how: u32, timeout_secs: u32) -> i32 {
    // SAFETY: host is the glue's context for the current call, which the
    // glue passed in and keeps alive for the whole call.
    unsafe { pmt_os_wait(host, what, arg, how, timeout_secs) }
}

/// Wakes the daemon side of the unit whose context is `host`.
pub(crate) fn wake_slave(host: *mut c_void) {
    // SAFETY: as in wait.
    unsafe { pmt_os_wake_slave(host) }
}

/// True if the caller (`cred`, as the host names it) has privilege `what`
/// (`PMT_PRIV_*`).
pub(crate) fn privileged(host: *mut c_void, cred: *mut c_void, what: u32) -> bool {
    // SAFETY: as in wait; cred is the glue's own value, passed back unchanged.
    unsafe { pmt_os_privileged(host, cred, what) }
}

/// Copies from the caller's memory at `uaddr` (a pointer an ioctl's
/// argument holds) into `dst`. False on a fault.
pub(crate) fn ucopyin(host: *mut c_void, uaddr: u64, dst: &mut [u8]) -> bool {
    // SAFETY: as in wait; dst is valid for writes of its length, and the
    // glue's copy checks the user side itself (copy_from_user, copyin).
    dst.is_empty() || unsafe { pmt_os_ucopyin(host, uaddr, dst.as_mut_ptr().cast(), dst.len()) } == 0
}

/// Copies `src` to the caller's memory at `uaddr`. False on a fault.
pub(crate) fn ucopyout(host: *mut c_void, uaddr: u64, src: &[u8]) -> bool {
    // SAFETY: as in ucopyin, with src valid for reads of its length.
    src.is_empty() || unsafe { pmt_os_ucopyout(host, uaddr, src.as_ptr().cast(), src.len()) } == 0
}

// ----- what Rust needs from the host ---------------------------------------------

/// The kernel build's runtime (a target without an OS): the glue's
/// allocator, and a panic handler that reports and stops.
#[cfg(target_os = "none")]
mod rt {
    use core::alloc::{GlobalAlloc, Layout};

    use super::{pmt_os_alloc, pmt_os_free, pmt_os_panic};

    struct HostAlloc;

    // SAFETY: the glue's allocator (kvmalloc on Linux, kmem_alloc on NetBSD)
    // returns memory aligned to at least 8 bytes; larger alignments are refused
    // with a null pointer, which callers handle as allocation failure. Frees get
    // the size that was allocated, as kmem_free needs.
    unsafe impl GlobalAlloc for HostAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.align() > 8 {
                return core::ptr::null_mut();
            }
            // SAFETY: the allocation may sleep; the core never allocates with the
            // channel lock held (the lock checker's tests drive the real Unit).
            unsafe { pmt_os_alloc(layout.size()).cast() }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: ptr came from pmt_os_alloc with this layout's size (the
            // contract of dealloc).
            unsafe { pmt_os_free(ptr.cast(), layout.size()) }
        }
    }

    #[global_allocator]
    static ALLOC: HostAlloc = HostAlloc;

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
        const MSG: &str = "rust core panicked";
        // SAFETY: pmt_os_panic reports and stops the machine; the message is
        // static. ud2 ends the function for objtool if it ever returned.
        unsafe {
            pmt_os_panic(MSG.as_ptr(), MSG.len());
            core::arch::asm!("ud2", options(noreturn));
        }
    }
}
