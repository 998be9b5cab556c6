//! What a changer reply may say for its command: a known SCSI status,
//! sense data only with CHECK CONDITION and in a SCSI sense format, zero
//! spare fields and unused sense bytes, data only for a command that reads
//! and never beyond what it asked, and a residue that is exactly what was
//! not moved.

use super::ensure;
use crate::chan::Frames;
use crate::errno::{Errno, Result};
use crate::proto::scsi::{self, status, Dir, Scsi, ScsiRep, ScsiReq};
use crate::proto::Hdr;

impl Frames for Scsi {
    type Req = ScsiReq;
    type Rep = ScsiRep;
    const VERSION: u16 = scsi::VERSION;
    const REQ_SIZE: usize = scsi::REQ_SIZE;
    const REP_SIZE: usize = scsi::REP_SIZE;

    fn req_hdr(req: &ScsiReq) -> Hdr {
        req.hdr
    }

    fn set_req_hdr(req: &mut ScsiReq, hdr: Hdr) {
        req.hdr = hdr;
    }

    fn rep_hdr(rep: &ScsiRep) -> Hdr {
        rep.hdr
    }

    fn encode_req(req: &ScsiReq, out: &mut [u8]) {
        if let Some(o) = out.get_mut(..scsi::REQ_SIZE) {
            o.copy_from_slice(&req.to_bytes());
        }
    }

    fn decode_rep(b: &[u8]) -> ScsiRep {
        ScsiRep::from_bytes(b)
    }

    fn check(req: &ScsiReq, rep: &ScsiRep, dlen: usize) -> Result<()> {
        check_reply(req, rep, dlen)
    }
}

/// Checks changer reply `rep`, carrying `dlen` data bytes, against `req`.
pub fn check_reply(req: &ScsiReq, rep: &ScsiRep, dlen: usize) -> Result<()> {
    ensure(status::known(rep.status) && rep.spare0 == 0)?;
    let slen = usize::from(rep.sense_len);
    ensure(slen <= scsi::SENSE_MAX)?;
    // Nothing beyond the sense data: a daemon cannot leave stale bytes there.
    ensure(rep.sense.get(slen..).is_some_and(|rest| rest.iter().all(|b| *b == 0)))?;
    if rep.status == status::CHECK_CONDITION {
        ensure(scsi::sense::decode(rep.sense_data()).is_some())?;
    } else {
        ensure(slen == 0)?;
    }
    let asked = req.xfer_len;
    let d = u32::try_from(dlen).map_err(|_| Errno::Inval)?;
    match req.direction().ok_or(Errno::Inval)? {
        Dir::FromDev => ensure(d <= asked && asked.checked_sub(d) == Some(rep.resid)),
        Dir::ToDev => ensure(d == 0 && rep.resid <= asked),
        Dir::None => ensure(d == 0 && rep.resid == 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dir: Dir, len: u32) -> ScsiReq {
        ScsiReq::new(&[0x12, 0, 0, 0, 0x38, 0], dir, len)
    }

    fn check(q: &ScsiReq, f: impl FnOnce(&mut ScsiRep), dlen: usize) -> bool {
        let mut r = ScsiRep::good(q);
        f(&mut r);
        check_reply(q, &r, dlen).is_ok()
    }

    #[test]
    fn data_and_residue() {
        let q = req(Dir::FromDev, 56);
        assert!(check(&q, |r| r.resid = 0, 56));
        assert!(check(&q, |r| r.resid = 20, 36));
        assert!(!check(&q, |r| r.resid = 0, 57), "more than asked");
        assert!(!check(&q, |r| r.resid = 0, 36), "residue does not match");
        let n = req(Dir::None, 0);
        assert!(check(&n, |r| r.resid = 0, 0));
        assert!(!check(&n, |r| r.resid = 0, 1), "data for a command that reads none");
        let w = req(Dir::ToDev, 40);
        assert!(check(&w, |r| r.resid = 0, 0));
        assert!(!check(&w, |r| r.resid = 41, 0));
    }

    #[test]
    fn status_and_sense() {
        let q = req(Dir::None, 0);
        let cc = |r: &mut ScsiRep| {
            let s = scsi::sense::fixed(5, 0x3b, 0x0d);
            r.sense[..s.len()].copy_from_slice(&s);
            r.sense_len = s.len() as u8;
            r.status = status::CHECK_CONDITION;
            r.resid = 0;
        };
        assert!(check(&q, cc, 0));
        assert!(!check(&q, |r| { cc(r); r.status = status::GOOD }, 0), "sense without CHECK CONDITION");
        assert!(!check(&q, |r| { cc(r); r.sense[0] = 0x10 }, 0), "not a sense format");
        assert!(!check(&q, |r| { cc(r); r.sense_len = 33 }, 0));
        assert!(!check(&q, |r| { cc(r); r.sense[30] = 1 }, 0), "bytes after the sense data");
        assert!(!check(&q, |r| { r.status = status::CHECK_CONDITION }, 0), "CHECK CONDITION without sense");
        assert!(!check(&q, |r| r.status = 0x04, 0), "unknown status");
        assert!(check(&q, |r| r.status = status::BUSY, 0));
        assert!(!check(&q, |r| r.spare0 = 1, 0));
    }
}
