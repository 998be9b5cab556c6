//! pmt core: the pseudo-tape pair.
//!
//! Each unit is a master (a tape device that behaves like st) and a slave
//! read by a daemon that plays the tape drive. This crate holds everything
//! that is not OS glue, in safe `no_std` Rust:
//!
//! - [`proto`]: the slave protocol, mirrored from `include/pmt_proto.h`;
//! - [`chan`]: the request/reply channel both sides share;
//! - [`boundary`]: what a reply may say for its request (every number the
//!   daemon supplies is checked there);
//! - [`drv`]: the tape driver engine (st's state machine);
//! - [`abi`]: per-host tables (Linux, NetBSD): ioctls, `struct mtget`,
//!   errno values, st conventions;
//! - [`unit`]: the entry points the glue calls, in Rust;
//! - `ffi` and `os` (kernel builds): the C interface of include/pmt_core.h,
//!   what the core exports and what it imports from the glue.
//!
//! The only `unsafe` code lives in `ffi` and `os` (the kernel build) and in
//! the lock checker of the host tests ([`lockcheck`]).
#![cfg_attr(not(test), no_std)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

extern crate alloc;

pub mod abi;
pub mod boundary;
pub mod chan;
pub mod drv;
pub mod errno;
pub mod host;
pub mod iface;
#[cfg(any(test, feature = "lock-check"))]
pub mod lockcheck;
pub mod proto;
mod sys;
pub mod unit;
#[cfg(test)]
mod hostile;
#[cfg(test)]
mod testing;

#[cfg(feature = "kernel")]
#[allow(unsafe_code)]
mod ffi;
#[cfg(feature = "kernel")]
mod os;

#[cfg(all(feature = "kernel", feature = "lock-check"))]
compile_error!("the lock checker is a host allocator: it cannot be built into the kernel object");

pub use abi::{Abi, EomPolicy, Policy};
pub use drv::{MtOp, OpenFlags, TapeStatus};
pub use errno::{Errno, Result};
pub use host::{Host, KernelBuf, Sleep, UserArg, UserIn, UserOut, Wait, WaitError};
pub use unit::{Config, Unit};
