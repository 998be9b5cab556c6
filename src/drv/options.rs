//! Driver options (st_set_options: MTSETDRVBUFFER with an option code),
//! the default block size and density (set_mode_densblk), compression.

use alloc::vec::Vec;

use super::{Drv, Link, MtOp, Ready};
use super::mtst;
use crate::errno::{Errno, Result};
use crate::proto::{Op, Req, ReqFlags};

impl Drv {
    /// st_set_options: MTSETDRVBUFFER with an option code.
    pub(super) fn set_options(&mut self, l: &mut Link<'_>, options: u32) -> Result<()> {
        let code = options & mtst::OPTIONS;
        let o = &mut self.cfg.opts;
        if code == mtst::BOOLEANS {
            o.buffer_writes = options & mtst::BUFFER_WRITES != 0;
            o.async_writes = options & mtst::ASYNC_WRITES != 0;
            o.def_writes = options & mtst::DEF_WRITES != 0;
            o.read_ahead = options & mtst::READ_AHEAD != 0;
            o.two_fm = options & mtst::TWO_FM != 0;
            o.fast_mteom = options & mtst::FAST_MTEOM != 0;
            o.auto_lock = options & mtst::AUTO_LOCK != 0;
            o.can_bsr = options & mtst::CAN_BSR != 0;
            o.no_blklims = options & mtst::NO_BLKLIMS != 0;
            o.scsi2logical = options & mtst::SCSI2LOGICAL != 0;
            o.nowait = options & mtst::NOWAIT != 0;
            o.nowait_eof = options & mtst::NOWAIT_EOF != 0;
            o.sysv = options & mtst::SYSV != 0;
            o.sili = options & mtst::SILI != 0;
        } else if code == mtst::SETBOOLEANS || code == mtst::CLEARBOOLEANS {
            let v = code == mtst::SETBOOLEANS;
            let set = |flag: u32, field: &mut bool| {
                if options & flag != 0 {
                    *field = v;
                }
            };
            set(mtst::BUFFER_WRITES, &mut o.buffer_writes);
            set(mtst::ASYNC_WRITES, &mut o.async_writes);
            set(mtst::DEF_WRITES, &mut o.def_writes);
            set(mtst::READ_AHEAD, &mut o.read_ahead);
            set(mtst::TWO_FM, &mut o.two_fm);
            set(mtst::FAST_MTEOM, &mut o.fast_mteom);
            set(mtst::AUTO_LOCK, &mut o.auto_lock);
            set(mtst::CAN_BSR, &mut o.can_bsr);
            set(mtst::NO_BLKLIMS, &mut o.no_blklims);
            set(mtst::SCSI2LOGICAL, &mut o.scsi2logical);
            set(mtst::NOWAIT, &mut o.nowait);
            set(mtst::NOWAIT_EOF, &mut o.nowait_eof);
            set(mtst::SYSV, &mut o.sysv);
            set(mtst::SILI, &mut o.sili);
        } else if code == mtst::WRITE_THRESHOLD {
            // Retained for compatibility.
        } else if code == mtst::DEF_BLKSIZE {
            let value = options & !mtst::OPTIONS;
            if value == !mtst::OPTIONS {
                self.cfg.default_blksize = None;
            } else {
                self.cfg.default_blksize = Some(value);
                if self.drive.ready == Ready::Ready {
                    self.drive.blksize_changed = false;
                    let _ = self.set_mode_densblk(l);
                }
            }
        } else if code == mtst::TIMEOUTS {
            let value = options & !mtst::OPTIONS;
            if value & mtst::SET_LONG_TIMEOUT != 0 {
                self.cfg.long_timeout = value & !mtst::SET_LONG_TIMEOUT;
            } else {
                self.cfg.timeout = value;
            }
        } else if code == mtst::SET_CLN {
            let value = options & !mtst::OPTIONS & 0xff;
            if value != 0 && !(18..96).contains(&value) {
                return Err(Errno::Inval);
            }
        } else if code == mtst::DEF_OPTIONS {
            let sel = options & !mtst::CLEAR_DEFAULT;
            let value = options & mtst::CLEAR_DEFAULT;
            if sel == mtst::DEF_DENSITY {
                if value == mtst::CLEAR_DEFAULT {
                    self.cfg.default_density = None;
                } else {
                    self.cfg.default_density = Some((value & 0xff) as u8);
                    if self.drive.ready == Ready::Ready {
                        self.drive.density_changed = false;
                        let _ = self.set_mode_densblk(l);
                    }
                }
            } else if sel == mtst::DEF_DRVBUFFER {
                if value == mtst::CLEAR_DEFAULT {
                    self.cfg.default_drvbuffer = None;
                } else {
                    self.cfg.default_drvbuffer = Some((value & 7) as u8);
                    if self.drive.ready == Ready::Ready {
                        let _ = self.int_ioctl(l, MtOp::SetDrvBuffer, i64::from(value & 7));
                    }
                }
            } else if sel == mtst::DEF_COMPRESSION {
                if value == mtst::CLEAR_DEFAULT {
                    self.cfg.default_compression = None;
                } else if value & 0xff != 0xff {
                    self.cfg.default_compression = Some(value & 1 != 0);
                    if self.drive.ready == Ready::Ready {
                        self.drive.compression_changed = false;
                        let _ = self.compression(l, value & 1 != 0);
                    }
                }
            }
        } else {
            return Err(Errno::Io);
        }
        Ok(())
    }

    /// set_mode_densblk: apply the default block size and density.
    pub(super) fn set_mode_densblk(&mut self, l: &mut Link<'_>) -> Result<()> {
        let mut req = Req::new(Op::Mode);
        let mut rf = ReqFlags::empty();
        if !self.drive.density_changed {
            if let Some(d) = self.cfg.default_density.filter(|d| *d != self.drive.density) {
                rf |= ReqFlags::SET_DENSITY;
                req.arg = u64::from(d);
            }
        }
        if !self.drive.blksize_changed {
            if let Some(b) = self.cfg.default_blksize.filter(|b| *b != self.drive.block_size) {
                rf |= ReqFlags::SET_BLKSIZE;
                req.length = u64::from(b);
            }
        }
        if rf.is_empty() {
            return Ok(());
        }
        req.flags = rf.bits();
        let d = self.call(l, req, Vec::new(), self.cfg.timeout)?;
        if self.chk(&d.sense).is_ok() {
            if rf.contains(ReqFlags::SET_BLKSIZE) {
                self.drive.block_size = req.length as u32;
            }
            if rf.contains(ReqFlags::SET_DENSITY) {
                self.drive.density = req.arg as u8;
            }
        }
        // st only warns when the defaults cannot be set.
        Ok(())
    }

    /// st_compression.
    pub(super) fn compression(&mut self, l: &mut Link<'_>, on: bool) -> Result<()> {
        if self.drive.ready != Ready::Ready {
            return Err(Errno::Io);
        }
        let mut req = Req::new(Op::Mode);
        req.flags = ReqFlags::SET_COMPRESS.bits();
        req.count = i32::from(on);
        let d = self.call(l, req, Vec::new(), self.cfg.timeout)?;
        self.chk(&d.sense)?;
        self.drive.compression_changed = true;
        Ok(())
    }
}
