//! The reply boundary: what a reply may say for the request it answers.
//!
//! Every number the daemon supplies is checked here, when the reply arrives
//! and before anything of it is kept: the header (version, length, id and
//! operation are the channel's business), the sense key and flags, the
//! residue against the request's count or length, the data length against
//! what was asked (and, for fixed blocks, a whole number of blocks matching
//! the residue), and the drive status fields. A reply that makes no sense for
//! its request is refused with EINVAL to the daemon and changes nothing, so
//! the engine only ever computes with values in these ranges. The tape
//! pair's replies are checked here, the changer pair's in [`scsi`].

#![deny(clippy::arithmetic_side_effects)]

mod scsi;

use crate::area::Slice;
use crate::chan::{Data, Frames};
use crate::errno::{Errno, Result};
use crate::proto::{self, DriveFlags, Hdr, Op, Rep, Req, ReqFlags, SenseFlags, SenseKey, Status, Tape, MAX_RECORD};

impl Frames for Tape {
    type Req = Req;
    type Rep = Rep;
    const VERSION: u16 = proto::VERSION;
    const REQ_SIZE: usize = proto::REQ_SIZE;
    const REP_SIZE: usize = proto::REP_SIZE;

    fn req_hdr(req: &Req) -> Hdr {
        req.hdr
    }

    fn set_req_hdr(req: &mut Req, hdr: Hdr) {
        req.hdr = hdr;
    }

    fn rep_hdr(rep: &Rep) -> Hdr {
        rep.hdr
    }

    fn encode_req(req: &Req, out: &mut [u8]) {
        if let Some(o) = out.get_mut(..proto::REQ_SIZE) {
            o.copy_from_slice(&req.to_bytes());
        }
    }

    fn decode_rep(b: &[u8]) -> Rep {
        Rep::from_bytes(b)
    }

    fn check(req: &Req, rep: &Rep, dlen: usize) -> Result<()> {
        check_reply(req, rep, dlen)
    }

    fn check_data(req: &Req, rep: &Rep, data: Data<'_>) -> Result<()> {
        check_data(req, rep, data)
    }

    fn set_area(req: &mut Req, s: Slice) {
        req.flags |= ReqFlags::AREA.bits();
        req.arg = s.off as u64;
    }

    fn area_reply_len(rep: &Rep) -> usize {
        rep.dlen as usize
    }
}

fn ensure(ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Errno::Inval)
    }
}

/// The drive status of a reply.
pub fn check_status(st: &Status) -> Result<()> {
    let max = u64::from(MAX_RECORD);
    ensure(DriveFlags::from_bits(st.flags).is_some())?;
    ensure(st.spare0 == 0 && st.spare1 == 0)?;
    ensure(u64::from(st.blksize) <= max && u64::from(st.maxblk) <= max)?;
    ensure(st.maxblk == 0 || st.minblk <= st.maxblk)
}

