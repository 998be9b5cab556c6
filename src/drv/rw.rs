//! Read and write: st_read with read_tape, st_write with its synchronous
//! path at early warning, and the read buffer (flush_buffer, cross_eof).

use alloc::vec::Vec;

use super::{Payload, clamp_len, cost, write_req, Door, Drv, EomPolicy, Eof, Link, MtOp, Ready, Rw, FIXED_BUFFER_SIZE, FIXED_WRITE_CHUNK};
use crate::errno::{Errno, Result};
use crate::host::{UserIn, UserOut};
use crate::proto::{self, Op, Req, ReqFlags, SenseFlags, SenseKey, Space};

impl Drv {
    /// st_flush_write_buffer: all written data reached the drive.
    pub(super) fn flush_write_buffer(&mut self, l: &mut Link<'_>) -> Result<()> {
        self.write_behind_check(l, true)
    }

    /// flush_buffer: before an operation that moves the tape.
    pub(super) fn flush_buffer(&mut self, l: &mut Link<'_>, seek_next: bool) -> Result<()> {
        if self.drive.ready != Ready::Ready {
            return Ok(());
        }
        if self.drive.pos_unknown {
            return Err(Errno::Io);
        }
        if self.drive.ps.rw == Rw::Writing {
            return self.flush_write_buffer(l);
        }
        // What the drive read ahead and the user did not have.
        let unseen = self.ahead_settle(l)?;
        if self.drive.block_size == 0 {
            return if seek_next || unseen == 0 { Ok(()) } else { self.space_back_unseen(l, unseen) };
        }
        let bs = self.drive.block_size as usize;
        // Whole blocks read ahead that the user has not touched (reads are
        // whole blocks: the reply boundary checks it).
        let backspace = ((self.open.rbytes + self.open.rptr) / bs).saturating_sub(self.open.rptr.div_ceil(bs));
        self.open.rbuf = Vec::new();
        self.open.rbytes = 0;
        self.open.rptr = 0;
        let mut result = Ok(());
        if !seek_next {
            if self.drive.ps.eof == Eof::FmHit {
                result = self.cross_eof(l, false);
                if result.is_ok() {
                    self.drive.ps.eof = Eof::No;
                } else {
                    self.bump_file();
                }
            }
            if result.is_ok() && unseen > 0 {
                result = self.space_back_unseen(l, unseen);
            }
            if result.is_ok() && backspace > 0 {
                result = self.int_ioctl(l, MtOp::Bsr, backspace as i64);
            }
        } else if self.drive.ps.eof == Eof::FmHit {
            self.bump_file();
            self.drive.ps.eof = Eof::No;
        }
        result
    }

    /// cross_eof: step over a filemark without touching the counters.
    pub(super) fn cross_eof(&mut self, l: &mut Link<'_>, forward: bool) -> Result<()> {
        let mut req = Req::new(Op::Space);
        req.arg = Space::Filemarks as u64;
        req.count = if forward { 1 } else { -1 };
        let t = self.cfg.timeout;
        let d = self.call(l, req, Vec::new(), t)?;
        self.chk(&d.sense)
    }

    /// rw_checks: common to read and write.
    pub(super) fn rw_checks(&mut self, l: &mut Link<'_>, count: usize) -> Result<()> {
        if self.drive.ready != Ready::Ready {
            return Err(self.not_ready_err());
        }
        if self.drive.pos_unknown || !self.session_alive(l) {
            return Err(Errno::Io);
        }
        if count == 0 {
            return Ok(());
        }
        if count > proto::MAX_RECORD as usize && self.drive.block_size == 0 {
            return Err(Errno::Inval);
        }
        if self.drive.block_size == 0
            && self.drive.max_block > 0
            && (count < self.drive.min_block as usize || count > self.drive.max_block as usize)
        {
            return Err(Errno::Inval);
        }
        if self.cfg.opts.auto_lock && self.drive.door == Door::Unlocked && self.door_lock(l, true).is_ok() {
            self.drive.door = Door::Auto;
        }
        Ok(())
    }

