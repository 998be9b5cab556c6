//! The one host service the channel lock needs: entering and leaving an
//! atomic section around it.
//!
//! In the kernel ([`crate::ffi`]) entering disables preemption, so the spin
//! lock is never held across a reschedule and anything that sleeps under it is
//! reported by the kernel ("scheduling while atomic"). In host unit tests a
//! checking allocator fails any allocation or free made inside the section.

/// An atomic section, left when dropped.
pub struct Atomic(());

impl Atomic {
    /// Enters an atomic section.
    pub fn enter() -> Atomic {
        #[cfg(feature = "kernel")]
        crate::ffi::atomic_enter();
        #[cfg(test)]
        check::DEPTH.with(|d| d.set(d.get() + 1));
        Atomic(())
    }
}

impl Drop for Atomic {
    fn drop(&mut self) {
        #[cfg(test)]
        check::DEPTH.with(|d| d.set(d.get() - 1));
        #[cfg(feature = "kernel")]
        crate::ffi::atomic_exit();
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
pub(crate) mod check {
    //! A global allocator for the core's unit tests that aborts the test run
    //! when memory is allocated or freed inside an atomic section.
    extern crate std;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    std::thread_local! {
        pub static DEPTH: Cell<u32> = const { Cell::new(0) };
    }

    struct Checked;

    fn check(what: &str) {
        // try_with: the thread-local may be gone while a thread exits.
        if DEPTH.try_with(|d| d.get()).unwrap_or(0) > 0 {
            std::eprintln!("memory {what} inside an atomic section");
            std::process::abort();
        }
    }

    // SAFETY: forwards to the system allocator unchanged; the check only reads
    // a thread-local counter.
    unsafe impl GlobalAlloc for Checked {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            check("allocated");
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            check("freed");
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOC: Checked = Checked;
}
