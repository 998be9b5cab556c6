//! Read-ahead, as a streaming drive's read buffer does it.
//!
//! Once the master reads sequentially (a plain READ returned a whole
//! record), the engine asks the drive for runs of the following records
//! (READRUN) and keeps several in flight, within the unit's window. A run
//! never crosses a filemark, never truncates a record and reports no
//! condition: it stops before anything that is not a plain record, so every
//! filemark, end of data and error is still met by a plain READ, exactly
//! when and as st reports it. Reads are served from the runs without a round
//! trip; a run that comes back empty stops the read-ahead until the next
//! plain read of a record.
//!
//! Any other operation first settles: the runs in flight are waited for, and
//! the drive is spaced back over every record it read ahead that the user has
//! not had (never over a filemark: runs do not cross them), so the position
//! and everything the daemon stores are exactly as without read-ahead. File
//! and block numbers count only records the user has had.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::{Drv, Eof, Link, MtOp, Rw};
use super::Outcome;
use crate::area::Slice;
use crate::chan::Kind;
use crate::errno::{Errno, Result};
use crate::host::UserOut;
use crate::proto::{self, Op, Req, ReqFlags, SenseKey};

/// Runs in flight at most.
pub const RUNS: usize = 4;

/// Where a run's data is.
#[derive(Debug)]
pub(super) enum RunData {
    /// In a buffer the reply frame carried: the records, framed (variable
    /// blocks) or the blocks (fixed).
    Mem(Vec<u8>),
    /// In the data area (variable blocks): `len` bytes of framed records
    /// at the start of `slice`, which the run holds until it is used up.
    Area {
        /// The slice taken for the run.
        slice: Slice,
        /// Bytes the daemon put there.
        len: usize,
    },
}

impl RunData {
    fn len(&self) -> usize {
        match self {
            RunData::Mem(v) => v.len(),
            RunData::Area { len, .. } => *len,
        }
    }
}

/// A completed run: its data and what of it the user has not had.
#[derive(Debug)]
pub(super) struct Run {
    /// The records.
    pub data: RunData,
    /// Where the next record starts.
    pub off: usize,
    /// Records (or blocks) left.
    pub left: u64,
}

/// The read-ahead state of a unit.
#[derive(Debug, Default)]
pub(super) struct Ahead {
    /// Completed runs not yet consumed, oldest first.
    pub runs: VecDeque<Run>,
    /// Runs in flight, and the bytes they may bring.
    pub inflight: usize,
    pub inflight_bytes: usize,
    /// A run came back empty: no new runs until a plain read of a record.
    pub stopped: bool,
    /// The drive does not read ahead (it refused a run).
    pub unsupported: bool,
    /// The largest record read so far (a run must hold at least one).
    pub largest: usize,
}

impl Ahead {
    /// Bytes held in completed runs.
    fn buffered(&self) -> usize {
        self.runs.iter().map(|r| r.data.len()).sum()
    }

    /// Records (or blocks) read ahead and not consumed, in completed runs.
    fn unread(&self) -> u64 {
        self.runs.iter().map(|r| r.left).sum()
    }
}

impl Drv {
    /// A run completed (reaped from the ring); `area`: the slice holding
    /// its data and the slice taken for it, if it was read into the area.
    pub(super) fn ahead_done(&mut self, l: &Link<'_>, req: &Req, outcome: Outcome, data: Vec<u8>, area: Option<(Slice, Slice)>) {
        let run_data = match area {
            Some((got, whole)) => RunData::Area { slice: whole, len: got.len },
            None => RunData::Mem(data),
        };
        let kept = self.ahead_keep(req, outcome, run_data);
        if let Some(d) = kept {
            self.run_done(l, d);
        }
    }

    /// Keeps a completed run's data; returns it if it is not kept.
    fn ahead_keep(&mut self, req: &Req, outcome: Outcome, data: RunData) -> Option<RunData> {
        let a = &mut self.open.ahead;
        a.inflight = a.inflight.saturating_sub(1);
        a.inflight_bytes = a.inflight_bytes.saturating_sub(req.length as usize);
        let rep = match outcome {
            Outcome::Reply(rep) => rep,
            Outcome::Lost => {
                // The daemon is gone (the session is lost with it).
                a.stopped = true;
                return Some(data);
            }
        };
        self.drive.room = rep.status.room;
        if rep.sense != SenseKey::NoSense as u8 {
            // The drive did not move: the plain read meets what it met.
            a.stopped = true;
            a.unsupported |= rep.sense == SenseKey::IllegalRequest as u8;
            return Some(data);
        }
        // Within 0..=count (the reply boundary).
        let records = u64::try_from(i64::from(req.count) - rep.resid).unwrap_or(0);
        if records == 0 {
            a.stopped = true;
            return Some(data);
        }
        // The queue was reserved when the read-ahead began; growing it is
        // an allocation outside the lock.
        if a.runs.try_reserve(1).is_ok() {
            a.runs.push_back(Run { data, off: 0, left: records });
            None
        } else {
            // Out of memory: the drive is past records that cannot be
            // delivered, so the position is lost (EIO until a rewind), as
            // after a command that failed half way.
            a.stopped = true;
            self.drive.pos_unknown = true;
            Some(data)
        }
    }