    /// st_write. Fixed-block writes go out in chunks of at most
    /// [`FIXED_WRITE_CHUNK`] bytes; a write that ends early returns the bytes
    /// written, as st does.
    pub fn write(&mut self, l: &mut Link<'_>, src: &mut dyn UserIn, count: usize, window: usize) -> Result<usize> {
        self.rw_checks(l, count)?;
        if count == 0 {
            return Ok(0);
        }
        let bs = self.drive.block_size as usize;
        if bs != 0 && count % bs != 0 {
            return Err(Errno::Inval);
        }
        if self.open.write_prot {
            return Err(Errno::Acces);
        }
        if self.drive.ps.rw == Rw::Reading {
            self.flush_buffer(l, false)?;
            self.drive.ps.rw = Rw::Writing;
        } else if self.drive.ps.rw != Rw::Writing && self.drive.ps.drv_file == 0 && self.drive.ps.drv_block == 0 {
            self.set_mode_densblk(l)?;
            if let Some(on) = self.cfg.default_compression {
                if !self.drive.compression_changed {
                    // st only warns when the default cannot be set.
                    let _ = self.compression(l, on);
                }
            }
        }
        let chunk = FIXED_WRITE_CHUNK.checked_div(bs).map_or(count, |n| n.max(1) * bs);
        let first = write_req(count.min(chunk), bs)?;
        let behind = self.can_write_behind(cost(&first), count.min(chunk), window);
        match self.write_behind_check(l, !behind) {
            Ok(()) => {}
            Err(Errno::NoSpc) => self.drive.ps.eof = Eof::EomOk,
            Err(Errno::Intr) => return Err(Errno::Intr),
            Err(_) => self.drive.ps.eof = Eof::EomError,
        }
        if self.drive.ps.eof == Eof::EomOk {
            return match self.cfg.policy.eom {
                EomPolicy::Enospc => {
                    self.drive.ps.eof = Eof::Eod1;
                    Err(Errno::NoSpc)
                }
                EomPolicy::Eio => Err(Errno::Io),
            };
        } else if self.drive.ps.eof == Eof::EomError {
            return Err(Errno::Io);
        }
        self.drive.ps.rw = Rw::Writing;
        // NetBSD's ST_WRITTEN (and a write ends ST_FM_WRITTEN).
        self.drive.eod = super::state::EodFlags { written: true, fm_written: false };
        // The one write st lets through after ENOSPC: the drive is told, so
        // that it may keep its early-warning zone for what was in flight.
        let after_enospc = self.drive.ps.eof == Eof::Eod1;
        let partial = |done: usize, e: Errno| if done > 0 { Ok(done) } else { Err(e) };
        let mut done = 0usize;
        while done < count {
            let n = (count - done).min(chunk);
            let mut req = write_req(n, bs)?;
            if after_enospc {
                req.flags |= ReqFlags::AFTER_ENOSPC.bits();
            }
            let c = cost(&req);
            if self.drive.ps.eof < Eof::EomOk && self.can_write_behind(c, n, window) {
                if let Err(e) = self.submit_behind(l, req, src, done, n, c) {
                    return partial(done, e);
                }
            } else {
                if let Err(e) = self.drain(l) {
                    return partial(done, e);
                }
                let data = match self.stage(l, src, done, n) {
                    Ok(d) => d,
                    Err(e) => return partial(done, e),
                };
                match self.write_sync(l, req, data) {
                    Ok(None) => {}
                    Ok(Some(Ok(w))) => return Ok(done + w),
                    Ok(Some(Err(e))) | Err(e) => return partial(done, e),
                }
            }
            done += n;
        }
        if self.drive.ps.eof == Eof::Eod1 {
            self.drive.ps.eof = Eof::EomOk;
        } else if self.drive.ps.eof != Eof::EomOk {
            self.drive.ps.eof = Eof::No;
        }
        Ok(count)
    }

