//! Tape operations (MTIOCTOP): st_ioctl's preparation, st_int_ioctl's drive
//! commands and bookkeeping, load and unload, the door lock, locate and
//! read position.

use alloc::vec::Vec;

use super::{pos, s24, u24, Door, Drv, EodRule, Eof, Link, MtOp, PartStat, Ready, Rw, MAX_MOTION};
use super::mtst;
use crate::errno::{Errno, Result};
use crate::proto::{DriveFlags, Op, Req, ReqFlags, SenseFlags, SenseKey, Space};

impl Drv {
    pub(super) fn immed(&self) -> ReqFlags {
        if self.cfg.opts.nowait {
            ReqFlags::IMMED
        } else {
            ReqFlags::empty()
        }
    }

    /// st_ioctl for MTIOCTOP.
    pub fn mtop(&mut self, l: &mut Link<'_>, op: MtOp, count: i32) -> Result<()> {
        let mut count = i64::from(count);
        if op == MtOp::SetDrvBuffer && !l.host.privileged() {
            return Err(Errno::Perm);
        }
        // Motion and filemark counts are SCSI's 24 bits; st would truncate a
        // larger one in the command and count it whole: refuse it instead.
        let motion = matches!(
            op,
            MtOp::Fsf | MtOp::Bsf | MtOp::Fsr | MtOp::Bsr | MtOp::Fsfm | MtOp::Bsfm | MtOp::Fss | MtOp::Bss | MtOp::Nbsf
        );
        let marks = matches!(op, MtOp::Weof | MtOp::Weofi | MtOp::Wsm);
        if (motion && !(-MAX_MOTION..=MAX_MOTION).contains(&count)) || (marks && !(0..=MAX_MOTION).contains(&count)) {
            return Err(Errno::Inval);
        }
        if !self.drive.pos_unknown {
            if self.drive.ps.eof == Eof::FmHit {
                if matches!(op, MtOp::Fsf | MtOp::Fsfm | MtOp::Eom) {
                    count -= 1;
                    self.bump_file_only();
                } else if matches!(op, MtOp::Bsf | MtOp::Bsfm) {
                    count += 1;
                    self.bump_file_only();
                }
            }
            let seek_next = matches!(
                op,
                MtOp::Seek
                    | MtOp::Rew
                    | MtOp::Offl
                    | MtOp::Reten
                    | MtOp::Eom
                    | MtOp::Lock
                    | MtOp::Load
                    | MtOp::Fsf
                    | MtOp::Fsfm
                    | MtOp::Bsf
                    | MtOp::Bsfm
                    | MtOp::Compression
            );
            // The read-ahead goes first: spaced back over, unless the motion
            // is absolute (a relative one, even FSF 0, starts from the user's
            // position).
            if matches!(op, MtOp::Seek | MtOp::Rew | MtOp::Offl | MtOp::Reten | MtOp::Eom | MtOp::Load) {
                self.ahead_settle(l)?;
            } else {
                self.ahead_settle_back(l)?;
            }
            self.flush_buffer(l, seek_next)?;
            match self.cfg.policy.eod {
                EodRule::OneBeforeMotion => {
                    if self.drive.ps.rw == Rw::Writing && matches!(op, MtOp::Rew | MtOp::Offl | MtOp::Seek | MtOp::Bsf | MtOp::Bsfm) {
                        self.int_ioctl(l, MtOp::Weof, 1)?;
                        if matches!(op, MtOp::Bsf | MtOp::Bsfm) {
                            count += 1;
                        }
                        self.drive.ps.rw = Rw::Idle;
                    }
                }
                EodRule::CheckEod => match op {
                    // st_check_eod(FALSE): the spacing counts the marks
                    // (FSF n spaces n - marks, BSF n spaces n + marks).
                    MtOp::Rew | MtOp::Offl | MtOp::Reten | MtOp::Eom | MtOp::Fsf | MtOp::Bsf => {
                        let n = self.check_eod(l, false)?;
                        if op == MtOp::Fsf {
                            count -= n;
                        } else if op == MtOp::Bsf {
                            count += n;
                        }
                    }
                    // st_check_eod(true): marks written, the head brought back.
                    MtOp::Fsr | MtOp::Bsr => {
                        self.check_eod(l, true)?;
                    }
                    _ => {}
                },
            }
        } else {
            if !matches!(op, MtOp::Rew | MtOp::Offl | MtOp::Load | MtOp::Reten | MtOp::Erase | MtOp::Seek | MtOp::Eom) {
                return Err(Errno::Io);
            }
            self.reset_state();
        }
        if !matches!(op, MtOp::Nop | MtOp::SetBlk | MtOp::SetDensity | MtOp::Wsm | MtOp::SetDrvBuffer | MtOp::SetPart) {
            self.drive.ps.rw = Rw::Idle;
        }
        if op == MtOp::Offl && self.drive.door != Door::Unlocked {
            let _ = self.door_lock(l, false);
        }
        let ucount = count as u32;
        if self.open.node.control && matches!(op, MtOp::SetBlk | MtOp::SetDensity) {
            return self.set_mode_value(l, op, count);
        }
        match op {
            // NetBSD: FSF over fewer files than the marks just written.
            MtOp::Fsf if count < 0 && self.cfg.policy.eod == EodRule::CheckEod => self.int_ioctl(l, MtOp::Bsf, -count),
            MtOp::SetDrvBuffer if ucount & mtst::OPTIONS != 0 => self.set_options(l, ucount),
            MtOp::SetPart | MtOp::MkPart => Err(Errno::Inval),
            MtOp::Seek => {
                let r = self.set_location(l, count as u32);
                self.drive.ps.rw = Rw::Idle;
                r
            }
            MtOp::Unload | MtOp::Offl => self.do_load_unload(l, false, false),
            MtOp::Load => self.do_load_unload(l, true, false),
            MtOp::Lock | MtOp::Unlock => self.door_lock(l, op == MtOp::Lock),
            MtOp::Compression => self.compression(l, count & 1 != 0),
            MtOp::Cache | MtOp::NoCache => {
                self.int_ioctl(l, MtOp::SetDrvBuffer, i64::from(op == MtOp::Cache))
            }
            MtOp::Ewarn => {
                self.cfg.opts.ewarn = count != 0;
                Ok(())
            }
            MtOp::Nbsf => {
                // Backward over `count` filemarks, then forward over the one
                // found: the start of the file.
                self.int_ioctl(l, MtOp::Bsf, count + 1)?;
                self.int_ioctl(l, MtOp::Fsf, 1)
            }
            _ => self.int_ioctl(l, op, count),
        }
    }