    /// A run's data is done with: its buffer goes back to the channel's
    /// pool, its area slice back to the area.
    fn run_done(&self, l: &Link<'_>, d: RunData) {
        match d {
            RunData::Mem(v) => self.recycle(l, v),
            RunData::Area { slice, .. } => l.chan.with(|c| c.release_area(slice)),
        }
    }

    /// Issues runs while fewer than [`RUNS`] are in flight and they fit the
    /// window with what is held. Never waits.
    pub(super) fn ahead_refill(&mut self, l: &mut Link<'_>, window: usize) {
        let a = &self.open.ahead;
        if !self.cfg.opts.read_ahead || a.stopped || a.unsupported || self.drive.ps.eof != Eof::No || self.drive.ps.rw != Rw::Reading {
            return;
        }
        if self.open.ahead.runs.capacity() < RUNS && self.open.ahead.runs.try_reserve(RUNS).is_err() {
            return;
        }
        let bs = self.drive.block_size as usize;
        // A quarter of the window (runs of more than 16 MiB gain nothing),
        // and at least the largest record so far.
        let budget = (window / RUNS).min(proto::MAX_RECORD as usize).max(proto::run::frame_len(self.open.ahead.largest)).max(bs);
        let mut sent = false;
        while self.open.ahead.inflight < RUNS {
            let held = self.open.ahead.inflight_bytes + self.open.ahead.buffered() + self.open.rbytes;
            // Within the window; one run at least, even if a record is larger.
            if held + budget > window && held > 0 {
                break;
            }
            let mut req = Req::new(Op::ReadRun);
            if let Some(blocks) = budget.checked_div(bs) {
                req.flags = ReqFlags::FIXED.bits();
                req.count = i32::try_from(blocks.max(1)).unwrap_or(i32::MAX);
                req.length = (req.count as u64) * bs as u64;
            } else {
                // Every record takes at least one data byte and its framing.
                req.count = i32::try_from(budget / (proto::run::OVERHEAD + 1)).unwrap_or(i32::MAX).max(1);
                req.length = budget as u64;
            }
            let len = req.length as usize;
            // Variable blocks go straight into the data area when there is
            // one (the daemon reads into it; the user's read copies out of
            // it); fixed blocks, which st buffers, come in the frame.
            let r = l.chan.with(|c| {
                if bs == 0 && c.area_size() >= len {
                    let s = if c.has_area_space(len) { c.take_area(len) } else { None }?;
                    let r = c.submit_in_area(req, s, Kind::Ahead);
                    if r.is_err() {
                        c.release_area(s);
                    }
                    Some(r)
                } else if c.has_space(0) {
                    Some(c.submit(req, &mut Vec::new(), Kind::Ahead))
                } else {
                    None
                }
            });
            if !matches!(r, Some(Ok(_))) {
                break;
            }
            self.open.ahead.inflight += 1;
            self.open.ahead.inflight_bytes += len;
            sent = true;
        }
        if sent {
            l.host.wake_slave();
        }
    }

    /// The next completed run with records, waiting for one in flight.
    /// None when nothing is read ahead.
    pub(super) fn ahead_next(&mut self, l: &mut Link<'_>) -> Result<Option<Run>> {
        loop {
            if let Some(r) = self.open.ahead.runs.pop_front() {
                return Ok(Some(r));
            }
            if self.open.ahead.inflight == 0 {
                return Ok(None);
            }
            self.reap(l, None);
            if !self.open.ahead.runs.is_empty() || self.open.ahead.inflight == 0 {
                continue;
            }
            self.wait_front(l)?;
        }
    }

