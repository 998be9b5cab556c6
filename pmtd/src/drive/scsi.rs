//! SCSI commands a program sends the drive through SG_IO on the tape master
//! (`PMT_OP_SCSI`): the ones that neither move the medium nor change the
//! drive's settings, answered as an SSC drive answers them, so `sg_inq`,
//! mtx's `tapeinfo`, `sg_logs` and TapeAlert readers see a drive that says
//! who it is (the same serial a library reports for it).
//!
//! INQUIRY (type 1, removable; VPD 0x00, 0x80, 0x83), TEST UNIT READY,
//! REQUEST SENSE, MODE SENSE(6) and (10) (a block descriptor with the
//! density and block size; pages 0x0F data compression, 0x10 device
//! configuration, 0x3F all), LOG SENSE (0x00 supported pages, 0x2E
//! TapeAlert, 0x31 tape capacity in MiB), READ BLOCK LIMITS, READ POSITION
//! (short form), REPORT LUNS. Anything else is ILLEGAL REQUEST, INVALID
//! COMMAND OPERATION CODE.

use pmt::proto::{Req, SenseFlags, SenseKey};

use super::sense::Sense;
use super::Drive;
use crate::media::{Medium, Volumes};
use crate::scsi::{self, byte, be16, Check, ModeAsk, TYPE_TAPE};

/// TapeAlert flag 9: write protect (a write to a write-protected cartridge).
pub const ALERT_WRITE_PROTECT: u8 = 9;
/// TapeAlert flag 10: no removal (an unload refused while removal is
/// prevented).
pub const ALERT_NO_REMOVAL: u8 = 10;

/// Bytes in a MiB, the unit of the tape capacity log page.
const MIB: u64 = 1 << 20;

impl<C: Volumes> Drive<C> {
    /// Executes a pass-through command: its data (at most the request's
    /// length) goes to `out`; the residue is what was not returned.
    pub(super) fn scsi(&mut self, req: &Req, cdb: &[u8], out: &mut Vec<u8>) -> Sense {
        let max = usize::try_from(req.length).unwrap_or(usize::MAX);
        let whole = i64::try_from(req.length).unwrap_or(i64::MAX);
        match self.answer(cdb) {
            Ok(mut d) => {
                d.truncate(max);
                out.extend_from_slice(&d);
                Sense::new(SenseKey::NoSense, SenseFlags::empty(), 0, 0, whole - d.len() as i64)
            }
            Err(c) => {
                let key = SenseKey::from_u8(c.key).unwrap_or(SenseKey::IllegalRequest);
                Sense::new(key, SenseFlags::empty(), c.asc, c.ascq, whole)
            }
        }
    }

    /// Raises TapeAlert flag `n` (1 to 64); LOG SENSE of page 0x2E reads
    /// and clears the flags.
    pub fn alert(&mut self, n: u8) {
        if (1..=64).contains(&n) {
            self.alerts |= 1u64 << (n - 1);
        }
    }

    fn ready(&self) -> Result<&C::Medium, Check> {
        self.tape.as_ref().ok_or(Check::NO_MEDIUM)
    }

    fn answer(&mut self, cdb: &[u8]) -> Result<Vec<u8>, Check> {
        match byte(cdb, 0) {
            0x12 => self.cfg.identity.inquiry(cdb, TYPE_TAPE, true),
            0x00 => self.ready().map(|_| Vec::new()),
            0x03 => Ok(scsi::request_sense(cdb, self.ready().err())),
            0x1a | 0x5a => self.mode_sense(cdb),
            0x4d => self.log_sense(cdb),
            0x05 => {
                let max = self.cfg.max_block.to_be_bytes();
                let min = u16::try_from(self.cfg.min_block).unwrap_or(u16::MAX).to_be_bytes();
                Ok(vec![0, max[1], max[2], max[3], min[0], min[1]])
            }
            0x34 => self.read_position(cdb),
            0xa0 => scsi::report_luns(cdb),
            _ => Err(Check::INVALID_OPCODE),
        }
    }

