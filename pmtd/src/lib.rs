//! pmtd: the daemon side of pmt. It plays a tape drive for one pmt unit:
//! requests read from `/dev/pmts<N>` run against media behind one seam
//! ([`media`]), and the replies go back through the same device.
//!
//! - [`drive`]: SCSI stream-device semantics in front of a sequence of
//!   volumes;
//! - [`media`]: the seam ([`media::Medium`], a mounted volume, and
//!   [`media::Volumes`], which hands out volumes) and the media behind it:
//!   SIMH images, local or over rmt, with the autoloader magazine; tape
//!   devices, local or over rmt; the mirror; the compression and encryption
//!   filters;
//! - [`transport`] and [`serve`]: the slave device (or a simulated slave)
//!   and the loop between it and the drive;
//! - [`spec`] and [`setup`]: medium specs (`tap:...`, `tape:...`,
//!   `rmt:...`, `rmt-tap:...`) parsed into typed values and built into
//!   volumes, whole setups from the command line or a TOML file;
//! - [`cuse`]: the master devices served by pmtd itself through CUSE,
//!   with the core running in this process (no kernel module);
//! - [`copy`]: tape duplication with spanning at file boundaries;
//! - [`convert`]: images from SIMH to AWS (Hercules) and back;
//! - [`inspect`]: the tape map and the framing check;
//! - [`progress`]: progress of long work;
//! - [`scsi`]: what the drive and the library answer alike through SG_IO
//!   (identity, sense, mode data headers);
//! - [`library`]: a tape library: a SCSI media changer and its drives in
//!   one process, with a persistent inventory and an operator socket.

pub mod area;
pub mod changer;
pub mod convert;
pub mod copy;
pub mod cuse;
pub mod drive;
pub mod inspect;
pub mod media;
pub mod library;
pub mod progress;
pub mod scsi;
pub mod serve;
pub mod setup;
pub mod spec;
pub mod transport;
