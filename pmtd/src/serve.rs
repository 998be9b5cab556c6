//! The service loop: read requests from the slave device, run them on the
//! drive, write the replies back. Requests come in batches (one read returns
//! every request queued); replies go back in one write per batch, after the
//! data of the batch has reached the image file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use pmt::proto::{self, Req, REQ_SIZE, VERSION};
use thiserror::Error;
use tracing::info;

use crate::drive::Drive;

/// Errors of the service loop.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The slave device could not be opened.
    #[error("cannot open {dev}: {source}")]
    Open {
        /// The device.
        dev: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the slave failed.
    #[error("slave device: {0}")]
    Io(#[from] io::Error),
    /// The kernel sent something this daemon does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The kernel refused replies.
    #[error("the driver accepted {accepted} of {sent} reply bytes")]
    Refused {
        /// Bytes accepted.
        accepted: usize,
        /// Bytes sent.
        sent: usize,
    },
}

/// Largest batch a read can return: one maximal write request.
pub const READ_BUFFER: usize = proto::align_frame(REQ_SIZE + proto::MAX_RECORD as usize) + 4096;

/// Opens the slave device.
pub fn open_slave(dev: &Path) -> Result<File, ServeError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(|source| ServeError::Open { dev: dev.display().to_string(), source })
}

/// Runs one batch of request frames through the drive, appending the reply
/// frames to `out`.
pub fn run_batch(drive: &mut Drive, batch: &[u8], out: &mut Vec<u8>) -> Result<(), ServeError> {
    let mut off = 0usize;
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
        drive.execute(&req, data, out);
        off += proto::align_frame(flen);
    }
    Ok(())
}

/// Serves `slave` until it fails or `stop` is set (then returns Ok).
pub fn serve(slave: &mut File, drive: &mut Drive, stop: &AtomicBool) -> Result<(), ServeError> {
    let mut inbuf = vec![0u8; READ_BUFFER];
    let mut out = Vec::with_capacity(1 << 20);
    info!("serving");
    loop {
        if stop.load(Ordering::Relaxed) {
            info!("stopping");
            let _ = drive.sync();
            return Ok(());
        }
        let n = match slave.read(&mut inbuf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        out.clear();
        run_batch(drive, inbuf.get(..n).unwrap_or_default(), &mut out)?;
        let mut sent = 0;
        while sent < out.len() {
            match slave.write(out.get(sent..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(k) => sent += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            if sent < out.len() {
                return Err(ServeError::Refused { accepted: sent, sent: out.len() });
            }
        }
        slave.flush()?;
    }
}
