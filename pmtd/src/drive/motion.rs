//! The motion commands: SPACE (records, filemarks, end of data), LOCATE,
//! and ERASE from the position.

use pmt::proto::{asc, Req, Space};

use super::sense::{failure, Sense};
use super::Drive;
use crate::media::{Medium, Stop, Volumes};

impl<C: Volumes> Drive<C> {
    pub(super) fn space(&mut self, req: &Req) -> Sense {
        let Some(kind) = Space::from_u64(req.arg) else {
            return Sense::illegal();
        };
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let count = i64::from(req.count);
        // Residues are SCSI's: requested minus actual, signed like the count.
        let left = |done: u64| if count >= 0 { count - done as i64 } else { count + done as i64 };
        let r = match kind {
            Space::Setmarks => return Sense::illegal(),
            Space::Eod => t.space_eod().map(|()| Sense::GOOD),
            Space::Blocks => t.space_records(count).map(|(done, stop)| match stop {
                Stop::Done => Sense::GOOD,
                Stop::Mark => Sense::filemark(left(done)),
                Stop::Eod => Sense::eod(left(done)),
                Stop::Bot => Sense::bop(left(done)),
            }),
            Space::Filemarks => t.space_marks(count).map(|(done, stop)| match stop {
                Stop::Done | Stop::Mark => Sense::GOOD,
                Stop::Eod => Sense::eod(left(done)),
                Stop::Bot => Sense::bop(left(done)),
            }),
        };
        r.unwrap_or_else(|e| failure(&e, asc::POSITION_ERROR))
    }

    pub(super) fn erase(&mut self) -> Sense {
        if self.readonly() {
            return Sense::protected();
        }
        match self.with_tape(|t| t.erase().and_then(|()| t.sync())) {
            Some(Err(e)) => failure(&e, asc::WRITE_ERROR),
            _ => Sense::GOOD,
        }
    }

    pub(super) fn locate(&mut self, addr: u64) -> Sense {
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        match t.locate(addr) {
            Ok(Stop::Eod) => Sense::eod(0),
            Ok(_) => Sense::GOOD,
            Err(e) => failure(&e, asc::POSITION_ERROR),
        }
    }
}
