//! Open (st_open, check_tape), the last close (st_flush) and release
//! (st_release).

use alloc::vec::Vec;

use super::{eom_written, Drv, EodRule, Eof, Link, MtOp, Node, OpenFlags, PartStat, Ready, Rw, Door};
use super::state::{EodFlags, Latched};
use super::mtst;
use crate::errno::{Errno, Result};
use crate::proto::{self, asc, DriveFlags, Op, Req, ReqFlags, SenseKey};

impl Drv {
    pub(super) fn not_ready_err(&self) -> Errno {
        if self.drive.ready == Ready::NoTape {
            Errno::NoMedium
        } else {
            Errno::Io
        }
    }

    pub(super) fn apply_status(&mut self, st: &proto::Status) {
        self.drive.min_block = st.minblk;
        self.drive.max_block = st.maxblk;
        self.drive.density = st.density;
        self.drive.block_size = st.blksize & mtst::BLKSIZE_MASK;
        self.drive.drv_buffer = st.drvbuf & 7;
        self.drive.drv_write_prot = st.flags().contains(DriveFlags::WRPROT);
        if st.flags().contains(DriveFlags::CLEAN) {
            self.drive.cleaning_req = true;
        }
    }

    pub(super) fn new_session_positions(&mut self) {
        self.drive.pos_unknown = false;
        self.drive.ps = PartStat { rw: Rw::Idle, eof: Eof::No, at_sm: false, drv_file: 0, drv_block: 0 };
    }

    /// st_open + check_tape, on the minor's `node` (NetBSD: its mode, the
    /// eject and control nodes).
    pub fn open(&mut self, l: &mut Link<'_>, flags: OpenFlags, node: Node) -> Result<()> {
        if self.drive.in_use {
            return Err(Errno::Busy);
        }
        // Anything left by an interrupted earlier session is reaped first.
        self.reap(l, None);
        self.ahead_reset(l);
        self.open = super::OpenState::new(flags, node);
        self.drive.ps.rw = Rw::Idle;
        if self.cfg.policy.latch_sense {
            // NetBSD's stopen: "clear any latched errors".
            self.drive.latched = Latched::default();
        }
        match self.check_tape(l, flags) {
            // NetBSD's control device opens without a medium, as a
            // non-blocking open does.
            Ok(true) => {}
            Ok(false) if flags.nonblock || node.control => {}
            Ok(false) => {
                let e = self.not_ready_err();
                self.close_session(l);
                return Err(e);
            }
            Err(e) => {
                self.close_session(l);
                return Err(e);
            }
        }
        self.drive.in_use = true;
        Ok(())
    }

    /// Tells the daemon the master closed, if a session exists.
    pub(super) fn close_session(&mut self, l: &mut Link<'_>) {
        if self.session_alive(l) {
            let _ = self.call(l, Req::new(Op::Close), Vec::new(), self.cfg.timeout);
        }
        self.drive.session = None;
    }

