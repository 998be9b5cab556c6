//! The library's command engine: SCSI Media Changer (SMC-3) commands as
//! real libraries answer them, and as mtx, Linux's ch(4) and NetBSD's ch(4)
//! expect (see the project's CHANGER.md). It is pure: a command descriptor
//! block (and the data it sends) in, a SCSI status, sense data and the data
//! returned out; the library's state and its moves are behind
//! [`Mechanics`].
//!
//! - INQUIRY (type 8, the MChngr bit clear; VPD 0x00, 0x80 serial, 0x83
//!   device identification), TEST UNIT READY, REQUEST SENSE, REPORT LUNS;
//! - MODE SENSE(6) and (10): pages 0x1D element address assignment, 0x1E
//!   transport geometry, 0x1F device capabilities, 0x3F all ([`mode`]);
//! - READ ELEMENT STATUS ([`status`]): every element type or all of them,
//!   volume tags, device identifiers (DVCID), partial ranges, starting
//!   addresses between elements, short allocation lengths (the header
//!   still counts the whole report, so mtx asks again);
//! - MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT
//!   STATUS (0x07, and 0x37 and 0xE7 with a range), PREVENT ALLOW MEDIUM
//!   REMOVAL (a prevented library moves nothing to or from its
//!   import/export slots).
//!
//! Errors carry SMC's sense: ILLEGAL REQUEST 21/01 invalid element address,
//! 3B/0E source empty, 3B/0D destination full, 53/02 medium removal
//! prevented, 24/00 invalid field in CDB, 20/00 invalid operation code (any
//! command not listed), 39/00 saved mode values; NOT READY 04/07 a drive in
//! use; MEDIUM ERROR 30/00 a cartridge that cannot be loaded; HARDWARE
//! ERROR 44/00 an inventory that cannot be written. There is no UNIT
//! ATTENTION: mtx does not retry a command.

mod mode;
mod status;
#[cfg(test)]
mod tests;

use super::element::{Element, Layout};
use super::inventory::Inventory;
use super::robot::{DriveState, Robot};
use crate::scsi::{self, be16, byte, Check, Identity, TYPE_CHANGER};

/// What the engine needs of the library: its state, and its moves.
pub trait Mechanics {
    /// Where every cartridge is.
    fn inventory(&self) -> &Inventory;

    /// Drive `n`'s state now.
    fn drive_state(&self, n: u16) -> Option<DriveState>;

    /// True while removal through the import/export slots is prevented.
    fn prevented(&self) -> bool;

    /// PREVENT (true) or ALLOW (false) MEDIUM REMOVAL.
    fn set_prevented(&mut self, on: bool);

    /// Makes `moves` at once, or none of them.
    fn transfer(&mut self, moves: &[(Element, Element)]) -> Result<(), Check>;
}

impl Mechanics for Robot {
    fn inventory(&self) -> &Inventory {
        Robot::inventory(self)
    }

    fn drive_state(&self, n: u16) -> Option<DriveState> {
        Robot::drive_state(self, n)
    }

    fn prevented(&self) -> bool {
        Robot::prevented(self)
    }

    fn set_prevented(&mut self, on: bool) {
        Robot::set_prevented(self, on)
    }

    fn transfer(&mut self, moves: &[(Element, Element)]) -> Result<(), Check> {
        Robot::transfer(self, moves)
    }
}

/// What the library reports of a drive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriveInfo {
    /// Its serial number (the device identifier READ ELEMENT STATUS gives
    /// with DVCID, the same its INQUIRY gives).
    pub serial: String,
    /// The SCSI id of its tape master.
    pub scsi_id: Option<u8>,
}

/// A command's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// GOOD, or CHECK CONDITION with `sense`.
    pub sense: Option<Check>,
    /// The data returned (cut to the allocation length).
    pub data: Vec<u8>,
}

impl Reply {
    /// The SCSI status.
    pub fn status(&self) -> u8 {
        match self.sense {
            None => pmt::proto::scsi::status::GOOD,
            Some(_) => pmt::proto::scsi::status::CHECK_CONDITION,
        }
    }
}

/// The command engine of a library.
#[derive(Clone, Debug)]
pub struct Smc {
    identity: Identity,
    layout: Layout,
    drives: Vec<DriveInfo>,
}

