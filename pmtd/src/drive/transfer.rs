//! The data commands: WRITE (one record, fixed blocks, or a batch of
//! records at once), WRITE FILEMARKS, READ, and the read-ahead READRUN.

use pmt::proto::{self, asc, Op, Req, ReqFlags, SenseFlags, SenseKey, REP_SIZE};
use tracing::debug;

use super::sense::{failure, Sense};
use super::Drive;
use crate::media::{Medium, MediumError, Object, Volumes, Written};

impl<C: Volumes> Drive<C> {
    /// Executes consecutive WRITE requests of variable-length records at
    /// once: the medium gets them together (an image writes them with one
    /// system call) and each still gets its own reply, the one `execute`
    /// would have given. Anything else goes through `execute` one by one.
    pub fn execute_writes(&mut self, reqs: &[(Req, &[u8])], out: &mut Vec<u8>) {
        let plain = |(req, data): &(Req, &[u8])| {
            req.op() == Some(Op::Write)
                && !req.flags().intersects(ReqFlags::FIXED | ReqFlags::AFTER_ENOSPC)
                && !data.is_empty()
                && data.len() <= self.cfg.max_block as usize
                && data.len() >= self.cfg.min_block as usize
        };
        if reqs.len() < 2 || self.blksize != 0 || self.readonly() || self.tape.is_none() || !reqs.iter().all(plain) {
            for (req, data) in reqs {
                self.execute(req, data, out);
            }
            return;
        }
        let datas: Vec<&[u8]> = reqs.iter().map(|(_, d)| *d).collect();
        let results = self.tape.as_mut().map(|t| t.write_records(&datas)).unwrap_or_default();
        for ((req, data), r) in reqs.iter().zip(results) {
            let start = out.len();
            out.resize(start + REP_SIZE, 0);
            let sense = match r {
                Ok(Written { early_warning }) => self.written(early_warning),
                Err(e) => self.write_failed(&e, data.len() as i64),
            };
            self.finish(req, sense, start, out);
        }
    }

    /// A write or filemark went through; early warning if it ended past it.
    fn written(&mut self, early_warning: bool) -> Sense {
        self.past_ew |= early_warning;
        if early_warning {
            Sense::early_warning()
        } else {
            Sense::GOOD
        }
    }

    /// A write failed with `e`, `left` (bytes, or blocks) not written: the
    /// end of medium, or a failure with its residue.
    fn write_failed(&mut self, e: &MediumError, left: i64) -> Sense {
        if e.is_overflow() {
            self.past_ew = true;
            return Sense::overflow(left);
        }
        let mut s = failure(e, asc::WRITE_ERROR);
        if s.key == SenseKey::MediumError {
            s.resid = left;
        }
        s
    }

    pub(super) fn write(&mut self, req: &Req, data: &[u8]) -> Sense {
        if self.readonly() {
            return Sense::protected();
        }
        let fixed = req.flags().contains(ReqFlags::FIXED);
        if self.cfg.refuse_after_enospc && self.past_ew && req.flags().contains(ReqFlags::AFTER_ENOSPC) {
            // The program was told of the end and writes again (dump's
            // retry of the record refused with ENOSPC): refused whole, so
            // that it goes on the next volume only.
            debug!("a record written after ENOSPC, past early warning: refused");
            let left = if fixed { i64::from(req.count.max(0)) } else { data.len() as i64 };
            return Sense::overflow(left);
        }
        let (size, count) = if fixed {
            if self.blksize == 0 || req.count < 0 || data.len() != self.blksize as usize * req.count as usize {
                return Sense::illegal();
            }
            (self.blksize as usize, req.count as usize)
        } else {
            if self.blksize != 0 || data.is_empty() || data.len() > self.cfg.max_block as usize || data.len() < self.cfg.min_block as usize
            {
                return Sense::illegal();
            }
            (data.len(), 1)
        };
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let mut past_ew = false;
        for (i, chunk) in data.chunks(size).take(count).enumerate() {
            let left = if fixed { (count - i) as i64 } else { data.len() as i64 };
            match t.write_record(chunk) {
                Ok(Written { early_warning }) => past_ew |= early_warning,
                Err(e) => return self.write_failed(&e, left),
            }
        }
        self.written(past_ew)
    }

    pub(super) fn wfm(&mut self, req: &Req) -> Sense {
        if req.flags().contains(ReqFlags::SETMARK) {
            return Sense::illegal();
        }
        if self.readonly() {
            return Sense::protected();
        }
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let n = req.count.max(0);
        let mut past_ew = false;
        for i in 0..n {
            match t.write_mark() {
                Ok(Written { early_warning }) => past_ew |= early_warning,
                Err(e) if e.is_overflow() => return self.write_failed(&e, i64::from(n - i)),
                Err(e) => return failure(&e, asc::WRITE_ERROR),
            }
        }
        // A filemark is a durability point (and WFM 0 flushes).
        if let Err(e) = t.sync() {
            return failure(&e, asc::WRITE_ERROR);
        }
        self.written(past_ew)
    }