    /// The synchronous write of st_write, for one request. Returns None when
    /// it completed normally, Some(result) when the write ends here: the
    /// bytes of this request that were written, or an error.
    pub(super) fn write_sync(&mut self, l: &mut Link<'_>, req: Req, data: Payload) -> Result<Option<Result<usize>>> {
        let bs = self.drive.block_size as usize;
        let total = data.len();
        let blks = total.checked_div(bs).unwrap_or(1);
        let d = self.call_with(l, req, data, self.cfg.timeout)?;
        let s = d.sense;
        if self.chk(&s).is_ok() {
            self.advance_block(blks as i64);
            return Ok(None);
        }
        if !s.flags.contains(SenseFlags::EOM) {
            self.drive.ps.drv_block = -1;
            return Ok(Some(Err(Errno::Io)));
        }
        // End of medium: the residue (within the request, checked at the
        // reply boundary) says what was not written.
        let mut undone = u64::try_from(s.resid).unwrap_or(0);
        if bs != 0 {
            undone = undone.saturating_mul(bs as u64);
        }
        let undone = usize::try_from(undone).unwrap_or(usize::MAX);
        if undone > total {
            // EOM for data written earlier: st's "EOM with lost data".
            self.drive.ps.eof = Eof::EomError;
            self.drive.ps.drv_block = -1;
            return Ok(Some(Err(Errno::Io)));
        }
        let written = total - undone;
        self.advance_block(written.checked_div(bs).map_or(i64::from(written > 0), |n| n as i64));
        if self.cfg.policy.eom == EomPolicy::Eio && !self.cfg.opts.ewarn && written == total {
            // NetBSD without MTEWARN does not report early warning.
            return Ok(None);
        }
        self.drive.ps.eof = Eof::EomOk;
        Ok(Some(if written > 0 {
            Ok(written)
        } else if self.cfg.policy.eom == EomPolicy::Eio {
            Err(Errno::Io)
        } else {
            Err(Errno::NoSpc)
        }))
    }

    /// read_tape: one READ command into the read buffer. Ok(true) when a
    /// special condition (filemark, end of data) ended the transfer.
    pub(super) fn read_tape(&mut self, l: &mut Link<'_>, count: usize) -> Result<bool> {
        if count == 0 {
            return Ok(false);
        }
        if self.drive.ps.eof == Eof::FmHit {
            return Ok(true);
        }
        let bs = self.drive.block_size as usize;
        let (blks, bytes) = if bs == 0 {
            (1usize, count.min(proto::MAX_RECORD as usize))
        } else if self.cfg.opts.read_ahead {
            let blks = (FIXED_BUFFER_SIZE.max(bs) / bs).max(1);
            (blks, blks * bs)
        } else {
            let bytes = count.min(FIXED_BUFFER_SIZE.max(bs));
            let blks = bytes / bs;
            (blks, blks * bs)
        };
        let mut req = Req::new(Op::Read);
        req.length = bytes as u64;
        let mut rf = ReqFlags::empty();
        if bs != 0 {
            rf |= ReqFlags::FIXED;
            req.count = i32::try_from(blks).map_err(|_| Errno::Inval)?;
        } else if self.cfg.opts.sili {
            rf |= ReqFlags::SILI;
        }
        req.flags = rf.bits();
        let d = self.call(l, req, Vec::new(), self.cfg.timeout)?;
        self.open.rbuf = d.data;
        self.open.rptr = 0;
        self.drive.ps.at_sm = false;
        let got = self.open.rbuf.len();
        let s = d.sense;
        let mut special = false;
        if self.chk(&s).is_err() {
            special = true;
            let mut flags = s.flags;
            if s.key == SenseKey::BlankCheck {
                flags.remove(SenseFlags::ILI);
            }
            let mut nbytes: i64;
            if !flags.is_empty() {
                let mut transfer = s.resid;
                if s.key == SenseKey::MediumError {
                    if bs == 0 {
                        transfer = bytes as i64;
                    }
                    flags.remove(SenseFlags::ILI);
                }
                if flags.contains(SenseFlags::ILI) {
                    if bs == 0 && transfer < 0 {
                        if self.cfg.policy.short_read_counts {
                            self.advance_block(1);
                        }
                        self.open.rbytes = 0;
                        self.open.rbuf = Vec::new();
                        let len = (bytes as i64).saturating_sub(transfer);
                        self.open.ahead.largest = self.open.ahead.largest.max(usize::try_from(len).unwrap_or(0));
                        return Err(self.cfg.policy.short_read);
                    } else if bs == 0 {
                        nbytes = (bytes as i64).saturating_sub(transfer);
                    } else {
                        if transfer == blks as i64 {
                            self.advance_block(1);
                            self.open.rbytes = 0;
                            let _ = self.int_ioctl(l, MtOp::Bsr, 1);
                            return Err(Errno::Io);
                        }
                        nbytes = (blks as i64).saturating_sub(transfer).saturating_mul(bs as i64);
                        self.advance_block(1);
                        self.open.rbytes = clamp_len(nbytes, got);
                        if self.int_ioctl(l, MtOp::Bsr, 1).is_err() {
                            return Err(Errno::Io);
                        }
                    }
                } else if flags.contains(SenseFlags::FMK) {
                    self.drive.ps.eof = if self.drive.ps.eof != Eof::FmHit { Eof::FmHit } else { Eof::Eod2 };
                    nbytes = if bs == 0 { 0 } else { (bytes as i64).saturating_sub(transfer.saturating_mul(bs as i64)) };
                } else if flags.contains(SenseFlags::EOM) {
                    self.drive.ps.eof = if self.drive.ps.eof == Eof::Fm { Eof::Eod1 } else { Eof::EomOk };
                    let undone = if bs == 0 { transfer } else { transfer.saturating_mul(bs as i64) };
                    nbytes = (bytes as i64).saturating_sub(undone);
                } else {
                    nbytes = 0;
                }
            } else {
                self.drive.ps.drv_block = -1;
                nbytes = 0;
                if self.drive.ps.eof == Eof::Fm && s.key == SenseKey::BlankCheck {
                    self.drive.ps.eof = Eof::Eod2;
                } else {
                    self.open.rbytes = 0;
                    self.open.rbuf = Vec::new();
                    return Err(Errno::Io);
                }
            }
            if nbytes < 0 {
                nbytes = 0;
            }
            self.open.rbytes = clamp_len(nbytes, got);
        } else {
            self.open.rbytes = if bs == 0 { got } else { clamp_len(bytes as i64, got) };
        }
        self.advance_block(self.open.rbytes.checked_div(bs).map_or(1, |n| n as i64));
        if bs == 0 {
            self.open.ahead.largest = self.open.ahead.largest.max(self.open.rbytes);
        }
        Ok(special)
    }

