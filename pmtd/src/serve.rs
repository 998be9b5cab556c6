//! The service loop: read requests from the slave, run them on the drive,
//! write the replies back. Requests come in batches (one read returns every
//! request queued); replies go back in one write per batch, after the data
//! of the batch has reached the medium.

use std::sync::atomic::{AtomicBool, Ordering};

use pmt::proto::{self, Op, Req, ReqFlags, REQ_SIZE, VERSION};
use tracing::{info, warn};

use crate::area::Area;
use crate::drive::Drive;
use crate::media::Volumes;
pub use crate::transport::{Received, ServeError, Transport};

/// Largest batch a read can return: one maximal write request.
pub const READ_BUFFER: usize = proto::align_frame(REQ_SIZE + proto::MAX_RECORD as usize) + 4096;

/// Runs one batch of request frames through the drive, appending the reply
/// frames to `out`.
pub fn run_batch<C: Volumes>(drive: &mut Drive<C>, batch: &[u8], out: &mut Vec<u8>, mut area: Option<&mut Area>) -> Result<(), ServeError> {
    let mut off = 0usize;
    // Consecutive WRITE requests go to the drive together; their data is in
    // the batch or in the data area.
    let mut writes: Vec<(Req, Src)> = Vec::new();
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
        let start = off + REQ_SIZE;
        if flen < REQ_SIZE || batch.get(start..off + flen).is_none() {
            return Err(ServeError::Protocol(format!("request of {flen} bytes overruns the batch")));
        }
        let frame = start..off + flen;
        off += proto::align_frame(flen);
        let in_area = req.flags().contains(ReqFlags::AREA);
        let src = if in_area {
            let len = usize::try_from(req.length).unwrap_or(usize::MAX);
            let at = usize::try_from(req.arg).unwrap_or(usize::MAX);
            if area.as_deref().and_then(|a| a.slice(at, len)).is_none() {
                return Err(ServeError::Protocol(format!("a request names {len} bytes at {at} of a data area pmtd does not have")));
            }
            Src::Area(at, len)
        } else {
            Src::Frame(frame.start, frame.end)
        };
        if req.op() == Some(Op::Write) && writes.len() < WRITES_AT_ONCE {
            writes.push((req, src));
            continue;
        }
        flush_writes(drive, &mut writes, batch, area.as_deref(), out);
        match (req.op(), src) {
            (Some(Op::Write), _) => writes.push((req, src)),
            (_, Src::Area(at, len)) => {
                // Checked above: the slice lies in the area.
                if let Some(buf) = area.as_deref_mut().and_then(|a| a.slice_mut(at, len)) {
                    drive.execute_into(&req, buf, out);
                }
            }
            (_, Src::Frame(a, b)) => drive.execute(&req, batch.get(a..b).unwrap_or_default(), out),
        }
    }
    flush_writes(drive, &mut writes, batch, area.as_deref(), out);
    Ok(())
}

/// Where a request's data is: bytes of the batch, or a slice of the area.
#[derive(Clone, Copy, Debug)]
enum Src {
    Frame(usize, usize),
    Area(usize, usize),
}

/// Runs the pending WRITE requests through the drive at once.
fn flush_writes<C: Volumes>(drive: &mut Drive<C>, writes: &mut Vec<(Req, Src)>, batch: &[u8], area: Option<&Area>, out: &mut Vec<u8>) {
    if writes.is_empty() {
        return;
    }
    let data: Vec<(Req, &[u8])> = writes
        .iter()
        .map(|(r, s)| {
            let d = match *s {
                Src::Frame(a, b) => batch.get(a..b),
                Src::Area(at, len) => area.and_then(|a| a.slice(at, len)),
            };
            (*r, d.unwrap_or_default())
        })
        .collect();
    drive.execute_writes(&data, out);
    writes.clear();
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
        run_batch(drive, inbuf.get(..n).unwrap_or_default(), out, slave.area())?;
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
