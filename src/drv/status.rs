//! Status: MTIOCGET (st's status with the drive asked whether a medium is
//! still loaded and writable) and MTIOCPOS, after the flush st_ioctl does.

use alloc::vec::Vec;

use super::{Drv, Link, Ready, Rw, TapeStatus, Eof};
use crate::errno::Result;
use crate::proto::{DriveFlags, Op, Req};

impl Drv {
    /// The flush st_ioctl does before MTIOCGET, MTIOCPOS and other ioctls.
    pub fn ioctl_flush(&mut self, l: &mut Link<'_>, for_status: bool) -> Result<()> {
        // With variable blocks st has nothing to flush for a status: the
        // file and block numbers count what the user had, so the
        // read-ahead may stay.
        if for_status && self.drive.block_size == 0 && self.drive.ps.rw == Rw::Reading && !self.drive.pos_unknown {
            return Ok(());
        }
        match self.flush_buffer(l, false) {
            Ok(()) => Ok(()),
            Err(_) if for_status && self.drive.pos_unknown => {
                self.reset_state();
                self.drive.pos_unknown = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// MTIOCPOS (after [`Drv::ioctl_flush`]).
    pub fn tell(&mut self, l: &mut Link<'_>) -> Result<u32> {
        self.get_location(l)
    }

    /// MTIOCGET (after [`Drv::ioctl_flush`]): st's status, with the drive
    /// asked whether a medium is still loaded and writable.
    pub fn status(&mut self, l: &mut Link<'_>) -> TapeStatus {
        if self.drive.ready != Ready::NotReady && self.session_alive(l) {
            if let Ok(d) = self.call(l, Req::new(Op::Status), Vec::new(), self.cfg.timeout) {
                let f = d.rep.status.flags();
                self.drive.drv_write_prot = f.contains(DriveFlags::WRPROT);
                if f.contains(DriveFlags::CLEAN) {
                    self.drive.cleaning_req = true;
                }
                if !f.contains(DriveFlags::READY) && self.drive.ready == Ready::Ready {
                    self.set_not_ready(Ready::NoTape);
                }
            }
        } else if self.drive.ready == Ready::Ready && !self.session_alive(l) {
            // The daemon is gone: the drive is not ready any more.
            self.drive.ready = Ready::NotReady;
        }
        let ps = self.drive.ps;
        let mut blkno = ps.drv_block;
        let bs = self.drive.block_size as usize;
        if bs != 0 && blkno >= 0 && ps.rw == Rw::Reading {
            // Blocks read ahead into the buffer are not yet the user's.
            blkno = super::pos(i64::from(blkno) - self.open.rbytes.div_ceil(bs) as i64);
        }
        let st = TapeStatus {
            blksize: self.drive.block_size,
            density: self.drive.density,
            fileno: ps.drv_file,
            blkno,
            soft_errors: self.open.recover_reg,
            partition: 0,
            bot: blkno == 0 && ps.drv_file == 0,
            eof: blkno == 0 && ps.drv_file != 0,
            eot: ps.eof == Eof::EomOk || ps.eof == Eof::EomError,
            sm: ps.at_sm,
            eod: ps.eof > Eof::EomError,
            wr_prot: self.drive.drv_write_prot,
            online: self.drive.ready == Ready::Ready,
            dr_open: self.drive.ready == Ready::NoTape,
            im_rep_en: self.cfg.opts.async_writes || (self.cfg.opts.buffer_writes && bs != 0) || self.drive.drv_buffer != 0,
            cln: self.drive.cleaning_req,
            fixed: bs != 0,
            sense_key: self.drive.latched.key,
            resid: self.drive.latched.resid,
            modes: self.cfg.modes,
        };
        self.open.recover_reg = 0;
        // NetBSD's st: "clear latched errors" once reported.
        self.drive.latched = super::state::Latched::default();
        st
    }
}
