//! A tape library: one pmtd process serving a SCSI media changer (the
//! changer pair's slave, `/dev/pmcs<N>`) and the slaves of its drives
//! (`/dev/pmts<N>`), so that mtx, and through it Bacula's `mtx-changer` and
//! Amanda's `chg-robot`, move cartridges between slots and drives, and the
//! library and its drives agree at every instant.
//!
//! - [`config`]: the library's TOML: its devices, elements and addresses,
//!   identities, and the cartridges it starts with;
//! - [`element`]: elements and their addresses;
//! - [`inventory`]: which cartridge is where, and its file (written
//!   atomically: the single source of truth);
//! - [`smc`]: the command engine, pure: a command in, status, sense and data
//!   out;
//! - [`robot`]: the mechanics: moves with the drives, import and export,
//!   the crash rule;
//! - [`bay`]: a library drive's volumes (the cartridge in it);
//! - [`daemon`]: the threads that serve the slaves;
//! - [`operator`]: the operators' socket (`pmtd library status`, `import`,
//!   `export`).

pub mod bay;
pub mod config;
pub mod daemon;
pub mod element;
pub mod inventory;
pub mod mirror;
pub mod operator;
pub mod robot;
pub mod smc;

pub use config::LibraryConfig;
pub use daemon::{serve_library, Library};
pub use element::{Element, Layout};
pub use inventory::{Cartridge, Inventory};
pub use robot::Robot;
