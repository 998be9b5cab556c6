//! The slave side of an in-process pair, for pmtd's serve loop: a receive
//! blocks until the masters queue a request (or a short while passes, so
//! the loop can look at its stop flag), a send wakes the masters. And the
//! drive behind it, run by the serve loop or by a master that waits for it
//! ([`serve_in_process`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pmt::Errno;

use super::host::{Daemon, Shared};
use crate::drive::Drive;
use crate::media::Volumes;
use crate::serve::{self, READ_BUFFER};
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

/// pmtd's drive as the daemon's side of an in-process pair.
struct Served<C: Volumes> {
    slave: PairSlave,
    drive: Drive<C>,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    error: Option<ServeError>,
}

impl<C: Volumes> Daemon for Served<C> {
    fn step(&mut self) -> bool {
        if self.error.is_some() || !self.slave.shared.pair().readable() {
            return false;
        }
        match serve::step(&mut self.slave, &mut self.drive, &mut self.inbuf, &mut self.out) {
            Ok(Received::Batch(_)) => true,
            Ok(_) => false,
            Err(e) => {
                tracing::error!("{e}");
                self.error = Some(e);
                // Nothing more is served: the masters fail at once.
                self.slave.shared.pair().sclose();
                self.slave.shared.notify_masters();
                false
            }
        }
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn finish(self: Box<Self>) -> Result<(), ServeError> {
        let Served { slave, drive, error, .. } = *self;
        let unloaded = drive.shut_down();
        drop(slave);
        if let Some(e) = error {
            return Err(e);
        }
        unloaded.map(|_| ()).map_err(|e| ServeError::Protocol(format!("unloading the volume: {e}")))
    }
}

/// Serves the pair in `shared` with `drive` until `stop` is set or the
/// drive fails: the requests run on this thread, or on the thread of a
/// master that waits for them. Then the volume is unloaded and the slave
/// closed (every master call fails at once).
pub fn serve_in_process<C: Volumes + 'static>(shared: &Arc<Shared>, drive: Drive<C>, stop: &AtomicBool) -> Result<(), ServeError> {
    let slave = PairSlave::open(Arc::clone(shared))?;
    shared.set_daemon(Box::new(Served { slave, drive, inbuf: vec![0u8; READ_BUFFER], out: Vec::with_capacity(1 << 20), error: None }));
    tracing::info!("serving");
    while !stop.load(Ordering::Relaxed) {
        if shared.wait_readable(POLL) && !shared.serve_once() {
            break;
        }
    }
    shared.stop();
    match shared.take_daemon() {
        Some(d) => d.finish(),
        None => Ok(()),
    }
}
