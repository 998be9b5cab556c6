//! A changer master through CUSE with the smallest library behind it, for
//! the guest-side SG_IO check (tests/vm/cuse.sh runs it in QEMU): the
//! changer pair of the core, its master node /dev/pmcm<N> made by pmtd's
//! CUSE host, its slave answered here: INQUIRY as a medium changer, every
//! other command with ILLEGAL REQUEST. (pmtd's library mode serves a real
//! one.)
//!
//! ```text
//! cuse_changer N      serve /dev/pmcm<N> until killed
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use pmt::proto::scsi::{sense, ScsiRep, ScsiReq, REP_SIZE};
use pmt::proto::align_frame;
use pmt::Kind;
use pmtd::cuse::{node_names, Access, Devices, PairSlave};
use pmtd::transport::{Received, Transport};

/// Standard INQUIRY data: a medium changer (type 8), SPC-3.
fn inquiry() -> [u8; 36] {
    let mut d = [b' '; 36];
    d[..8].copy_from_slice(&[8, 0x80, 5, 2, 31, 0, 0, 0]);
    d[8..11].copy_from_slice(b"PMT");
    d[16..28].copy_from_slice(b"CUSE CHANGER");
    d[32..36].copy_from_slice(b"0001");
    d
}

/// The replies to a batch of requests.
fn answer(batch: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + pmt::proto::scsi::REQ_SIZE <= batch.len() {
        let req = ScsiReq::from_bytes(&batch[off..]);
        off += align_frame(req.hdr.len as usize);
        let mut rep = ScsiRep::good(&req);
        let data: Vec<u8> = if req.command().first() == Some(&0x12) {
            let n = inquiry().len().min(req.xfer_len as usize);
            inquiry()[..n].to_vec()
        } else {
            let s = sense::fixed(5, 0x20, 0);
            rep.status = pmt::proto::scsi::status::CHECK_CONDITION;
            rep.sense[..s.len()].copy_from_slice(&s);
            rep.sense_len = s.len() as u8;
            Vec::new()
        };
        rep.resid = req.xfer_len - data.len() as u32;
        rep.hdr.len = (REP_SIZE + data.len()) as u32;
        out.extend_from_slice(&rep.to_bytes());
        out.extend_from_slice(&data);
        out.resize(align_frame(out.len()), 0);
    }
    out
}

fn main() -> ExitCode {
    let unit: u32 = match std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        Some(u) => u,
        None => {
            eprintln!("usage: cuse_changer N");
            return ExitCode::from(2);
        }
    };
    let names = node_names(Kind::Changer, unit, None);
    let devices = match Devices::create(Kind::Changer, unit, &names, &Access::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cuse_changer: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let shared = match devices.serve() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cuse_changer: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut slave = match PairSlave::open(Arc::clone(&shared)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cuse_changer: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("serving /dev/pmcm{unit}");
    let mut buf = vec![0u8; 1 << 21];
    loop {
        match slave.receive(&mut buf) {
            Ok(Received::Batch(n)) => {
                if let Err(e) = slave.send(&answer(&buf[..n])) {
                    eprintln!("cuse_changer: {e}");
                    return ExitCode::FAILURE;
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("cuse_changer: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
}
