//! pmtd: the daemon side of pmt. It plays a tape drive for one pmt unit:
//! requests read from `/dev/pmts<N>` run against a medium stored as a SIMH
//! .tap image, and the replies go back through the same device.
//!
//! - [`tap`]: the SIMH image as a medium (index, recovery, truncation);
//! - [`drive`]: SCSI stream-device semantics over the medium;
//! - [`serve`]: the loop between the slave device and the drive;
//! - [`inspect`]: the tape map and the framing check;
//! - [`medium`]: the seam between the drive and what stores the tape;
//! - [`media`]: a local tape device and the rmt client as media.

pub mod drive;
pub mod inspect;
pub mod media;
pub mod medium;
pub mod serve;
pub mod tap;