    /// MTSETBSIZ and MTSETDNSTY through NetBSD's control device: set on the
    /// drive if a medium is mounted (st's try_new_value; if the drive
    /// refuses, nothing changes), and kept as the mode's value for later
    /// mounts, with or without a medium.
    fn set_mode_value(&mut self, l: &mut Link<'_>, op: MtOp, count: i64) -> Result<()> {
        let mode = usize::from(self.open.node.mode);
        if op == MtOp::SetDensity && !(0..=255).contains(&count) {
            return Err(Errno::Inval);
        }
        if op == MtOp::SetBlk && count < 0 {
            return Err(Errno::Inval);
        }
        if self.drive.ready == Ready::Ready {
            self.int_ioctl(l, op, count)?;
        } else if op == MtOp::SetBlk
            && count != 0
            && self.drive.max_block > 0
            && (count < i64::from(self.drive.min_block) || count > i64::from(self.drive.max_block))
        {
            return Err(Errno::Inval);
        }
        let m = self.cfg.modes.get_mut(mode).ok_or(Errno::Inval)?;
        if op == MtOp::SetBlk {
            m.blksize = Some(u32::try_from(count).map_err(|_| Errno::Inval)? & mtst::BLKSIZE_MASK);
        } else {
            m.density = Some(u8::try_from(count).map_err(|_| Errno::Inval)?);
        }
        Ok(())
    }

    pub(super) fn reset_state(&mut self) {
        self.drive.pos_unknown = false;
        self.drive.ps = PartStat { rw: Rw::Idle, eof: Eof::No, at_sm: false, drv_file: -1, drv_block: -1 };
    }

