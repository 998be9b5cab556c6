//! The slave side of an in-process pair, for pmtd's serve loop: a receive
//! blocks until the masters queue a request (or a short while passes, so
//! the loop can look at its stop flag), a send wakes the masters.

use std::sync::Arc;
use std::time::Duration;

use pmt::Errno;

use super::host::Shared;
use crate::transport::{Received, ServeError, SliceIn, SliceOut, Transport};

/// How long a receive waits before it returns, so that the loop sees a stop.
const POLL: Duration = Duration::from_millis(200);

/// The daemon's end of a pair served in this process.
#[derive(Debug)]
pub struct PairSlave {
    shared: Arc<Shared>,
}

impl PairSlave {
    /// Opens the slave side of the pair in `shared` (EBUSY if one is open).
    pub fn open(shared: Arc<Shared>) -> Result<PairSlave, ServeError> {
        shared.pair().sopen().map_err(|errno| ServeError::Sim { what: "slave open", errno })?;
        Ok(PairSlave { shared })
    }
}

impl Drop for PairSlave {
    /// The daemon is gone: pending and later master calls fail at once.
    fn drop(&mut self) {
        self.shared.pair().sclose();
        self.shared.notify_masters();
    }
}

impl Transport for PairSlave {
    fn receive(&mut self, buf: &mut [u8]) -> Result<Received, ServeError> {
        if !self.shared.wait_readable(POLL) {
            return Ok(Received::Interrupted);
        }
        let len = buf.len();
        match self.shared.pair().sread(&mut SliceOut(buf), len) {
            Ok(0) | Err(Errno::Again) => Ok(Received::Interrupted),
            Ok(n) => Ok(Received::Batch(n)),
            Err(errno) => Err(ServeError::Sim { what: "slave read", errno }),
        }
    }

    fn send(&mut self, replies: &[u8]) -> Result<(), ServeError> {
        let r = self.shared.pair().swrite(&mut SliceIn(replies), replies.len());
        // Whatever the core took, the masters may have something to see.
        self.shared.notify_masters();
        let k = r.map_err(|errno| ServeError::Sim { what: "slave write", errno })?;
        if k != replies.len() {
            return Err(ServeError::Refused { accepted: k, sent: replies.len() });
        }
        Ok(())
    }
}
