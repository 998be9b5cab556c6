//! pmt core: the pseudo-tape pair.
//!
//! Each unit is a master (a tape device that behaves like st) and a slave
//! read by a daemon that plays the tape drive. This crate holds everything
//! that is not OS glue, in safe `no_std` Rust:
//!
//! - [`proto`]: the slave protocol, mirrored from `include/pmt_proto.h`;
//! - [`chan`]: the request/reply channel both sides share;
//! - [`drv`]: the tape driver engine (st's state machine);
//! - [`abi`]: per-host tables (Linux, NetBSD) for ioctls and `struct mtget`;
//! - [`unit`]: the entry points the glue calls.
//!
//! The only `unsafe` code lives in `ffi` (the Linux kernel build) and in the
//! checking allocator of the unit tests.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

extern crate alloc;

pub mod abi;
pub mod chan;
pub mod drv;
pub mod errno;
pub mod host;
pub mod proto;
mod sys;
pub mod unit;

#[cfg(feature = "kernel")]
#[allow(unsafe_code)]
mod ffi;

pub use drv::{MtOp, OpenFlags, Policy, TapeStatus};
pub use errno::{Errno, Result};
pub use host::{Host, Sleep, UserIn, UserOut, Wait, WaitError};
pub use unit::{Config, Unit};