/// Checks reply `rep`, carrying `dlen` data bytes, against request `req`.
pub fn check_reply(req: &Req, rep: &Rep, dlen: usize) -> Result<()> {
    let key = SenseKey::from_u8(rep.sense).ok_or(Errno::Inval)?;
    let flags = SenseFlags::from_bits(rep.sflags).ok_or(Errno::Inval)?;
    check_status(&rep.status)?;
    let op = req.op().ok_or(Errno::Inval)?;
    let fixed = req.flags().contains(ReqFlags::FIXED);
    let resid = rep.resid;
    let count = i64::from(req.count);
    // Within [lo, hi].
    let within = |lo: i64, hi: i64| ensure(lo <= resid && resid <= hi);
    // A length the engine built (at most 16 MiB - 1, or a fixed transfer of
    // at most 2^31 blocks), so the arithmetic below cannot overflow; a
    // request the engine never sends is refused.
    let length = i64::try_from(req.length).map_err(|_| Errno::Inval)?;
    ensure(matches!(op, Op::Read | Op::ReadRun | Op::Scsi) || dlen == 0)?;
    match op {
        Op::Read if fixed => {
            ensure(count > 0 && length > 0 && length.checked_rem(count) == Some(0))?;
            let bs = length.checked_div(count).ok_or(Errno::Inval)?;
            let d = i64::try_from(dlen).map_err(|_| Errno::Inval)?;
            ensure(d <= length && d.checked_rem(bs) == Some(0))?;
            within(0, count)?;
            // With NO SENSE (a filemark, early warning, a block of the wrong
            // length) the residue counts the blocks not transferred.
            if matches!(key, SenseKey::NoSense | SenseKey::Recovered) {
                ensure(count.checked_sub(resid).and_then(|n| n.checked_mul(bs)) == Some(d))?;
            }
            Ok(())
        }
        Op::Read => {
            let d = i64::try_from(dlen).map_err(|_| Errno::Inval)?;
            ensure(d <= length)?;
            // requested - actual, with an actual record of 0..=MAX_RECORD.
            within(length.saturating_sub(i64::from(MAX_RECORD)), length)?;
            if flags.contains(SenseFlags::ILI) && matches!(key, SenseKey::NoSense | SenseKey::Recovered) {
                ensure(length.checked_sub(resid.max(0)) == Some(d))?;
            }
            Ok(())
        }
        Op::ReadRun => {
            // The drive stops before any condition: NO SENSE without flags,
            // or an error with no data (it did not move).
            ensure(flags.is_empty() && count > 0 && length > 0)?;
            ensure(key == SenseKey::NoSense || dlen == 0)?;
            ensure((dlen as u64) <= req.length)?;
            if fixed {
                ensure(length.checked_rem(count) == Some(0))?;
            }
            within(0, count)
        }
        Op::Scsi => {
            // No tape condition; the data within the allocation length and
            // the residue what was not returned.
            let d = i64::try_from(dlen).map_err(|_| Errno::Inval)?;
            ensure(flags.is_empty() && d <= length)?;
            ensure(length.checked_sub(d) == Some(resid))
        }
        Op::Write if fixed => {
            ensure(count > 0)?;
            within(0, count)
        }
        Op::Write => within(0, length),
        Op::Wfm => within(0, count.max(0)),
        // Signed like the count, never larger.
        Op::Space => within(count.min(0), count.max(0)),
        Op::Open
        | Op::Close
        | Op::Rewind
        | Op::Load
        | Op::Erase
        | Op::Locate
        | Op::ReadPos
        | Op::Mode
        | Op::Status
        | Op::Lock => within(0, 0),
    }
}