    /// st_read of one record from the runs (variable blocks): Ok(None) when
    /// nothing is read ahead.
    pub(super) fn ahead_read(&mut self, l: &mut Link<'_>, out: &mut dyn UserOut, count: usize) -> Result<Option<usize>> {
        let Some(run) = self.ahead_next(l)? else {
            return Ok(None);
        };
        // The record at the run's position: checked whole when the run
        // arrived (the reply boundary); a run in the area is read word by
        // word again, since the daemon may have changed it since.
        let found = match &run.data {
            RunData::Mem(v) => proto::run::first(v.get(run.off..).unwrap_or_default()).map(|(d, f)| (run.off + 4, d.len(), f)),
            RunData::Area { slice, len } => {
                let current = l.chan.with(|c| c.area_current(slice));
                let at = slice.from(run.off);
                let rest = len.saturating_sub(run.off);
                let area = l.chan.area();
                current
                    .then(|| proto::run::first_at(rest, &mut |o, d| area.read(at.off.saturating_add(o), d)))
                    .flatten()
                    .map(|(o, n, f)| (run.off + o, n, f))
            }
        };
        let Some((data_at, len, frame)) = found else {
            self.run_done(l, run.data);
            self.drive.pos_unknown = true;
            return Err(Errno::Io);
        };
        // Past the record; a run used up goes back.
        let consume = |d: &mut Drv, l: &mut Link<'_>, mut run: Run, counted: bool| {
            run.off += frame;
            run.left = run.left.saturating_sub(1);
            if counted {
                d.advance_block(1);
            }
            if run.left > 0 {
                d.open.ahead.runs.push_front(run);
            } else {
                d.run_done(l, run.data);
            }
        };
        if len > count {
            // As st: the record is consumed and the buffer was too small.
            let counted = self.cfg.policy.short_read_counts;
            consume(self, l, run, counted);
            return Err(self.cfg.policy.short_read);
        }
        let copied = match &run.data {
            RunData::Mem(v) => v.get(data_at..data_at + len).ok_or(Errno::Io).and_then(|d| out.write(0, d)),
            RunData::Area { slice, .. } => out.write_from_area(0, l.chan.area(), slice.off + data_at, len),
        };
        if let Err(e) = copied {
            // Not delivered: it stays for the next read.
            self.open.ahead.runs.push_front(run);
            return Err(e);
        }
        consume(self, l, run, true);
        if self.drive.ps.eof == Eof::Fm {
            self.drive.ps.eof = Eof::No;
        }
        Ok(Some(len))
    }

    /// Fixed blocks: moves the next run into st's read buffer. False when
    /// nothing is read ahead.
    pub(super) fn ahead_fill(&mut self, l: &mut Link<'_>) -> Result<bool> {
        let Some(run) = self.ahead_next(l)? else {
            return Ok(false);
        };
        // Fixed-block runs come in the frame (ahead_refill).
        let RunData::Mem(data) = run.data else {
            self.run_done(l, run.data);
            self.drive.pos_unknown = true;
            return Err(Errno::Io);
        };
        let old = core::mem::replace(&mut self.open.rbuf, data);
        self.recycle(l, old);
        self.open.rptr = 0;
        self.open.rbytes = self.open.rbuf.len();
        self.advance_block(run.left as i64);
        Ok(true)
    }

    /// Settles the read-ahead: waits for the runs in flight and forgets what
    /// they hold. Returns the records (or blocks) the drive read ahead that
    /// the user did not have: the caller spaces back over them, unless the
    /// next motion is absolute.
    pub(super) fn ahead_settle(&mut self, l: &mut Link<'_>) -> Result<u64> {
        while self.open.ahead.inflight > 0 {
            self.reap(l, None);
            if self.open.ahead.inflight == 0 {
                break;
            }
            self.wait_front(l)?;
        }
        let unread = self.open.ahead.unread();
        // The buffers are freed here (no lock is held), the slices given back.
        while let Some(r) = self.open.ahead.runs.pop_front() {
            self.run_done(l, r.data);
        }
        self.open.ahead.stopped = false;
        Ok(unread)
    }

    /// Settles the read-ahead and spaces back over what the user did not have.
    pub(super) fn ahead_settle_back(&mut self, l: &mut Link<'_>) -> Result<()> {
        let unseen = self.ahead_settle(l)?;
        self.space_back_unseen(l, unseen)
    }

    /// Spaces the drive back over `n` records (or blocks) it read that the
    /// user did not have: the block number, which counts only what the user
    /// had, does not change. Never over a filemark: runs do not cross them.
    pub(super) fn space_back_unseen(&mut self, l: &mut Link<'_>, mut n: u64) -> Result<()> {
        let block = self.drive.ps.drv_block;
        while n > 0 {
            let k = n.min(super::MAX_MOTION as u64);
            self.int_ioctl(l, MtOp::Bsr, k as i64)?;
            n -= k;
        }
        self.drive.ps.drv_block = block;
        Ok(())
    }

    /// Forgets the read-ahead state (a new session), giving back what the
    /// runs held.
    pub(super) fn ahead_reset(&mut self, l: &Link<'_>) {
        while let Some(r) = self.open.ahead.runs.pop_front() {
            self.run_done(l, r.data);
        }
        self.open.ahead = Ahead::default();
    }
}
