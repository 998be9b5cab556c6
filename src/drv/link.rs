//! The transport to the drive: synchronous commands (st_do_scsi), the
//! write-behind queue and its results (write_behind_check), and how a reply's
//! sense becomes a result (st_chk_result).

use alloc::vec::Vec;

use super::{cost, Done, Drv, Eof, Link, Payload, Sense};
use super::Outcome;
use crate::chan::Kind;
use crate::errno::{Errno, Result};
use crate::host::{Sleep, UserIn, Wait, WaitError};
use crate::proto::{self, Req, ReqFlags, SenseFlags, SenseKey};

impl Drv {
    pub(super) fn session_alive(&self, l: &Link<'_>) -> bool {
        match self.drive.session {
            Some(g) => l.chan.with(|c| c.slave_present() && c.generation() == g),
            None => false,
        }
    }

    /// Pops completed entries from the front of the ring without waiting and
    /// processes write-behind results. Returns the entry with id `want` if
    /// it is among them. Data of other entries is freed here, unlocked.
    pub(super) fn reap(&mut self, l: &Link<'_>, want: Option<u64>) -> Option<(Outcome, Vec<u8>)> {
        loop {
            let e = l.chan.with(|c| c.pop_done())?;
            let outcome = e.outcome().unwrap_or(Outcome::Lost);
            // Write data in the area is done with once replied; a run's
            // stays until the user has had its records.
            if e.kind != Kind::Ahead {
                if let Some(s) = e.area {
                    l.chan.with(|c| c.release_area(s));
                }
            }
            match e.kind {
                Kind::Behind => self.behind_done(&e.req, outcome),
                Kind::Ahead => {
                    let area = e.area_data().zip(e.area);
                    self.ahead_done(l, &e.req, outcome, e.data, area)
                }
                Kind::Orphan => {}
                Kind::Sync => {
                    if Some(e.req.hdr.id) == want {
                        return Some((outcome, e.data));
                    }
                }
            }
        }
    }

    /// Stages `n` bytes of the user's write from `at` for a request: in the
    /// data area when the daemon mapped one that holds them and has room
    /// now (one copy, straight into the area), otherwise in a buffer the
    /// frame carries.
    pub(super) fn stage(&self, l: &Link<'_>, src: &mut dyn UserIn, at: usize, n: usize) -> Result<Payload> {
        let slice = l.chan.with(|c| if c.area_size() >= n { c.take_area(n) } else { None });
        if let Some(s) = slice {
            return match src.read_into_area(at, l.chan.area(), s.off, n) {
                Ok(()) => Ok(Payload::Area(s)),
                Err(e) => {
                    l.chan.with(|c| c.release_area(s));
                    Err(e)
                }
            };
        }
        let mut data = l.chan.with(|c| c.take_buffer(n)).unwrap_or_default();
        src.read_vec(at, n, &mut data)?;
        Ok(Payload::Mem(data))
    }

    /// Queues a request with its payload; on failure the payload's area
    /// slice goes back.
    fn submit_payload(l: &Link<'_>, req: Req, payload: &mut Payload, kind: Kind) -> Result<u64> {
        l.chan.with(|c| match payload {
            Payload::Mem(v) => c.submit(req, v, kind),
            Payload::Area(s) => {
                let r = c.submit_in_area(req, *s, kind);
                if r.is_err() {
                    c.release_area(*s);
                }
                r
            }
        })
    }

    /// Gives a read buffer the user is done with back to the channel's
    /// pool (a fresh kernel allocation costs a page allocation, its zeroing
    /// and a free); freed here, outside the lock, if the pool is full.
    pub(super) fn recycle(&self, l: &Link<'_>, buf: Vec<u8>) {
        drop(l.chan.with(|c| c.recycle(buf)));
    }