    /// st_read. Served from the read-ahead when it holds records (see
    /// [`super::ahead`]); `window` bounds what the read-ahead may hold.
    pub fn read(&mut self, l: &mut Link<'_>, out: &mut dyn UserOut, count: usize, window: usize) -> Result<usize> {
        self.rw_checks(l, count)?;
        if count == 0 {
            return Ok(0);
        }
        let bs = self.drive.block_size as usize;
        if bs != 0 && count % bs != 0 && !self.cfg.opts.read_ahead {
            return Err(Errno::Inval);
        }
        if self.drive.ps.rw == Rw::Writing {
            self.flush_buffer(l, false)?;
            self.drive.ps.rw = Rw::Reading;
        }
        if self.open.rbytes == 0 && self.drive.ps.eof >= Eof::Eod1 {
            if self.drive.ps.eof < Eof::Eod {
                self.drive.ps.eof = if self.drive.ps.eof == Eof::Eod1 { Eof::Eod2 } else { Eof::Eod };
                return Ok(0);
            }
            return Err(Errno::Io);
        }
        self.drive.ps.rw = Rw::Reading;
        // NetBSD's st: a read leaves no written data to end.
        self.drive.eod.written = false;
        if bs == 0 && self.open.rbytes == 0 {
            if let Some(n) = self.ahead_read(l, out, count)? {
                self.ahead_refill(l, window);
                return Ok(n);
            }
        }
        let mut total = 0usize;
        let mut special = false;
        while total < count && !special {
            if self.open.rbytes == 0 && !(bs != 0 && self.ahead_fill(l)?) {
                special = self.read_tape(l, count - total)?;
            }
            if self.open.rbytes > 0 {
                let transfer = self.open.rbytes.min(count - total);
                let chunk = self.open.rbuf.get(self.open.rptr..self.open.rptr + transfer).ok_or(Errno::Io)?;
                out.write(total, chunk)?;
                self.open.rptr += transfer;
                self.open.rbytes -= transfer;
                total += transfer;
            }
            if self.open.rbytes == 0 {
                let used = core::mem::take(&mut self.open.rbuf);
                self.recycle(l, used);
                self.open.rptr = 0;
            }
            if bs == 0 {
                break;
            }
        }
        if total == 0 {
            match self.drive.ps.eof {
                Eof::FmHit => {
                    self.drive.ps.eof = Eof::Fm;
                    self.bump_file();
                }
                Eof::Eod1 => {
                    self.drive.ps.eof = Eof::Eod2;
                    self.bump_file();
                }
                Eof::Eod2 => self.drive.ps.eof = Eof::Eod,
                _ => {}
            }
        } else if self.drive.ps.eof == Eof::Fm {
            self.drive.ps.eof = Eof::No;
        }
        if total > 0 && self.drive.ps.eof == Eof::No {
            // A record (a short one reports ILI, nothing else) while
            // reading sequentially: the drive reads ahead.
            self.open.ahead.stopped = false;
            self.ahead_refill(l, window);
        }
        Ok(total)
    }
}
