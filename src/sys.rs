//! The atomic section around the channel lock.
//!
//! In the kernel entering it disables preemption (the glue's
//! `pmt_os_atomic_enter`, see [`crate::os`]), so the spin lock is never held
//! across a reschedule and anything that sleeps under it is reported by the
//! kernel ("scheduling while atomic"). On the host, with the lock checker
//! ([`crate::lockcheck`]) installed as the global allocator, any allocation
//! or free inside the section aborts the test run.

/// An atomic section, left when dropped.
pub struct Atomic(());

impl Atomic {
    /// Enters an atomic section.
    pub fn enter() -> Atomic {
        #[cfg(feature = "kernel")]
        crate::os::atomic_enter();
        #[cfg(any(test, feature = "lock-check"))]
        crate::lockcheck::enter();
        Atomic(())
    }
}

impl Drop for Atomic {
    fn drop(&mut self) {
        #[cfg(any(test, feature = "lock-check"))]
        crate::lockcheck::exit();
        #[cfg(feature = "kernel")]
        crate::os::atomic_exit();
    }
}