    /// st_int_ioctl: one drive command for a tape operation.
    pub(super) fn int_ioctl(&mut self, l: &mut Link<'_>, op: MtOp, arg: i64) -> Result<()> {
        if self.drive.ready != Ready::Ready {
            return Err(self.not_ready_err());
        }
        let mut timeout = self.cfg.long_timeout;
        // st's predicted position, in a width where the count cannot wrap
        // it; stored through pos(), which keeps -1 for anything out of range.
        let mut fileno = i64::from(self.drive.ps.drv_file);
        let mut blkno = i64::from(self.drive.ps.drv_block);
        let mut at_sm = self.drive.ps.at_sm;
        let mut chg_eof = true;
        let mut req;
        let space = |kind: Space, n: i32| {
            let mut r = Req::new(Op::Space);
            r.arg = kind as u64;
            r.count = n;
            r
        };
        match op {
            MtOp::Fsf | MtOp::Fsfm => {
                chg_eof = op == MtOp::Fsf;
                req = space(Space::Filemarks, s24(arg));
                if fileno >= 0 {
                    fileno += arg;
                }
                blkno = 0;
                at_sm &= arg == 0;
            }
            MtOp::Bsf | MtOp::Bsfm => {
                chg_eof = op == MtOp::Bsf;
                req = space(Space::Filemarks, s24(-arg));
                if fileno >= 0 {
                    fileno -= arg;
                }
                blkno = -1;
                at_sm &= arg == 0;
            }
            MtOp::Fsr => {
                req = space(Space::Blocks, s24(arg));
                if blkno >= 0 {
                    blkno += arg;
                }
                at_sm &= arg == 0;
            }
            MtOp::Bsr => {
                req = space(Space::Blocks, s24(-arg));
                if blkno >= 0 {
                    blkno -= arg;
                }
                at_sm &= arg == 0;
            }
            MtOp::Fss | MtOp::Bss => {
                req = space(Space::Setmarks, s24(if op == MtOp::Fss { arg } else { -arg }));
                if arg != 0 {
                    blkno = -1;
                    fileno = -1;
                    at_sm = true;
                }
            }
            MtOp::Weof | MtOp::Weofi | MtOp::Wsm => {
                if self.open.write_prot {
                    return Err(Errno::Acces);
                }
                req = Req::new(Op::Wfm);
                let mut rf = ReqFlags::empty();
                if op == MtOp::Wsm {
                    rf |= ReqFlags::SETMARK;
                }
                if op == MtOp::Weofi || (op == MtOp::Weof && self.cfg.opts.nowait_eof) {
                    rf |= ReqFlags::IMMED;
                }
                req.flags = rf.bits();
                req.count = u24(arg);
                timeout = self.cfg.timeout;
                if fileno >= 0 {
                    fileno += arg;
                }
                blkno = 0;
                at_sm = op == MtOp::Wsm;
            }
            MtOp::Rew => {
                req = Req::new(Op::Rewind);
                req.flags = self.immed().bits();
                fileno = 0;
                blkno = 0;
                at_sm = false;
            }
            MtOp::Nop => return Ok(()),
            MtOp::Reten => {
                req = Req::new(Op::Load);
                req.flags = (self.immed() | ReqFlags::LOAD | ReqFlags::RETEN).bits();
                fileno = 0;
                blkno = 0;
                at_sm = false;
            }
            MtOp::Eom => {
                if !self.cfg.opts.fast_mteom {
                    let _ = self.int_ioctl(l, MtOp::Fsf, MAX_MOTION);
                    fileno = i64::from(self.drive.ps.drv_file);
                    if self.drive.ps.eof >= Eof::Eod1 {
                        if self.cfg.policy.eom_loses_position {
                            self.drive.ps.drv_file = -1;
                            self.drive.ps.drv_block = -1;
                        }
                        return Ok(());
                    }
                } else {
                    fileno = -1;
                }
                req = space(Space::Eod, 0);
                blkno = -1;
                at_sm = false;
            }
            MtOp::Erase => {
                if self.open.write_prot {
                    return Err(Errno::Acces);
                }
                req = Req::new(Op::Erase);
                let mut rf = self.immed();
                if arg != 0 {
                    rf |= ReqFlags::LONG;
                }
                req.flags = rf.bits();
                timeout = self.cfg.long_timeout.saturating_mul(8);
            }
            MtOp::SetBlk | MtOp::SetDensity | MtOp::SetDrvBuffer => {
                chg_eof = false;
                if self.open.rbytes != 0 {
                    return Err(Errno::Io);
                }
                let a = arg as u32;
                if op == MtOp::SetBlk
                    && a & mtst::BLKSIZE_MASK != 0
                    && self.drive.max_block > 0
                    && ((a & mtst::BLKSIZE_MASK) < self.drive.min_block || (a & mtst::BLKSIZE_MASK) > self.drive.max_block)
                {
                    return Err(Errno::Inval);
                }
                req = Req::new(Op::Mode);
                let rf = match op {
                    MtOp::SetBlk => {
                        req.length = u64::from(a & mtst::BLKSIZE_MASK);
                        self.drive.blksize_changed = true;
                        ReqFlags::SET_BLKSIZE
                    }
                    MtOp::SetDensity => {
                        req.arg = u64::from(a & 0xff);
                        self.drive.density_changed = true;
                        ReqFlags::SET_DENSITY
                    }
                    _ => {
                        req.arg2 = a & 7;
                        ReqFlags::SET_DRVBUF
                    }
                };
                req.flags = rf.bits();
                timeout = self.cfg.timeout;
            }
            _ => return Err(Errno::NoSys),
        }
        let d = self.call(l, req, Vec::new(), timeout)?;
        let s = d.sense;
        let result = self.chk(&s);
        if result.is_ok() {
            self.drive.ps.drv_block = pos(blkno);
            self.drive.ps.drv_file = pos(fileno);
            self.drive.ps.at_sm = at_sm;
            let mut r = Ok(());
            if op == MtOp::Bsfm {
                r = self.int_ioctl(l, MtOp::Fsf, 1);
            } else if op == MtOp::Fsfm {
                r = self.int_ioctl(l, MtOp::Bsf, 1);
            }
            match op {
                MtOp::SetBlk => {
                    self.drive.block_size = (arg as u32) & mtst::BLKSIZE_MASK;
                    self.open.rbytes = 0;
                    self.open.rptr = 0;
                }
                MtOp::SetDrvBuffer => self.drive.drv_buffer = (arg as u8) & 7,
                MtOp::SetDensity => self.drive.density = arg as u8,
                _ => {}
            }
            if op == MtOp::Eom {
                self.drive.ps.eof = Eof::Eod;
                if self.cfg.policy.eom_loses_position {
                    self.drive.ps.drv_file = -1;
                    self.drive.ps.drv_block = -1;
                }
            } else if op == MtOp::Fsf {
                self.drive.ps.eof = Eof::Fm;
            } else if chg_eof {
                self.drive.ps.eof = Eof::No;
            }
            if matches!(op, MtOp::Weof | MtOp::Weofi) {
                self.drive.ps.rw = Rw::Idle;
                self.marks_written(arg);
            }
            return r;
        }
        // Not completely successful.
        let mut result = result;
        if s.flags.contains(SenseFlags::EOM) {
            if !matches!(op, MtOp::Bsf | MtOp::Bsfm | MtOp::Bsr | MtOp::Bss) {
                self.drive.ps.eof = Eof::EomOk;
            }
            self.drive.ps.drv_block = 0;
        }
        // The residue: within the command's count (the reply boundary).
        let mut undone = s.resid;
        if matches!(op, MtOp::Weof | MtOp::Weofi) && s.flags.contains(SenseFlags::EOM) {
            if matches!(s.key, SenseKey::NoSense | SenseKey::Recovered) {
                result = Ok(());
                self.drive.ps.eof = Eof::No;
                self.drive.ps.rw = Rw::Idle;
                self.marks_written(arg);
            } else {
                if fileno >= 0 {
                    fileno -= undone;
                }
                if undone < arg {
                    self.drive.ps.eof = Eof::No;
                }
            }
            self.drive.ps.drv_file = pos(fileno);
        } else if matches!(op, MtOp::Fsf | MtOp::Fsfm) {
            self.drive.ps.drv_file = if fileno >= 0 { pos(fileno - undone) } else { -1 };
            self.drive.ps.drv_block = -1;
            self.drive.ps.eof = Eof::No;
        } else if matches!(op, MtOp::Bsf | MtOp::Bsfm) {
            if arg > 0 && undone < 0 {
                undone = -undone;
            }
            if self.drive.ps.drv_file >= 0 {
                self.drive.ps.drv_file = pos(fileno + undone);
            }
            self.drive.ps.drv_block = 0;
            self.drive.ps.eof = Eof::No;
        } else if op == MtOp::Fsr {
            if s.flags.contains(SenseFlags::FMK) {
                self.bump_file();
                self.drive.ps.eof = Eof::Fm;
            } else {
                self.drive.ps.drv_block = if blkno >= undone { pos(blkno - undone) } else { -1 };
                self.drive.ps.eof = Eof::No;
            }
        } else if op == MtOp::Bsr {
            if s.flags.contains(SenseFlags::FMK) {
                // Backward over a filemark: in the previous file, block
                // unknown (st decrements whatever it had).
                self.drive.ps.drv_file = pos(i64::from(self.drive.ps.drv_file) - 1);
                self.drive.ps.drv_block = -1;
            } else {
                if arg > 0 && undone < 0 {
                    undone = -undone;
                }
                if self.drive.ps.drv_block >= 0 {
                    self.drive.ps.drv_block = pos(blkno + undone);
                }
            }
            self.drive.ps.eof = Eof::No;
        } else if op == MtOp::Eom {
            self.drive.ps.drv_file = -1;
            self.drive.ps.drv_block = -1;
            self.drive.ps.eof = Eof::Eod;
        } else if matches!(op, MtOp::SetBlk | MtOp::SetDensity | MtOp::SetDrvBuffer) {
            // st retries with the other page-format setting; the daemon has one.
        } else if chg_eof {
            self.drive.ps.eof = Eof::No;
        }
        if s.key == SenseKey::BlankCheck {
            self.drive.ps.eof = Eof::Eod;
        }
        result
    }

