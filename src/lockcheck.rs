//! A global allocator for host tests that aborts the process when memory is
//! allocated or freed inside the core's atomic section (the channel lock):
//! in the kernel that section runs with preemption off, where allocating or
//! freeing may sleep.
//!
//! The core's own unit tests install it; other test binaries (the stack and
//! property tests driving a real [`crate::Unit`]) enable the `lock-check`
//! feature and install it with
//! `#[global_allocator] static A: pmt::lockcheck::Checked = pmt::lockcheck::Checked;`.
#![allow(unsafe_code)]

extern crate std;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

std::thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Notes entering an atomic section on this thread.
pub(crate) fn enter() {
    DEPTH.with(|d| d.set(d.get() + 1));
}

/// Notes leaving it.
pub(crate) fn exit() {
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
}

/// True while this thread is inside an atomic section.
pub fn in_atomic() -> bool {
    // try_with: the thread-local may be gone while a thread exits.
    DEPTH.try_with(|d| d.get()).unwrap_or(0) > 0
}

fn check(what: &str) {
    if in_atomic() {
        std::eprintln!("pmt lock checker: memory {what} inside the channel lock");
        std::process::abort();
    }
}

/// The checking allocator: the system allocator plus the check.
pub struct Checked;

// SAFETY: forwards to the system allocator unchanged; the check only reads a
// thread-local counter.
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
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check("reallocated");
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
#[global_allocator]
static ALLOC: Checked = Checked;

#[cfg(test)]
mod tests {
    use crate::chan::{Chan, ChanLock, Limits};

    /// Run in a child process by the test below: allocates inside the lock.
    #[test]
    fn probe_allocation_under_the_lock() {
        if std::env::var_os("PMT_LOCKCHECK_PROBE").is_none() {
            return;
        }
        let lock = ChanLock::new(Chan::new(Limits { ring: 2, window: 4096 }).unwrap());
        let v = lock.with(|_| std::vec::Vec::<u8>::with_capacity(64));
        std::println!("not caught: {}", v.capacity());
    }

    #[test]
    fn the_checker_catches_an_allocation_under_the_lock() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args(["--exact", "lockcheck::tests::probe_allocation_under_the_lock", "--nocapture", "--test-threads=1"])
            .env("PMT_LOCKCHECK_PROBE", "1")
            .output()
            .unwrap();
        let err = std::string::String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the probe was not stopped");
        assert!(err.contains("inside the channel lock"), "{err}");
    }
}