    /// check_tape: Ok(true) ready, Ok(false) not ready, or an error.
    pub(super) fn check_tape(&mut self, l: &mut Link<'_>, flags: OpenFlags) -> Result<bool> {
        let gen = l.chan.with(|c| c.slave_present().then(|| c.generation()));
        let Some(gen) = gen else {
            self.set_not_ready(Ready::NotReady);
            self.drive.session = None;
            return Ok(false);
        };
        let new_daemon = self.drive.last_gen != Some(gen);
        self.drive.session = Some(gen);
        self.drive.last_gen = Some(gen);
        let mut req = Req::new(Op::Open);
        let mut rf = ReqFlags::empty();
        if flags.read {
            rf |= ReqFlags::OPEN_READ;
        }
        if flags.write {
            rf |= ReqFlags::OPEN_WRITE;
        }
        if flags.nonblock {
            rf |= ReqFlags::OPEN_NONBLOCK;
        }
        if flags.norewind {
            rf |= ReqFlags::OPEN_NOREWIND;
        }
        req.flags = rf.bits();
        req.arg = u64::from(self.cfg.unit);
        let d = self.call(l, req, Vec::new(), self.cfg.long_timeout)?;
        let s = d.sense;
        let mut new_session = new_daemon;
        if !s.good {
            match s.key {
                SenseKey::UnitAttention if s.asc == asc::MEDIUM_CHANGED => new_session = true,
                SenseKey::UnitAttention => new_session = true,
                SenseKey::NotReady => {
                    self.set_not_ready(if s.asc == asc::NO_MEDIUM { Ready::NoTape } else { Ready::NotReady });
                    return Ok(false);
                }
                _ => return Err(Errno::Io),
            }
        }
        self.drive.ready = Ready::Ready;
        if new_session {
            self.new_session_positions();
            self.drive.density_changed = false;
            self.drive.blksize_changed = false;
            self.drive.compression_changed = false;
        }
        self.apply_status(&d.rep.status);
        if self.cfg.opts.no_blklims {
            self.drive.min_block = 0;
            self.drive.max_block = 0;
        }
        if self.drive.drv_write_prot {
            self.open.write_prot = true;
            if !flags.nonblock && flags.write {
                return Err(Errno::RoFs);
            }
        }
        if new_session {
            // A new medium: the old mount is over.
            self.drive.mounted = None;
            if !self.cfg.opts.def_writes {
                self.set_mode_densblk(l)?;
            }
            if let Some(b) = self.cfg.default_drvbuffer {
                let _ = self.int_ioctl(l, MtOp::SetDrvBuffer, i64::from(b));
            }
        }
        if self.cfg.policy.remount {
            self.mount(l, self.open.node.mode)?;
        }
        Ok(true)
    }

    /// NetBSD's st_mount_tape, when the unit is not mounted in `mode`: the
    /// mode's block size and density set through the control device, else
    /// what st_decide_mode picks for a drive that takes a range of block
    /// sizes (variable blocks; fixed when the drive has one size) and the
    /// medium's density. A mount starts with nothing written.
    pub(super) fn mount(&mut self, l: &mut Link<'_>, mode: u8) -> Result<()> {
        if self.drive.mounted == Some(mode) {
            return Ok(());
        }
        let m = self.cfg.modes.get(usize::from(mode)).copied().unwrap_or_default();
        let one_size = self.drive.min_block != 0 && self.drive.min_block == self.drive.max_block;
        let blksize = m.blksize.unwrap_or(if one_size { self.drive.min_block } else { 0 });
        let mut req = Req::new(Op::Mode);
        let mut rf = ReqFlags::empty();
        if blksize != self.drive.block_size {
            rf |= ReqFlags::SET_BLKSIZE;
            req.length = u64::from(blksize);
        }
        if let Some(d) = m.density.filter(|d| *d != self.drive.density) {
            rf |= ReqFlags::SET_DENSITY;
            req.arg = u64::from(d);
        }
        if !rf.is_empty() {
            req.flags = rf.bits();
            let d = self.call(l, req, Vec::new(), self.cfg.timeout)?;
            // st: "cannot set selected mode", and the open fails.
            self.chk(&d.sense)?;
            if rf.contains(ReqFlags::SET_BLKSIZE) {
                self.drive.block_size = blksize;
            }
            if rf.contains(ReqFlags::SET_DENSITY) {
                self.drive.density = req.arg as u8;
            }
        }
        self.drive.mounted = Some(mode);
        self.drive.eod = EodFlags::default();
        Ok(())
    }

    pub(super) fn set_not_ready(&mut self, r: Ready) {
        self.drive.ready = r;
        self.drive.density = 0;
        self.open.write_prot = false;
        self.drive.block_size = 0;
        self.drive.ps.drv_file = -1;
        self.drive.ps.drv_block = -1;
        self.drive.door = Door::Unlocked;
        self.drive.mounted = None;
    }