    /// READRUN: whole records (or blocks) ahead, stopping before anything
    /// else; NO SENSE with the residue counting what was not returned. On
    /// an error the medium has not moved and nothing is returned.
    pub(super) fn read_run(&mut self, req: &Req, out: &mut Vec<u8>) -> Sense {
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let Ok(count) = usize::try_from(req.count) else {
            return Sense::illegal();
        };
        let length = usize::try_from(req.length).unwrap_or(usize::MAX);
        let fixed = req.flags().contains(ReqFlags::FIXED);
        let bs = self.blksize as usize;
        if count == 0 || (fixed && (bs == 0 || length != bs.saturating_mul(count))) {
            return Sense::illegal();
        }
        let (budget, exact) = if fixed { (count.saturating_mul(proto::run::frame_len(bs)), Some(bs)) } else { (length, None) };
        let at = out.len();
        match t.read_run(out, count, budget, exact) {
            Ok(n) => {
                if fixed {
                    // The blocks alone, one after the other, as a fixed READ.
                    let end = proto::run::unframe_fixed(out, at, n, bs);
                    out.truncate(end);
                }
                Sense { resid: (count - n) as i64, ..Sense::GOOD }
            }
            Err(e) => {
                out.truncate(at);
                failure(&e, asc::READ_ERROR)
            }
        }
    }

    /// READRUN of variable records into the driver's data area: straight
    /// from the image when the medium can, otherwise read and copied. The
    /// sense and the bytes put in `buf`.
    pub(super) fn read_run_area(&mut self, req: &Req, buf: &mut [u8]) -> (Sense, usize) {
        let Some(t) = self.tape.as_mut() else {
            return (Sense::no_medium(), 0);
        };
        let Ok(count) = usize::try_from(req.count) else {
            return (Sense::illegal(), 0);
        };
        if count == 0 || req.flags().contains(ReqFlags::FIXED) {
            return (Sense::illegal(), 0);
        }
        let r = match t.read_run_into(buf, count, None) {
            Some(r) => r,
            None => {
                self.scratch.clear();
                match t.read_run(&mut self.scratch, count, buf.len(), None) {
                    Ok(n) => match buf.get_mut(..self.scratch.len()) {
                        Some(dst) => {
                            dst.copy_from_slice(&self.scratch);
                            Ok((n, self.scratch.len()))
                        }
                        None => Ok((0, 0)),
                    },
                    Err(e) => Err(e),
                }
            }
        };
        match r {
            Ok((n, bytes)) => (Sense { resid: (count - n) as i64, ..Sense::GOOD }, bytes),
            Err(e) => (failure(&e, asc::READ_ERROR), 0),
        }
    }

    pub(super) fn read(&mut self, req: &Req, out: &mut Vec<u8>) -> Sense {
        let Some(t) = self.tape.as_mut() else {
            return Sense::no_medium();
        };
        let fixed = req.flags().contains(ReqFlags::FIXED);
        let want = usize::try_from(req.length).unwrap_or(usize::MAX).min(proto::MAX_RECORD as usize);
        if fixed {
            let bs = self.blksize as usize;
            if bs == 0 || req.count < 0 {
                return Sense::illegal();
            }
            let count = (req.count as usize).min(want / bs);
            for i in 0..count {
                let left = (count - i) as i64;
                let at = out.len();
                match t.read(out, bs) {
                    Ok(Object::Eod) => return Sense::eod(left),
                    Ok(Object::Mark) => return Sense::filemark(left),
                    Ok(Object::Bad) => return Sense::medium_error(asc::READ_ERROR),
                    Ok(Object::Record(len)) if len != bs => {
                        // A block of the wrong length is passed over and not
                        // returned; the residue counts it as not transferred.
                        out.truncate(at);
                        return Sense::new(SenseKey::NoSense, SenseFlags::ILI, 0, 0, left);
                    }
                    Ok(Object::Record(_)) => {}
                    Err(e) => {
                        out.truncate(at);
                        return failure(&e, asc::READ_ERROR);
                    }
                }
            }
            return Sense::GOOD;
        }
        let at = out.len();
        let len = match t.read(out, want) {
            Ok(Object::Eod) => return Sense::eod(want as i64),
            Ok(Object::Mark) => return Sense::filemark(want as i64),
            Ok(Object::Bad) => return Sense::medium_error(asc::READ_ERROR),
            Ok(Object::Record(len)) => len,
            Err(e) => {
                out.truncate(at);
                return failure(&e, asc::READ_ERROR);
            }
        };
        if len == want || (len < want && req.flags().contains(ReqFlags::SILI)) {
            Sense::GOOD
        } else {
            Sense::new(SenseKey::NoSense, SenseFlags::ILI, 0, 0, want as i64 - len as i64)
        }
    }
}