    /// NetBSD's st_write_filemarks: one mark after data ends it once (a
    /// second one, or two at once, leave nothing to end).
    fn marks_written(&mut self, n: i64) {
        match n {
            0 => {}
            1 if self.drive.eod.fm_written => self.drive.eod.written = false,
            1 => self.drive.eod.fm_written = true,
            _ => self.drive.eod.written = false,
        }
    }

    /// do_load_unload.
    pub(super) fn do_load_unload(&mut self, l: &mut Link<'_>, load: bool, reten: bool) -> Result<()> {
        if self.drive.ready != Ready::Ready && !load {
            return Err(self.not_ready_err());
        }
        if self.drive.session.is_none() || !self.session_alive(l) {
            // No drive to talk to (opened O_NONBLOCK without a daemon).
            return Err(Errno::Io);
        }
        let mut req = Req::new(Op::Load);
        let mut rf = self.immed();
        if load {
            rf |= ReqFlags::LOAD;
        }
        if reten {
            rf |= ReqFlags::RETEN;
        }
        req.flags = rf.bits();
        let d = self.call(l, req, Vec::new(), self.cfg.long_timeout)?;
        let r = self.chk(&d.sense);
        if r.is_ok() {
            if !load {
                self.open.rew_at_close = false;
                self.drive.ready = Ready::NoTape;
                self.drive.mounted = None;
            } else {
                self.open.rew_at_close = self.open.autorew_dev;
                // check_tape on the medium just loaded: a new session.
                self.drive.ready = Ready::Ready;
                self.new_session_positions();
                self.apply_status(&d.rep.status);
                if self.drive.drv_write_prot {
                    self.open.write_prot = true;
                }
            }
        } else {
            self.drive.ps.drv_file = -1;
            self.drive.ps.drv_block = -1;
        }
        r
    }