/// The records of a read-ahead run, once its data is here: `data` must be
/// exactly the `count - resid` records the reply says, each whole (a
/// fixed-block run: whole blocks). Other replies carry nothing to check.
pub fn check_data(req: &Req, rep: &Rep, data: Data<'_>) -> Result<()> {
    if req.op() != Some(Op::ReadRun) || rep.sense != SenseKey::NoSense as u8 {
        return Ok(());
    }
    let records = i64::from(req.count).checked_sub(rep.resid).ok_or(Errno::Inval)?;
    let len = match data {
        Data::Frame(d) => d.len(),
        Data::Area(_, s) => s.len,
    };
    if req.flags().contains(ReqFlags::FIXED) {
        // check_reply: count > 0 and the length a multiple of it.
        let bs = req.length.checked_div(u64::from(req.count.unsigned_abs())).ok_or(Errno::Inval)?;
        return ensure(u64::try_from(records).ok().and_then(|r| r.checked_mul(bs)) == Some(len as u64));
    }
    let n = match data {
        Data::Frame(d) => {
            let mut n = 0usize;
            for record in proto::run::records(d) {
                ensure(!record?.is_empty())?;
                n = n.saturating_add(1);
            }
            n
        }
        // Read from the area word by word; the engine checks each record
        // again when it serves it (the daemon may change the area).
        Data::Area(area, s) => proto::run::count_at(s.len, &mut |o, d| area.read(s.off.checked_add(o).ok_or(Errno::Inval)?, d))?,
    };
    ensure(i64::try_from(n).ok() == Some(records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Space, REP_SIZE};

    fn req(op: Op, flags: ReqFlags, count: i32, length: u64) -> Req {
        let mut r = Req::new(op);
        r.flags = flags.bits();
        r.count = count;
        r.length = length;
        r
    }

    fn rep(req: &Req, key: SenseKey, flags: SenseFlags, resid: i64) -> Rep {
        let mut r = Rep::good(req, Status { maxblk: MAX_RECORD, minblk: 1, ..Status::default() });
        r.hdr.len = REP_SIZE as u32;
        r.sense = key as u8;
        r.sflags = flags.bits();
        r.resid = resid;
        r
    }

    #[test]
    fn variable_reads() {
        let q = req(Op::Read, ReqFlags::empty(), 0, 1000);
        let ok = |k, f, resid, d| check_reply(&q, &rep(&q, k, f, resid), d).is_ok();
        assert!(ok(SenseKey::NoSense, SenseFlags::empty(), 0, 1000));
        assert!(ok(SenseKey::NoSense, SenseFlags::ILI, 400, 600), "short record");
        assert!(ok(SenseKey::NoSense, SenseFlags::ILI, -50, 1000), "record longer than the buffer");
        assert!(!ok(SenseKey::NoSense, SenseFlags::ILI, -50, 999), "data does not match the residue");
        assert!(!ok(SenseKey::NoSense, SenseFlags::empty(), 0, 1001), "data beyond the request");
        assert!(ok(SenseKey::NoSense, SenseFlags::FMK, 1000, 0));
        assert!(!ok(SenseKey::NoSense, SenseFlags::FMK, 1001, 0), "residue beyond the request");
        assert!(!ok(SenseKey::NoSense, SenseFlags::ILI, 1000 - i64::from(MAX_RECORD) - 1, 1000), "record beyond 16 MiB");
        assert!(!ok(SenseKey::NoSense, SenseFlags::empty(), i64::MIN, 0));
    }

    #[test]
    fn fixed_reads_are_whole_blocks() {
        let q = req(Op::Read, ReqFlags::FIXED, 4, 2048);
        let ok = |k, f, resid, d| check_reply(&q, &rep(&q, k, f, resid), d).is_ok();
        assert!(ok(SenseKey::NoSense, SenseFlags::empty(), 0, 2048));
        assert!(ok(SenseKey::NoSense, SenseFlags::FMK, 3, 512));
        assert!(!ok(SenseKey::NoSense, SenseFlags::FMK, 3, 1024), "blocks do not match the residue");
        assert!(!ok(SenseKey::NoSense, SenseFlags::empty(), 0, 700), "not a whole number of blocks");
        assert!(!ok(SenseKey::NoSense, SenseFlags::FMK, 5, 0), "residue larger than the count");
        assert!(!ok(SenseKey::NoSense, SenseFlags::FMK, -1, 2048));
        assert!(ok(SenseKey::MediumError, SenseFlags::empty(), 0, 1024), "error: data is not used");
        assert!(!ok(SenseKey::MediumError, SenseFlags::empty(), 0, 1000));
    }

    #[test]
    fn writes_marks_and_spacing() {
        let w = req(Op::Write, ReqFlags::empty(), 0, 100);
        assert!(check_reply(&w, &rep(&w, SenseKey::VolumeOverflow, SenseFlags::EOM, 100), 0).is_ok());
        assert!(check_reply(&w, &rep(&w, SenseKey::VolumeOverflow, SenseFlags::EOM, 101), 0).is_err());
        assert!(check_reply(&w, &rep(&w, SenseKey::NoSense, SenseFlags::EOM, -1), 0).is_err());
        assert!(check_reply(&w, &rep(&w, SenseKey::NoSense, SenseFlags::empty(), 0), 1).is_err(), "data with a write");
        let f = req(Op::Write, ReqFlags::FIXED, 3, 1536);
        assert!(check_reply(&f, &rep(&f, SenseKey::VolumeOverflow, SenseFlags::EOM, 3), 0).is_ok());
        assert!(check_reply(&f, &rep(&f, SenseKey::VolumeOverflow, SenseFlags::EOM, 4), 0).is_err());
        let m = req(Op::Wfm, ReqFlags::empty(), 2, 0);
        assert!(check_reply(&m, &rep(&m, SenseKey::VolumeOverflow, SenseFlags::EOM, 2), 0).is_ok());
        assert!(check_reply(&m, &rep(&m, SenseKey::VolumeOverflow, SenseFlags::EOM, 3), 0).is_err());
        let mut s = req(Op::Space, ReqFlags::empty(), -5, 0);
        s.arg = Space::Filemarks as u64;
        assert!(check_reply(&s, &rep(&s, SenseKey::NoSense, SenseFlags::EOM, -2), 0).is_ok());
        assert!(check_reply(&s, &rep(&s, SenseKey::NoSense, SenseFlags::EOM, 2), 0).is_err(), "wrong sign");
        assert!(check_reply(&s, &rep(&s, SenseKey::NoSense, SenseFlags::EOM, -6), 0).is_err(), "beyond the count");
        let r = req(Op::Rewind, ReqFlags::empty(), 0, 0);
        assert!(check_reply(&r, &rep(&r, SenseKey::NoSense, SenseFlags::empty(), 1), 0).is_err());
    }

    fn run(records: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for r in records {
            v.extend_from_slice(&(r.len() as u32).to_ne_bytes());
            v.extend_from_slice(r);
            if r.len() % 2 == 1 {
                v.push(0);
            }
            v.extend_from_slice(&(r.len() as u32).to_ne_bytes());
        }
        v
    }

    #[test]
    fn read_runs() {
        let q = req(Op::ReadRun, ReqFlags::empty(), 10, 4096);
        let data = run(&[b"abc", b"defg", b"h"]);
        let r = rep(&q, SenseKey::NoSense, SenseFlags::empty(), 7);
        assert!(check_reply(&q, &r, data.len()).is_ok());
        assert!(check_data(&q, &r, Data::Frame(&data)).is_ok());
        assert_eq!(data.len(), 3 + 9 + 4 + 8 + 1 + 9);
        // The residue must count the records there.
        assert!(check_data(&q, &rep(&q, SenseKey::NoSense, SenseFlags::empty(), 8), Data::Frame(&data)).is_err());
        // A frame cut short, or whose lengths differ.
        assert!(check_data(&q, &r, Data::Frame(&data[..data.len() - 1])).is_err());
        let mut bad = data.clone();
        bad[12] ^= 1;
        assert!(check_data(&q, &r, Data::Frame(&bad)).is_err());
        // A zero-length record is no record.
        let z = run(&[b""]);
        assert!(check_data(&q, &rep(&q, SenseKey::NoSense, SenseFlags::empty(), 9), Data::Frame(&z)).is_err());
        // Conditions are not reported by a run; an error carries no data.
        assert!(check_reply(&q, &rep(&q, SenseKey::NoSense, SenseFlags::FMK, 10), 0).is_err());
        assert!(check_reply(&q, &rep(&q, SenseKey::MediumError, SenseFlags::empty(), 10), 0).is_ok());
        assert!(check_reply(&q, &rep(&q, SenseKey::MediumError, SenseFlags::empty(), 10), 16).is_err());
        assert!(check_reply(&q, &rep(&q, SenseKey::NoSense, SenseFlags::empty(), 11), 0).is_err());
        assert!(check_reply(&q, &r, 4097).is_err());
        // Fixed blocks: whole blocks matching the residue.
        let f = req(Op::ReadRun, ReqFlags::FIXED, 8, 4096);
        let r = rep(&f, SenseKey::NoSense, SenseFlags::empty(), 5);
        assert!(check_data(&f, &r, Data::Frame(&[0u8; 1536])).is_ok());
        assert!(check_data(&f, &r, Data::Frame(&[0u8; 1024])).is_err());
    }

    #[test]
    fn sense_and_status_fields() {
        let q = req(Op::Status, ReqFlags::empty(), 0, 0);
        let good = rep(&q, SenseKey::NoSense, SenseFlags::empty(), 0);
        assert!(check_reply(&q, &good, 0).is_ok());
        let mut bad = good;
        bad.sflags = 0x01;
        assert!(check_reply(&q, &bad, 0).is_err(), "unknown sense flag");
        let mut bad = good;
        bad.sense = 0x9;
        assert!(check_reply(&q, &bad, 0).is_err(), "unknown sense key");
        let mut bad = good;
        bad.status.flags = 0x100;
        assert!(check_reply(&q, &bad, 0).is_err(), "unknown drive flag");
        let mut bad = good;
        bad.status.blksize = MAX_RECORD + 1;
        assert!(check_reply(&q, &bad, 0).is_err(), "block size beyond 24 bits");
        let mut bad = good;
        bad.status.minblk = 10;
        bad.status.maxblk = 5;
        assert!(check_reply(&q, &bad, 0).is_err(), "inverted block limits");
        let mut bad = good;
        bad.status.spare1 = 1;
        assert!(check_reply(&q, &bad, 0).is_err(), "spare field");
    }
}
