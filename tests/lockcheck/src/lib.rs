//! A global allocator for host tests that aborts the process when memory is
//! allocated or freed inside the core's atomic section (the channel lock):
//! in the kernel that section runs with preemption off, where allocating or
//! freeing may sleep.
//!
//! Test binaries that drive a real unit (the core's own unit tests, the
//! stack and property tests, the fuzz targets) install it with
//! `#[global_allocator] static A: pmt_lockcheck::Checked = pmt_lockcheck::Checked;`
//! and give their units the host lock [`LOCK`]'s functions mark: the core's
//! `HostLock::new(pmt_lockcheck::enter, pmt_lockcheck::exit, 0)`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

std::thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Notes entering an atomic section on this thread (a host lock's `lock`).
pub fn enter(_: usize) {
    DEPTH.with(|d| d.set(d.get() + 1));
}

/// Notes leaving it (a host lock's `unlock`).
pub fn exit(_: usize) {
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