    /// st's write_behind_check for one completed write-behind request.
    pub(super) fn behind_done(&mut self, req: &Req, outcome: Outcome) {
        self.open.behind_cost = self.open.behind_cost.saturating_sub(cost(req));
        let blocks = if req.flags().contains(ReqFlags::FIXED) { req.count.max(0) } else { 1 };
        let rep = match outcome {
            Outcome::Reply(rep) => rep,
            Outcome::Lost => {
                self.drive.ps.drv_block = -1;
                self.open.behind_err = Some(Errno::Io);
                return;
            }
        };
        self.drive.room = rep.status.room;
        self.advance_block(i64::from(blocks));
        let s = Sense::of(&rep);
        self.latch(&s);
        if s.good || (s.key == SenseKey::Recovered && s.flags.is_empty()) {
            return;
        }
        let mut err = Errno::Io;
        if s.flags.contains(SenseFlags::EOM)
            && matches!(s.key, SenseKey::NoSense | SenseKey::Recovered)
            && s.resid == 0
        {
            err = Errno::NoSpc;
        }
        if err == Errno::Io {
            self.drive.ps.drv_block = -1;
        }
        // The first error is the one reported; EIO outranks early warning.
        if self.open.behind_err != Some(Errno::Io) {
            self.open.behind_err = Some(err);
        }
    }

    /// Waits until every outstanding request has completed and is reaped.
    pub(super) fn drain(&mut self, l: &mut Link<'_>) -> Result<()> {
        loop {
            self.reap(l, None);
            if l.chan.with(|c| c.is_empty()) {
                return Ok(());
            }
            self.wait_front(l)?;
        }
    }

    /// Sleeps until the oldest outstanding request completes. A signal is
    /// EINTR; the command timeout leaves the position unknown (EIO), as a
    /// drive that stopped answering does.
    pub(super) fn wait_front(&mut self, l: &mut Link<'_>) -> Result<()> {
        match l.host.wait(Wait::Front, l.sleep, self.cfg.timeout) {
            Ok(()) => Ok(()),
            Err(WaitError::Interrupted | WaitError::Restart) => Err(Errno::Intr),
            Err(WaitError::TimedOut) => {
                self.drive.pos_unknown = true;
                Err(Errno::Io)
            }
        }
    }

