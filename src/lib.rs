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
//! - [`unit`]: the tape pair's entry points the glue calls, in Rust;
//! - [`chg`]: the changer pair: SG_IO, the sg ioctls and CHIO, the
//!   commands passed to the library daemon; [`sgio`]: SG_IO for both
//!   kinds; [`pair`]: a pair of either kind, as a host holds it;
//! - [`host`]: what a host (a kernel's glue, a daemon serving CUSE devices)
//!   provides: sleeping, waking, user memory, the channel's lock.
//!
//! This crate is the logic and has no `unsafe` code. A kernel links it
//! through its shim (`sys/dev/pmt/shim`: the C entry points of
//! include/pmt_core.h and what the core imports from the C glue), the only
//! Rust of pmt that may use `unsafe`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

extern crate alloc;

pub mod abi;
pub mod area;
pub mod boundary;
pub mod chan;
pub mod chg;
pub mod drv;
pub mod errno;
pub mod host;
pub mod pair;
pub mod proto;
pub mod sgio;
pub mod unit;
#[cfg(test)]
mod hostile;
#[cfg(test)]
mod testing;

/// The core's own tests run under the lock checker: memory allocated or
/// freed inside the channel lock aborts them.
#[cfg(test)]
#[global_allocator]
static ALLOC: pmt_lockcheck::Checked = pmt_lockcheck::Checked;

pub use abi::Abi;
pub use drv::{EodRule, EomPolicy, ModeValues, Node, Policy};
pub use drv::{MtOp, OpenFlags, TapeStatus};
pub use errno::{Errno, Result};
pub use host::{Host, HostArea, HostLock, KernelBuf, Sleep, UserArg, UserIn, UserOut, Wait, WaitError};
pub use chg::ChangerUnit;
pub use pair::{Kind, Pair};
pub use unit::{Config, Unit};
