//! SG_IO and the sg ioctls on the tape master, as st passes them to the
//! SCSI layer: the commands that neither move the medium nor change the
//! drive's settings go to the drive (PMT_OP_SCSI), so `sg_inq`, mtx's
//! `tapeinfo` and TapeAlert readers work, and the engine's picture of the
//! tape stays true; any other command is refused here with CHECK
//! CONDITION, ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.

use alloc::vec::Vec;

use super::{Drv, Link};
use crate::errno::{Errno, Result};
use crate::host::Host;
use crate::proto::scsi::{sense, status, Dir, ScsiRep, SENSE_MAX};
use crate::proto::{Op, Req, SenseKey};
use crate::sgio::{self, Address, Done, Executor, SgAnswer, SgIoctl};

/// SCSI peripheral type of a sequential-access device.
pub const TYPE_TAPE: u8 = 1;

/// Commands the drive answers through SG_IO: INQUIRY, TEST UNIT READY,
/// REQUEST SENSE, MODE SENSE (6, 10), LOG SENSE, READ BLOCK LIMITS, READ
/// POSITION, REPORT LUNS, REPORT DENSITY SUPPORT.
pub const PASSED: &[u8] = &[0x12, 0x00, 0x03, 0x1a, 0x5a, 0x4d, 0x05, 0x34, 0xa0, 0x44];

struct TapeExec<'d, 'l, 'h> {
    drv: &'d mut Drv,
    l: &'l mut Link<'h>,
}

/// A reply of CHECK CONDITION with fixed-format sense.
fn check_condition(key: u8, asc: u8, ascq: u8, resid: u32) -> ScsiRep {
    let s = sense::fixed(key, asc, ascq);
    let mut rep = ScsiRep { status: status::CHECK_CONDITION, sense_len: s.len() as u8, resid, ..ScsiRep::default() };
    if let Some(d) = rep.sense.get_mut(..s.len()) {
        d.copy_from_slice(&s);
    }
    let _ = SENSE_MAX;
    rep
}

impl Executor for TapeExec<'_, '_, '_> {
    fn host(&mut self) -> &mut dyn Host {
        self.l.host
    }

    fn execute(&mut self, cdb: &[u8], dir: Dir, data: Vec<u8>, xfer: u32, timeout_ms: u32) -> Result<Done> {
        drop(data);
        let op = cdb.first().copied().unwrap_or(0xff);
        if dir == Dir::ToDev || !PASSED.contains(&op) {
            return Ok(Done { rep: check_condition(SenseKey::IllegalRequest as u8, 0x20, 0x00, xfer), data: Vec::new() });
        }
        // Settled first, as st flushes before any other ioctl: the drive
        // answers for the position the engine knows.
        self.drv.ioctl_flush(self.l, false)?;
        let mut payload = Vec::new();
        payload.try_reserve_exact(cdb.len()).map_err(|_| Errno::NoMem)?;
        payload.extend_from_slice(cdb);
        let mut req = Req::new(Op::Scsi);
        req.length = u64::from(if dir == Dir::FromDev { xfer } else { 0 });
        let timeout = timeout_ms.div_ceil(1000).max(1);
        let d = self.drv.call(self.l, req, payload, timeout)?;
        // Checked at the boundary: resid = length - data.
        let resid = u32::try_from(d.rep.resid).unwrap_or(xfer);
        let rep = if d.sense.good {
            ScsiRep { resid, ..ScsiRep::default() }
        } else {
            check_condition(d.sense.key as u8, d.sense.asc, d.sense.ascq, resid)
        };
        Ok(Done { rep, data: d.data })
    }
}

impl Drv {
    /// An sg ioctl on the tape master.
    pub(super) fn sg(&mut self, l: &mut Link<'_>, what: SgIoctl) -> Result<SgAnswer> {
        let writable = self.open.mode.write;
        let mut st = self.cfg.sg;
        let address = Address { host: 0, id: self.cfg.unit, kind: TYPE_TAPE };
        let r = sgio::run(&mut st, &mut TapeExec { drv: self, l }, what, writable, address);
        self.cfg.sg = st;
        r
    }
}