    /// st_flush: the work of the last close() of the master file.
    pub fn flush(&mut self, l: &mut Link<'_>) -> Result<()> {
        if self.cfg.policy.eod == EodRule::CheckEod {
            return self.flush_check_eod(l);
        }
        let mut result: Result<()> = Ok(());
        let mut skip_to_rewind = false;
        if self.drive.ps.rw == Rw::Writing && !self.drive.pos_unknown {
            if let Err(e) = self.flush_write_buffer(l) {
                if e != Errno::NoSpc {
                    result = Err(e);
                    skip_to_rewind = true;
                }
            }
        }
        if !skip_to_rewind {
            if self.drive.ps.rw == Rw::Writing && !self.drive.pos_unknown {
                let mut req = Req::new(Op::Wfm);
                if self.cfg.opts.nowait_eof {
                    req.flags = ReqFlags::IMMED.bits();
                }
                req.count = 1 + i32::from(self.cfg.opts.two_fm);
                match self.call(l, req, Vec::new(), self.cfg.timeout) {
                    Ok(d) if d.sense.good || eom_written(&d.sense) => {
                        self.bump_file();
                        if self.cfg.opts.two_fm {
                            let _ = self.cross_eof(l, false);
                        }
                        self.drive.ps.eof = Eof::Fm;
                    }
                    Ok(_) | Err(_) => {
                        if result.is_ok() {
                            result = Err(Errno::Io);
                        }
                    }
                }
            } else if !self.open.rew_at_close {
                if !self.cfg.opts.sysv || self.drive.ps.rw != Rw::Reading {
                    if self.cfg.opts.can_bsr {
                        result = self.flush_buffer(l, false);
                    } else if self.drive.ps.eof == Eof::FmHit {
                        if self.cross_eof(l, false).is_err() {
                            self.bump_file();
                            self.drive.ps.eof = Eof::Fm;
                        } else {
                            self.drive.ps.eof = Eof::No;
                        }
                    }
                } else {
                    let crossed = self.drive.ps.eof == Eof::No && self.cross_eof(l, true).is_ok();
                    if crossed || self.drive.ps.eof == Eof::FmHit {
                        self.bump_file();
                        self.drive.ps.eof = Eof::Fm;
                    }
                }
            }
        }
        if self.open.rew_at_close {
            // What was read ahead goes: the rewind is absolute.
            if self.drive.ps.rw == Rw::Reading {
                let _ = self.ahead_settle(l);
            }
            let r2 = self.int_ioctl(l, MtOp::Rew, 1);
            if result.is_ok() {
                result = r2;
            }
        }
        result
    }

    /// NetBSD's stclose: written data gets its end-of-data marks (after
    /// writing, or on a write-only file with nothing written, where
    /// st_check_eod finds nothing to end); a rewinding node unmounts
    /// (st_check_eod again, rewind), an eject node unloads as well, a
    /// no-rewind node backspaces over the second of two marks it wrote. The
    /// error is the first end-of-data's (or the write-behind's); the
    /// unmount's are st_unmount's, not reported.
    fn flush_check_eod(&mut self, l: &mut Link<'_>) -> Result<()> {
        let mut result: Result<()> = Ok(());
        if self.drive.ps.rw == Rw::Writing && !self.drive.pos_unknown {
            if let Err(e) = self.flush_write_buffer(l) {
                if e != Errno::NoSpc {
                    result = Err(e);
                }
            }
        }
        if self.drive.ps.rw == Rw::Reading {
            let _ = self.ahead_settle(l);
        }
        let stxx = self.drive.eod;
        let wronly = self.open.mode.write && !self.open.mode.read;
        let ended = EodFlags { written: true, fm_written: false };
        if result.is_ok() && ((self.open.mode.write && stxx == ended) || (wronly && stxx == EodFlags::default())) {
            result = if self.drive.pos_unknown && stxx == ended {
                // The data needs its end, and where it ends is not known
                // (the drive or the daemon went): st's close fails.
                Err(Errno::Io)
            } else if self.drive.ready == Ready::Ready && !self.drive.pos_unknown {
                self.check_eod(l, false).map(|_| ())
            } else {
                Ok(())
            };
        }
        let node = self.open.node;
        if node.eject || self.open.rew_at_close {
            // st_unmount: its errors are only printed.
            if self.drive.ready == Ready::Ready && !self.drive.pos_unknown {
                let _ = self.check_eod(l, false);
            }
            if self.drive.ready == Ready::Ready {
                let _ = self.int_ioctl(l, MtOp::Rew, 1);
                if node.eject {
                    let _ = self.do_load_unload(l, false, false);
                }
            }
            self.drive.mounted = None;
        } else if result.is_ok()
            && self.open.mode.write
            && stxx == ended
            && self.cfg.opts.two_fm
            && self.drive.ready == Ready::Ready
        {
            // Between the two marks, so that the next file replaces the
            // second: file - FMK - file - FMK FMK. (The head is at the
            // start of the file after the first; NetBSD's st calls the
            // block unknown.)
            result = self.cross_eof(l, false);
            if result.is_ok() {
                self.drive.ps.drv_file = super::pos(i64::from(self.drive.ps.drv_file) - 1);
                self.drive.ps.drv_block = if self.drive.ps.drv_file >= 0 { 0 } else { -1 };
                self.drive.ps.eof = Eof::Fm;
            }
        }
        result
    }

