//! The service loop: read requests from the slave, run them on the drive,
//! write the replies back. Requests come in batches (one read returns every
//! request queued); replies go back in one write per batch, after the data
//! of the batch has reached the medium.

use std::sync::atomic::{AtomicBool, Ordering};

use pmt::proto::{self, Op, Req, REQ_SIZE, VERSION};
use tracing::{info, warn};

use crate::drive::Drive;
use crate::media::Volumes;
pub use crate::transport::{Received, ServeError, Transport};

/// Largest batch a read can return: one maximal write request.
pub const READ_BUFFER: usize = proto::align_frame(REQ_SIZE + proto::MAX_RECORD as usize) + 4096;

/// Runs one batch of request frames through the drive, appending the reply
/// frames to `out`.
pub fn run_batch<C: Volumes>(drive: &mut Drive<C>, batch: &[u8], out: &mut Vec<u8>) -> Result<(), ServeError> {
    let mut off = 0usize;
    // Consecutive WRITE requests go to the drive together.
    let mut writes: Vec<(Req, &[u8])> = Vec::new();
    while off < batch.len() {
        let hdr = batch.get(off..).unwrap_or_default();
        if hdr.len() < REQ_SIZE {
            return Err(ServeError::Protocol(format!("{} stray bytes after the last request", hdr.len())));
        }
        let req = Req::from_bytes(hdr);
        let flen = req.hdr.len as usize;
        if req.hdr.version != VERSION {
            return Err(ServeError::Protocol(format!("protocol version {}, this daemon speaks {VERSION}", req.hdr.version)));
        }
        let data = batch
            .get(off + REQ_SIZE..off + flen)
            .filter(|_| flen >= REQ_SIZE)
            .ok_or_else(|| ServeError::Protocol(format!("request of {flen} bytes overruns the batch")))?;
        off += proto::align_frame(flen);
        if req.op() == Some(Op::Write) && writes.len() < WRITES_AT_ONCE {
            writes.push((req, data));
            continue;
        }
        drive.execute_writes(&writes, out);
        writes.clear();
        if req.op() == Some(Op::Write) {
            writes.push((req, data));
        } else {
            drive.execute(&req, data, out);
        }
    }
    drive.execute_writes(&writes, out);
    Ok(())
}

/// WRITE requests handed to the drive at once, at most.
const WRITES_AT_ONCE: usize = 256;

/// Receives one batch from `slave`, runs it and sends the replies.
/// `inbuf` should hold [`READ_BUFFER`] bytes; `out` is scratch space.
pub fn step<C: Volumes, T: Transport>(
    slave: &mut T,
    drive: &mut Drive<C>,
    inbuf: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<Received, ServeError> {
    let got = slave.receive(inbuf)?;
    if let Received::Batch(n) = got {
        out.clear();
        run_batch(drive, inbuf.get(..n).unwrap_or_default(), out)?;
        slave.send(out)?;
    }
    Ok(got)
}

/// Serves `slave` until it is closed, has nothing more to do (a
/// non-blocking slave), fails, or `stop` is set. The medium is synced
/// before it returns.
pub fn serve<C: Volumes, T: Transport>(slave: &mut T, drive: &mut Drive<C>, stop: &AtomicBool) -> Result<(), ServeError> {
    let mut inbuf = vec![0u8; READ_BUFFER];
    let mut out = Vec::with_capacity(1 << 20);
    info!("serving");
    let r = loop {
        if stop.load(Ordering::Relaxed) {
            info!("stopping");
            break Ok(());
        }
        match step(slave, drive, &mut inbuf, &mut out) {
            Ok(Received::Batch(_) | Received::Interrupted) => {}
            Ok(Received::Idle | Received::Closed) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if let Err(e) = drive.sync() {
        warn!("{e}");
    }
    r
}