    fn mode_sense(&mut self, cdb: &[u8]) -> Result<Vec<u8>, Check> {
        let ask = ModeAsk::parse(cdb)?;
        let ch = ask.changeable;
        let compression = |d: &mut Vec<Vec<u8>>| {
            let mut p = vec![0u8; 16];
            p[0] = 0x0f;
            p[1] = 0x0e;
            if ch {
                p[2] = 0x80;
            } else {
                // DCE as set, DCC (capable), DDE; algorithm: unregistered.
                p[2] = 0x40 | if self.compress { 0x80 } else { 0 };
                p[3] = 0x80;
                p[4..8].copy_from_slice(&0xffu32.to_be_bytes());
                p[8..12].copy_from_slice(&0xffu32.to_be_bytes());
            }
            d.push(p);
        };
        let config = |d: &mut Vec<Vec<u8>>| {
            let mut p = vec![0u8; 16];
            p[0] = 0x10;
            p[1] = 0x0e;
            if !ch {
                // Block identifiers supported; end of data defined, early
                // warning generated, synchronize at early warning.
                p[8] = 0x40;
                p[10] = 0x18;
                p[14] = u8::from(self.compress);
            }
            d.push(p);
        };
        let mut pages: Vec<Vec<u8>> = Vec::new();
        match ask.page {
            0x0f => compression(&mut pages),
            0x10 => config(&mut pages),
            0x3f => {
                compression(&mut pages);
                config(&mut pages);
            }
            _ => return Err(Check::INVALID_FIELD),
        }
        let block = if ch {
            [0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff]
        } else {
            let b = self.blksize.to_be_bytes();
            [self.density, 0, 0, 0, 0, b[1], b[2], b[3]]
        };
        let wp = if self.readonly() && !ch { 0x80 } else { 0 };
        let specific = wp | (self.drvbuf & 7) << 4;
        Ok(ask.data(cdb, specific, Some(block), &pages))
    }

    fn log_sense(&mut self, cdb: &[u8]) -> Result<Vec<u8>, Check> {
        if byte(cdb, 1) & 0x01 != 0 {
            return Err(Check::SAVING_NOT_SUPPORTED);
        }
        if byte(cdb, 3) != 0 {
            return Err(Check::INVALID_FIELD);
        }
        let page = byte(cdb, 2) & 0x3f;
        let pointer = be16(cdb, 5);
        // (code, control, value) of each parameter.
        let params: Vec<(u16, u8, Vec<u8>)> = match page {
            0x00 => {
                let mut d = vec![0x00, 0x00, 0x00, 0x03, 0x00, 0x2e, 0x31];
                d.truncate(usize::from(be16(cdb, 7)));
                return Ok(d);
            }
            0x2e => {
                let alerts = std::mem::take(&mut self.alerts);
                (1..=64u16).map(|n| (n, 0x01, vec![u8::from(alerts >> (n - 1) & 1 == 1)])).collect()
            }
            0x31 => {
                let t = self.ready()?;
                let mib = |v: Option<u64>| -> Vec<u8> {
                    let m = v.map_or(u64::from(u32::MAX), |b| b / MIB).min(u64::from(u32::MAX));
                    (m as u32).to_be_bytes().to_vec()
                };
                let room = t.room();
                let remaining = room.to_end.or(room.to_ew);
                let max = self.loaded_room.to_end.or(self.loaded_room.to_ew);
                vec![(1, 0x00, mib(remaining)), (2, 0x00, mib(Some(0))), (3, 0x00, mib(max)), (4, 0x00, mib(Some(0)))]
            }
            _ => return Err(Check::INVALID_FIELD),
        };
        if params.last().is_some_and(|(c, _, _)| *c < pointer) {
            return Err(Check::INVALID_FIELD);
        }
        let mut body = Vec::new();
        for (code, control, value) in params.into_iter().filter(|(c, _, _)| *c >= pointer) {
            body.extend_from_slice(&code.to_be_bytes());
            body.push(control);
            body.push(value.len() as u8);
            body.extend_from_slice(&value);
        }
        let mut d = vec![page, 0];
        d.extend_from_slice(&(body.len() as u16).to_be_bytes());
        d.extend_from_slice(&body);
        d.truncate(usize::from(be16(cdb, 7)));
        Ok(d)
    }

    fn read_position(&self, cdb: &[u8]) -> Result<Vec<u8>, Check> {
        if byte(cdb, 1) & 0x1f > 1 {
            return Err(Check::INVALID_FIELD);
        }
        let t = self.ready()?;
        let mut d = vec![0u8; 20];
        if t.at_bot() {
            d[0] |= 0x80;
        }
        if t.room().to_ew == Some(0) {
            d[0] |= 0x40;
        }
        match u32::try_from(t.position()) {
            Ok(p) => {
                d[4..8].copy_from_slice(&p.to_be_bytes());
                d[8..12].copy_from_slice(&p.to_be_bytes());
            }
            // Block position unknown: beyond what the short form holds.
            Err(_) => d[0] |= 0x04,
        }
        Ok(d)
    }
}