    /// NetBSD's st_check_eod: the filemarks written data still lacks (two
    /// with two-fm, one if one was written since), written now; with
    /// `position` the head goes back over them and the file and block
    /// numbers are those of before. Returns how many were written.
    pub(super) fn check_eod(&mut self, l: &mut Link<'_>, position: bool) -> Result<i64> {
        let n = match (self.drive.eod.written, self.drive.eod.fm_written, self.cfg.opts.two_fm) {
            (true, false, false) | (true, true, true) => 1,
            (true, false, true) => 2,
            _ => 0,
        };
        if n == 0 {
            return Ok(0);
        }
        let before = (self.drive.ps.drv_file, self.drive.ps.drv_block);
        // st writes them whatever the file's mode (st_unmount after a
        // read-only open too); only the drive's protection refuses them.
        let wp = core::mem::replace(&mut self.open.write_prot, self.drive.drv_write_prot);
        let r = self.int_ioctl(l, MtOp::Weof, n);
        self.open.write_prot = wp;
        r?;
        if position {
            let mut req = Req::new(Op::Space);
            req.arg = crate::proto::Space::Filemarks as u64;
            req.count = -(n as i32);
            let d = self.call(l, req, Vec::new(), self.cfg.timeout)?;
            self.chk(&d.sense)?;
            (self.drive.ps.drv_file, self.drive.ps.drv_block) = before;
            self.drive.ps.eof = Eof::No;
        }
        Ok(n)
    }

    /// st_release: the master file is gone. Tells the daemon.
    pub fn release(&mut self, l: &mut Link<'_>) -> Result<()> {
        if self.drive.door == Door::Auto {
            let _ = self.door_lock(l, false);
        }
        // Nothing may stay queued past close: the daemon must have the data.
        let mut result = self.drain(l);
        if result.is_ok() {
            if let Some(e) = self.open.behind_err.take() {
                if e != Errno::NoSpc {
                    result = Err(e);
                }
            }
        }
        if self.session_alive(l) {
            let r2 = self.call(l, Req::new(Op::Close), Vec::new(), self.cfg.timeout).and_then(|d| self.chk(&d.sense));
            if result.is_ok() {
                result = r2;
            }
        }
        self.open.rbuf = Vec::new();
        self.open.rbytes = 0;
        self.open.rptr = 0;
        self.ahead_reset(l);
        self.drive.in_use = false;
        self.drive.session = None;
        result
    }

    /// Crossed a filemark forward: the next file, at its first block.
    pub(super) fn bump_file(&mut self) {
        self.bump_file_only();
        self.drive.ps.drv_block = 0;
    }

    /// The file number one on (unknown stays unknown).
    pub(super) fn bump_file_only(&mut self) {
        if self.drive.ps.drv_file >= 0 {
            self.drive.ps.drv_file = super::pos(i64::from(self.drive.ps.drv_file) + 1);
        }
    }

    /// The block number `n` blocks on (unknown stays unknown).
    pub(super) fn advance_block(&mut self, n: i64) {
        if self.drive.ps.drv_block >= 0 {
            self.drive.ps.drv_block = super::pos(i64::from(self.drive.ps.drv_block).saturating_add(n));
        }
    }
}