    /// st's write_behind_check: the write-behind result not yet reported.
    pub(super) fn write_behind_check(&mut self, l: &mut Link<'_>, wait: bool) -> Result<()> {
        if wait {
            self.drain(l)?;
        } else {
            self.reap(l, None);
        }
        match self.open.behind_err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sends a drive command and waits for its reply (st_do_scsi with do_wait).
    pub(super) fn call(&mut self, l: &mut Link<'_>, req: Req, data: Vec<u8>, timeout: u32) -> Result<Done> {
        self.call_with(l, req, Payload::Mem(data), timeout)
    }

    /// [`Drv::call`] with the payload staged in the frame or the area.
    pub(super) fn call_with(&mut self, l: &mut Link<'_>, req: Req, mut data: Payload, timeout: u32) -> Result<Done> {
        if !self.session_alive(l) {
            self.lose_session();
            data.release(l);
            return Err(Errno::Io);
        }
        let id = loop {
            let room = l.chan.with(|c| data.fits(c));
            let r = if room { Self::submit_payload(l, req, &mut data, Kind::Sync) } else { Err(Errno::Again) };
            match r {
                Ok(id) => break id,
                Err(Errno::Again) => {
                    self.reap(l, None);
                    // Nothing of this command is queued yet: a signal may end
                    // the wait (the close paths' may not).
                    let how = if l.sleep == Sleep::Uninterruptible { Sleep::Uninterruptible } else { Sleep::Interruptible };
                    match l.host.wait(Wait::Space(0), how, timeout) {
                        Ok(()) => continue,
                        Err(WaitError::Interrupted | WaitError::Restart) => {
                            data.release(l);
                            return Err(Errno::Intr);
                        }
                        Err(WaitError::TimedOut) => {
                            data.release(l);
                            return Err(Errno::Io);
                        }
                    }
                }
                Err(e) => {
                    self.lose_session();
                    return Err(e);
                }
            }
        };
        drop(data);
        l.host.wake_slave();
        loop {
            if let Some((outcome, data)) = self.reap(l, Some(id)) {
                return match outcome {
                    Outcome::Reply(rep) => {
                        self.drive.room = rep.status.room;
                        let sense = Sense::of(&rep);
                        self.latch(&sense);
                        Ok(Done { rep, sense, data })
                    }
                    Outcome::Lost => {
                        self.lose_session();
                        Err(Errno::Io)
                    }
                };
            }
            match l.host.wait(Wait::Front, l.sleep, timeout) {
                Ok(()) => {}
                Err(e) => {
                    // The command is in flight: its effect on the position is
                    // unknown from now on.
                    l.chan.with(|c| c.orphan(id));
                    self.drive.pos_unknown = true;
                    return Err(match e {
                        WaitError::Interrupted | WaitError::Restart => Errno::Intr,
                        WaitError::TimedOut => Errno::Io,
                    });
                }
            }
        }
    }

    /// NetBSD's st_interpret_sense: the key and residue of every command
    /// that did not simply succeed are latched for MTIOCGET.
    pub(super) fn latch(&mut self, s: &Sense) {
        if self.cfg.policy.latch_sense && !s.good {
            self.drive.latched = super::state::Latched { key: s.key as u8, resid: s.resid };
        }
    }

    /// The daemon went away: the position of the medium is unknown.
    pub(super) fn lose_session(&mut self) {
        if self.drive.session.is_some() {
            self.drive.pos_unknown = true;
        }
    }

    /// st_chk_result: 0 for success, EIO for any other condition.
    pub(super) fn chk(&mut self, s: &Sense) -> Result<()> {
        if s.good {
            return Ok(());
        }
        if s.key == SenseKey::UnitAttention && s.asc == 0x29 {
            self.drive.pos_unknown = true;
        }
        if s.asc == 0 && s.ascq == 0x17 {
            self.drive.cleaning_req = true;
        }
        if s.key == SenseKey::Recovered {
            self.open.recover_reg = self.open.recover_reg.saturating_add(1);
            if s.flags.is_empty() {
                return Ok(());
            }
        }
        Err(Errno::Io)
    }

    /// Whether a write costing `c` may go behind: asynchronous writes on, not
    /// past early warning, no early warning within reach, and it fits the window.
    pub(super) fn can_write_behind(&self, c: u64, len: usize, window: usize) -> bool {
        self.cfg.opts.async_writes
            && self.drive.ps.eof < Eof::EomOk
            && len <= window
            && (self.drive.room == proto::ROOM_UNLIMITED || self.open.behind_cost.saturating_add(c) <= self.drive.room)
    }

    /// Queues a write behind once the window (or the area) has room for its
    /// `n` bytes, copied from the user's buffer at `at` when they fit.
    pub(super) fn submit_behind(&mut self, l: &mut Link<'_>, req: Req, src: &mut dyn UserIn, at: usize, n: usize, c: u64) -> Result<()> {
        loop {
            if !self.session_alive(l) {
                self.lose_session();
                return Err(Errno::Io);
            }
            if l.chan.with(|ch| ch.has_room(n)) {
                let mut data = self.stage(l, src, at, n)?;
                Self::submit_payload(l, req, &mut data, Kind::Behind)?;
                break;
            }
            self.reap(l, None);
            match l.host.wait(Wait::Space(n), Sleep::Interruptible, self.cfg.timeout) {
                Ok(()) => {}
                // Nothing of this request was queued: the call may restart.
                Err(WaitError::Restart) => return Err(Errno::RestartSys),
                Err(WaitError::Interrupted) => return Err(Errno::Intr),
                Err(WaitError::TimedOut) => return Err(Errno::Io),
            }
        }
        self.open.behind_cost = self.open.behind_cost.saturating_add(c);
        l.host.wake_slave();
        Ok(())
    }
}