    /// do_door_lock.
    pub(super) fn door_lock(&mut self, l: &mut Link<'_>, lock: bool) -> Result<()> {
        let mut req = Req::new(Op::Lock);
        req.count = i32::from(lock);
        let r = self.call(l, req, Vec::new(), self.cfg.timeout).and_then(|d| self.chk(&d.sense));
        self.drive.door = match (&r, lock) {
            (Ok(()), true) => Door::Explicit,
            (Ok(()), false) => Door::Unlocked,
            (Err(_), _) => Door::Fails,
        };
        r
    }

    /// get_location: MTIOCPOS.
    pub(super) fn get_location(&mut self, l: &mut Link<'_>) -> Result<u32> {
        if self.drive.ready != Ready::Ready {
            return Err(Errno::Io);
        }
        let d = self.call(l, Req::new(Op::ReadPos), Vec::new(), self.cfg.timeout)?;
        if self.chk(&d.sense).is_err() {
            return Err(Errno::Io);
        }
        let st = d.rep.status;
        if st.flags().contains(DriveFlags::BOP) {
            self.drive.ps.drv_block = 0;
            self.drive.ps.drv_file = 0;
        }
        // st reads a 32-bit block address; a larger one cannot be reported
        // truthfully.
        u32::try_from(st.position).map_err(|_| Errno::Io)
    }

    /// set_location: MTSEEK.
    pub(super) fn set_location(&mut self, l: &mut Link<'_>, block: u32) -> Result<()> {
        if self.drive.ready != Ready::Ready {
            return Err(Errno::Io);
        }
        let mut req = Req::new(Op::Locate);
        req.arg = u64::from(block);
        req.flags = self.immed().bits();
        let d = self.call(l, req, Vec::new(), self.cfg.long_timeout)?;
        self.drive.ps.drv_block = -1;
        self.drive.ps.drv_file = -1;
        self.drive.ps.eof = Eof::No;
        if self.chk(&d.sense).is_err() {
            return Err(Errno::Io);
        }
        self.drive.ps.at_sm = false;
        if block == 0 {
            self.drive.ps.drv_block = 0;
            self.drive.ps.drv_file = 0;
        }
        Ok(())
    }
}
