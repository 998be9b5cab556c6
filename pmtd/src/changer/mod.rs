//! SCSI media changers pmtd drives: a library on this host through SG_IO
//! (`/dev/sgN`, `/dev/schN`, a pmt changer master `/dev/pmcmN`, a library
//! exported over iSCSI: any node that takes SG_IO), or one on another host
//! through the remote changer protocol ([`remote`]).
//!
//! - [`ScsiPort`]: where commands go: a command descriptor block, its data
//!   direction and data, a bounded time; the SCSI status, sense and data
//!   back. [`sg::SgPort`] is the local node; [`remote::RemotePort`] a
//!   changer on another host;
//! - [`smc`]: an SMC client over a port: the element layout (MODE SENSE
//!   page 0x1D), element status with volume tags and drive identifiers,
//!   MOVE MEDIUM, EXCHANGE MEDIUM; errors with the sense the library gave.
//!
//! Only the SMC command set crosses a port that refuses others
//! ([`is_smc`]): the remote server executes nothing else, so a changer
//! reached over the network can move cartridges and report them, never
//! read or write a disk behind the same adapter.

pub mod memory;
pub mod remote;
pub mod sg;
pub mod smc;

use std::fmt;
use std::io;
use std::time::Duration;

pub use pmt::proto::scsi::Dir;

use crate::scsi::Check;

/// A SCSI command to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The command descriptor block (6 to 16 bytes).
    pub cdb: Vec<u8>,
    /// Which way the data goes.
    pub dir: Dir,
    /// The data sent (for [`Dir::ToDev`]).
    pub data_out: Vec<u8>,
    /// The most bytes to receive (for [`Dir::FromDev`]).
    pub alloc: u32,
    /// How long the device may take.
    pub timeout: Duration,
}

impl Command {
    /// A command that receives at most `alloc` bytes (none if 0).
    pub fn read(cdb: &[u8], alloc: u32, timeout: Duration) -> Command {
        let dir = if alloc == 0 { Dir::None } else { Dir::FromDev };
        Command { cdb: cdb.to_vec(), dir, data_out: Vec::new(), alloc, timeout }
    }
}

/// What a command came back with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The SCSI status.
    pub status: u8,
    /// The sense data, if the device gave some.
    pub sense: Vec<u8>,
    /// The data received.
    pub data: Vec<u8>,
}

impl Outcome {
    /// The command completed (GOOD).
    pub fn good(&self) -> bool {
        self.status == pmt::proto::scsi::status::GOOD
    }

    /// The error as SCSI says it: sense key, additional sense code and
    /// qualifier (a CHECK CONDITION without readable sense is a HARDWARE
    /// ERROR; BUSY and the like are NOT READY).
    pub fn check(&self) -> Option<Check> {
        if self.good() {
            return None;
        }
        Some(match pmt::proto::scsi::sense::decode(&self.sense) {
            Some((key, asc, ascq)) => Check { key, asc, ascq },
            None if self.status == pmt::proto::scsi::status::CHECK_CONDITION => Check::INTERNAL,
            None => Check { key: crate::scsi::key::NOT_READY, asc: 0x04, ascq: 0x00 },
        })
    }
}

/// Where commands go.
pub trait ScsiPort: fmt::Debug + Send {
    /// The port's name for logs and errors (a node, host:node).
    fn name(&self) -> String;

    /// Executes `cmd`. `Err` when it could not be delivered or answered
    /// (the node, the connection); a command the device refused is an
    /// [`Outcome`] with its status and sense.
    fn execute(&mut self, cmd: &Command) -> io::Result<Outcome>;
}

impl<P: ScsiPort + ?Sized> ScsiPort for Box<P> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn execute(&mut self, cmd: &Command) -> io::Result<Outcome> {
        (**self).execute(cmd)
    }
}

/// True for the operation codes of SMC-3 and the SPC commands a changer
/// client needs: TEST UNIT READY, REQUEST SENSE, INQUIRY, MODE SENSE(6)
/// and (10), LOG SENSE, REPORT LUNS, PREVENT ALLOW MEDIUM REMOVAL,
/// INITIALIZE ELEMENT STATUS (and with range, and mtx's 0xE7), POSITION TO
/// ELEMENT, MOVE MEDIUM, EXCHANGE MEDIUM, READ ELEMENT STATUS. Nothing
/// that writes a medium, a mode page or a firmware image.
pub fn is_smc(cdb: &[u8]) -> bool {
    matches!(cdb.first(), Some(0x00 | 0x03 | 0x12 | 0x1a | 0x5a | 0x4d | 0xa0 | 0x1e | 0x07 | 0x37 | 0xe7 | 0x2b | 0xa5 | 0xa6 | 0xb8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_smc_commands_pass() {
        for c in [0x00u8, 0x03, 0x12, 0x1a, 0x5a, 0xa5, 0xa6, 0xb8, 0x1e, 0x07, 0x2b] {
            assert!(is_smc(&[c, 0, 0, 0, 0, 0]), "{c:#x}");
        }
        // WRITE(10), FORMAT UNIT, MODE SELECT, WRITE BUFFER, SEND VOLUME TAG.
        for c in [0x2au8, 0x04, 0x15, 0x55, 0x3b, 0xb6, 0x0a] {
            assert!(!is_smc(&[c, 0, 0, 0, 0, 0]), "{c:#x}");
        }
        assert!(!is_smc(&[]));
    }

    #[test]
    fn outcomes_say_their_sense() {
        let o = Outcome { status: 2, sense: pmt::proto::scsi::sense::fixed(5, 0x3b, 0x0d).to_vec(), data: vec![] };
        assert_eq!(o.check(), Some(Check::DESTINATION_FULL));
        assert_eq!(Outcome { status: 2, ..Outcome::default() }.check(), Some(Check::INTERNAL));
        assert!(Outcome::default().check().is_none());
    }
}
