//! MODE SENSE of a library: page 0x1D (element address assignment: where
//! each type's addresses start and how many there are, what mtx and ch(4)
//! read first), 0x1E (transport geometry: one transport, no rotation) and
//! 0x1F (device capabilities: slots, import/export slots and drives keep
//! cartridges, each moves to and exchanges with each). No block
//! descriptors.

use super::Smc;
use crate::scsi::{Check, ModeAsk};

impl Smc {
    pub(super) fn mode_sense(&self, cdb: &[u8]) -> Result<Vec<u8>, Check> {
        let ask = ModeAsk::parse(cdb)?;
        let pages = match ask.page {
            0x1d => vec![self.assignment(ask.changeable)],
            0x1e => vec![transport_geometry(ask.changeable)],
            0x1f => vec![capabilities(ask.changeable)],
            0x3f => vec![self.assignment(ask.changeable), transport_geometry(ask.changeable), capabilities(ask.changeable)],
            _ => return Err(Check::INVALID_FIELD),
        };
        Ok(ask.data(cdb, 0, None, &pages))
    }

    /// Page 0x1D: the first address and count of the transports, storage
    /// slots, import/export slots and drives.
    fn assignment(&self, changeable: bool) -> Vec<u8> {
        let mut p = vec![0x1d, 0x12];
        let e = self.layout.elements();
        // SMC's order: transport, storage, import/export, data transfer;
        // CHIO's numbering is the same.
        for t in 0..4 {
            let (first, count) = if changeable { (0, 0) } else { (e.first[t], e.count[t]) };
            p.extend_from_slice(&first.to_be_bytes());
            p.extend_from_slice(&count.to_be_bytes());
        }
        p.extend_from_slice(&[0, 0]);
        p
    }
}

/// Page 0x1E: one transport, which does not rotate media.
fn transport_geometry(_changeable: bool) -> Vec<u8> {
    vec![0x1e, 0x02, 0x00, 0x00]
}

/// Page 0x1F: what stores media and what moves where.
fn capabilities(changeable: bool) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = 0x1f;
    p[1] = 0x12;
    if !changeable {
        // StorDT, StorI/E, StorST: drives, import/export and storage
        // slots keep cartridges; the transport does not.
        p[2] = 0x0e;
        // Moves from the transport (none), storage, import/export, drive
        // to storage, import/export and drives; exchanges the same.
        p[4..8].copy_from_slice(&[0x00, 0x0e, 0x0e, 0x0e]);
        p[12..16].copy_from_slice(&[0x00, 0x0e, 0x0e, 0x0e]);
    }
    p
}
