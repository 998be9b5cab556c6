//! pmtd: the daemon side of pmt. It plays a tape drive for one pmt unit:
//! requests read from `/dev/pmts<N>` run against media behind one seam
//! ([`medium`]), and the replies go back through the same device.
//!
//! - [`medium`]: the seam: [`medium::Medium`] (a mounted volume) and
//!   [`medium::Volumes`] (hands out volumes);
//! - [`media`]: the built-in media: SIMH images, the autoloader magazine,
//!   the mirror, the compression and encryption filters, a local tape
//!   device, the rmt client;
//! - [`tap`]: the SIMH image store (index, recovery, truncation);
//! - [`drive`]: SCSI stream-device semantics in front of a volume sequence;
//! - [`transport`] and [`serve`]: the slave device (or a simulated slave)
//!   and the loop between it and the drive;
//! - [`spec`] and [`setup`]: medium specs (`tap:...`, `tape:...`,
//!   `rmt:...`), the registry that builds them, whole setups from the
//!   command line or a TOML file;
//! - [`copy`]: tape duplication with spanning at file boundaries;
//! - [`inspect`]: the tape map and the framing check;
//! - [`progress`]: progress of long work.

pub mod copy;
pub mod drive;
pub mod inspect;
pub mod media;
pub mod medium;
pub mod progress;
pub mod serve;
pub mod setup;
pub mod spec;
pub mod tap;
pub mod transport;