impl Smc {
    /// The engine of a library with `layout`, saying it is `identity`, with
    /// `drives` in element order.
    pub fn new(identity: Identity, layout: Layout, drives: Vec<DriveInfo>) -> Smc {
        Smc { identity, layout, drives }
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Executes `cdb` (with `data_out`, the data it sends) against `m`.
    pub fn execute(&self, m: &mut dyn Mechanics, cdb: &[u8], data_out: &[u8]) -> Reply {
        let _ = data_out;
        match self.run(m, cdb) {
            Ok(data) => Reply { sense: None, data },
            Err(c) => Reply { sense: Some(c), data: Vec::new() },
        }
    }

    fn run(&self, m: &mut dyn Mechanics, cdb: &[u8]) -> Result<Vec<u8>, Check> {
        match byte(cdb, 0) {
            0x00 => Ok(Vec::new()),
            0x03 => Ok(scsi::request_sense(cdb, None)),
            0x12 => self.identity.inquiry(cdb, TYPE_CHANGER, false),
            0x1a | 0x5a => self.mode_sense(cdb),
            0xa0 => scsi::report_luns(cdb),
            0xb8 => self.read_element_status(&*m, cdb),
            0xa5 => self.move_medium(m, cdb).map(|()| Vec::new()),
            0xa6 => self.exchange_medium(m, cdb).map(|()| Vec::new()),
            0x2b => self.position(cdb).map(|()| Vec::new()),
            // Our inventory is always known: nothing to scan.
            0x07 => Ok(Vec::new()),
            0x37 | 0xe7 => self.initialize_range(cdb).map(|()| Vec::new()),
            0x1e => match byte(cdb, 4) & 0x03 {
                p @ (0 | 1) => {
                    m.set_prevented(p == 1);
                    Ok(Vec::new())
                }
                _ => Err(Check::INVALID_FIELD),
            },
            _ => Err(Check::INVALID_OPCODE),
        }
    }

    /// The transport a command names: ours, or 0 (the default one).
    fn transport(&self, a: u16) -> Result<(), Check> {
        if a == 0 || a == self.layout.address(Element::Transport) {
            Ok(())
        } else {
            Err(Check::INVALID_ELEMENT)
        }
    }

    /// The element at `a` that can hold a cartridge.
    fn holder(&self, a: u16) -> Result<Element, Check> {
        self.layout.at(a).filter(|e| e.holds()).ok_or(Check::INVALID_ELEMENT)
    }

    fn move_medium(&self, m: &mut dyn Mechanics, cdb: &[u8]) -> Result<(), Check> {
        self.transport(be16(cdb, 2))?;
        let (from, to) = (self.holder(be16(cdb, 4))?, self.holder(be16(cdb, 6))?);
        if byte(cdb, 10) & 0x01 != 0 {
            // Tapes have one side.
            return Err(Check::INVALID_FIELD);
        }
        if from == to {
            return Err(if m.inventory().at(from).is_some() { Check::DESTINATION_FULL } else { Check::SOURCE_EMPTY });
        }
        m.transfer(&[(from, to)])
    }

    fn exchange_medium(&self, m: &mut dyn Mechanics, cdb: &[u8]) -> Result<(), Check> {
        self.transport(be16(cdb, 2))?;
        let src = self.holder(be16(cdb, 4))?;
        let first = self.holder(be16(cdb, 6))?;
        let second = self.holder(be16(cdb, 8))?;
        if byte(cdb, 10) & 0x03 != 0 || src == first {
            return Err(Check::INVALID_FIELD);
        }
        m.transfer(&[(src, first), (first, second)])
    }

    fn position(&self, cdb: &[u8]) -> Result<(), Check> {
        self.transport(be16(cdb, 2))?;
        self.layout.at(be16(cdb, 4)).ok_or(Check::INVALID_ELEMENT)?;
        if byte(cdb, 8) & 0x01 != 0 {
            return Err(Check::INVALID_FIELD);
        }
        Ok(())
    }

    /// INITIALIZE ELEMENT STATUS WITH RANGE: the range must start at an
    /// element; there is nothing to scan.
    fn initialize_range(&self, cdb: &[u8]) -> Result<(), Check> {
        if byte(cdb, 1) & 0x01 != 0 {
            self.layout.at(be16(cdb, 2)).ok_or(Check::INVALID_ELEMENT)?;
        }
        Ok(())
    }
}
