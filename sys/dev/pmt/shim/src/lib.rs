//! pmt's kernel shim: the only Rust of pmt with `unsafe` code.
//!
//! A kernel links the core's logic (the `pmt` crate, safe Rust) through
//! this shim, as one object with the C glue of its OS:
//!
//! - [`export`]: the C entry points of include/pmt_core.h (`pmt_core_*`),
//!   turning C arguments into the logic's types and its results into the
//!   host's errno values;
//! - [`import`]: what the shim imports from the glue (`pmt_os_*`) behind safe
//!   wrappers: allocation, copies to and from user memory by cookie,
//!   sleeping and waking, the channel lock, the caller's privilege; the
//!   global allocator and the panic handler Rust needs;
//! - [`cdefs`]: the numbers and structures of include/pmt_core.h, checked
//!   against the header by a test.
//!
//! Another host of the same logic (a daemon serving CUSE devices) is
//! another shim: it implements the same traits of `pmt::host` in userland.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

extern crate alloc;

pub mod cdefs;
pub mod export;
mod import;
